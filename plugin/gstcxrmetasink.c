/* gst-cxr: cxrmetasink
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-cxrmetasink
 * @title: cxrmetasink
 *
 * Writes what cxrclassify concluded about each frame as JSON Lines, one
 * object per buffer, to stdout or to #GstCxrMetaSink:location, and sums the
 * results up at EOS:
 *
 * |[
 * {"file": "person1_virus_6.jpeg", "frame": 0, "pts": 0,
 *  "classes": ["NORMAL", "PNEUMONIA"], "probabilities": [0.03, 0.97],
 *  "label": "PNEUMONIA", "threshold": 0.41, "stale": false,
 *  "truth": "PNEUMONIA", "model": "3f2a9c1e"}
 * ]|
 *
 * (one line in the output).  `file` is the label meta's source, `frame`
 * counts the buffers this sink has seen since it started, from 0, `pts` is
 * in nanoseconds, `truth` is the label meta's class name (or the class at its
 * index when it carries only an index).  Absent values are null.  A buffer
 * without a classification meta is still written, with `classes`,
 * `probabilities`, `label`, `threshold`, `stale` and `model` null, and is
 * counted as unclassified.  Each line is flushed, so `tail -f` follows.
 * Then `abstained` (true for a frame the model was not for: it carries no
 * label), `reason` (`modality`, `body-part`, `blank`, `saturated` or
 * `out-of-distribution`; null when answered) and `ood_score` (the frame's
 * out-of-distribution score, null when not computed).
 *
 * At EOS the summary is printed (#GstCxrMetaSink:print-summary), written as
 * JSON (#GstCxrMetaSink:summary-location) and posted as an element message
 * named `cxrmetasink-summary` (#GstCxrMetaSink:post-messages).  Its fields,
 * and which of them the message, the printed summary and the report carry,
 * are one table (kernels/eval/summary.c), in this order: `count` (frames),
 * `classes` and `threshold` (from the first classified frame), `labelled`,
 * `unclassified`, `stale`, `unmatched`, `abstained` (fresh frames that got
 * no diagnosis), `abstained_by_reason` (reason to count), `evaluated`,
 * `confusion` (rows = truth, columns = prediction, in `classes` order),
 * `accuracy`, `precision`, `recall`, `specificity`, `f1`, `auc` (the last
 * class is the positive one), and the calibration of its probability:
 * `brier`, `ece` and `reliability` (10 bins, objects `lower`, `upper`,
 * `count`, `mean_probability`, `fraction_positive`).  The metrics cover the
 * *evaluated* frames (kernels/eval/summary.h says which), and are null when
 * there are none; `auc` also when they hold one class.
 *
 * Over several processes (mpirun -np N ... cxrdatasetsrc ... ! cxrmetasink;
 * Open MPI), each process keeps its lines, and at EOS process 0 alone
 * writes every process's, in the order of the file list and numbered as
 * one process numbers them, and a summary of them all whose figures are one
 * process's, with `processes` (plugin/common/sharedlines.h). Pictures and
 * the report are made by a run of one process.
 *
 * The message carries the counts as #guint64, `classes` as a #GstValueArray
 * of strings, `confusion` as a #GstValueArray of rows of #guint64, and the
 * other figures as #gdouble; it leaves out the fields whose JSON value is
 * null, `abstained_by_reason` and `reliability`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 cxrdatasetsrc location=chest_xray/test ! cxrclassify !
 *     cxrmetasink location=results.jsonl summary-location=summary.json
 * ]|
 */

#include "gstcxrmetasink.h"
#include "draw.h"
#include "properties.h"
#include "report.h"

#include <gst/cxr/cxrmeta.h>
#include <json-glib/json-glib.h>
#include "summary.h"
#include "sharedlines.h"
#include "summarymessage.h"
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

G_STATIC_ASSERT (CXR_MAX_CLASSES >= GST_CXR_MAX_CLASSES);
G_STATIC_ASSERT (GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION <
    CXR_SUMMARY_MAX_REASONS);

