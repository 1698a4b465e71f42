/* cxrmeta.c — the metas. None depends on the image's pixels or size (the
 * heatmap's place is in fractions of the frame), so every transform (copy,
 * convert, scale) copies them unchanged. */
#include "cxrmeta.h"

#include <math.h>
#include <string.h>

/* The comments that open with two stars carry the annotations that
 * GObject-Introspection (GstCxr-1.0.gir) reads: who owns what is returned,
 * what may be NULL, which arguments are arrays or results. What each
 * function does is said in cxrmeta.h. */

/* ---- classification ---- */

GType
gst_cxr_classification_meta_api_get_type (void)
{
  static GType type;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstCxrClassificationMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
classification_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstCxrClassificationMeta *m = (GstCxrClassificationMeta *) meta;
  (void) params;
  (void) buffer;
  m->n_classes = 0;
  memset (m->class_names, 0, sizeof m->class_names);
  m->model_id[0] = '\0';
  m->flags = GST_CXR_CLASSIFICATION_FLAG_NONE;
  m->abstain_reason = GST_CXR_ABSTAIN_NONE;
  m->ood_score = m->ood_threshold = NAN;
  return TRUE;
}

static void
classification_free (GstMeta * meta, GstBuffer * buffer)
{
  GstCxrClassificationMeta *m = (GstCxrClassificationMeta *) meta;
  (void) buffer;
  for (guint i = 0; i < m->n_classes; i++)
    g_free (m->class_names[i]);
}

static gboolean
classification_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * src,
    GQuark type, gpointer data)
{
  GstCxrClassificationMeta *m = (GstCxrClassificationMeta *) meta;
  GstCxrClassificationMeta *copy;
  (void) src;
  (void) type;
  (void) data;
  copy = gst_buffer_add_cxr_classification_meta (dest, m->n_classes,
      (const gchar * const *) m->class_names, m->probabilities, m->predicted,
      m->threshold, m->model_id, m->inference_time, m->flags);
  if (copy)
    gst_cxr_classification_meta_set_abstained (copy, m->abstain_reason,
        m->ood_score, m->ood_threshold);
  return copy != NULL;
}

const GstMetaInfo *
gst_cxr_classification_meta_get_info (void)
{
  static const GstMetaInfo *info;

  if (g_once_init_enter (&info)) {
    const GstMetaInfo *i = gst_meta_register (GST_CXR_CLASSIFICATION_META_API_TYPE,
        "GstCxrClassificationMeta", sizeof (GstCxrClassificationMeta),
        classification_init, classification_free, classification_transform);
    g_once_init_leave (&info, i);
  }
  return info;
}

/**
 * gst_buffer_add_cxr_classification_meta:
 * @class_names: (array length=n_classes):
 * @probabilities: (array length=n_classes):
 * @model_id: (nullable):
 *
 * Returns: (transfer none) (nullable): the meta added
 */
GstCxrClassificationMeta *
gst_buffer_add_cxr_classification_meta (GstBuffer * buffer, guint n_classes,
    const gchar * const *class_names, const gfloat * probabilities,
    guint predicted, gfloat threshold, const gchar * model_id,
    GstClockTime inference_time, GstCxrClassificationFlags flags)
{
  GstCxrClassificationMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (n_classes >= 1 && n_classes <= GST_CXR_MAX_CLASSES,
      NULL);
  g_return_val_if_fail (class_names && probabilities, NULL);
  g_return_val_if_fail (predicted < n_classes, NULL);

  m = (GstCxrClassificationMeta *) gst_buffer_add_meta (buffer,
      GST_CXR_CLASSIFICATION_META_INFO, NULL);
  m->n_classes = n_classes;
  for (guint i = 0; i < n_classes; i++) {
    m->class_names[i] = g_strdup (class_names[i]);
    m->probabilities[i] = probabilities[i];
  }
  m->predicted = predicted;
  m->threshold = threshold;
  g_strlcpy (m->model_id, model_id ? model_id : "", sizeof m->model_id);
  m->inference_time = inference_time;
  m->flags = flags;
  return m;
}

/**
 * gst_buffer_get_cxr_classification_meta:
 *
 * Returns: (transfer none) (nullable): the buffer's classification
 */
GstCxrClassificationMeta *
gst_buffer_get_cxr_classification_meta (GstBuffer * buffer)
{
  return (GstCxrClassificationMeta *) gst_buffer_get_meta (buffer,
      GST_CXR_CLASSIFICATION_META_API_TYPE);
}

guint
gst_cxr_classification_meta_get_n_classes (const GstCxrClassificationMeta * m)
{
  return m->n_classes;
}

gfloat
gst_cxr_classification_meta_get_probability (const GstCxrClassificationMeta *
    m, guint index)
{
  return index < m->n_classes ? m->probabilities[index] : 0.0f;
}

