/* gst-cxr: cxrdicomsink
 * SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-cxrdicomsink
 * @title: cxrdicomsink
 *
 * Writes, for each frame that cxrclassify answered and that came from a
 * DICOM image (cxrdicomdec), a DICOM Structured Report of the answer as
 * AI-results consumers read it (plugin/io/dicomsr.h: TID 1500 in a
 * Comprehensive 3D SR, per IHE AIR: the finding, its certainty
 * P(PNEUMONIA), the threshold, the algorithm and model as TID 4019 and as
 * contributing equipment, "not for diagnostic use", the image),
 * in the image's study and a new series, with its patient and study modules,
 * so that an archive files it with the study. With `capture=true` it also
 * writes the frame itself as a DICOM Secondary Capture image
 * (plugin/io/dicomcapture.h), in a series of its own in the study: put
 * cxroverlay before it to burn the label and the heatmap in. The frames
 * then come as RGB (videoconvert before cxroverlay converts them).
 *
 * Where the objects go: `location`, a folder, each written whole or not at
 * all as `location/SOP-INSTANCE-UID.dcm`; `url`, an archive's DICOMweb
 * root, each stored there with STOW-RS (plugin/io/dicomweb.h: `user`,
 * `password-file` or the environment's CXR_PACS_USER and
 * CXR_PACS_PASSWORD; an https archive's certificate checked against the
 * system's CAs or `ca-file`), or a DICOM node, `url=dicom://AET@HOST:PORT`,
 * each stored there by C-STORE as `ae-title` (plugin/io/dicomnode.h: an
 * association that cannot be made or breaks is tried again with back-off,
 * a refusal is not); or both. An object the archive does not take
 * is an error: the pipeline stops and the film can be sent again (the
 * objects' UIDs come from the image's and the model's, so a film sent twice
 * gives the same objects, which the archive keeps once). Each object is
 * announced by an element message "cxrdicomsink" with the fields `kind`
 * ("report" or "capture"), `sop-instance-uid`, `source` (the image's SOP
 * Instance UID), `stored` (sent to the archive) and, with a folder, `path`.
 * Once all of a frame's objects are out (or none is to be made of it), the
 * upstream event "cxr-film-done" says so, for a node upstream
 * (cxrdicomsrc) that keeps the film until then.
 *
 * Frames without an answer (no classification, or one that abstained: not
 * a chest X-ray for the model) and frames from no DICOM image get nothing;
 * they are counted, and the counts logged at the end. Nothing of the
 * patient's reaches a log or a message, and no password is a property.
 *
 * |[
 * gst-launch-1.0 filesrc location=film.dcm ! cxrdicomdec ! cxrclassify ! \
 *     cxrdicomsink location=reports/
 * gst-launch-1.0 filesrc location=film.dcm ! cxrdicomdec ! \
 *     cxrclassify heatmap=true ! videoconvert ! cxroverlay ! \
 *     cxrdicomsink capture=true url=https://pacs.example/dicom-web \
 *     user=cxr password-file=/etc/gst-cxr/pacs-password
 * ]|
 */
#include "config.h"
#include "gstcxrdicomsink.h"
#include "dicomcapture.h"
#include "dicomsr.h"
#include "dicomweb.h"
#include "dicomnode.h"
#include "filmdone.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/cxr/cxrmeta.h>
#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_dicom_sink_debug);
#define GST_CAT_DEFAULT gst_cxr_dicom_sink_debug

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_URL,
  PROP_USER,
  PROP_PASSWORD_FILE,
  PROP_CA_FILE,
  PROP_AE_TITLE,
  PROP_CAPTURE,
};

struct _GstCxrDicomSink
{
  GstBaseSink parent;
  /* properties */
  gchar *location;              /* the folder objects are written to */
  gchar *url;                   /* the archive they are stored in */
  gchar *user, *password_file, *ca_file;
  gchar *ae_title;              /* this node's, calling a DICOM node */
  gboolean capture;

  CxrDicomWeb *archive;         /* while started, with an http(s) url */
  CxrDicomNode *node;           /* while started, with a dicom:// url */
  GCancellable *cancellable;    /* a STOW under way, cancelled by unlock */
  GstVideoInfo info;            /* the frames', with capture */
  guint written, unanswered, not_dicom;
};

