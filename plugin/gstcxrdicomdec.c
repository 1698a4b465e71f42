/* cxrdicomdec: decodes a DICOM file (application/dicom) to raw grey video,
 * one buffer per frame, through the DCMTK wrapper in dicom.h.
 *
 * Base class: a plain GstElement, not the GstVideoDecoder that DESIGN.md
 * names. A DICOM file is not streamable (the whole file is needed before any
 * pixel can be read) and one input (the file) yields N output frames of a
 * multi-frame image, which GstVideoDecoder's one-input-frame/one-output-frame
 * model does not express. So the element gathers every input buffer in a
 * GstAdapter until EOS, then pushes caps, a TIME segment, a tag event and one
 * buffer per frame (PTS = i * frame duration), then EOS.
 *
 * Output: GRAY8 or GRAY16_LE after the Modality LUT (rescale slope /
 * intercept), the chosen VOI window and MONOCHROME1 inversion; colour
 * photometrics (RGB, YBR_*) are converted to grey with DCMTK's monochrome
 * conversion (BT.601 luma weights). framerate comes from Frame Time, Frame
 * Time Vector, Cine Rate or Recommended Display Frame Rate (0/1 when absent
 * or for single-frame images), pixel-aspect-ratio from Pixel Spacing or
 * Imager Pixel Spacing.
 *
 * Tags: video-codec ("DICOM"), and the custom string tags dicom-modality,
 * dicom-view-position, dicom-body-part, dicom-sop-instance-uid,
 * dicom-study-instance-uid.
 *
 * Privacy: patient name, patient id, birth date, accession number and other
 * patient-identifying attributes are never read, so they never appear in a
 * tag, a message or a debug log line.
 *
 * Example: gst-launch-1.0 filesrc location=chest.dcm ! decodebin !
 *            videoconvert ! autovideosink
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstcxrdicomdec.h"
#include "dicom.h"
#include "gst/cxr/cxrmeta.h"

#include <gst/base/gstadapter.h>
#include <gst/video/video.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_dicom_dec_debug);
#define GST_CAT_DEFAULT gst_cxr_dicom_dec_debug

#define DEFAULT_WINDOW 0
#define DEFAULT_OUTPUT_DEPTH 0

enum
{
  PROP_0,
  PROP_WINDOW,
  PROP_OUTPUT_DEPTH,
};

struct _GstCxrDicomDec
{
  GstElement parent;

  GstPad *sinkpad, *srcpad;
  GstAdapter *adapter;          /* the file so far */

  /* properties, under the object lock */
  gint window;
  guint output_depth;
};

#define DICOM_CAPS "application/dicom"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (DICOM_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE ("{ GRAY8, GRAY16_LE }")));

