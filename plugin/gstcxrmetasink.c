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
 * named `cxrmetasink-summary` (#GstCxrMetaSink:post-messages).  Its JSON
 * keys: `count` (frames), `classes` and `threshold` (from the first
 * classified frame), `labelled` (frames with a label meta), `unclassified`,
 * `stale`, `unmatched`, `abstained` (fresh frames that got no diagnosis)
 * and `abstained_by_reason` (an object: reason to count), `evaluated`,
 * `confusion` (rows = truth, columns =
 * prediction, in `classes` order), `accuracy`, `precision`, `recall`,
 * `specificity`, `f1` (the last class is the positive one), `auc` (ROC
 * AUC of the last class's probability, ties counting one half), and the
 * calibration of that probability p: `brier` (mean of (p - y)^2, y = 1 for
 * the last class), `ece` (expected calibration error over 10 equal-width
 * bins of p) and `reliability`, the 10 bins as objects `lower`, `upper`,
 * `count`, `mean_probability` and `fraction_positive` (both null for an
 * empty bin).  Bin i holds i/10 <= p < (i+1)/10, p = 1 the last bin; the
 * edges are the floats nearest i/10, so a p written as 0.7 is in [0.7, 0.8).
 *
 * The metrics cover the *evaluated* frames: labelled, classified, answered
 * (not abstained: those are counted apart, and left out), not stale
 * (a stale result is a copy of an earlier frame's, so counting it again
 * would weigh that frame twice), classified with the same classes as the
 * first classified frame, and with a truth among those classes.  Labelled,
 * classified, fresh frames that fail the last two tests are counted as
 * `unmatched`.  With no evaluated frame the metrics, `confusion` and
 * `reliability` are null; `auc` is also null when the evaluated frames hold
 * only one class.
 *
 * The message carries the counts as #guint64 (`count`, `labelled`,
 * `unclassified`, `stale`, `unmatched`, `abstained`, `evaluated`),
 * `classes` as a
 * #GstValueArray of strings, `confusion` as a #GstValueArray of rows, each a
 * #GstValueArray of #guint64, and the metrics (`brier` and `ece` among
 * them) as #gdouble; fields whose JSON value would be null are left out.
 * The reliability bins are in the JSON and the printed summary only.
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

#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

G_STATIC_ASSERT (CXR_MAX_CLASSES >= GST_CXR_MAX_CLASSES);

GST_DEBUG_CATEGORY_STATIC (gst_cxr_meta_sink_debug);
#define GST_CAT_DEFAULT gst_cxr_meta_sink_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_SUMMARY_LOCATION NULL
#define DEFAULT_PRINT_SUMMARY TRUE
#define DEFAULT_POST_MESSAGES TRUE
/* thumbnails in the report */
#define REPORT_MISTAKES 8
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
  guint64 labelled, unclassified, stale, unmatched;
  /* fresh frames with no diagnosis, by GstCxrAbstainReason */
  guint64 abstained[GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION + 1];
  guint n_classes;              /* 0 until the first classified frame */
  gchar *classes[GST_CXR_MAX_CLASSES];
  gfloat threshold;
  CxrConfusion confusion;       /* the evaluated frames */
  GArray *scores;               /* gfloat per evaluated frame: P(last) */
  GArray *positive;             /* guint8 per evaluated frame: truth last */
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

/* ---- JSON text ----
 * json-glib escapes the strings.  Numbers are formatted here: json-glib 1.6
 * prints every double with 17 digits, so a probability of 0.97f would read
 * 0.97000002861022949. */

/* Appends ", " before a value or key, unless it opens an object or array
 * or follows a key's ": ". */
static void
json_separate (GString * s)
{
  gchar last = s->len ? s->str[s->len - 1] : '{';

  if (last != '{' && last != '[' && last != ' ')
    g_string_append (s, ", ");
}

static void
json_string (GString * s, const gchar * str)
{
  JsonNode *node;
  gchar *valid, *text;

  json_separate (s);
  if (str == NULL) {
    g_string_append (s, "null");
    return;
  }
  /* File names need not be UTF-8; JSON text must be. */
  valid = g_utf8_make_valid (str, -1);
  node = json_node_init_string (json_node_alloc (), valid);
  text = json_to_string (node, FALSE);
  g_string_append (s, text);
  g_free (text);
  json_node_unref (node);
  g_free (valid);
}

static void
json_key (GString * s, const gchar * key)
{
  json_string (s, key);
  g_string_append (s, ": ");
}