GST_DEBUG_CATEGORY_STATIC (gst_cxr_meta_sink_debug);
#define GST_CAT_DEFAULT gst_cxr_meta_sink_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_SUMMARY_LOCATION NULL
#define DEFAULT_PRINT_SUMMARY TRUE
#define DEFAULT_POST_MESSAGES TRUE
/* side of the report's thumbnails */
#define THUMBNAIL_SIDE 256

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_SUMMARY_LOCATION,
  PROP_PRINT_SUMMARY,
  PROP_POST_MESSAGES,
  PROP_HEATMAP_LOCATION,
  PROP_REPORT_LOCATION,
  PROP_COUNT,
};

struct _GstCxrMetaSink
{
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *location;
  gchar *summary_location;
  gboolean print_summary;
  gboolean post_messages;
  gchar *heatmap_location;
  gchar *report_location;
  guint64 count;                /* frames seen since start */

  /* streaming state, set up in start () */
  FILE *out;                    /* JSON Lines: stdout or the file we opened */
  gchar *out_name;              /* for error messages */
  gchar *pictures;              /* heatmap-location as the run started */
  gchar *report;                /* report-location as the run started */
  GPtrArray *mistakes;          /* CxrReportMistake *, worst first */
  GstVideoInfo info;            /* of video input; format UNKNOWN otherwise */
  JsonBuilder *builder;         /* of each line, reused */
  CxrSummary summary;           /* the frames counted, the figures */
  GString *shared;              /* over several processes: the lines */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_cxr_meta_sink_parent_class parent_class
G_DEFINE_TYPE (GstCxrMetaSink, gst_cxr_meta_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrmetasink, "cxrmetasink", GST_RANK_NONE,
    GST_TYPE_CXR_META_SINK);

static void gst_cxr_meta_sink_finalize (GObject * object);
static void gst_cxr_meta_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_cxr_meta_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static gboolean gst_cxr_meta_sink_start (GstBaseSink * sink);
static gboolean gst_cxr_meta_sink_stop (GstBaseSink * sink);
static gboolean gst_cxr_meta_sink_event (GstBaseSink * sink,
    GstEvent * event);
static GstFlowReturn gst_cxr_meta_sink_render (GstBaseSink * sink,
    GstBuffer * buffer);
static gboolean gst_cxr_meta_sink_set_caps (GstBaseSink * sink,
    GstCaps * caps);

static void
gst_cxr_meta_sink_class_init (GstCxrMetaSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->finalize = gst_cxr_meta_sink_finalize;
  gobject_class->set_property = gst_cxr_meta_sink_set_property;
  gobject_class->get_property = gst_cxr_meta_sink_get_property;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "JSON Lines file, one object per frame (stdout when unset)",
          DEFAULT_LOCATION,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SUMMARY_LOCATION,
      g_param_spec_string ("summary-location", "Summary location",
          "JSON file the summary is written to at EOS (none when unset)",
          DEFAULT_SUMMARY_LOCATION,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_PRINT_SUMMARY,
      g_param_spec_boolean ("print-summary", "Print summary",
          "Print a readable summary at EOS, to stdout, or to stderr when the "
          "JSON Lines go to stdout", DEFAULT_PRINT_SUMMARY,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post the summary as a \"cxrmetasink-summary\" element message "
          "at EOS", DEFAULT_POST_MESSAGES,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_HEATMAP_LOCATION,
      g_param_spec_string ("heatmap-location", "Heatmap location",
          "Folder (made if missing) for one PNG a frame that has a heatmap: "
          "the film with its heatmap, at most 512 pixels a side, named "
          "frame-NNNNNN.png after the frame's number in the JSON lines",
          NULL, G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_REPORT_LOCATION,
      g_param_spec_string ("report-location", "Report location",
          "HTML file written at EOS: the summary, the ROC curve with the "
          "operating point, the reliability diagram, the confusion matrix "
          "and the worst mistakes as thumbnails (with their heatmaps), in "
          "one self-contained page", NULL,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_COUNT,
      g_param_spec_uint64 ("count", "Count",
          "Frames seen since the element started", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray result sink", "Sink/Metadata",
      "Writes classification results as JSON Lines and a metrics summary "
      "at EOS", "The gst-cxr authors");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_cxr_meta_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_meta_sink_stop);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_cxr_meta_sink_event);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_cxr_meta_sink_render);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_cxr_meta_sink_set_caps);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_meta_sink_debug, "cxrmetasink", 0,
      "chest X-ray result sink");
}

