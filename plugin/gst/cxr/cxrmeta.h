/* gst-cxr metadata: what cxrclassify concluded about a frame, and what the
 * frame truly shows when that is known.
 *
 * Applications link libgstcxr-1.0 (pkg-config gstreamer-cxr-1.0) and read
 * results off each buffer:
 *
 *   GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (buf);
 *   if (m && !gst_cxr_classification_meta_is_abstained (m))
 *     g_print ("%s %.3f\n", gst_cxr_classification_meta_get_label (m),
 *         gst_cxr_classification_meta_get_probability (m, m->predicted));
 *   else if (m)
 *     g_print ("not classified: %s\n", gst_cxr_abstain_reason_name (
 *         gst_cxr_classification_meta_get_abstain_reason (m)));
 *
 * The same from Python and other bindings, through GObject-Introspection
 * (GstCxr-1.0; cxrmeta.c holds the annotations):
 * GstCxr.buffer_get_cxr_classification_meta (buf).get_label () and so on.
 *
 * A buffer holds one classification: a second cxrclassify downstream of a
 * first replaces the first's meta with its own, so readers get the last
 * model's answer (compare two models side by side after a tee).
 *
 * With heatmap=true, cxrclassify also attaches a GstCxrHeatmapMeta: where
 * the network looked.
 *
 * The metas carry no tags, so transforms that copy untagged metas
 * (videoconvert, videoscale, buffer copies) keep them. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_CXR_MAX_CLASSES 16

typedef enum {
  GST_CXR_CLASSIFICATION_FLAG_NONE = 0,
  /* copied from an earlier frame (cxrclassify interval > 1), not computed
   * on this one */
  GST_CXR_CLASSIFICATION_FLAG_STALE = 1 << 0,
} GstCxrClassificationFlags;

/* Why a frame got no diagnosis: it is not what the model is for. */
typedef enum {
  GST_CXR_ABSTAIN_NONE = 0,     /* answered */
  GST_CXR_ABSTAIN_MODALITY,     /* DICOM modality not among those accepted */
  GST_CXR_ABSTAIN_BODY_PART,    /* DICOM body part not among those accepted */
  GST_CXR_ABSTAIN_BLANK,        /* a near-constant frame */
  GST_CXR_ABSTAIN_SATURATED,    /* mostly at the ends of the grey scale */
  /* the network's features are far from its training films' */
  GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION,
} GstCxrAbstainReason;

typedef struct {
  GstMeta meta;
  guint n_classes;
  gfloat probabilities[GST_CXR_MAX_CLASSES];
  gchar *class_names[GST_CXR_MAX_CLASSES];      /* owned */
  guint predicted;              /* index of the predicted class */
  gfloat threshold;             /* decision threshold on the last class */
  gchar model_id[16];           /* hash of the weights, hex */
  GstClockTime inference_time;  /* wall time of the forward pass */
  GstCxrClassificationFlags flags;
  /* not NONE: no diagnosis (no label; probabilities NAN where the network
   * did not run) */
  GstCxrAbstainReason abstain_reason;
  /* out-of-distribution score and the threshold it was held to; NAN when
   * not computed (a model without feature statistics, or a frame refused
   * before the network ran) */
  gfloat ood_score, ood_threshold;
} GstCxrClassificationMeta;

typedef struct {
  GstMeta meta;
  gint class_index;             /* -1 when only the name is known */
  gchar *class_name;            /* owned, may be NULL */
  gchar *source;                /* owned: file name or other origin, may be NULL */
  /* owned, NULL but for a DICOM source: Modality (0008,0060) and Body
   * Part Examined (0018,0015), for cxrclassify's gate */
  gchar *modality, *body_part;
  /* which frame of that DICOM object the frame is, from 1; 0 when the
   * object has one frame */
  guint dicom_frame;
  /* The patient's data is not among the fields: it is reached through
   * gst_cxr_label_meta_get_patient () and _get_dicom_header () alone,
   * which the bindings do not see. */
} GstCxrLabelMeta;

/* Where the network looked for the class it speaks for (cxrclassify
 * heatmap=true, frames it answered): a grid of width x height values in
 * [0, 1], row by row, 1 where the evidence for the class is strongest
 * (kernels/model/heatmap.h). The grid covers the part of the frame from (left,
 * top) to (right, bottom), given as fractions of the frame's width and
 * height (the whole frame: 0, 0, 1, 1), so that it keeps its place when
 * the frame is scaled: cell (x, y) covers the fractions from left + x *
 * (right - left) / width to left + (x + 1) * (right - left) / width across,
 * and likewise down. */
typedef struct {
  GstMeta meta;
  guint width, height;
  gfloat *values;               /* owned, width x height */
  gfloat left, top, right, bottom;
  guint class_index;            /* the class the map speaks for */
} GstCxrHeatmapMeta;

GType gst_cxr_classification_meta_api_get_type (void);
const GstMetaInfo *gst_cxr_classification_meta_get_info (void);
#define GST_CXR_CLASSIFICATION_META_API_TYPE \
  (gst_cxr_classification_meta_api_get_type ())
#define GST_CXR_CLASSIFICATION_META_INFO \
  (gst_cxr_classification_meta_get_info ())

GType gst_cxr_label_meta_api_get_type (void);
const GstMetaInfo *gst_cxr_label_meta_get_info (void);
#define GST_CXR_LABEL_META_API_TYPE (gst_cxr_label_meta_api_get_type ())
#define GST_CXR_LABEL_META_INFO (gst_cxr_label_meta_get_info ())

/* n_classes in [1, GST_CXR_MAX_CLASSES]; class_names and probabilities have
 * n_classes entries; model_id may be NULL. */
