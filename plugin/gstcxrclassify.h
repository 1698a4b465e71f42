/* gst-cxr: cxrclassify, the network's answer on each frame, attached as a
 * GstCxrClassificationMeta. See gstcxrclassify.c for the behaviour.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_CLASSIFY (gst_cxr_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrClassify, gst_cxr_classify, GST, CXR_CLASSIFY,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (cxrclassify);

G_END_DECLS
