/**
 * SECTION:element-cxrdicomdec
 * @title: cxrdicomdec
 *
 * Decodes a DICOM file (application/dicom) to raw grey video, one buffer
 * per frame, through the DCMTK wrapper in dicom.h. With its typefinder
 * (the "DICM" magic at byte 128), decodebin and playbin pick it by
 * themselves.
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
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=chest.dcm ! decodebin ! videoconvert ! \
 *     autovideosink
 * ]|
 */

/* Base class: GstVideoDecoder, non-packetized. It is what decodebin and
 * playbin plug for a Codec/Decoder, and it brings output allocation,
 * negotiation, segments and QoS with it. A DICOM file is not streamable
 * (the whole file is needed before any pixel can be read) and one input
 * (the file) yields N output frames of a multi-frame image. So parse()
 * leaves every input byte in the base class's adapter until EOS; then it
 * parses the file once (keeping the CxrDicom in the instance) and hands one
 * codec frame per DICOM frame to handle_frame(), which decodes frame i into
 * a buffer from gst_video_decoder_allocate_output_frame() with PTS = i *
 * frame duration. Framed input (application/dicom, framed=true: each
 * buffer one whole file, as cxrdicomsrc pushes them) is decoded buffer by
 * buffer, with no EOS between. The upstream application/dicom caps are not given to the
 * base class (it only takes video caps) and a BYTES segment (filesrc)
 * becomes a TIME segment starting at 0. */
#include "gstcxrdicomdec.h"
#include "dicom.h"
#include "gst/cxr/cxrmeta.h"

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
  GstVideoDecoder parent;

  /* streaming state, under the stream lock */
  gboolean framed;              /* each input buffer is one whole file */
  gboolean eos;                 /* EOS received: the whole file is in */
  gboolean opened;              /* open tried (successfully or not) */
  gboolean failed;              /* an error message has been posted */
  CxrDicom *dicom;              /* the file, parsed; NULL before/after */
  guint n_frames;               /* frames of the file */
  guint n_parsed;               /* codec frames handed to handle_frame */
  guint n_out;                  /* frames decoded */
  guint bits;                   /* output depth, 8 or 16 */
  guint64 duration;             /* ns per frame, 0 when unknown */

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
G_DEFINE_TYPE (GstCxrDicomDec, gst_cxr_dicom_dec, GST_TYPE_VIDEO_DECODER);
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

static void
reset_state (GstCxrDicomDec * self)
{
  g_clear_pointer (&self->dicom, cxr_dicom_free);
  self->eos = FALSE;
  self->opened = FALSE;
  self->failed = FALSE;
  self->n_frames = self->n_parsed = self->n_out = 0;
  self->bits = 8;
  self->duration = 0;
}

/* Parses the whole file (size bytes at data), sets the output state and
 * the tags. FALSE after posting an error message. */
