/* gst-cxr: cxroverlay, the heatmap and the label drawn onto the frames.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_OVERLAY (gst_cxr_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrOverlay, gst_cxr_overlay, GST, CXR_OVERLAY,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (cxroverlay);

G_END_DECLS