static void
gst_cxr_meta_sink_init (GstCxrMetaSink * self)
{
  self->location = g_strdup (DEFAULT_LOCATION);
  self->summary_location = g_strdup (DEFAULT_SUMMARY_LOCATION);
  self->print_summary = DEFAULT_PRINT_SUMMARY;
  self->post_messages = DEFAULT_POST_MESSAGES;

  /* An inspection sink: results are written as they come, not when the
   * clock says the frame is due. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_cxr_meta_sink_finalize (GObject * object)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (object);

  g_free (self->location);
  g_free (self->summary_location);
  g_free (self->heatmap_location);
  g_free (self->report_location);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_cxr_meta_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_SUMMARY_LOCATION:
      g_free (self->summary_location);
      self->summary_location = g_value_dup_string (value);
      break;
    case PROP_PRINT_SUMMARY:
      self->print_summary = g_value_get_boolean (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_HEATMAP_LOCATION:
      g_free (self->heatmap_location);
      self->heatmap_location = g_value_dup_string (value);
      break;
    case PROP_REPORT_LOCATION:
      g_free (self->report_location);
      self->report_location = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_meta_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_SUMMARY_LOCATION:
      g_value_set_string (value, self->summary_location);
      break;
    case PROP_PRINT_SUMMARY:
      g_value_set_boolean (value, self->print_summary);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_HEATMAP_LOCATION:
      g_value_set_string (value, self->heatmap_location);
      break;
    case PROP_REPORT_LOCATION:
      g_value_set_string (value, self->report_location);
      break;
    case PROP_COUNT:
      g_value_set_uint64 (value, self->count);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- per frame ---- */

/* The truth's name: the label meta's class name, else the name of the class
 * at its index (in this frame's classes, else in the first frame's).  NULL
 * without a label meta, or when the index names no known class. */
static const gchar *
truth_name (GstCxrMetaSink * self, const GstCxrLabelMeta * lm,
    const GstCxrClassificationMeta * cm)
{
  if (lm == NULL)
    return NULL;
  if (lm->class_name)
    return lm->class_name;
  if (lm->class_index < 0)
    return NULL;
  if (cm && (guint) lm->class_index < cm->n_classes)
    return cm->class_names[lm->class_index];
  if ((guint) lm->class_index < self->summary.n_classes)
    return self->summary.classes[lm->class_index];
  return NULL;
}

/* what the summary counts of the frame */
static gint
count_frame (GstCxrMetaSink * self, const GstCxrLabelMeta * lm,
    const GstCxrClassificationMeta * cm, const gchar * truth)
{
  CxrSummaryFrame f = {
    .labelled = lm && (lm->class_name || lm->class_index >= 0),
    .truth = truth,
  };
  guint64 unmatched = self->summary.unmatched;
  gint t;

  if (cm) {
    f.classified = TRUE;
    f.n_classes = cm->n_classes;
    f.classes = (const gchar * const *) cm->class_names;
    f.probabilities = cm->probabilities;
    f.predicted = cm->predicted;
    f.threshold = cm->threshold;
    f.stale = gst_cxr_classification_meta_is_stale (cm);
    f.abstain_reason = cm->abstain_reason;
  }
  t = cxr_summary_add (&self->summary, &f);
  if (self->summary.unmatched > unmatched)
    GST_LOG_OBJECT (self, "truth %s left out of the metrics", truth);
  return t;
}

/* b, its next value named name */
static JsonBuilder *
key (JsonBuilder * b, const gchar * name)
{
  return json_builder_set_member_name (b, name);
}

/* "heatmap": {"width", "height", "values" row by row}, when there is one */
static void
heatmap_json (JsonBuilder * b, const GstCxrHeatmapMeta * hm)
{
  if (!hm)
    return;
  json_builder_begin_object (key (b, "heatmap"));
  json_builder_add_int_value (key (b, "width"), hm->width);
  json_builder_add_int_value (key (b, "height"), hm->height);
  json_builder_begin_array (key (b, "values"));
  for (guint i = 0; i < hm->width * hm->height; i++)
    cxr_json_add_number (b, hm->values[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* the frame's line (see the top of the file), in b */
static void
frame_json (JsonBuilder * b, GstBuffer * buffer, guint64 frame,
    const GstCxrLabelMeta * lm, const GstCxrClassificationMeta * cm,
    const gchar * truth)
{
  json_builder_begin_object (b);
  cxr_json_add_string (key (b, "file"), lm ? lm->source : NULL);
  json_builder_add_int_value (key (b, "frame"), frame);
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    json_builder_add_int_value (key (b, "pts"), GST_BUFFER_PTS (buffer));
  else
    json_builder_add_null_value (key (b, "pts"));

  if (cm) {
    json_builder_begin_array (key (b, "classes"));
    for (guint i = 0; i < cm->n_classes; i++)
      cxr_json_add_string (b, cm->class_names[i]);
    json_builder_end_array (b);
    json_builder_begin_array (key (b, "probabilities"));
    for (guint i = 0; i < cm->n_classes; i++)
      cxr_json_add_number (b, cm->probabilities[i]);
    json_builder_end_array (b);
    cxr_json_add_string (key (b, "label"),
        gst_cxr_classification_meta_get_label (cm));
    cxr_json_add_number (key (b, "threshold"), cm->threshold);
    json_builder_add_boolean_value (key (b, "stale"),
        gst_cxr_classification_meta_is_stale (cm));
  } else {
    json_builder_add_null_value (key (b, "classes"));
    json_builder_add_null_value (key (b, "probabilities"));
    json_builder_add_null_value (key (b, "label"));
    json_builder_add_null_value (key (b, "threshold"));
    json_builder_add_null_value (key (b, "stale"));
  }
  cxr_json_add_string (key (b, "truth"), truth);
  cxr_json_add_string (key (b, "model"),
      cm && cm->model_id[0] ? cm->model_id : NULL);
  if (cm)
    json_builder_add_boolean_value (key (b, "abstained"),
        gst_cxr_classification_meta_is_abstained (cm));
  else
    json_builder_add_null_value (key (b, "abstained"));
  cxr_json_add_string (key (b, "reason"),
      cm ? gst_cxr_abstain_reason_name (cm->abstain_reason) : NULL);
  cxr_json_add_number (key (b, "ood_score"), cm ? cm->ood_score : NAN);
  heatmap_json (b, gst_buffer_get_cxr_heatmap_meta (buffer));
  json_builder_end_object (b);
}

/* video input can have its heatmaps drawn; anything else is written as
 * JSON alone */
static gboolean
gst_cxr_meta_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (sink);

  if (!gst_video_info_from_caps (&self->info, caps))
    gst_video_info_init (&self->info);
  return TRUE;
}

/* heatmap-location's picture of frame number frame */
static gboolean
write_picture (GstCxrMetaSink * self, GstBuffer * buffer, guint64 frame)
{
  GstCxrHeatmapMeta *hm = gst_buffer_get_cxr_heatmap_meta (buffer);
  GError *error = NULL;
  GBytes *png;
  gchar *name, *path;
  gboolean ok;

  if (!hm || GST_VIDEO_INFO_FORMAT (&self->info) == GST_VIDEO_FORMAT_UNKNOWN)
    return TRUE;
  png = gst_cxr_heatmap_png (buffer, &self->info, hm, 512, 0.5, &error);
  if (!png) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  name = g_strdup_printf ("frame-%06" G_GUINT64_FORMAT ".png", frame);
  path = g_build_filename (self->pictures, name, NULL);
  ok = g_file_set_contents (path, g_bytes_get_data (png, NULL),
      g_bytes_get_size (png), &error);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not write a heatmap "
            "picture: %s.", error->message), (NULL));
    g_error_free (error);
  }
  g_free (path);
  g_free (name);
  g_bytes_unref (png);
  return ok;
}