/**
 * gst_cxr_classification_meta_get_class_name:
 *
 * Returns: (nullable): the name of class @index
 */
const gchar *
gst_cxr_classification_meta_get_class_name (const GstCxrClassificationMeta *
    m, guint index)
{
  return index < m->n_classes ? m->class_names[index] : NULL;
}

/**
 * gst_cxr_classification_meta_get_label:
 *
 * Returns: (nullable): the predicted class, NULL for no diagnosis
 */
const gchar *
gst_cxr_classification_meta_get_label (const GstCxrClassificationMeta * m)
{
  return m->abstain_reason != GST_CXR_ABSTAIN_NONE ? NULL :
      m->class_names[m->predicted];
}

gfloat
gst_cxr_classification_meta_get_threshold (const GstCxrClassificationMeta * m)
{
  return m->threshold;
}

const gchar *
gst_cxr_classification_meta_get_model_id (const GstCxrClassificationMeta * m)
{
  return m->model_id;
}

void
gst_cxr_classification_meta_set_abstained (GstCxrClassificationMeta * m,
    GstCxrAbstainReason reason, gfloat ood_score, gfloat ood_threshold)
{
  m->abstain_reason = reason;
  m->ood_score = ood_score;
  m->ood_threshold = ood_threshold;
}

gboolean
gst_cxr_classification_meta_is_abstained (const GstCxrClassificationMeta * m)
{
  return m->abstain_reason != GST_CXR_ABSTAIN_NONE;
}

GstCxrAbstainReason
gst_cxr_classification_meta_get_abstain_reason (const GstCxrClassificationMeta
    * m)
{
  return m->abstain_reason;
}

gfloat
gst_cxr_classification_meta_get_ood_score (const GstCxrClassificationMeta * m)
{
  return m->ood_score;
}

/**
 * gst_cxr_abstain_reason_name:
 *
 * Returns: (nullable): the reason's name, NULL for NONE
 */
const gchar *
gst_cxr_abstain_reason_name (GstCxrAbstainReason reason)
{
  switch (reason) {
    case GST_CXR_ABSTAIN_NONE:
      return NULL;
    case GST_CXR_ABSTAIN_MODALITY:
      return "modality";
    case GST_CXR_ABSTAIN_BODY_PART:
      return "body-part";
    case GST_CXR_ABSTAIN_BLANK:
      return "blank";
    case GST_CXR_ABSTAIN_SATURATED:
      return "saturated";
    case GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION:
      return "out-of-distribution";
  }
  return NULL;
}

gboolean
gst_cxr_classification_meta_is_stale (const GstCxrClassificationMeta * m)
{
  return (m->flags & GST_CXR_CLASSIFICATION_FLAG_STALE) != 0;
}

/* ---- label ---- */

/* The label meta as allocated: the public part, then the patient's data,
 * which only functions the bindings do not see reach. */
typedef struct {
  GstCxrLabelMeta pub;
  gchar *patient;               /* owned, may be NULL */
  GBytes *dicom_header;         /* a reference, may be NULL */
} LabelMeta;

GType
gst_cxr_label_meta_api_get_type (void)
{
  static GType type;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstCxrLabelMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
label_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  LabelMeta *full = (LabelMeta *) meta;
  GstCxrLabelMeta *m = &full->pub;
  (void) params;
  (void) buffer;
  m->class_index = -1;
  m->class_name = NULL;
  m->source = NULL;
  m->modality = m->body_part = NULL;
  m->dicom_frame = 0;
  full->patient = NULL;
  full->dicom_header = NULL;
  return TRUE;
}

static void
label_free (GstMeta * meta, GstBuffer * buffer)
{
  LabelMeta *full = (LabelMeta *) meta;
  GstCxrLabelMeta *m = &full->pub;
  (void) buffer;
  g_free (m->class_name);
  g_free (m->source);
  g_free (m->modality);
  g_free (m->body_part);
  g_free (full->patient);
  g_clear_pointer (&full->dicom_header, g_bytes_unref);
}

static gboolean
label_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * src,
    GQuark type, gpointer data)
{
  GstCxrLabelMeta *m = (GstCxrLabelMeta *) meta, *copy;
  (void) src;
  (void) type;
  (void) data;
  copy = gst_buffer_add_cxr_label_meta (dest, m->class_index, m->class_name,
      m->source);
  if (copy) {
    gst_cxr_label_meta_set_dicom (copy, m->modality, m->body_part);
    gst_cxr_label_meta_set_patient (copy, gst_cxr_label_meta_get_patient (m));
    gst_cxr_label_meta_set_dicom_header (copy,
        gst_cxr_label_meta_get_dicom_header (m), m->dicom_frame);
  }
  return copy != NULL;
}

/**
 * gst_cxr_label_meta_set_dicom:
 * @modality: (nullable):
 * @body_part: (nullable):
 */