#define gst_cxr_dicom_dec_parent_class parent_class
G_DEFINE_TYPE (GstCxrDicomDec, gst_cxr_dicom_dec, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (cxrdicomdec, "cxrdicomdec", GST_RANK_PRIMARY,
    GST_TYPE_CXR_DICOM_DEC);

/* ---- typefinder ---- */

static GstStaticCaps dicom_caps = GST_STATIC_CAPS (DICOM_CAPS);

static void
dicom_type_find (GstTypeFind * tf, gpointer user_data)
{
  const guint8 *magic = gst_type_find_peek (tf, 128, 4);

  (void) user_data;

  if (magic != NULL && memcmp (magic, "DICM", 4) == 0)
    gst_type_find_suggest (tf, GST_TYPE_FIND_MAXIMUM,
        gst_static_caps_get (&dicom_caps));
}

gboolean
gst_cxr_dicom_typefind_register (GstPlugin * plugin)
{
  return gst_type_find_register (plugin, "application/dicom",
      GST_RANK_PRIMARY, dicom_type_find, "dcm,dicom",
      gst_static_caps_get (&dicom_caps), NULL, NULL);
}

/* ---- decoding ---- */

static GstFlowReturn
decode_and_push (GstCxrDicomDec * self)
{
  gsize size = gst_adapter_available (self->adapter);
  CxrDicomOptions opts;
  GError *err = NULL;
  CxrDicom *d;
  GstBuffer *file;
  GstMapInfo map;
  GstFlowReturn ret = GST_FLOW_OK;

  if (size == 0) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("No DICOM data: the input was "
            "empty."), (NULL));
    return GST_FLOW_ERROR;
  }

  GST_OBJECT_LOCK (self);
  opts.window = self->window;
  opts.bits = self->output_depth;
  GST_OBJECT_UNLOCK (self);

  file = gst_adapter_take_buffer (self->adapter, size);
  gst_buffer_map (file, &map, GST_MAP_READ);
  GST_DEBUG_OBJECT (self, "decoding a %" G_GSIZE_FORMAT "-byte DICOM file",
      size);
  d = cxr_dicom_open_memory (map.data, map.size, &opts, &err);
  gst_buffer_unmap (file, &map);
  gst_buffer_unref (file);

  if (d == NULL) {
    switch (err->code) {
      case CXR_DICOM_ERROR_NOT_DICOM:
        GST_ELEMENT_ERROR (self, STREAM, WRONG_TYPE, ("%s", err->message),
            (NULL));
        break;
      case CXR_DICOM_ERROR_UNSUPPORTED:
        GST_ELEMENT_ERROR (self, STREAM, CODEC_NOT_FOUND, ("%s",
                err->message), (NULL));
        break;
      case CXR_DICOM_ERROR_ARGUMENT:
        GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", err->message),
            (NULL));
        break;
      default:                 /* truncated, no pixel data, decode */
        GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", err->message),
            (NULL));
        break;
    }
    g_error_free (err);
    return GST_FLOW_ERROR;
  }

  guint width = cxr_dicom_get_width (d);
  guint height = cxr_dicom_get_height (d);
  guint n_frames = cxr_dicom_get_n_frames (d);
  guint bits = cxr_dicom_get_bits (d);
  guint64 duration = cxr_dicom_get_frame_duration (d);
  gint par_n = 1, par_d = 1, fps_n = 0, fps_d = 1;
  GstVideoInfo info;

  gst_util_double_to_fraction (cxr_dicom_get_pixel_aspect_ratio (d),
      &par_n, &par_d);
  if (n_frames > 1 && duration > 0)
    gst_util_double_to_fraction (1e9 / (gdouble) duration, &fps_n, &fps_d);

  GST_INFO_OBJECT (self, "%ux%u, %u frame(s), %u bits out (%u in data), "
      "photometric %s, transfer syntax %s, frame duration %" GST_TIME_FORMAT
      ", par %d/%d", width, height, n_frames, bits,
      cxr_dicom_get_data_bits (d), GST_STR_NULL (cxr_dicom_get_photometric (d)),
      GST_STR_NULL (cxr_dicom_get_transfer_syntax (d)),
      GST_TIME_ARGS (duration), par_n, par_d);

  gst_video_info_set_format (&info, bits == 16 ? GST_VIDEO_FORMAT_GRAY16_LE :
      GST_VIDEO_FORMAT_GRAY8, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = fps_n;
  GST_VIDEO_INFO_FPS_D (&info) = fps_d;
  GST_VIDEO_INFO_PAR_N (&info) = par_n;
  GST_VIDEO_INFO_PAR_D (&info) = par_d;

  GstCaps *caps = gst_video_info_to_caps (&info);
  gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);

  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));

  GstTagList *tags = gst_tag_list_new (GST_TAG_VIDEO_CODEC, "DICOM", NULL);
  const struct
  {
    const gchar *tag, *value;
  } strings[] = {
    {"dicom-modality", cxr_dicom_get_modality (d)},
    {"dicom-view-position", cxr_dicom_get_view_position (d)},
    {"dicom-body-part", cxr_dicom_get_body_part (d)},
    {"dicom-sop-instance-uid", cxr_dicom_get_sop_instance_uid (d)},
    {"dicom-study-instance-uid", cxr_dicom_get_study_instance_uid (d)},
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i].value != NULL)
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, strings[i].tag,
          strings[i].value, NULL);
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  gst_pad_push_event (self->srcpad, gst_event_new_tag (tags));

  for (guint i = 0; i < n_frames && ret == GST_FLOW_OK; i++) {
    GstBuffer *out = gst_buffer_new_allocate (NULL, info.size, NULL);
    GstMapInfo omap;

    gst_buffer_map (out, &omap, GST_MAP_WRITE);
    gboolean ok = cxr_dicom_get_frame (d, i, omap.data, info.stride[0], bits,
        &err);
    gst_buffer_unmap (out, &omap);
    if (!ok) {
      GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", err->message), (NULL));
      g_clear_error (&err);
      gst_buffer_unref (out);
      ret = GST_FLOW_ERROR;
      break;
    }
    if (duration > 0) {
      GST_BUFFER_PTS (out) = i * duration;
      GST_BUFFER_DURATION (out) = duration;
    } else if (i == 0) {
      GST_BUFFER_PTS (out) = 0;
    }
    GST_BUFFER_OFFSET (out) = i;
    if (i == 0)
      GST_BUFFER_FLAG_SET (out, GST_BUFFER_FLAG_DISCONT);
    /* where the frame comes from, for cxrmetasink's "file": the SOP
     * Instance UID (never anything patient-identifying), and the frame */
    if (cxr_dicom_get_sop_instance_uid (d)) {
      gchar *where = n_frames > 1 ?
          g_strdup_printf ("%s#%u", cxr_dicom_get_sop_instance_uid (d), i) :
          g_strdup (cxr_dicom_get_sop_instance_uid (d));
      gst_buffer_add_cxr_label_meta (out, -1, NULL, where);
      g_free (where);
    }
    ret = gst_pad_push (self->srcpad, out);
  }
  cxr_dicom_free (d);

  if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING && ret != GST_FLOW_EOS
      && ret != GST_FLOW_ERROR)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  return ret;
}