/* an evaluated frame answered wrong: among the report's worst, with its
 * thumbnail, when it is worse than the least bad of those kept */
static void
keep_mistake (GstCxrMetaSink * self, GstBuffer * buffer, guint64 frame,
    const GstCxrLabelMeta * lm, const GstCxrClassificationMeta * cm,
    const gchar * truth)
{
  const CxrSummary *sum = &self->summary;
  CxrReportMistake *m = g_new0 (CxrReportMistake, 1);

  m->frame = frame;
  m->file = g_strdup (lm ? lm->source : NULL);
  m->truth = g_strdup (truth);
  m->label = g_strdup (gst_cxr_classification_meta_get_label (cm));
  m->probability = cm->probabilities[sum->n_classes - 1];
  /* the picture only for a mistake kept: making it is the costly part */
  if (cxr_report_keep_mistake (self->mistakes, m,
          sum->classes[sum->n_classes - 1]) &&
      GST_VIDEO_INFO_FORMAT (&self->info) != GST_VIDEO_FORMAT_UNKNOWN)
    m->png = gst_cxr_heatmap_png (buffer, &self->info,
        gst_buffer_get_cxr_heatmap_meta (buffer), THUMBNAIL_SIDE, 0.5, NULL);
}

static GstFlowReturn
gst_cxr_meta_sink_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (sink);
  GstCxrClassificationMeta *cm =
      gst_buffer_get_cxr_classification_meta (buffer);
  GstCxrLabelMeta *lm = gst_buffer_get_cxr_label_meta (buffer);
  const gchar *truth;
  guint64 frame;
  gchar *line;
  gsize length;
  gboolean ok;
  gint t;

  GST_OBJECT_LOCK (self);
  frame = self->count++;
  GST_OBJECT_UNLOCK (self);

  truth = truth_name (self, lm, cm);
  t = count_frame (self, lm, cm, truth);
  if (self->report && t >= 0 && (guint) t != cm->predicted)
    keep_mistake (self, buffer, frame, lm, cm, truth);

  frame_json (self->builder, buffer, frame, lm, cm, truth);
  line = cxr_json_text (self->builder, &length);
  if (self->shared)
    ok = g_string_append_len (self->shared, line, length) != NULL;
  else
    ok = fwrite (line, 1, length, self->out) == length &&
        fflush (self->out) == 0;
  g_free (line);
  if (!ok) {
    int err = errno;

    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the results to %s.", self->out_name),
        ("%s", g_strerror (err)));
    return GST_FLOW_ERROR;
  }
  if (self->pictures && !write_picture (self, buffer, frame))
    return GST_FLOW_ERROR;
  return GST_FLOW_OK;
}