GstCxrClassificationMeta *gst_buffer_add_cxr_classification_meta (
    GstBuffer * buffer, guint n_classes, const gchar * const *class_names,
    const gfloat * probabilities, guint predicted, gfloat threshold,
    const gchar * model_id, GstClockTime inference_time,
    GstCxrClassificationFlags flags);
GstCxrClassificationMeta *gst_buffer_get_cxr_classification_meta (
    GstBuffer * buffer);

guint gst_cxr_classification_meta_get_n_classes (
    const GstCxrClassificationMeta * meta);
/* probability of class index, 0 when out of range */
gfloat gst_cxr_classification_meta_get_probability (
    const GstCxrClassificationMeta * meta, guint index);
const gchar *gst_cxr_classification_meta_get_class_name (
    const GstCxrClassificationMeta * meta, guint index);
/* name of the predicted class */
const gchar *gst_cxr_classification_meta_get_label (
    const GstCxrClassificationMeta * meta);
gfloat gst_cxr_classification_meta_get_threshold (
    const GstCxrClassificationMeta * meta);
const gchar *gst_cxr_classification_meta_get_model_id (
    const GstCxrClassificationMeta * meta);
gboolean gst_cxr_classification_meta_is_stale (
    const GstCxrClassificationMeta * meta);

/* Marks the result as no diagnosis, for reason, with the OOD score and
 * threshold (NAN when not computed); reason NONE with scores records an
 * answered frame's score. */
void gst_cxr_classification_meta_set_abstained (
    GstCxrClassificationMeta * meta, GstCxrAbstainReason reason,
    gfloat ood_score, gfloat ood_threshold);
gboolean gst_cxr_classification_meta_is_abstained (
    const GstCxrClassificationMeta * meta);
GstCxrAbstainReason gst_cxr_classification_meta_get_abstain_reason (
    const GstCxrClassificationMeta * meta);
gfloat gst_cxr_classification_meta_get_ood_score (
    const GstCxrClassificationMeta * meta);
/* "modality", "body-part", "blank", "saturated", "out-of-distribution";
 * NULL for NONE */
const gchar *gst_cxr_abstain_reason_name (GstCxrAbstainReason reason);

GstCxrLabelMeta *gst_buffer_add_cxr_label_meta (GstBuffer * buffer,
    gint class_index, const gchar * class_name, const gchar * source);
GstCxrLabelMeta *gst_buffer_get_cxr_label_meta (GstBuffer * buffer);
const gchar *gst_cxr_label_meta_get_source (const GstCxrLabelMeta * meta);
const gchar *gst_cxr_label_meta_get_class_name (const GstCxrLabelMeta * meta);
gint gst_cxr_label_meta_get_class_index (const GstCxrLabelMeta * meta);
/* the DICOM source's modality and body part (copied; either may be NULL) */
void gst_cxr_label_meta_set_dicom (GstCxrLabelMeta * meta,
    const gchar * modality, const gchar * body_part);
/* The patient's data, for the plugin's elements alone; never to be
 * logged. The DICOM source's header (a reference is taken; may be NULL):
 * its data set without the pixels (a DICOM file in memory), from which a
 * structured report about the frame copies the patient and study modules;
 * and which of its frames the frame is (from 1; 0 for an object of one). */
void gst_cxr_label_meta_set_dicom_header (GstCxrLabelMeta * meta,
    GBytes * header, guint frame);
GBytes *gst_cxr_label_meta_get_dicom_header (const GstCxrLabelMeta * meta);
/* who the film is of (copied; may be NULL), as far as keeping a patient's
 * films on one side of a training split needs */
void gst_cxr_label_meta_set_patient (GstCxrLabelMeta * meta,
    const gchar * patient);
const gchar *gst_cxr_label_meta_get_patient (const GstCxrLabelMeta * meta);

GType gst_cxr_heatmap_meta_api_get_type (void);
const GstMetaInfo *gst_cxr_heatmap_meta_get_info (void);
#define GST_CXR_HEATMAP_META_API_TYPE (gst_cxr_heatmap_meta_api_get_type ())
#define GST_CXR_HEATMAP_META_INFO (gst_cxr_heatmap_meta_get_info ())

/* A map over the whole frame; values (width x height, copied) are clamped
 * to [0, 1]. */
GstCxrHeatmapMeta *gst_buffer_add_cxr_heatmap_meta (GstBuffer * buffer,
    guint width, guint height, const gfloat * values, guint class_index);
GstCxrHeatmapMeta *gst_buffer_get_cxr_heatmap_meta (GstBuffer * buffer);
/* m, grid and place, onto another buffer */
GstCxrHeatmapMeta *gst_cxr_heatmap_meta_copy (GstBuffer * buffer,
    const GstCxrHeatmapMeta * m);
void gst_cxr_heatmap_meta_get_size (const GstCxrHeatmapMeta * meta,
    guint * width, guint * height);
/* the grid, row by row (width x height values) */
const gfloat *gst_cxr_heatmap_meta_get_values (const GstCxrHeatmapMeta * meta,
    guint * n_values);
guint gst_cxr_heatmap_meta_get_class_index (const GstCxrHeatmapMeta * meta);
/* the value of cell (x, y); 0 outside the grid */
gfloat gst_cxr_heatmap_meta_get_value (const GstCxrHeatmapMeta * meta,
    guint x, guint y);
/* the value at a point of the frame given as fractions of its width and
 * height (the cell it falls in); 0 outside the part the grid covers */
gfloat gst_cxr_heatmap_meta_value_at (const GstCxrHeatmapMeta * meta,
    gdouble fx, gdouble fy);
void gst_cxr_heatmap_meta_get_region (const GstCxrHeatmapMeta * meta,
    gfloat * left, gfloat * top, gfloat * right, gfloat * bottom);

G_END_DECLS
