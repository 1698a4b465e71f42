/* gst-cxr: cxrdicomsink
 * SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-cxrdicomsink
 * @title: cxrdicomsink
 *
 * Writes, for each frame that cxrclassify answered and that came from a
 * DICOM image (cxrdicomdec), a DICOM Structured Report of the answer
 * (plugin/dicomsr.h: the finding coded, P(PNEUMONIA), the threshold, the
 * algorithm and model, "not for diagnostic use", a reference to the image),
 * in the image's study and a new series, with its patient and study modules,
 * so that an archive files it with the study. Each report is written whole
 * or not at all, as `location/SOP-INSTANCE-UID.dcm`, and announced by an
 * element message "cxrdicomsink" with the fields `sop-instance-uid`,
 * `source` (the image's SOP Instance UID) and `path`.
 *
 * Frames without an answer (no classification, or one that abstained: not
 * a chest X-ray for the model) and frames from no DICOM image get no report;
 * they are counted, and the counts logged at the end. Nothing of the
 * patient's reaches a log or a message.
 *
 * |[
 * gst-launch-1.0 filesrc location=film.dcm ! cxrdicomdec ! cxrclassify ! \
 *     cxrdicomsink location=reports/
 * ]|
 */
#include "config.h"
#include "gstcxrdicomsink.h"
#include "gstcxrelements.h"
#include "dicomsr.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/cxr/cxrmeta.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_dicom_sink_debug);
#define GST_CAT_DEFAULT gst_cxr_dicom_sink_debug

enum
{
  PROP_0,
  PROP_LOCATION,
};

struct _GstCxrDicomSink
{
  GstBaseSink parent;
  gchar *location;              /* the folder reports are written to */
  guint written, unanswered, not_dicom;
};

G_DEFINE_TYPE (GstCxrDicomSink, gst_cxr_dicom_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrdicomsink, "cxrdicomsink", GST_RANK_NONE,
    GST_TYPE_CXR_DICOM_SINK);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static gboolean
gst_cxr_dicom_sink_start (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  self->written = self->unanswered = self->not_dicom = 0;
  if (!self->location || !*self->location) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No folder given"),
        ("set location to the folder the reports are written to"));
    return FALSE;
  }
  if (g_mkdir_with_parents (self->location, 0755) != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot make the folder \"%s\": %s", self->location,
            g_strerror (errno)), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_cxr_dicom_sink_stop (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  GST_INFO_OBJECT (self, "%u reports written; %u frames unanswered, %u not "
      "from a DICOM image", self->written, self->unanswered, self->not_dicom);
  return TRUE;
}

/* the report of one frame; FALSE only when it cannot be written */
static GstFlowReturn
gst_cxr_dicom_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);
  GstCxrClassificationMeta *result = gst_buffer_get_cxr_classification_meta
      (buf);
  GstCxrLabelMeta *label = gst_buffer_get_cxr_label_meta (buf);
  GError *error = NULL;
  gchar *uid = NULL, *name, *path;
  GBytes *report;
  guint positive;

  if (!label || !label->dicom_header) {
    self->not_dicom++;
    return GST_FLOW_OK;
  }
  if (!result || gst_cxr_classification_meta_is_abstained (result)
      || result->n_classes < 2) {
    self->unanswered++;
    return GST_FLOW_OK;
  }
  positive = result->n_classes - 1;
  CxrDicomFinding finding = {
    .positive = result->predicted == positive,
    .probability = result->probabilities[positive],
    .threshold = result->threshold,
    .model_id = result->model_id,
    .algorithm_name = "gst-cxr chest X-ray pneumonia classifier",
    .algorithm_version = CXR_VERSION,
  };
  report = cxr_dicom_sr_new (label->dicom_header, &finding, &uid, &error);
  if (!report) {
    /* an image a report cannot refer to: said, and the stream goes on */
    GST_ELEMENT_WARNING (self, STREAM, ENCODE, ("No report for image %s: %s",
            GST_STR_NULL (label->source), error->message), (NULL));
    g_clear_error (&error);
    self->unanswered++;
    return GST_FLOW_OK;
  }
  name = g_strconcat (uid, ".dcm", NULL);
  path = g_build_filename (self->location, name, NULL);
  if (!g_file_set_contents (path, g_bytes_get_data (report, NULL),
          g_bytes_get_size (report), &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot write a report: %s",
            error->message), (NULL));
    g_clear_error (&error);
    g_free (name);
    g_free (path);
    g_free (uid);
    g_bytes_unref (report);
    return GST_FLOW_ERROR;
  }
  self->written++;
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("cxrdicomsink", "sop-instance-uid", G_TYPE_STRING,
              uid, "source", G_TYPE_STRING, label->source, "path",
              G_TYPE_STRING, path, NULL)));
  g_free (name);
  g_free (path);
  g_free (uid);
  g_bytes_unref (report);
  return GST_FLOW_OK;
}

static void
gst_cxr_dicom_sink_set_property (GObject * object, guint id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (object);

  switch (id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
gst_cxr_dicom_sink_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (object);

  switch (id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
gst_cxr_dicom_sink_finalize (GObject * object)
{
  g_free (GST_CXR_DICOM_SINK (object)->location);
  G_OBJECT_CLASS (gst_cxr_dicom_sink_parent_class)->finalize (object);
}

static void
gst_cxr_dicom_sink_class_init (GstCxrDicomSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_cxr_dicom_sink_set_property;
  gobject_class->get_property = gst_cxr_dicom_sink_get_property;
  gobject_class->finalize = gst_cxr_dicom_sink_finalize;
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location", "Folder the structured "
          "reports are written to (made if missing)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray DICOM report writer", "Sink/Analyzer/Medical",
      "Writes a DICOM Structured Report of each classified DICOM frame",
      "The gst-cxr authors");
  sink_class->start = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_stop);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_render);
  GST_DEBUG_CATEGORY_INIT (gst_cxr_dicom_sink_debug, "cxrdicomsink", 0,
      "gst-cxr DICOM report writer");
}

static void
gst_cxr_dicom_sink_init (GstCxrDicomSink * self)
{
  /* reports are written as frames come, not on a clock */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