/* the AE title gst-cxr calls a DICOM node as, unless told otherwise */
#define DEFAULT_AE_TITLE "GSTCXR"

G_DEFINE_TYPE (GstCxrDicomSink, gst_cxr_dicom_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrdicomsink, "cxrdicomsink", GST_RANK_NONE,
    GST_TYPE_CXR_DICOM_SINK);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static gboolean
gst_cxr_dicom_sink_start (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);
  GError *error = NULL;

  self->written = self->unanswered = self->not_dicom = 0;
  if ((!self->location || !*self->location) && (!self->url || !*self->url)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Nowhere to write to"),
        ("set location to a folder, or url to an archive's DICOMweb root "
            "or a DICOM node (dicom://AET@HOST:PORT)"));
    return FALSE;
  }
  if (self->location && *self->location
      && g_mkdir_with_parents (self->location, 0700) != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot make the folder \"%s\": %s", self->location,
            g_strerror (errno)), (NULL));
    return FALSE;
  }
  if (self->url && g_str_has_prefix (self->url, "dicom://")) {
    self->node = cxr_dicom_node_new (self->url, self->ae_title, &error);
    if (!self->node) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
          (NULL));
      g_error_free (error);
      return FALSE;
    }
    self->cancellable = g_cancellable_new ();
  } else if (self->url && *self->url) {
    self->archive = cxr_dicomweb_new (self->url, self->user,
        self->password_file, self->ca_file, &error);
    if (!self->archive) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
          (NULL));
      g_error_free (error);
      return FALSE;
    }
    self->cancellable = g_cancellable_new ();
  }
  return TRUE;
}

static gboolean
gst_cxr_dicom_sink_stop (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  g_clear_pointer (&self->archive, cxr_dicomweb_free);
  g_clear_pointer (&self->node, cxr_dicom_node_free);
  g_clear_object (&self->cancellable);
  GST_INFO_OBJECT (self, "%u objects written; %u frames unanswered, %u not "
      "from a DICOM image", self->written, self->unanswered, self->not_dicom);
  return TRUE;
}

/* a request to the archive under way ends at once when the pipeline
 * flushes or stops */
static gboolean
gst_cxr_dicom_sink_unlock (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  return TRUE;
}

static gboolean
gst_cxr_dicom_sink_unlock_stop (GstBaseSink * sink)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  if (self->cancellable)
    g_cancellable_reset (self->cancellable);
  return TRUE;
}

/* with capture, RGB frames (the picture's samples as they come) */
static GstCaps *
gst_cxr_dicom_sink_get_caps (GstBaseSink * sink, GstCaps * filter)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);
  GstCaps *caps;

  GST_OBJECT_LOCK (self);
  caps = self->capture ? gst_caps_from_string ("video/x-raw, format=RGB")
      : gst_caps_new_any ();
  GST_OBJECT_UNLOCK (self);
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = both;
  }
  return caps;
}

static gboolean
gst_cxr_dicom_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);

  return !self->capture || gst_video_info_from_caps (&self->info, caps);
}

/* obj (kind: "report" or "capture", made of image source) to the folder
 * and the archive, and announced; an error, said, when it cannot be;
 * FLUSHING when the pipeline stopped it */