static gboolean
open_file (GstCxrDicomDec * self, const guint8 * data, gsize size)
{
  GstVideoDecoder *dec = GST_VIDEO_DECODER (self);
  CxrDicomOptions opts = { 0 };
  GError *err = NULL;
  CxrDicom *d;

  GST_OBJECT_LOCK (self);
  opts.window = self->window;
  opts.bits = self->output_depth;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "decoding a %" G_GSIZE_FORMAT "-byte DICOM file",
      size);
  d = cxr_dicom_open_memory (data, size, &opts, &err);
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
    return FALSE;
  }

  guint width = cxr_dicom_get_width (d);
  guint height = cxr_dicom_get_height (d);
  guint n_frames = cxr_dicom_get_n_frames (d);
  guint bits = cxr_dicom_get_bits (d);
  guint64 duration = cxr_dicom_get_frame_duration (d);
  gint par_n = 1, par_d = 1, fps_n = 0, fps_d = 1;

  if (width == 0 || height == 0 || n_frames == 0) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("The DICOM image is empty "
            "(%ux%u, %u frames).", width, height, n_frames), (NULL));
    cxr_dicom_free (d);
    return FALSE;
  }

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

  GstVideoCodecState *state = gst_video_decoder_set_output_state (dec,
      bits == 16 ? GST_VIDEO_FORMAT_GRAY16_LE : GST_VIDEO_FORMAT_GRAY8,
      width, height, NULL);
  GST_VIDEO_INFO_FPS_N (&state->info) = fps_n;
  GST_VIDEO_INFO_FPS_D (&state->info) = fps_d;
  GST_VIDEO_INFO_PAR_N (&state->info) = par_n;
  GST_VIDEO_INFO_PAR_D (&state->info) = par_d;
  gst_video_codec_state_unref (state);

  GstTagList *tags = gst_tag_list_new (GST_TAG_VIDEO_CODEC, "DICOM", NULL);
  const struct
  {
    const gchar *tag, *value;
  } strings[] = {
    {GST_CXR_TAG_DICOM_MODALITY, cxr_dicom_get_modality (d)},
    {"dicom-view-position", cxr_dicom_get_view_position (d)},
    {GST_CXR_TAG_DICOM_BODY_PART, cxr_dicom_get_body_part (d)},
    {"dicom-sop-instance-uid", cxr_dicom_get_sop_instance_uid (d)},
    {"dicom-study-instance-uid", cxr_dicom_get_study_instance_uid (d)},
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i].value != NULL)
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, strings[i].tag,
          strings[i].value, NULL);
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  gst_video_decoder_merge_tags (dec, tags, GST_TAG_MERGE_REPLACE);
  gst_tag_list_unref (tags);

  self->dicom = d;
  self->n_frames = n_frames;
  self->bits = bits;
  self->duration = duration;
  return TRUE;
}

/* Non-packetized input: the whole file is gathered in the base class's
 * input adapter until EOS (a DICOM file cannot be decoded in pieces). Then
 * the file is parsed once, and each call hands one codec frame per DICOM
 * frame to handle_frame: the first n-1 empty, the last with the file's
 * bytes (the data stay in the adapter until then, which keeps the base
 * class calling parse). */
static GstFlowReturn
gst_cxr_dicom_dec_parse (GstVideoDecoder * dec, GstVideoCodecFrame * frame,
    GstAdapter * adapter, gboolean at_eos)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (dec);
  gsize avail = gst_adapter_available (adapter);

  (void) frame;

  /* the base class also says at_eos when it drains mid-stream: only a real
   * EOS means the file is complete, unless each buffer is one (framed
   * input: the adapter then holds the one just come) */
  if (!self->framed && (!at_eos || !self->eos))
    return GST_VIDEO_DECODER_FLOW_NEED_DATA;

  if (!self->opened) {
    gboolean ok;

    self->opened = TRUE;
    ok = open_file (self, gst_adapter_map (adapter, avail), avail);
    gst_adapter_unmap (adapter);
    if (!ok) {
      self->failed = TRUE;
      gst_adapter_flush (adapter, avail);
      return GST_FLOW_ERROR;
    }
    if (!gst_video_decoder_negotiate (dec)) {
      self->failed = TRUE;
      g_clear_pointer (&self->dicom, cxr_dicom_free);
      gst_adapter_flush (adapter, avail);
      GST_ELEMENT_FLOW_ERROR (self, GST_FLOW_NOT_NEGOTIATED);
      return GST_FLOW_NOT_NEGOTIATED;
    }
  }

  if (self->dicom == NULL || self->n_parsed >= self->n_frames) {
    /* decoding failed or stopped: nothing more to give */
    gst_adapter_flush (adapter, avail);
    return self->dicom == NULL ? GST_FLOW_ERROR : GST_FLOW_OK;
  }

  if (self->n_parsed == self->n_frames - 1)
    gst_video_decoder_add_to_frame (dec, avail);
  self->n_parsed++;
  return gst_video_decoder_have_frame (dec);
}

