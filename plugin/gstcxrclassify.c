/**
 * SECTION:element-cxrclassify
 * @title: cxrclassify
 *
 * Tells from each video frame whether the chest X-ray in it shows
 * pneumonia, and attaches the answer to the buffer as a
 * #GstCxrClassificationMeta. The video itself passes through untouched.
 *
 * Each frame (any size; grey, colour, or the luma plane of I420/NV12) is
 * shrunk to the network's input by area averaging and run through the CNN
 * on oneDNN; a model holding an ensemble runs every member and averages
 * their logits. Every result is attached, whatever its score.
 *
 * Without the #GstCxrClassify:model property the model is the file named
 * by the environment variable `CXR_MODEL_PATH` (the build folder's tests
 * and recipes set it to the shipped model), or else the default model
 * installed with the plugin.
 *
 * interval=N classifies every Nth frame; the frames between carry a copy of
 * the last result flagged stale. On a live stream, a frame that QoS says is
 * already late gets the last result (stale) instead of a forward pass, so
 * the classifier never holds the stream back; nothing is dropped.
 *
 * When the model file is replaced while playing (e.g. by cxrtrain writing a
 * checkpoint), the new weights are loaded in the background and swapped in
 * between two frames, and a "model-updated" element message is posted.
 *
 * Frames the model is not for get no diagnosis (the meta says why, and
 * carries no label): a DICOM source whose modality or body part (from the
 * label meta, as cxrdatasetsrc and cxrdicomdec set it, or the stream's
 * dicom-modality and dicom-body-part tags) is not among those accepted; a
 * near-constant or mostly saturated frame; and, with a
 * model that holds the statistics of its training films' features, a frame
 * whose features are farther from them than the model's threshold.
 *
 * heatmap=true also attaches a #GstCxrHeatmapMeta to every frame answered:
 * where the network looked for the last class (PNEUMONIA), a grid over the
 * frame (7x7 for the default architecture) in [0, 1], the mean of an
 * ensemble's members' maps, computed by fp32 copies of the networks
 * (kernels/model/heatmap.h); heatmap-refine=N makes the grid N times finer each
 * way from N x N passes with the film moved by fractions of a cell.
 *
 * A buffer holds one classification: a classification meta already on it
 * (from a cxrclassify upstream) is replaced by this one's, and so is a
 * heatmap meta.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 cxrdatasetsrc location=xrays/ ! cxrclassify ! cxrmetasink
 * gst-launch-1.0 -m v4l2src ! videoconvert ! cxrclassify interval=10 \
 *     post-messages=true ! autovideosink
 * ]|
 */

#include "config.h"

#include "gstcxrclassify.h"
#include "properties.h"
#include "gstcxrdicomdec.h"
#include "frame.h"
#include "modelwatch.h"
#include "gst/cxr/cxrmeta.h"
#include "answer.h"
#include "heatmap.h"
#include "net.h"
#include "preprocess.h"

#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>
#include <math.h>
#include <omp.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_classify_debug);
#define GST_CAT_DEFAULT gst_cxr_classify_debug

/* the model loader refuses more classes than the metas hold */
G_STATIC_ASSERT (GST_CXR_MAX_CLASSES >= CXR_MAX_CLASSES);
/* the core's reasons are the meta's */
G_STATIC_ASSERT ((int) CXR_REFUSAL_OUT_OF_DISTRIBUTION ==
    (int) GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION);
G_STATIC_ASSERT ((int) CXR_REFUSAL_BLANK == (int) GST_CXR_ABSTAIN_BLANK);

#define DEFAULT_MODALITIES CXR_GATE_MODALITIES
#define DEFAULT_BODY_PARTS CXR_GATE_BODY_PARTS
#define MAX_HEATMAP_REFINE 4

/* properties that may change while playing, and those read at start */
#define SET_PLAYING (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_PLAYING)
#define SET_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)

struct _GstCxrClassify {
  GstVideoFilter parent;

  /* properties */
  gchar *model_path;
  gfloat threshold;             /* < 0: the model's own */
  CxrPrecision precision;
  gboolean heatmap;
  guint heatmap_refine;
  gint threads;
  guint interval;
  gboolean post_messages;
  gchar *modalities, *body_parts;       /* comma-separated, any case */
  gfloat ood_threshold;         /* < 0: the model's own */