void
gst_cxr_label_meta_set_dicom (GstCxrLabelMeta * m, const gchar * modality,
    const gchar * body_part)
{
  gchar *new_modality = g_strdup (modality), *new_body_part =
      g_strdup (body_part);

  g_free (m->modality);
  g_free (m->body_part);
  m->modality = new_modality;
  m->body_part = new_body_part;
}

/**
 * gst_cxr_label_meta_set_dicom_header: (skip)
 *
 * The patient's data, for the elements that write reports alone.
 */
void
gst_cxr_label_meta_set_dicom_header (GstCxrLabelMeta * m, GBytes * header,
    guint frame)
{
  LabelMeta *full = (LabelMeta *) m;

  if (header)
    g_bytes_ref (header);
  g_clear_pointer (&full->dicom_header, g_bytes_unref);
  full->dicom_header = header;
  m->dicom_frame = frame;
}

/**
 * gst_cxr_label_meta_get_dicom_header: (skip)
 *
 * The patient's data, for the elements that write reports alone.
 */
GBytes *
gst_cxr_label_meta_get_dicom_header (const GstCxrLabelMeta * m)
{
  return ((const LabelMeta *) m)->dicom_header;
}

/**
 * gst_cxr_label_meta_set_patient: (skip)
 *
 * The patient's data, for the elements alone.
 */
void
gst_cxr_label_meta_set_patient (GstCxrLabelMeta * m, const gchar * patient)
{
  LabelMeta *full = (LabelMeta *) m;
  gchar *copy = g_strdup (patient);

  g_free (full->patient);
  full->patient = copy;
}

/**
 * gst_cxr_label_meta_get_patient: (skip)
 *
 * The patient's data, for the elements alone.
 */
const gchar *
gst_cxr_label_meta_get_patient (const GstCxrLabelMeta * m)
{
  return ((const LabelMeta *) m)->patient;
}

const GstMetaInfo *
gst_cxr_label_meta_get_info (void)
{
  static const GstMetaInfo *info;

  if (g_once_init_enter (&info)) {
    const GstMetaInfo *i = gst_meta_register (GST_CXR_LABEL_META_API_TYPE,
        "GstCxrLabelMeta", sizeof (LabelMeta), label_init, label_free,
        label_transform);
    g_once_init_leave (&info, i);
  }
  return info;
}

/**
 * gst_buffer_add_cxr_label_meta:
 * @class_name: (nullable):
 * @source: (nullable):
 *
 * Returns: (transfer none) (nullable): the meta added
 */
GstCxrLabelMeta *
gst_buffer_add_cxr_label_meta (GstBuffer * buffer, gint class_index,
    const gchar * class_name, const gchar * source)
{
  GstCxrLabelMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  m = (GstCxrLabelMeta *) gst_buffer_add_meta (buffer, GST_CXR_LABEL_META_INFO,
      NULL);
  m->class_index = class_index;
  m->class_name = g_strdup (class_name);
  m->source = g_strdup (source);
  return m;
}

/**
 * gst_buffer_get_cxr_label_meta:
 *
 * Returns: (transfer none) (nullable): what the buffer's frame truly shows
 */
GstCxrLabelMeta *
gst_buffer_get_cxr_label_meta (GstBuffer * buffer)
{
  return (GstCxrLabelMeta *) gst_buffer_get_meta (buffer,
      GST_CXR_LABEL_META_API_TYPE);
}

/**
 * gst_cxr_label_meta_get_source:
 *
 * Returns: (nullable): the file name or other origin of the frame
 */
const gchar *
gst_cxr_label_meta_get_source (const GstCxrLabelMeta * m)
{
  return m->source;
}

/**
 * gst_cxr_label_meta_get_class_name:
 *
 * Returns: (nullable): the true class, NULL when not known
 */
const gchar *
gst_cxr_label_meta_get_class_name (const GstCxrLabelMeta * m)
{
  return m->class_name;
}

gint
gst_cxr_label_meta_get_class_index (const GstCxrLabelMeta * m)
{
  return m->class_index;
}

/* ---- heatmap ---- */

GType
gst_cxr_heatmap_meta_api_get_type (void)
{
  static GType type;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstCxrHeatmapMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
heatmap_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstCxrHeatmapMeta *m = (GstCxrHeatmapMeta *) meta;
  (void) params;
  (void) buffer;
  m->width = m->height = 0;
  m->values = NULL;
  m->left = m->top = 0.0f;
  m->right = m->bottom = 1.0f;
  m->class_index = 0;
  return TRUE;
}

static void
heatmap_free (GstMeta * meta, GstBuffer * buffer)
{
  (void) buffer;
  g_free (((GstCxrHeatmapMeta *) meta)->values);
}