static GstFlowReturn
gst_cxr_dicom_dec_handle_frame (GstVideoDecoder * dec,
    GstVideoCodecFrame * frame)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (dec);
  GstVideoCodecState *state;
  GstVideoFrame vframe;
  GError *err = NULL;
  GstFlowReturn ret;
  guint i = self->n_out;
  gboolean ok;

  if (self->dicom == NULL || i >= self->n_frames) {
    GST_WARNING_OBJECT (self, "a frame with no DICOM frame left to decode");
    gst_video_decoder_release_frame (dec, frame);
    return GST_FLOW_OK;
  }
  self->n_out++;

  ret = gst_video_decoder_allocate_output_frame (dec, frame);
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "no output buffer: %s", gst_flow_get_name (ret));
    gst_video_decoder_release_frame (dec, frame);
    return ret;
  }

  state = gst_video_decoder_get_output_state (dec);
  if (!gst_video_frame_map (&vframe, &state->info, frame->output_buffer,
          GST_MAP_WRITE)) {
    gst_video_codec_state_unref (state);
    gst_video_decoder_release_frame (dec, frame);
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not map the output "
            "buffer."), (NULL));
    self->failed = TRUE;
    g_clear_pointer (&self->dicom, cxr_dicom_free);
    return GST_FLOW_ERROR;
  }
  ok = cxr_dicom_get_frame (self->dicom, i,
      GST_VIDEO_FRAME_PLANE_DATA (&vframe, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&vframe, 0), self->bits, &err);
  gst_video_frame_unmap (&vframe);
  gst_video_codec_state_unref (state);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", err->message), (NULL));
    g_clear_error (&err);
    self->failed = TRUE;
    gst_video_decoder_release_frame (dec, frame);
    /* one bad frame and the rest of the file are given up */
    g_clear_pointer (&self->dicom, cxr_dicom_free);
    return GST_FLOW_ERROR;
  }

  if (self->duration > 0) {
    frame->pts = i * self->duration;
    frame->duration = self->duration;
  } else {
    frame->pts = i == 0 ? 0 : GST_CLOCK_TIME_NONE;
    frame->duration = GST_CLOCK_TIME_NONE;
  }
  frame->dts = GST_CLOCK_TIME_NONE;
  GST_VIDEO_CODEC_FRAME_SET_SYNC_POINT (frame);
  GST_BUFFER_OFFSET (frame->output_buffer) = i;

  /* where the frame comes from, for cxrmetasink's "file": the SOP Instance
   * UID (never anything patient-identifying), and the frame */
  const gchar *uid = cxr_dicom_get_sop_instance_uid (self->dicom);
  if (uid) {
    gchar *where = self->n_frames > 1 ?
        g_strdup_printf ("%s#%u", uid, i) : g_strdup (uid);
    GstCxrLabelMeta *label = gst_buffer_add_cxr_label_meta
        (frame->output_buffer, -1, NULL, where);
    gst_cxr_label_meta_set_dicom (label, cxr_dicom_get_modality (self->dicom),
        cxr_dicom_get_body_part (self->dicom));
    /* for a structured report about the frame (cxrdicomsink) */
    GBytes *header = cxr_dicom_get_header (self->dicom, NULL);
    gst_cxr_label_meta_set_dicom_header (label, header,
        self->n_frames > 1 ? i + 1 : 0);
    if (header)
      g_bytes_unref (header);
    g_free (where);
  }

  if (self->n_out == self->n_frames) {
    g_clear_pointer (&self->dicom, cxr_dicom_free);     /* all done */
    if (self->framed)           /* the next buffer is the next file */
      self->opened = FALSE, self->n_parsed = self->n_out = 0;
  }

  return gst_video_decoder_finish_frame (dec, frame);
}

static GstFlowReturn
gst_cxr_dicom_dec_finish (GstVideoDecoder * dec)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (dec);

  /* framed input (a node's) may end before any file came */
  if (!self->opened && !self->framed) {
    self->opened = TRUE;
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("No DICOM data: the input was "
            "empty."), (NULL));
    return GST_FLOW_ERROR;
  }
  /* after an error (already posted) EOS must not look like success, or
   * the base class would post a second error ("No valid frames") */
  return self->failed ? GST_FLOW_ERROR : GST_FLOW_OK;
}

/* a mid-stream drain (not EOS): nothing can be decoded before EOS */
static GstFlowReturn
gst_cxr_dicom_dec_drain (GstVideoDecoder * dec)
{
  (void) dec;
  return GST_FLOW_OK;
}

static gboolean
gst_cxr_dicom_dec_flush (GstVideoDecoder * dec)
{
  reset_state (GST_CXR_DICOM_DEC (dec));
  return TRUE;
}