/* ---- summary ---- */

/* report-location's page */
static void
write_report (GstCxrMetaSink * self)
{
  CxrReport r = {
    .summary = &self->summary,
    .mistakes = self->mistakes,
  };
  gchar *html = cxr_report_html (&r);
  GError *err = NULL;

  if (!g_file_set_contents_full (self->report, html, -1,
          G_FILE_SET_CONTENTS_CONSISTENT, 0666, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not write the report to \"%s\".", self->report),
        ("%s", err->message));
    g_error_free (err);
  }
  g_free (html);
}

/* Over several processes: every process's lines written by process 0,
 * which goes on to the summary of them all; FALSE elsewhere */
static gboolean
write_shared (GstCxrMetaSink * self)
{
  GError *err = NULL;
  gboolean ok = gst_cxr_shared_lines_write (self->shared, self->out,
      &self->summary, &err);

  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the results to %s.", self->out_name),
        ("%s", err->message));
    g_error_free (err);
    return FALSE;
  }
  cxr_dist_end ();
  self->summary.processes = cxr_dist_size ();
  return cxr_dist_rank () == 0;
}

/* At EOS, before the base class posts the EOS message, so an application
 * has the summary by the time it sees EOS. */
static void
finish (GstCxrMetaSink * self)
{
  gchar *summary_location, *json;
  gboolean print, post, to_stdout;

  GST_OBJECT_LOCK (self);
  summary_location = g_strdup (self->summary_location);
  print = self->print_summary;
  post = self->post_messages;
  to_stdout = self->location == NULL;
  GST_OBJECT_UNLOCK (self);

  if (self->shared && !write_shared (self)) {
    g_free (summary_location);
    return;                     /* another process speaks for the run */
  }
  cxr_summary_finish (&self->summary);
  json = cxr_summary_json (&self->summary);

  if (summary_location) {
    GError *err = NULL;

    /* Temporary file and rename: a reader never sees half a summary. */
    if (!g_file_set_contents_full (summary_location, json, -1,
            G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
            0666, &err)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not write the summary to \"%s\".", summary_location),
          ("%s", err->message));
      g_error_free (err);
    }
  }
  if (self->report)
    write_report (self);
  if (print) {
    gchar *text = cxr_summary_text (&self->summary, "cxrmetasink");
    /* Keep stdout pure JSON Lines when the results go there. */
    FILE *f = to_stdout ? stderr : stdout;

    fputs (text, f);
    fflush (f);
    g_free (text);
  }
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
            gst_cxr_summary_structure (&self->summary)));

  g_free (json);
  g_free (summary_location);
}

