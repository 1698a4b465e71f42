/* gst-cxr: cxrdicomsrc, a DICOM node (C-STORE SCP) that pushes each film
 * it receives downstream and keeps it on disk until its results are out.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_DICOM_SRC (gst_cxr_dicom_src_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrDicomSrc, gst_cxr_dicom_src, GST, CXR_DICOM_SRC,
    GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (cxrdicomsrc);

G_END_DECLS