static GstFlowReturn
put (GstCxrDicomSink * self, const gchar * kind, GBytes * obj,
    const gchar * uid, const gchar * source)
{
  GError *error = NULL;
  gchar *path = NULL;

  if (self->location && *self->location) {
    gchar *name = g_strconcat (uid, ".dcm", NULL);
    path = g_build_filename (self->location, name, NULL);
    g_free (name);
    /* the patient's data: for the owner alone */
    if (!g_file_set_contents_full (path, g_bytes_get_data (obj, NULL),
            g_bytes_get_size (obj), G_FILE_SET_CONTENTS_CONSISTENT, 0600,
            &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot write a %s: %s",
              kind, error->message), (NULL));
      g_error_free (error);
      g_free (path);
      return GST_FLOW_ERROR;
    }
  }
  if ((self->archive && !cxr_dicomweb_store (self->archive, obj,
              self->cancellable, &error))
      || (self->node && !cxr_dicom_node_store (self->node, obj,
              self->cancellable, &error))) {
    /* a flush or a stop: nothing to say, the object is not stored */
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_error_free (error);
      g_free (path);
      return GST_FLOW_FLUSHING;
    }
    /* NOT_AUTHORIZED: storing anything again will not help; FAILED: this
     * object is refused, and would be again; WRITE: the archive may take
     * it later */
    if (cxr_dicomweb_error_is_final (error)
        || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
          ("Cannot store a %s: %s", kind, error->message), (NULL));
    else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("The archive refused a %s: %s", kind, error->message), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot store a %s: %s",
              kind, error->message), (NULL));
    g_error_free (error);
    g_free (path);
    return GST_FLOW_ERROR;
  }
  self->written++;
  GstStructure *s = gst_structure_new ("cxrdicomsink", "kind", G_TYPE_STRING,
      kind, "sop-instance-uid", G_TYPE_STRING, uid, "source", G_TYPE_STRING,
      source, "stored", G_TYPE_BOOLEAN, self->archive || self->node, NULL);
  if (path)
    gst_structure_set (s, "path", G_TYPE_STRING, path, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  g_free (path);
  return GST_FLOW_OK;
}

/* the frame as a Secondary Capture; NULL, said, when it cannot be one */
static GBytes *
capture_of (GstCxrDicomSink * self, GstBuffer * buf, GBytes * header,
    const CxrDicomFinding * finding, gchar ** uid)
{
  GstVideoFrame frame;
  GError *error = NULL;
  GBytes *picture;

  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read a frame"),
        (NULL));
    return NULL;
  }
  CxrDicomPicture p = {
    .rgb = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
    .width = GST_VIDEO_FRAME_WIDTH (&frame),
    .height = GST_VIDEO_FRAME_HEIGHT (&frame),
    .stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
  };
  picture = cxr_dicom_capture_new (header, &p, finding, uid, &error);
  gst_video_frame_unmap (&frame);
  if (!picture) {
    GST_ELEMENT_WARNING (self, STREAM, ENCODE, ("No picture of a frame: %s",
            error->message), (NULL));
    g_error_free (error);
  }
  return picture;
}

/* the report (and picture) of one frame of a DICOM image (label); an
 * error only when it cannot be written or stored */
static GstFlowReturn
write_frame (GstCxrDicomSink * self, GstBuffer * buf, GstCxrLabelMeta * label)
{
  GstCxrClassificationMeta *result = gst_buffer_get_cxr_classification_meta
      (buf);
  GBytes *header = gst_cxr_label_meta_get_dicom_header (label);
  GError *error = NULL;
  gchar *uid = NULL;
  GBytes *obj;
  guint positive;
  GstFlowReturn flow;

  /* a report codes pneumonia or none: a two-class answer of that name */
  positive = 1;
  if (!result || gst_cxr_classification_meta_is_abstained (result)
      || result->n_classes != 2
      || g_strcmp0 (result->class_names[positive], "PNEUMONIA") != 0) {
    self->unanswered++;
    return GST_FLOW_OK;
  }
  CxrDicomFinding finding = {
    .positive = result->predicted == positive,
    .probability = result->probabilities[positive],
    .threshold = result->threshold,
    .model_id = result->model_id,
    .algorithm_name = "gst-cxr chest X-ray pneumonia classifier",
    .algorithm_version = CXR_VERSION,
    .frame = label->dicom_frame,
  };
  obj = cxr_dicom_sr_new (header, &finding, &uid, &error);
  if (!obj) {
    /* an image a report cannot refer to: said, and the stream goes on */
    GST_ELEMENT_WARNING (self, STREAM, ENCODE, ("No report for image %s: %s",
            GST_STR_NULL (label->source), error->message), (NULL));
    g_clear_error (&error);
    self->unanswered++;
    return GST_FLOW_OK;
  }
  flow = put (self, "report", obj, uid, label->source);
  g_bytes_unref (obj);
  g_free (uid);
  uid = NULL;
  if (flow == GST_FLOW_OK && self->capture) {
    obj = capture_of (self, buf, header, &finding, &uid);
    if (obj) {
      flow = put (self, "capture", obj, uid, label->source);
      g_bytes_unref (obj);
      g_free (uid);
    }
  }
  return flow;
}