  /* streaming state */
  gchar *modality, *body_part;  /* of the stream, from its tags; NULL */
  CxrAnswerer *engine;
  guint64 frame;                /* frames seen since start */
  GstBuffer *last_result;       /* holds the last computed meta */

  /* QoS, from upstream QOS events */
  GstClockTime earliest_time;

  /* the model file, watched for a new version while playing */
  GstCxrModelWatch watch;
};

G_DEFINE_TYPE (GstCxrClassify, gst_cxr_classify, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (cxrclassify, "cxrclassify", GST_RANK_NONE,
    GST_TYPE_CXR_CLASSIFY);

enum {
  PROP_0,
  PROP_MODEL,
  PROP_THRESHOLD,
  PROP_PRECISION,
  PROP_THREADS,
  PROP_INTERVAL,
  PROP_POST_MESSAGES,
  PROP_MODALITIES,
  PROP_BODY_PARTS,
  PROP_OOD_THRESHOLD,
  PROP_HEATMAP,
  PROP_HEATMAP_REFINE,
  PROP_MODEL_ID,
  PROP_IMPLEMENTATION,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_CXR_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_CXR_VIDEO_FORMATS)));

/* the model file to use; set_property may replace it from another thread */
static gchar *
dup_model_path (GstElement * element)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (element);
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = gst_cxr_model_path (self->model_path);
  GST_OBJECT_UNLOCK (self);
  return path;
}

/* the model at path, ready to answer frames (and draw heatmaps if asked) */
static gpointer
load_model (GstElement * element, const gchar * path, GError ** error)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (element);
  CxrPrecision precision;
  gboolean heatmap;

  GST_OBJECT_LOCK (self);
  precision = self->precision;
  heatmap = self->heatmap;
  GST_OBJECT_UNLOCK (self);
  return cxr_answerer_load (path, precision, heatmap ? MAX_HEATMAP_REFINE : 0,
      error);
}

/* Between two frames: take a replaced model file's weights if they are
 * ready (common/modelwatch.h). */
static void
maybe_swap_model (GstCxrClassify * self)
{
  CxrAnswerer *fresh = gst_cxr_model_watch_poll (&self->watch), *old;
  gchar *old_id;

  if (!fresh)
    return;
  gst_cxr_model_watch_start (&self->watch, &fresh->source);
  old = self->engine;
  old_id = g_strdup (old->model->id);
  /* under the object lock: get_property reads the engine's id */
  GST_OBJECT_LOCK (self);
  self->engine = fresh;
  GST_OBJECT_UNLOCK (self);
  cxr_answerer_free (old);
  gst_buffer_replace (&self->last_result, NULL);
  GST_INFO_OBJECT (self, "model replaced: %s -> %s", old_id, fresh->model->id);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("model-updated",
              "model-id", G_TYPE_STRING, fresh->model->id,
              "previous-model-id", G_TYPE_STRING, old_id,
              "frame", G_TYPE_UINT64, self->frame, NULL)));
  g_object_notify (G_OBJECT (self), "model-id");
  g_free (old_id);
}

/* ---- the element ---- */

static gboolean
gst_cxr_classify_start (GstBaseTransform * trans)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (trans);
  GError *error = NULL;
  gchar *path = dup_model_path (GST_ELEMENT (self));
  CxrAnswerer *e = load_model (GST_ELEMENT (self), path, &error);

  if (!e) {
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Model file '%s' not found. Set the 'model' property (or "
              "CXR_MODEL_PATH in the environment) to a model written by "
              "cxrtrain.", path), ("%s", error->message));
    else
      /* the message names the file */
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the model: %s.", error->message), (NULL));
    g_error_free (error);
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "model %s (%s, %d member(s)), %s via %s", path,
      e->model->id, e->model->n_members,
      cxr_precision_name (cxr_net_precision (e->nets[0])),
      cxr_net_implementation (e->nets[0]));
  if (!e->model->ood)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("Model '%s' has no statistics of its training films' features: "
            "frames that are not chest X-rays are told only by their DICOM "
            "tags and by being blank or saturated. Train it again with this "
            "version of cxrtrain to have them.", path), (NULL));
  g_free (path);
  GST_OBJECT_LOCK (self);
  self->engine = e;
  GST_OBJECT_UNLOCK (self);
  gst_cxr_model_watch_start (&self->watch, &e->source);
  self->frame = 0;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_cxr_classify_stop (GstBaseTransform * trans)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (trans);
  CxrAnswerer *old;

  gst_cxr_model_watch_stop (&self->watch);
  GST_OBJECT_LOCK (self);
  old = self->engine;
  self->engine = NULL;
  GST_OBJECT_UNLOCK (self);
  cxr_answerer_free (old);
  gst_buffer_replace (&self->last_result, NULL);
  return TRUE;
}

