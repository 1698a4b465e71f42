/* What cxrclassify and cxrtrain share: the video formats they take, how a
 * frame becomes the network's input, and the precision setting. */
#pragma once
#include <gst/gst.h>
#include <gst/video/video.h>

#include "preprocess.h"

G_BEGIN_DECLS

/* grey, colour (turned to grey), or the luma plane of I420 / NV12 */
#define GST_CXR_VIDEO_FORMATS \
  "{ GRAY8, GRAY16_LE, RGB, BGR, RGBx, BGRx, RGBA, BGRA, I420, NV12 }"

/* CxrPrecision as a GEnum: auto, fp32, bf16 */
GType gst_cxr_precision_get_type (void);
#define GST_TYPE_CXR_PRECISION (gst_cxr_precision_get_type ())

/* Reads buf (of info's format) and writes the network input: out_w x out_h
 * floats, area-averaged, normalised with norm. FALSE with an error a user
 * can read when the frame cannot be read. */
gboolean gst_cxr_frame_to_input (GstBuffer * buf, const GstVideoInfo * info,
    const CxrNormalization * norm, int out_w, int out_h, float *out,
    GError ** error);

G_END_DECLS
