/* cxrdicomdec: DICOM (application/dicom) -> raw grey video, and the
 * application/dicom typefinder. */
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideodecoder.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_DICOM_DEC (gst_cxr_dicom_dec_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrDicomDec, gst_cxr_dicom_dec, GST, CXR_DICOM_DEC,
    GstVideoDecoder)

GST_ELEMENT_REGISTER_DECLARE (cxrdicomdec);

/* The stream tags cxrdicomdec sends (strings); cxrclassify reads the first
 * two. Registered by gst_cxr_dicom_register_tags, when the plugin loads. */
#define GST_CXR_TAG_DICOM_MODALITY "dicom-modality"
#define GST_CXR_TAG_DICOM_BODY_PART "dicom-body-part"
void gst_cxr_dicom_register_tags (void);

/* Registers the "application/dicom" typefinder ("DICM" at byte 128,
 * extension dcm) with `plugin` (NULL: a static one, for tests). */
gboolean gst_cxr_dicom_typefind_register (GstPlugin * plugin);

G_END_DECLS