static GstFlowReturn
gst_cxr_dicom_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (sink);
  GstCxrLabelMeta *label = gst_buffer_get_cxr_label_meta (buf);
  GstFlowReturn flow;

  if (!label || !gst_cxr_label_meta_get_dicom_header (label)) {
    self->not_dicom++;
    return GST_FLOW_OK;
  }
  flow = write_frame (self, buf, label);
  /* all that is made of the frame is out: a node upstream (cxrdicomsrc)
   * may let go of the film */
  if (flow == GST_FLOW_OK && label->source)
    gst_pad_push_event (GST_BASE_SINK_PAD (sink),
        gst_cxr_film_done_new (label->source));
  return flow;
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
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_USER:
      g_free (self->user);
      self->user = g_value_dup_string (value);
      break;
    case PROP_PASSWORD_FILE:
      g_free (self->password_file);
      self->password_file = g_value_dup_string (value);
      break;
    case PROP_CA_FILE:
      g_free (self->ca_file);
      self->ca_file = g_value_dup_string (value);
      break;
    case PROP_AE_TITLE:
      g_free (self->ae_title);
      self->ae_title = g_value_dup_string (value);
      break;
    case PROP_CAPTURE:
      GST_OBJECT_LOCK (self);
      self->capture = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
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
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_USER:
      g_value_set_string (value, self->user);
      break;
    case PROP_PASSWORD_FILE:
      g_value_set_string (value, self->password_file);
      break;
    case PROP_CA_FILE:
      g_value_set_string (value, self->ca_file);
      break;
    case PROP_AE_TITLE:
      g_value_set_string (value, self->ae_title);
      break;
    case PROP_CAPTURE:
      g_value_set_boolean (value, self->capture);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
gst_cxr_dicom_sink_finalize (GObject * object)
{
  GstCxrDicomSink *self = GST_CXR_DICOM_SINK (object);

  g_free (self->location);
  g_free (self->url);
  g_free (self->user);
  g_free (self->password_file);
  g_free (self->ca_file);
  g_free (self->ae_title);
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
      g_param_spec_string ("location", "Location", "Folder the objects are "
          "written to (made if missing)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_URL,
      g_param_spec_string ("url", "URL", "Where the objects are stored: an "
          "archive's DICOMweb root (STOW-RS; http or https, no credentials "
          "in it) or a DICOM node, dicom://AET@HOST:PORT (C-STORE)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_USER,
      g_param_spec_string ("user", "User", "User name for the archive "
          "(default: the environment's CXR_PACS_USER)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PASSWORD_FILE,
      g_param_spec_string ("password-file", "Password file", "File whose "
          "first line is the archive's password (default: the "
          "environment's CXR_PACS_PASSWORD)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CA_FILE,
      g_param_spec_string ("ca-file", "CA file", "PEM file of the "
          "certificate authorities an https archive's certificate is "
          "checked against (default: the system's)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_AE_TITLE,
      g_param_spec_string ("ae-title", "AE title", "This node's AE title, "
          "calling the DICOM node of a dicom:// url", DEFAULT_AE_TITLE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CAPTURE,
      g_param_spec_boolean ("capture", "Capture", "Also a Secondary Capture "
          "image of each frame (RGB), as drawn by cxroverlay before it",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray DICOM report writer", "Sink/Analyzer/Medical",
      "Writes or stores a DICOM Structured Report (and a Secondary "
      "Capture) of each classified DICOM frame",
      "The gst-cxr authors");
  sink_class->start = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_stop);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_unlock_stop);
  sink_class->get_caps = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_get_caps);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_set_caps);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_cxr_dicom_sink_render);
  GST_DEBUG_CATEGORY_INIT (gst_cxr_dicom_sink_debug, "cxrdicomsink", 0,
      "gst-cxr DICOM report writer");
}

static void
gst_cxr_dicom_sink_init (GstCxrDicomSink * self)
{
  /* reports are written as frames come, not on a clock */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  self->ae_title = g_strdup (DEFAULT_AE_TITLE);
}