static gboolean
gst_cxr_classify_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_QOS) {
    gdouble proportion;
    GstClockTimeDiff diff;
    GstClockTime timestamp;
    gst_event_parse_qos (event, NULL, &proportion, &diff, &timestamp);
    GST_OBJECT_LOCK (self);
    /* like GstBaseTransform: a frame before this running time is late */
    if (diff > 0)
      self->earliest_time = timestamp + 2 * diff;
    else
      self->earliest_time = timestamp + diff;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_cxr_classify_parent_class)->src_event
      (trans, event);
}

static gboolean
is_late (GstCxrClassify * self, GstBuffer * buf)
{
  GstSegment *segment = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime running, earliest;

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return FALSE;
  running = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf));
  GST_OBJECT_LOCK (self);
  earliest = self->earliest_time;
  GST_OBJECT_UNLOCK (self);
  return GST_CLOCK_TIME_IS_VALID (running) && GST_CLOCK_TIME_IS_VALID (earliest)
      && running < earliest;
}

/* where the network looked, for the last class, from the input the
 * network has just seen */
static gboolean
attach_heatmap (GstCxrClassify * self, GstBuffer * buf)
{
  CxrAnswerer *e = self->engine;
  const CxrNetSpec *spec = e->model->spec;
  const CxrLayer *f = &spec->layers[cxr_heatmap_layer (spec)];
  GError *error = NULL;
  guint refine;

  GST_OBJECT_LOCK (self);
  refine = self->heatmap_refine;
  GST_OBJECT_UNLOCK (self);
  if (!cxr_answerer_heatmap (e, refine, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot compute the heatmap: "
            "%s.", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  gst_buffer_add_cxr_heatmap_meta (buf, f->out_w * refine, f->out_h * refine,
      e->heatmap, spec->n_classes - 1);
  return TRUE;
}

/* The rules an answer goes by, from the properties, the model and what the
 * frame's DICOM source says: the label meta's modality and body part
 * (cxrdatasetsrc, cxrdicomdec), else the stream's tags. Strings are copies,
 * freed by clear_question. */
static void
ask (GstCxrClassify * self, GstBuffer * buf, CxrQuestion * q)
{
  const CxrModel *model = self->engine->model;
  GstCxrLabelMeta *label = gst_buffer_get_cxr_label_meta (buf);
  gboolean from_label = label && (label->modality || label->body_part);

  GST_OBJECT_LOCK (self);
  q->modalities = g_strdup (self->modalities);
  q->body_parts = g_strdup (self->body_parts);
  q->modality = g_strdup (from_label ? label->modality : self->modality);
  q->body_part = g_strdup (from_label ? label->body_part : self->body_part);
  q->threshold = self->threshold >= 0 ? self->threshold : model->threshold;
  q->ood_threshold = self->ood_threshold >= 0 ? self->ood_threshold :
      model->ood ? model->ood->threshold : NAN;
  GST_OBJECT_UNLOCK (self);
}

static void
clear_question (CxrQuestion * q)
{
  g_free ((gchar *) q->modalities);
  g_free ((gchar *) q->body_parts);
  g_free ((gchar *) q->modality);
  g_free ((gchar *) q->body_part);
}

/* Run the network on one frame and attach the result: a diagnosis, or the
 * reason for none (kernels/model/answer.h). */
static gboolean
classify (GstCxrClassify * self, GstBuffer * buf, GstVideoInfo * info)
{
  static const CxrNormalization unit = { 0.0f, 1.0f, CXR_FILM_NONE, 0.0f };
  CxrAnswerer *e = self->engine;
  const CxrModel *model = e->model;
  const CxrNetSpec *spec = model->spec;
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  GstCxrClassificationMeta *m;
  CxrQuestion q;
  CxrAnswer a;
  gboolean ok;

  /* the film as it is, for the checks; cxr_answer applies the model's
   * normalisation */
  if (!gst_cxr_frame_to_input (buf, info, &unit, spec->in_w, spec->in_h,
          e->input, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  ask (self, buf, &q);
  if (self->threads > 0)
    omp_set_num_threads (self->threads);
  ok = cxr_answer (e, &q, &a, &error);
  clear_question (&q);
  /* an engine failure gives garbage: the frame gets no result, and the
   * pipeline stops with the reason */
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot classify the frame: "
            "%s.", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  m = gst_buffer_add_cxr_classification_meta (buf, spec->n_classes,
      (const gchar * const *) model->classes, a.probabilities, a.predicted,
      q.threshold, model->id, (g_get_monotonic_time () - start) *
      GST_USECOND, GST_CXR_CLASSIFICATION_FLAG_NONE);
  gst_cxr_classification_meta_set_abstained (m,
      (GstCxrAbstainReason) a.refusal, a.ood_score, q.ood_threshold);
  if (a.refusal != CXR_REFUSAL_NONE) {
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " not classified: %s",
        self->frame, gst_cxr_abstain_reason_name (m->abstain_reason));
    return TRUE;
  }
  return !e->heatmap || attach_heatmap (self, buf);
}

/* The stream's DICOM tags, for the modality and body-part gate; the QoS
 * state, reset by a flush */
static gboolean
gst_cxr_classify_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START) {
    GST_OBJECT_LOCK (self);
    g_clear_pointer (&self->modality, g_free);
    g_clear_pointer (&self->body_part, g_free);
    GST_OBJECT_UNLOCK (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    /* after a seek the running times start again: the old lateness says
     * nothing of them */
    GST_OBJECT_LOCK (self);
    self->earliest_time = GST_CLOCK_TIME_NONE;
    GST_OBJECT_UNLOCK (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_TAG) {
    GstTagList *tags;
    gchar *modality = NULL, *body_part = NULL;

    gst_event_parse_tag (event, &tags);
    if (gst_tag_list_get_string (tags, GST_CXR_TAG_DICOM_MODALITY,
            &modality)) {
      gst_tag_list_get_string (tags, GST_CXR_TAG_DICOM_BODY_PART, &body_part);
      GST_OBJECT_LOCK (self);
      g_free (self->modality);
      g_free (self->body_part);
      self->modality = modality;
      self->body_part = body_part;
      GST_OBJECT_UNLOCK (self);
    }
  }
  return GST_BASE_TRANSFORM_CLASS (gst_cxr_classify_parent_class)->sink_event
      (trans, event);
}

/* Frames not classified themselves carry the last result, marked stale. */
static void
attach_stale (GstCxrClassify * self, GstBuffer * buf)
{
  GstCxrClassificationMeta *m = self->last_result ?
      gst_buffer_get_cxr_classification_meta (self->last_result) : NULL;

  if (m) {
    GstCxrClassificationMeta *copy =
        gst_buffer_add_cxr_classification_meta (buf, m->n_classes,
        (const gchar * const *) m->class_names, m->probabilities,
        m->predicted, m->threshold, m->model_id, 0,
        m->flags | GST_CXR_CLASSIFICATION_FLAG_STALE);
    gst_cxr_classification_meta_set_abstained (copy, m->abstain_reason,
        m->ood_score, m->ood_threshold);
  }
  if (self->last_result) {
    GstCxrHeatmapMeta *h =
        gst_buffer_get_cxr_heatmap_meta (self->last_result);
    if (h)
      gst_cxr_heatmap_meta_copy (buf, h);
  }
}

static void
post_result (GstCxrClassify * self, GstBuffer * buf)
{
  GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (buf);
  GstSegment *segment = &GST_BASE_TRANSFORM (self)->segment;
  GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
  GstStructure *s;

  if (!m)
    return;
  g_value_init (&array, GST_TYPE_ARRAY);
  g_value_init (&v, G_TYPE_DOUBLE);
  for (guint i = 0; i < m->n_classes; i++) {
    g_value_set_double (&v, m->probabilities[i]);
    gst_value_array_append_value (&array, &v);
  }
  s = gst_structure_new ("cxrclassify",
      "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS (buf),
      "running-time", G_TYPE_UINT64, gst_segment_to_running_time (segment,
          GST_FORMAT_TIME, GST_BUFFER_PTS (buf)),
      "label", G_TYPE_STRING, gst_cxr_classification_meta_get_label (m),
      "class-index", G_TYPE_UINT, m->predicted,
      "threshold", G_TYPE_DOUBLE, (gdouble) m->threshold,
      "stale", G_TYPE_BOOLEAN, gst_cxr_classification_meta_is_stale (m),
      "model-id", G_TYPE_STRING, m->model_id,
      "inference-time", G_TYPE_UINT64, m->inference_time,
      "abstained", G_TYPE_BOOLEAN, gst_cxr_classification_meta_is_abstained (m),
      "reason", G_TYPE_STRING, gst_cxr_abstain_reason_name (m->abstain_reason),
      "ood-score", G_TYPE_DOUBLE, (gdouble) m->ood_score, NULL);
  gst_structure_take_value (s, "probabilities", &array);
  g_value_unset (&v);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static gboolean
drop_classification (GstBuffer * buf, GstMeta ** meta, gpointer user_data)
{
  (void) buf;
  (void) user_data;
  if ((*meta)->info->api == GST_CXR_CLASSIFICATION_META_API_TYPE
      || (*meta)->info->api == GST_CXR_HEATMAP_META_API_TYPE)
    *meta = NULL;               /* removes it */
  return TRUE;
}

static GstFlowReturn
gst_cxr_classify_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  guint interval;
  gboolean fresh;

  maybe_swap_model (self);
  gst_buffer_foreach_meta (buf, drop_classification, NULL);
  GST_OBJECT_LOCK (self);
  interval = self->interval;
  GST_OBJECT_UNLOCK (self);

  /* classify the first frame, every interval-th one, and any frame when
   * there is nothing to copy yet; late frames get a copy */
  fresh = !self->last_result || self->frame % interval == 0;
  if (fresh && self->last_result && is_late (self, buf)) {
    GST_DEBUG_OBJECT (self, "frame %" G_GUINT64_FORMAT " is late: not "
        "classified", self->frame);
    fresh = FALSE;
  }
  if (fresh) {
    if (!classify (self, buf, &filter->in_info))
      return GST_FLOW_ERROR;
    /* keep the result on a small empty buffer rather than the frame */
    gst_buffer_replace (&self->last_result, NULL);
    self->last_result = gst_buffer_new ();
    gst_buffer_copy_into (self->last_result, buf, GST_BUFFER_COPY_META, 0, -1);
  } else {
    attach_stale (self, buf);
  }
  if (self->post_messages)
    post_result (self, buf);
  self->frame++;
  return GST_FLOW_OK;
}

static void
gst_cxr_classify_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_float (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_HEATMAP:
      self->heatmap = g_value_get_boolean (value);
      break;
    case PROP_HEATMAP_REFINE:
      self->heatmap_refine = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_MODALITIES:
      g_free (self->modalities);
      self->modalities = g_value_dup_string (value);
      break;
    case PROP_BODY_PARTS:
      g_free (self->body_parts);
      self->body_parts = g_value_dup_string (value);
      break;
    case PROP_OOD_THRESHOLD:
      self->ood_threshold = g_value_get_float (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_classify_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_THRESHOLD:
      g_value_set_float (value, self->threshold);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_HEATMAP:
      g_value_set_boolean (value, self->heatmap);
      break;
    case PROP_HEATMAP_REFINE:
      g_value_set_uint (value, self->heatmap_refine);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_MODALITIES:
      g_value_set_string (value, self->modalities);
      break;
    case PROP_BODY_PARTS:
      g_value_set_string (value, self->body_parts);
      break;
    case PROP_OOD_THRESHOLD:
      g_value_set_float (value, self->ood_threshold);
      break;
    case PROP_MODEL_ID:
      g_value_set_string (value, self->engine ? self->engine->model->id : NULL);
      break;
    case PROP_IMPLEMENTATION:
      g_value_set_string (value, self->engine ?
          cxr_net_implementation (self->engine->nets[0]) : NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_classify_finalize (GObject * object)
{
  GstCxrClassify *self = GST_CXR_CLASSIFY (object);

  g_free (self->model_path);
  g_free (self->modalities);
  g_free (self->body_parts);
  g_free (self->modality);
  g_free (self->body_part);
  gst_cxr_model_watch_clear (&self->watch);
  G_OBJECT_CLASS (gst_cxr_classify_parent_class)->finalize (object);
}

static void
gst_cxr_classify_class_init (GstCxrClassifyClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_cxr_classify_set_property;
  gobject_class->get_property = gst_cxr_classify_get_property;
  gobject_class->finalize = gst_cxr_classify_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model file (safetensors, as written by cxrtrain); unset: "
          "$CXR_MODEL_PATH, else the installed default model. Replacing "
          "the file while playing swaps the weights between two frames, and "
          "so does setting another file", NULL, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Probability of the last class (PNEUMONIA) from which it is "
          "predicted; -1: the threshold chosen when the model was trained",
          -1.0f, 1.0f, -1.0f, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Arithmetic of the network", GST_TYPE_CXR_PRECISION,
          CXR_PRECISION_AUTO, SET_READY));
  g_object_class_install_property (gobject_class, PROP_HEATMAP,
      g_param_spec_boolean ("heatmap", "Heatmap",
          "Attach a GstCxrHeatmapMeta to every frame answered: where the "
          "network looked for the last class (Grad-CAM, which is CAM for a "
          "global-average-pool head), the mean over an ensemble's members, "
          "computed in fp32", FALSE, SET_READY));
  g_object_class_install_property (gobject_class, PROP_HEATMAP_REFINE,
      g_param_spec_uint ("heatmap-refine", "Heatmap refine",
          "A heatmap grid N times finer each way (N x N passes with the film "
          "moved by fractions of a cell, N^2 times the cost); 1: the "
          "network's own grid", 1, MAX_HEATMAP_REFINE, 1, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads for the network; 0: all cores", 0, 1024, 0,
          SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Classify every Nth frame; the frames between carry the last "
          "result, flagged stale", 1, G_MAXUINT, 1, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message \"cxrclassify\" for every frame (label, "
          "probabilities, threshold, stale, model-id, timestamps)", FALSE,
          SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MODALITIES,
      g_param_spec_string ("modalities", "Modalities",
          "DICOM modalities classified, comma-separated; a DICOM stream of "
          "any other (from its dicom-modality tag) gets no diagnosis. "
          "Empty: any", DEFAULT_MODALITIES, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BODY_PARTS,
      g_param_spec_string ("body-parts", "Body parts",
          "DICOM body parts classified, comma-separated; a stream whose "
          "dicom-body-part tag names another gets no diagnosis (one without "
          "the tag is classified). Empty: any", DEFAULT_BODY_PARTS,
          SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_OOD_THRESHOLD,
      g_param_spec_float ("ood-threshold", "Out-of-distribution threshold",
          "Frames whose out-of-distribution score (the distance of the "
          "network's features to its training films') is above this get no "
          "diagnosis; -1: the model's own (a high percentile of its "
          "validation films)", -1.0f, G_MAXFLOAT, -1.0f, SET_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MODEL_ID,
      g_param_spec_string ("model-id", "Model id",
          "Hash of the weights in use (as in each result)", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_IMPLEMENTATION,
      g_param_spec_string ("implementation", "Implementation",
          "The oneDNN kernel running the first convolution, e.g. "
          "brgconv:avx512_core_amx_bf16", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray classifier", "Filter/Analyzer/Video",
      "Classifies chest X-ray frames (NORMAL / PNEUMONIA) with a CNN on "
      "oneDNN and attaches the result as GstCxrClassificationMeta; video "
      "passes through unchanged", "The gst-cxr authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_cxr_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_classify_stop);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_cxr_classify_src_event);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_cxr_classify_sink_event);
  /* our own transform_ip, not GstVideoFilter's: it would map the frame for
   * writing, which copies shared memory; we only read it */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_cxr_classify_transform_ip);
  trans_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_CXR_PRECISION, 0);
  GST_DEBUG_CATEGORY_INIT (gst_cxr_classify_debug, "cxrclassify", 0,
      "chest X-ray classifier");
}

static void
gst_cxr_classify_init (GstCxrClassify * self)
{
  self->threshold = -1.0f;
  self->ood_threshold = -1.0f;
  self->modalities = g_strdup (DEFAULT_MODALITIES);
  self->body_parts = g_strdup (DEFAULT_BODY_PARTS);
  self->precision = CXR_PRECISION_AUTO;
  self->heatmap_refine = 1;
  self->interval = 1;
  gst_cxr_model_watch_init (&self->watch, GST_ELEMENT (self), load_model,
      (GDestroyNotify) cxr_answerer_free, dup_model_path);
  /* results go onto the buffer, so it must be ours to change; late frames
   * are handled here (never dropped), not by GstBaseTransform */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