static GstFlowReturn
gst_cxr_dicom_dec_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (parent);

  (void) pad;
  gst_adapter_push (self->adapter, buf);
  return GST_FLOW_OK;
}

static gboolean
gst_cxr_dicom_dec_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
    case GST_EVENT_SEGMENT:
      /* our own caps and TIME segment go out once the file is decoded */
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      gst_adapter_clear (self->adapter);
      break;
    case GST_EVENT_EOS:
      if (decode_and_push (self) == GST_FLOW_ERROR) {
        /* the error message has been posted; no EOS after it */
        gst_event_unref (event);
        return FALSE;
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_cxr_dicom_dec_change_state (GstElement * element,
    GstStateChange transition)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (element);
  GstStateChangeReturn ret;

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_adapter_clear (self->adapter);
  return ret;
}

static void
gst_cxr_dicom_dec_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WINDOW:
      self->window = g_value_get_int (value);
      break;
    case PROP_OUTPUT_DEPTH:{
      guint v = g_value_get_uint (value);
      if (v == 0 || v == 8 || v == 16)
        self->output_depth = v;
      else
        g_warning ("cxrdicomdec: output-depth must be 0, 8 or 16, not %u", v);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_dicom_dec_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WINDOW:
      g_value_set_int (value, self->window);
      break;
    case PROP_OUTPUT_DEPTH:
      g_value_set_uint (value, self->output_depth);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_dicom_dec_finalize (GObject * object)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (object);

  g_object_unref (self->adapter);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
register_tags (void)
{
  gst_tag_register_static ("dicom-modality", GST_TAG_FLAG_META, G_TYPE_STRING,
      "DICOM modality", "Modality (0008,0060), e.g. CR, DX", NULL);
  gst_tag_register_static ("dicom-view-position", GST_TAG_FLAG_META,
      G_TYPE_STRING, "DICOM view position",
      "View Position (0018,5101), e.g. PA, AP, LL", NULL);
  gst_tag_register_static ("dicom-body-part", GST_TAG_FLAG_META,
      G_TYPE_STRING, "DICOM body part", "Body Part Examined (0018,0015)",
      NULL);
  gst_tag_register_static ("dicom-sop-instance-uid", GST_TAG_FLAG_META,
      G_TYPE_STRING, "DICOM SOP instance UID", "SOP Instance UID (0008,0018)",
      NULL);
  gst_tag_register_static ("dicom-study-instance-uid", GST_TAG_FLAG_META,
      G_TYPE_STRING, "DICOM study instance UID",
      "Study Instance UID (0020,000D)", NULL);
}

static void
gst_cxr_dicom_dec_class_init (GstCxrDicomDecClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_dicom_dec_debug, "cxrdicomdec", 0,
      "DICOM decoder");
  register_tags ();
  cxr_dicom_init ();

  gobject_class->set_property = gst_cxr_dicom_dec_set_property;
  gobject_class->get_property = gst_cxr_dicom_dec_get_property;
  gobject_class->finalize = gst_cxr_dicom_dec_finalize;

  /**
   * GstCxrDicomDec:window:
   *
   * Which VOI window of the file maps values to output grey levels: N >= 0
   * is the file's Nth Window Center/Width pair (when the file has no such
   * window, values pass through unwindowed, scaled to the output depth);
   * -1 stretches each frame's full min..max range over the output range.
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW,
      g_param_spec_int ("window", "VOI window",
          "VOI window index from the file (0 = first; if the file has fewer "
          "windows, no windowing), or -1 for the full min..max range",
          -1, G_MAXINT, DEFAULT_WINDOW,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstCxrDicomDec:output-depth:
   *
   * Bits per output sample: 8 (GRAY8), 16 (GRAY16_LE) or 0 (automatic:
   * 16 when the data has more than 8 significant bits).
   */
  g_object_class_install_property (gobject_class, PROP_OUTPUT_DEPTH,
      g_param_spec_uint ("output-depth", "Output depth",
          "Bits per output sample: 0 = automatic (16 for data deeper than "
          "8 bits, else 8), 8 = GRAY8, 16 = GRAY16_LE", 0, 16,
          DEFAULT_OUTPUT_DEPTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "DICOM decoder",
      "Codec/Decoder/Image",
      "Decodes DICOM images (uncompressed, JPEG, JPEG-LS, RLE; single- and "
      "multi-frame) to grey raw video, never exposing patient identity",
      "gst-cxr");

  element_class->change_state = gst_cxr_dicom_dec_change_state;
}

static void
gst_cxr_dicom_dec_init (GstCxrDicomDec * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_cxr_dicom_dec_chain);
  gst_pad_set_event_function (self->sinkpad, gst_cxr_dicom_dec_sink_event);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->adapter = gst_adapter_new ();
  self->window = DEFAULT_WINDOW;
  self->output_depth = DEFAULT_OUTPUT_DEPTH;
}