static gboolean
heatmap_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * src,
    GQuark type, gpointer data)
{
  (void) src;
  (void) type;
  (void) data;
  return gst_cxr_heatmap_meta_copy (dest, (GstCxrHeatmapMeta *) meta) != NULL;
}

const GstMetaInfo *
gst_cxr_heatmap_meta_get_info (void)
{
  static const GstMetaInfo *info;

  if (g_once_init_enter (&info)) {
    const GstMetaInfo *i = gst_meta_register (GST_CXR_HEATMAP_META_API_TYPE,
        "GstCxrHeatmapMeta", sizeof (GstCxrHeatmapMeta), heatmap_init,
        heatmap_free, heatmap_transform);
    g_once_init_leave (&info, i);
  }
  return info;
}

/**
 * gst_buffer_add_cxr_heatmap_meta: (skip)
 *
 * Returns: (transfer none) (nullable): the meta added
 */
GstCxrHeatmapMeta *
gst_buffer_add_cxr_heatmap_meta (GstBuffer * buffer, guint width,
    guint height, const gfloat * values, guint class_index)
{
  GstCxrHeatmapMeta *m;
  gsize n = (gsize) width * height;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (width > 0 && height > 0 && n <= 1 << 24, NULL);
  g_return_val_if_fail (values, NULL);

  m = (GstCxrHeatmapMeta *) gst_buffer_add_meta (buffer,
      GST_CXR_HEATMAP_META_INFO, NULL);
  m->width = width;
  m->height = height;
  m->values = g_new (gfloat, n);
  for (gsize i = 0; i < n; i++)
    m->values[i] = isnan (values[i]) ? 0.0f : CLAMP (values[i], 0.0f, 1.0f);
  m->class_index = class_index;
  return m;
}

/**
 * gst_cxr_heatmap_meta_copy:
 *
 * Returns: (transfer none) (nullable): the meta added to @buffer
 */
GstCxrHeatmapMeta *
gst_cxr_heatmap_meta_copy (GstBuffer * buffer, const GstCxrHeatmapMeta * m)
{
  GstCxrHeatmapMeta *copy = gst_buffer_add_cxr_heatmap_meta (buffer,
      m->width, m->height, m->values, m->class_index);

  if (copy) {
    copy->left = m->left;
    copy->top = m->top;
    copy->right = m->right;
    copy->bottom = m->bottom;
  }
  return copy;
}

/**
 * gst_buffer_get_cxr_heatmap_meta:
 *
 * Returns: (transfer none) (nullable): where the network looked
 */
GstCxrHeatmapMeta *
gst_buffer_get_cxr_heatmap_meta (GstBuffer * buffer)
{
  return (GstCxrHeatmapMeta *) gst_buffer_get_meta (buffer,
      GST_CXR_HEATMAP_META_API_TYPE);
}

/**
 * gst_cxr_heatmap_meta_get_size:
 * @width: (out):
 * @height: (out):
 */
void
gst_cxr_heatmap_meta_get_size (const GstCxrHeatmapMeta * m, guint * width,
    guint * height)
{
  *width = m->width;
  *height = m->height;
}

/**
 * gst_cxr_heatmap_meta_get_values:
 * @n_values: (out): width x height
 *
 * Returns: (array length=n_values) (transfer none): the grid, row by row
 */
const gfloat *
gst_cxr_heatmap_meta_get_values (const GstCxrHeatmapMeta * m,
    guint * n_values)
{
  *n_values = m->width * m->height;
  return m->values;
}

guint
gst_cxr_heatmap_meta_get_class_index (const GstCxrHeatmapMeta * m)
{
  return m->class_index;
}

gfloat
gst_cxr_heatmap_meta_get_value (const GstCxrHeatmapMeta * m, guint x,
    guint y)
{
  return x < m->width && y < m->height ? m->values[y * m->width + x] : 0.0f;
}

gfloat
gst_cxr_heatmap_meta_value_at (const GstCxrHeatmapMeta * m, gdouble fx,
    gdouble fy)
{
  gdouble u = (fx - m->left) / (m->right - m->left);
  gdouble v = (fy - m->top) / (m->bottom - m->top);

  if (!(u >= 0.0 && u < 1.0 && v >= 0.0 && v < 1.0))
    return 0.0f;
  return gst_cxr_heatmap_meta_get_value (m, (guint) (u * m->width),
      (guint) (v * m->height));
}

/**
 * gst_cxr_heatmap_meta_get_region:
 * @left: (out):
 * @top: (out):
 * @right: (out):
 * @bottom: (out):
 */
void
gst_cxr_heatmap_meta_get_region (const GstCxrHeatmapMeta * m, gfloat * left,
    gfloat * top, gfloat * right, gfloat * bottom)
{
  *left = m->left;
  *top = m->top;
  *right = m->right;
  *bottom = m->bottom;
}
