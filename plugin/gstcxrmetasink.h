/* gst-cxr: cxrmetasink, results as JSON Lines and a metrics summary at EOS.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_META_SINK (gst_cxr_meta_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrMetaSink, gst_cxr_meta_sink, GST, CXR_META_SINK,
    GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (cxrmetasink);

G_END_DECLS
