/* gst-cxr: cxrdicomsink, a DICOM Structured Report (and a Secondary
 * Capture) for each classified DICOM frame, into a folder or an archive.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_DICOM_SINK (gst_cxr_dicom_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrDicomSink, gst_cxr_dicom_sink, GST, CXR_DICOM_SINK,
    GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (cxrdicomsink);

G_END_DECLS