static gboolean
gst_cxr_dicom_dec_start (GstVideoDecoder * dec)
{
  reset_state (GST_CXR_DICOM_DEC (dec));
  return TRUE;
}

static gboolean
gst_cxr_dicom_dec_stop (GstVideoDecoder * dec)
{
  reset_state (GST_CXR_DICOM_DEC (dec));
  return TRUE;
}

static gboolean
gst_cxr_dicom_dec_set_format (GstVideoDecoder * dec,
    GstVideoCodecState * state)
{
  /* application/dicom carries nothing to configure: the file says all */
  (void) dec, (void) state;
  return TRUE;
}

static gboolean
gst_cxr_dicom_dec_sink_event (GstVideoDecoder * dec, GstEvent * event)
{
  GstCxrDicomDec *self = GST_CXR_DICOM_DEC (dec);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      /* application/dicom says nothing the file does not, but whether
       * buffers are whole files (framed: cxrdicomsrc's), and the base
       * class only takes video caps (gst_video_info_from_caps would refuse
       * these): kept on the pad, not given to the base class */
      GstCaps *caps;
      gboolean framed = FALSE;

      gst_event_parse_caps (event, &caps);
      gst_structure_get_boolean (gst_caps_get_structure (caps, 0), "framed",
          &framed);
      GST_VIDEO_DECODER_STREAM_LOCK (dec);
      self->framed = framed;
      GST_VIDEO_DECODER_STREAM_UNLOCK (dec);
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *in;

      gst_event_parse_segment (event, &in);
      if (in->format != GST_FORMAT_TIME) {
        /* a BYTES segment from filesrc: the frames' times start at 0 */
        GstSegment segment;
        guint32 seqnum = gst_event_get_seqnum (event);

        gst_segment_init (&segment, GST_FORMAT_TIME);
        gst_event_unref (event);
        event = gst_event_new_segment (&segment);
        gst_event_set_seqnum (event, seqnum);
      }
      break;
    }
    case GST_EVENT_EOS:
      GST_VIDEO_DECODER_STREAM_LOCK (dec);
      self->eos = TRUE;
      GST_VIDEO_DECODER_STREAM_UNLOCK (dec);
      break;
    default:
      break;
  }
  return GST_VIDEO_DECODER_CLASS (parent_class)->sink_event (dec, event);
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

  g_clear_pointer (&self->dicom, cxr_dicom_free);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

void
gst_cxr_dicom_register_tags (void)
{
  gst_tag_register_static (GST_CXR_TAG_DICOM_MODALITY, GST_TAG_FLAG_META,
      G_TYPE_STRING,
      "DICOM modality", "Modality (0008,0060), e.g. CR, DX", NULL);
  gst_tag_register_static ("dicom-view-position", GST_TAG_FLAG_META,
      G_TYPE_STRING, "DICOM view position",
      "View Position (0018,5101), e.g. PA, AP, LL", NULL);
  gst_tag_register_static (GST_CXR_TAG_DICOM_BODY_PART, GST_TAG_FLAG_META,
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
  GstVideoDecoderClass *dec_class = GST_VIDEO_DECODER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_dicom_dec_debug, "cxrdicomdec", 0,
      "DICOM decoder");
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
      "The gst-cxr authors");

  dec_class->start = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_start);
  dec_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_stop);
  dec_class->set_format = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_set_format);
  dec_class->parse = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_parse);
  dec_class->handle_frame = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_handle_frame);
  dec_class->finish = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_finish);
  dec_class->drain = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_drain);
  dec_class->flush = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_flush);
  dec_class->sink_event = GST_DEBUG_FUNCPTR (gst_cxr_dicom_dec_sink_event);
}

static void
gst_cxr_dicom_dec_init (GstCxrDicomDec * self)
{
  GstVideoDecoder *dec = GST_VIDEO_DECODER (self);

  gst_video_decoder_set_packetized (dec, FALSE);
  gst_video_decoder_set_use_default_pad_acceptcaps (dec, TRUE);
  GST_PAD_SET_ACCEPT_TEMPLATE (GST_VIDEO_DECODER_SINK_PAD (dec));
  self->window = DEFAULT_WINDOW;
  self->output_depth = DEFAULT_OUTPUT_DEPTH;
  reset_state (self);
}