static void
json_null (GString * s)
{
  json_separate (s);
  g_string_append (s, "null");
}

static void
json_uint (GString * s, guint64 v)
{
  json_separate (s);
  g_string_append_printf (s, "%" G_GUINT64_FORMAT, v);
}

/* The shortest %g form that reads back as the same value (as the same float
 * when single is TRUE).  JSON has no NaN or infinity: those are null. */
static void
json_number (GString * s, gdouble v, gboolean single)
{
  static const gchar *formats[] = {
    "%.6g", "%.7g", "%.8g", "%.9g", "%.15g", "%.16g", "%.17g"
  };
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  guint i;

  if (!isfinite (v)) {
    json_null (s);
    return;
  }
  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gdouble back;

    g_ascii_formatd (buf, sizeof buf, formats[i], v);
    back = g_ascii_strtod (buf, NULL);
    if (single ? (gfloat) back == (gfloat) v : back == v)
      break;
  }
  json_separate (s);
  g_string_append (s, buf);
  /* 1.0, not 1: a reader that types numbers still sees a real */
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (s, ".0");
}

static void
json_bool (GString * s, gboolean v)
{
  json_separate (s);
  g_string_append (s, v ? "true" : "false");
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
  if ((guint) lm->class_index < self->n_classes)
    return self->classes[lm->class_index];
  return NULL;
}

/* Index of name among the summary's classes, -1 if absent. */
static gint
class_index (GstCxrMetaSink * self, const gchar * name)
{
  guint i;

  for (i = 0; name && i < self->n_classes; i++)
    if (g_strcmp0 (self->classes[i], name) == 0)
      return i;
  return -1;
}

static gboolean
same_classes (GstCxrMetaSink * self, const GstCxrClassificationMeta * cm)
{
  guint i;

  if (cm->n_classes != self->n_classes)
    return FALSE;
  for (i = 0; i < cm->n_classes; i++)
    if (g_strcmp0 (cm->class_names[i], self->classes[i]) != 0)
      return FALSE;
  return TRUE;
}

/* Counts the frame; the class index of its truth when it is evaluated,
 * else -1. */
static gint
count_frame (GstCxrMetaSink * self, const GstCxrLabelMeta * lm,
    const GstCxrClassificationMeta * cm, const gchar * truth)
{
  gboolean labelled = lm && (lm->class_name || lm->class_index >= 0);
  guint last;
  gint t;
  gfloat score;
  guint8 positive;

  if (labelled)
    self->labelled++;
  if (cm == NULL) {
    self->unclassified++;
    return -1;
  }
  if (self->n_classes == 0) {
    /* The first classified frame fixes the summary's classes. */
    for (self->n_classes = 0; self->n_classes < cm->n_classes;
        self->n_classes++)
      self->classes[self->n_classes] =
          g_strdup (cm->class_names[self->n_classes]);
    self->threshold = cm->threshold;
    cxr_confusion_init (&self->confusion, self->n_classes);
  }
  if (gst_cxr_classification_meta_is_stale (cm)) {
    self->stale++;
    return -1;
  }
  if (gst_cxr_classification_meta_is_abstained (cm)) {
    /* a reason this version does not know counts as out of distribution */
    self->abstained[MIN (cm->abstain_reason,
            GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION)]++;
    return -1;
  }
  if (!labelled)
    return -1;

  t = class_index (self, truth);
  if (t < 0 || !same_classes (self, cm)) {
    GST_LOG_OBJECT (self, "truth %s left out of the metrics", truth);
    self->unmatched++;
    return -1;
  }
  last = self->n_classes - 1;
  cxr_confusion_add (&self->confusion, t, cm->predicted);
  score = cm->probabilities[last];
  positive = (guint) t == last;
  g_array_append_val (self->scores, score);
  g_array_append_val (self->positive, positive);
  return t;
}

/* "heatmap": {"width", "height", "values" row by row}, when there is one */
static void
heatmap_json (GString * s, const GstCxrHeatmapMeta * hm)
{
  if (!hm)
    return;
  json_key (s, "heatmap");
  g_string_append_c (s, '{');
  json_key (s, "width");
  json_uint (s, hm->width);
  json_key (s, "height");
  json_uint (s, hm->height);
  json_key (s, "values");
  g_string_append_c (s, '[');
  for (guint i = 0; i < hm->width * hm->height; i++)
    json_number (s, hm->values[i], TRUE);
  g_string_append (s, "]}");
}

