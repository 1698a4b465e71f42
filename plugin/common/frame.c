/* frame.c — frames to network input, shared by the elements that
 * run the network. */
#include "frame.h"
#include "error.h"
#include "net.h"

GType
gst_cxr_precision_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {CXR_PRECISION_AUTO, "bf16 where the CPU computes it natively (AMX or "
          "avx512_bf16), else fp32", "auto"},
    {CXR_PRECISION_FP32, "32-bit floating point", "fp32"},
    {CXR_PRECISION_BF16, "bfloat16 (training: bf16 activations and "
          "gradients, fp32 weights); emulated, slowly, on CPUs without it",
        "bf16"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
pixel_format_of (GstVideoFormat format, CxrPixelFormat * out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8:
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_NV12:
      *out = CXR_PIXEL_GRAY8;   /* the luma plane */
      return TRUE;
    case GST_VIDEO_FORMAT_GRAY16_LE:
      *out = CXR_PIXEL_GRAY16_LE;
      return TRUE;
    case GST_VIDEO_FORMAT_RGB:
      *out = CXR_PIXEL_RGB;
      return TRUE;
    case GST_VIDEO_FORMAT_BGR:
      *out = CXR_PIXEL_BGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      *out = CXR_PIXEL_RGBX;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      *out = CXR_PIXEL_BGRX;
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
gst_cxr_frame_to_input (GstBuffer * buf, const GstVideoInfo * info,
    const CxrNormalization * norm, int out_w, int out_h, float *out,
    GError ** error)
{
  GstVideoFrame frame;
  CxrPixelFormat format;
  CxrPixels pixels;
  gboolean ok;

  if (!pixel_format_of (GST_VIDEO_INFO_FORMAT (info), &format)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "video format %s is not one this element reads",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)));
    return FALSE;
  }
  /* read only: mapping for writing would copy shared memory */
  if (!gst_video_frame_map (&frame, (GstVideoInfo *) info, buf, GST_MAP_READ)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the buffer is smaller than a %dx%d %s frame",
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)));
    return FALSE;
  }
  pixels = (CxrPixels) {
  GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), GST_VIDEO_FRAME_WIDTH (&frame),
        GST_VIDEO_FRAME_HEIGHT (&frame),
        GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), format};
  ok = cxr_preprocess (&pixels, norm, out_w, out_h, out, error);
  gst_video_frame_unmap (&frame);
  return ok;
}