static gboolean
gst_cxr_meta_sink_event (GstBaseSink * sink, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    finish (GST_CXR_META_SINK (sink));

  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* ---- state ---- */

/* the base class calls stop () only after a start () that succeeded */
static gboolean
start_failed (GstCxrMetaSink * self)
{
  g_clear_pointer (&self->pictures, g_free);
  g_clear_pointer (&self->report, g_free);
  return FALSE;
}

static gboolean
gst_cxr_meta_sink_start (GstBaseSink * sink)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (sink);
  GError *error = NULL;
  gchar *location;

  if (!cxr_dist_init (&error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s.", error->message),
        (NULL));
    g_error_free (error);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->count = 0;
  location = g_strdup (self->location);
  self->pictures = g_strdup (self->heatmap_location);
  self->report = g_strdup (self->report_location);
  GST_OBJECT_UNLOCK (self);
  gst_video_info_init (&self->info);
  if (self->pictures && g_mkdir_with_parents (self->pictures, 0755) != 0) {
    int err = errno;

    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not make the folder \"%s\" for heatmap pictures.",
            self->pictures), ("%s", g_strerror (err)));
    g_free (location);
    return start_failed (self);
  }

  if (cxr_dist_size () > 1 && (self->pictures || self->report)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("heatmap-location and "
            "report-location are made by a run of one process, and this is "
            "one of %d (mpirun): leave them unset, or run without mpirun.",
            cxr_dist_size ()), (NULL));
    g_free (location);
    return start_failed (self);
  }
  if (cxr_dist_size () > 1) {
    /* the run's lines, written at EOS by process 0 (write_shared) */
    self->shared = g_string_new (NULL);
    cxr_dist_begin ();
    if (cxr_dist_rank () > 0)
      g_clear_pointer (&location, g_free);
  }
  if (location == NULL) {
    self->out = stdout;
    self->out_name = g_strdup ("stdout");
  } else {
    self->out = fopen (location, "w");
    if (self->out == NULL) {
      int err = errno;

      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not open \"%s\" for writing.", location),
          ("%s", g_strerror (err)));
      g_free (location);
      return start_failed (self);
    }
    self->out_name = g_strdup_printf ("\"%s\"", location);
    g_free (location);
  }

  gst_cxr_summary_start (&self->summary);
  self->builder = json_builder_new ();
  self->mistakes = g_ptr_array_new_with_free_func ((GDestroyNotify)
      cxr_report_mistake_free);
  return TRUE;
}

static gboolean
gst_cxr_meta_sink_stop (GstBaseSink * sink)
{
  GstCxrMetaSink *self = GST_CXR_META_SINK (sink);

  if (self->out && self->out != stdout)
    fclose (self->out);
  self->out = NULL;
  g_clear_pointer (&self->out_name, g_free);
  g_clear_pointer (&self->pictures, g_free);
  g_clear_pointer (&self->report, g_free);
  g_clear_pointer (&self->mistakes, g_ptr_array_unref);
  g_clear_object (&self->builder);
  cxr_summary_clear (&self->summary);
  if (self->shared)
    g_string_free (g_steal_pointer (&self->shared), TRUE);
  return TRUE;
}