static gchar *
frame_json (GstBuffer * buffer, guint64 frame,
    const GstCxrLabelMeta * lm, const GstCxrClassificationMeta * cm,
    const gchar * truth)
{
  GString *s = g_string_new ("{");
  guint i;

  json_key (s, "file");
  json_string (s, lm ? lm->source : NULL);
  json_key (s, "frame");
  json_uint (s, frame);
  json_key (s, "pts");
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    json_uint (s, GST_BUFFER_PTS (buffer));
  else
    json_null (s);

  json_key (s, "classes");
  if (cm) {
    g_string_append_c (s, '[');
    for (i = 0; i < cm->n_classes; i++)
      json_string (s, cm->class_names[i]);
    g_string_append_c (s, ']');
  } else {
    json_null (s);
  }
  json_key (s, "probabilities");
  if (cm) {
    g_string_append_c (s, '[');
    for (i = 0; i < cm->n_classes; i++)
      json_number (s, cm->probabilities[i], TRUE);
    g_string_append_c (s, ']');
  } else {
    json_null (s);
  }
  json_key (s, "label");
  json_string (s, cm ? gst_cxr_classification_meta_get_label (cm) : NULL);
  json_key (s, "threshold");
  if (cm)
    json_number (s, cm->threshold, TRUE);
  else
    json_null (s);
  json_key (s, "stale");
  if (cm)
    json_bool (s, gst_cxr_classification_meta_is_stale (cm));
  else
    json_null (s);
  json_key (s, "truth");
  json_string (s, truth);
  json_key (s, "model");
  json_string (s, cm && cm->model_id[0] ? cm->model_id : NULL);
  json_key (s, "abstained");
  if (cm)
    json_bool (s, gst_cxr_classification_meta_is_abstained (cm));
  else
    json_null (s);
  json_key (s, "reason");
  json_string (s, cm ? gst_cxr_abstain_reason_name (cm->abstain_reason) :
      NULL);
  json_key (s, "ood_score");
  json_number (s, cm ? cm->ood_score : NAN, TRUE);
  heatmap_json (s, gst_buffer_get_cxr_heatmap_meta (buffer));
  g_string_append_c (s, '}');

  return g_string_free (s, FALSE);
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

/* how wrong a mistake is: the probability it gave the wrong side */
static gdouble
badness (const CxrReportMistake * m, const gchar * positive)
{
  return g_strcmp0 (m->truth, positive) == 0 ? 1.0 - m->probability :
      m->probability;
}

static gint
worse_first (gconstpointer a, gconstpointer b, gpointer positive)
{
  gdouble da = badness (*(CxrReportMistake **) a, positive);
  gdouble db = badness (*(CxrReportMistake **) b, positive);

  return (da < db) - (da > db);
}

/* an evaluated frame answered wrong: among the report's worst, with its
 * thumbnail, when it is worse than the least bad of those kept */
static void
keep_mistake (GstCxrMetaSink * self, GstBuffer * buffer, guint64 frame,
    const GstCxrLabelMeta * lm, const GstCxrClassificationMeta * cm,
    const gchar * truth)
{
  const gchar *positive = self->classes[self->n_classes - 1];
  CxrReportMistake *m = g_new0 (CxrReportMistake, 1);

  m->frame = frame;
  m->file = g_strdup (lm ? lm->source : NULL);
  m->truth = g_strdup (truth);
  m->label = g_strdup (gst_cxr_classification_meta_get_label (cm));
  m->probability = cm->probabilities[self->n_classes - 1];
  if (self->mistakes->len == REPORT_MISTAKES && badness (m, positive)
      <= badness (g_ptr_array_index (self->mistakes,
              REPORT_MISTAKES - 1), positive)) {
    cxr_report_mistake_free (m);
    return;
  }
  if (GST_VIDEO_INFO_FORMAT (&self->info) != GST_VIDEO_FORMAT_UNKNOWN)
    m->png = gst_cxr_heatmap_png (buffer, &self->info,
        gst_buffer_get_cxr_heatmap_meta (buffer), THUMBNAIL_SIDE, 0.5, NULL);
  g_ptr_array_add (self->mistakes, m);
  g_ptr_array_sort_with_data (self->mistakes, worse_first,
      (gpointer) positive);
  if (self->mistakes->len > REPORT_MISTAKES)
    g_ptr_array_remove_index (self->mistakes, REPORT_MISTAKES);
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
  gboolean ok;
  gint t;

  GST_OBJECT_LOCK (self);
  frame = self->count++;
  GST_OBJECT_UNLOCK (self);

  truth = truth_name (self, lm, cm);
  t = count_frame (self, lm, cm, truth);
  if (self->report && t >= 0 && (guint) t != cm->predicted)
    keep_mistake (self, buffer, frame, lm, cm, truth);

  line = frame_json (buffer, frame, lm, cm, truth);
  ok = fputs (line, self->out) != EOF && fputc ('\n', self->out) != EOF &&
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

typedef struct
{
  guint64 count, evaluated, abstained;
  CxrBinaryMetrics m;           /* valid when evaluated > 0 */
  gdouble auc;                  /* NAN when one class is missing */
  gdouble brier;                /* NAN when evaluated = 0 */
  CxrReliability rel;           /* the bins and the ECE, of P(last) */
} Summary;

static void
summarise (GstCxrMetaSink * self, Summary * sum)
{
  GST_OBJECT_LOCK (self);
  sum->count = self->count;
  GST_OBJECT_UNLOCK (self);

  sum->evaluated = self->scores->len;
  sum->abstained = 0;
  for (guint r = 0; r < G_N_ELEMENTS (self->abstained); r++)
    sum->abstained += self->abstained[r];
  memset (&sum->m, 0, sizeof sum->m);
  sum->auc = NAN;
  sum->brier = NAN;
  cxr_reliability (NULL, NULL, 0, &sum->rel);
  if (sum->evaluated > 0) {
    const gfloat *scores = (const gfloat *) self->scores->data;
    const guint8 *positive = (const guint8 *) self->positive->data;

    cxr_confusion_metrics (&self->confusion, &sum->m);
    sum->auc = cxr_roc_auc (scores, positive, sum->evaluated);
    sum->brier = cxr_brier_score (scores, positive, sum->evaluated);
    cxr_reliability (scores, positive, sum->evaluated, &sum->rel);
  }
}

static gchar *
summary_json (GstCxrMetaSink * self, const Summary * sum)
{
  GString *s = g_string_new ("{");
  gboolean have = sum->evaluated > 0;
  guint i, j;

  json_key (s, "count");
  json_uint (s, sum->count);
  json_key (s, "classes");
  if (self->n_classes) {
    g_string_append_c (s, '[');
    for (i = 0; i < self->n_classes; i++)
      json_string (s, self->classes[i]);
    g_string_append_c (s, ']');
  } else {
    json_null (s);
  }
  json_key (s, "threshold");
  if (self->n_classes)
    json_number (s, self->threshold, TRUE);
  else
    json_null (s);
  json_key (s, "labelled");
  json_uint (s, self->labelled);
  json_key (s, "unclassified");
  json_uint (s, self->unclassified);
  json_key (s, "stale");
  json_uint (s, self->stale);
  json_key (s, "unmatched");
  json_uint (s, self->unmatched);
  json_key (s, "abstained");
  json_uint (s, sum->abstained);
  json_key (s, "abstained_by_reason");
  g_string_append_c (s, '{');
  for (i = GST_CXR_ABSTAIN_NONE + 1; i < G_N_ELEMENTS (self->abstained); i++) {
    json_key (s, gst_cxr_abstain_reason_name (i));
    json_uint (s, self->abstained[i]);
  }
  g_string_append_c (s, '}');
  json_key (s, "evaluated");
  json_uint (s, sum->evaluated);

  json_key (s, "confusion");
  if (have) {
    g_string_append_c (s, '[');
    for (i = 0; i < self->n_classes; i++) {
      json_separate (s);
      g_string_append_c (s, '[');
      for (j = 0; j < self->n_classes; j++)
        json_uint (s, self->confusion.counts[i][j]);
      g_string_append_c (s, ']');
    }
    g_string_append_c (s, ']');
  } else {
    json_null (s);
  }
  json_key (s, "accuracy");
  json_number (s, have ? sum->m.accuracy : NAN, FALSE);
  json_key (s, "precision");
  json_number (s, have ? sum->m.precision : NAN, FALSE);
  json_key (s, "recall");
  json_number (s, have ? sum->m.recall : NAN, FALSE);
  json_key (s, "specificity");
  json_number (s, have ? sum->m.specificity : NAN, FALSE);
  json_key (s, "f1");
  json_number (s, have ? sum->m.f1 : NAN, FALSE);
  json_key (s, "auc");
  json_number (s, sum->auc, FALSE);
  json_key (s, "brier");
  json_number (s, sum->brier, FALSE);
  json_key (s, "ece");
  json_number (s, sum->rel.ece, FALSE);
  json_key (s, "reliability");
  if (have) {
    g_string_append_c (s, '[');
    for (i = 0; i < CXR_RELIABILITY_BINS; i++) {
      const CxrReliabilityBin *bin = &sum->rel.bins[i];

      json_separate (s);
      g_string_append_c (s, '{');
      json_key (s, "lower");
      json_number (s, bin->lower, FALSE);
      json_key (s, "upper");
      json_number (s, bin->upper, FALSE);
      json_key (s, "count");
      json_uint (s, bin->count);
      json_key (s, "mean_probability");
      json_number (s, bin->mean_probability, FALSE);    /* NAN: null */
      json_key (s, "fraction_positive");
      json_number (s, bin->fraction_positive, FALSE);
      g_string_append_c (s, '}');
    }
    g_string_append_c (s, ']');
  } else {
    json_null (s);
  }
  g_string_append (s, "}\n");

  return g_string_free (s, FALSE);
}

static void
print_summary (GstCxrMetaSink * self, const Summary * sum, FILE * f)
{
  guint i, j;
  gint width = 9;

  fprintf (f, "cxrmetasink: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
      " labelled, %" G_GUINT64_FORMAT " unclassified, %" G_GUINT64_FORMAT
      " stale, %" G_GUINT64_FORMAT " unmatched, %" G_GUINT64_FORMAT
      " evaluated\n", sum->count, self->labelled, self->unclassified,
      self->stale, self->unmatched, sum->evaluated);
  if (sum->abstained > 0) {
    fprintf (f, "not classified (not for this model): %" G_GUINT64_FORMAT,
        sum->abstained);
    for (i = GST_CXR_ABSTAIN_NONE + 1; i < G_N_ELEMENTS (self->abstained);
        i++)
      if (self->abstained[i])
        fprintf (f, ", %s %" G_GUINT64_FORMAT,
            gst_cxr_abstain_reason_name (i), self->abstained[i]);
    fprintf (f, "; the metrics cover the frames answered\n");
  }
  if (sum->evaluated == 0) {
    fprintf (f, "cxrmetasink: no labelled results, no metrics\n");
    fflush (f);
    return;
  }

  for (i = 0; i < self->n_classes; i++)
    width = MAX (width, (gint) strlen (self->classes[i]));
  fprintf (f, "confusion (rows = truth, columns = prediction):\n%*s",
      width, "");
  for (j = 0; j < self->n_classes; j++)
    fprintf (f, " %*s", width, self->classes[j]);
  fputc ('\n', f);
  for (i = 0; i < self->n_classes; i++) {
    fprintf (f, "%*s", width, self->classes[i]);
    for (j = 0; j < self->n_classes; j++)
      fprintf (f, " %*" G_GINT64_FORMAT, width,
          (gint64) self->confusion.counts[i][j]);
    fputc ('\n', f);
  }
  fprintf (f, "positive class %s:\n  accuracy %.4f  precision %.4f  "
      "recall %.4f  specificity %.4f  F1 %.4f  AUC %.4f\n",
      self->classes[self->n_classes - 1], sum->m.accuracy, sum->m.precision,
      sum->m.recall, sum->m.specificity, sum->m.f1, sum->auc);
  fprintf (f, "  Brier %.4f  ECE %.4f (%d bins)\n", sum->brier, sum->rel.ece,
      CXR_RELIABILITY_BINS);
  fprintf (f, "  reliability (bin: count, mean p, fraction positive; "
      "empty bins left out):\n");
  for (i = 0; i < CXR_RELIABILITY_BINS; i++) {
    const CxrReliabilityBin *bin = &sum->rel.bins[i];

    if (bin->count == 0)
      continue;
    fprintf (f, "    %.1f-%.1f %6" G_GINT64_FORMAT "  %.3f  %.3f\n",
        bin->lower, bin->upper, (gint64) bin->count, bin->mean_probability,
        bin->fraction_positive);
  }
  fflush (f);
}

static GstMessage *
summary_message (GstCxrMetaSink * self, const Summary * sum)
{
  GstStructure *st;
  guint i, j;

  st = gst_structure_new ("cxrmetasink-summary",
      "count", G_TYPE_UINT64, sum->count,
      "labelled", G_TYPE_UINT64, self->labelled,
      "unclassified", G_TYPE_UINT64, self->unclassified,
      "stale", G_TYPE_UINT64, self->stale,
      "unmatched", G_TYPE_UINT64, self->unmatched,
      "abstained", G_TYPE_UINT64, sum->abstained,
      "evaluated", G_TYPE_UINT64, sum->evaluated, NULL);

  if (self->n_classes) {
    GValue classes = G_VALUE_INIT;

    gst_value_array_init (&classes, self->n_classes);
    for (i = 0; i < self->n_classes; i++) {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, self->classes[i]);
      gst_value_array_append_and_take_value (&classes, &v);
    }
    gst_structure_take_value (st, "classes", &classes);
    gst_structure_set (st, "threshold", G_TYPE_DOUBLE,
        (gdouble) self->threshold, NULL);
  }

  if (sum->evaluated > 0) {
    GValue rows = G_VALUE_INIT;

    gst_value_array_init (&rows, self->n_classes);
    for (i = 0; i < self->n_classes; i++) {
      GValue row = G_VALUE_INIT;

      gst_value_array_init (&row, self->n_classes);
      for (j = 0; j < self->n_classes; j++) {
        GValue v = G_VALUE_INIT;

        g_value_init (&v, G_TYPE_UINT64);
        g_value_set_uint64 (&v, self->confusion.counts[i][j]);
        gst_value_array_append_and_take_value (&row, &v);
      }
      gst_value_array_append_and_take_value (&rows, &row);
    }
    gst_structure_take_value (st, "confusion", &rows);
    gst_structure_set (st,
        "accuracy", G_TYPE_DOUBLE, sum->m.accuracy,
        "precision", G_TYPE_DOUBLE, sum->m.precision,
        "recall", G_TYPE_DOUBLE, sum->m.recall,
        "specificity", G_TYPE_DOUBLE, sum->m.specificity,
        "f1", G_TYPE_DOUBLE, sum->m.f1, NULL);
    if (!isnan (sum->auc))
      gst_structure_set (st, "auc", G_TYPE_DOUBLE, sum->auc, NULL);
    if (!isnan (sum->brier))
      gst_structure_set (st, "brier", G_TYPE_DOUBLE, sum->brier, NULL);
    if (!isnan (sum->rel.ece))
      gst_structure_set (st, "ece", G_TYPE_DOUBLE, sum->rel.ece, NULL);
  }

  return gst_message_new_element (GST_OBJECT (self), st);
}

/* At EOS, before the base class posts the EOS message, so an application
 * has the summary by the time it sees EOS. */
/* report-location's page */
static void
write_report (GstCxrMetaSink * self, const Summary * sum)
{
  CxrReport r = {
    .n_classes = self->n_classes,
    .classes = (const gchar * const *) self->classes,
    .threshold = self->threshold,
    .count = sum->count,
    .evaluated = sum->evaluated,
    .abstained = sum->abstained,
    .unclassified = self->unclassified,
    .confusion = sum->evaluated ? &self->confusion : NULL,
    .metrics = sum->evaluated ? &sum->m : NULL,
    .auc = sum->auc,
    .brier = sum->brier,
    .reliability = &sum->rel,
    .scores = (const gfloat *) self->scores->data,
    .positive = (const guint8 *) self->positive->data,
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

static void
finish (GstCxrMetaSink * self)
{
  gchar *summary_location, *json;
  gboolean print, post, to_stdout;
  Summary sum;

  GST_OBJECT_LOCK (self);
  summary_location = g_strdup (self->summary_location);
  print = self->print_summary;
  post = self->post_messages;
  to_stdout = self->location == NULL;
  GST_OBJECT_UNLOCK (self);

  summarise (self, &sum);
  json = summary_json (self, &sum);

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
    write_report (self, &sum);
  /* Keep stdout pure JSON Lines when the results go there. */
  if (print)
    print_summary (self, &sum, to_stdout ? stderr : stdout);
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        summary_message (self, &sum));

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

static void
clear_stats (GstCxrMetaSink * self)
{
  guint i;

  for (i = 0; i < self->n_classes; i++)
    g_clear_pointer (&self->classes[i], g_free);
  self->n_classes = 0;
  self->labelled = self->unclassified = self->stale = self->unmatched = 0;
  memset (self->abstained, 0, sizeof self->abstained);
  cxr_confusion_init (&self->confusion, 0);
  g_clear_pointer (&self->scores, g_array_unref);
  g_clear_pointer (&self->positive, g_array_unref);
}

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
  gchar *location;

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

  clear_stats (self);
  self->scores = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->positive = g_array_new (FALSE, FALSE, sizeof (guint8));
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
  clear_stats (self);
  return TRUE;
}
