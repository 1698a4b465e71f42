/* The one small C interface to the DICOM toolkit (DCMTK, implemented in
 * dicom.cpp as C++17 behind extern "C" functions).
 *
 * A CxrDicom is a parsed DICOM file held in memory with its pixel data
 * prepared for output: Modality LUT (rescale slope/intercept) applied, a VOI
 * window chosen, MONOCHROME1 shown inverted (so that, as with MONOCHROME2,
 * higher output values are brighter), and colour photometrics (RGB, YBR, ...)
 * converted to grey with DCMTK's monochrome conversion (ITU-R BT.601 luma
 * weights). Compressed transfer syntaxes supported: JPEG baseline/extended/
 * lossless, JPEG-LS, RLE, plus all uncompressed ones.
 *
 * Privacy: this interface never reads patient name, patient id, birth date,
 * accession number or any other patient-identifying attribute; only the
 * attributes listed by the getters below are ever looked at, and DCMTK's own
 * logger is silenced, so nothing identifying reaches any log. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CxrDicom CxrDicom;

typedef struct
{
  /* VOI window: N >= 0 uses the Nth Window Center/Width pair of the file
   * (when the file has no Nth window, values pass through unwindowed,
   * i.e. the modality values' possible range scaled to the output depth);
   * -1 stretches the full min..max range of the frame to the output range. */
  gint window;
  /* output bits per sample: 0 = automatic (16 when the data has more than
   * 8 bits, else 8), 8 or 16 */
  guint bits;
  /* TRUE: the header is read and checked, nothing is decoded; the tags and
   * the header can be had, the image's size is 0 and it has no frames */
  gboolean header_only;
} CxrDicomOptions;

#define CXR_DICOM_ERROR (cxr_dicom_error_quark ())
GQuark cxr_dicom_error_quark (void);

typedef enum
{
  CXR_DICOM_ERROR_NOT_DICOM,      /* no "DICM" at 128 and not parseable */
  CXR_DICOM_ERROR_TRUNCATED,      /* file ends before its data does */
  CXR_DICOM_ERROR_NO_PIXEL_DATA,  /* e.g. a structured report */
  CXR_DICOM_ERROR_UNSUPPORTED,    /* transfer syntax, photometric, ... */
  CXR_DICOM_ERROR_DECODE,         /* anything else DCMTK refuses */
  CXR_DICOM_ERROR_ARGUMENT,       /* bad frame index, depth, ... */
  CXR_DICOM_ERROR_TOO_LARGE       /* more frames or pixels than allowed */
} CxrDicomErrorCode;

/* Refused from the header, before anything is decoded: more than this many
 * frames, or more pixels over all frames (2^28: 256 MiB at 8 bits, more in
 * the toolkit's own buffers). */
#define CXR_DICOM_MAX_FRAMES 100000u
#define CXR_DICOM_MAX_PIXELS (G_GUINT64_CONSTANT (1) << 28)

/* the toolkit's codecs, registered once (thread-safe); called by open */
void cxr_dicom_init (void);

/* Parses data (the whole file; copied as needed, may be freed after).
 * opts may be NULL (window 0, automatic depth). NULL + error on failure,
 * the toolkit's exceptions (out of memory among them) included: none
 * crosses this interface. */
CxrDicom *cxr_dicom_open_memory (const guint8 * data, gsize size,
    const CxrDicomOptions * opts, GError ** error);
void cxr_dicom_free (CxrDicom * d);

guint cxr_dicom_get_width (const CxrDicom * d);
guint cxr_dicom_get_height (const CxrDicom * d);
guint cxr_dicom_get_n_frames (const CxrDicom * d);
/* output depth chosen from the options and the data: 8 or 16 */
guint cxr_dicom_get_bits (const CxrDicom * d);
/* significant bits of the (modality-transformed) data, e.g. 12 */
guint cxr_dicom_get_data_bits (const CxrDicom * d);
/* nanoseconds per frame from Frame Time, Frame Time Vector (mean of the
 * non-zero entries), Cine Rate or Recommended Display Frame Rate, in that
 * order; 0 when the file says nothing */
guint64 cxr_dicom_get_frame_duration (const CxrDicom * d);
/* pixel width / pixel height from Pixel Spacing, else Imager Pixel
 * Spacing, else Pixel Aspect Ratio; 1.0 when absent or invalid */
gdouble cxr_dicom_get_pixel_aspect_ratio (const CxrDicom * d);
/* Photometric Interpretation as in the file, e.g. "MONOCHROME2", "RGB" */
const gchar *cxr_dicom_get_photometric (const CxrDicom * d);
/* Transfer syntax UID of the data set, or NULL */
const gchar *cxr_dicom_get_transfer_syntax (const CxrDicom * d);

/* non-identifying descriptive attributes, NULL when absent or empty */
const gchar *cxr_dicom_get_modality (const CxrDicom * d);         /* (0008,0060) */
const gchar *cxr_dicom_get_view_position (const CxrDicom * d);    /* (0018,5101) */
const gchar *cxr_dicom_get_body_part (const CxrDicom * d);        /* (0018,0015) */
const gchar *cxr_dicom_get_sop_instance_uid (const CxrDicom * d); /* (0008,0018) */
const gchar *cxr_dicom_get_study_instance_uid (const CxrDicom * d);       /* (0020,000D) */

/* The data set without its pixels (Pixel Data in any form, overlays, the
 * icon), as a DICOM file (explicit VR little endian) in memory: what a
 * derived object (a structured report of this image) copies its patient
 * and study modules from. Made once per image; a reference is returned
 * (g_bytes_unref). It holds the patient's data: give it only to a writer
 * of such objects, never to a log. NULL + error when the toolkit cannot
 * write it. */
GBytes *cxr_dicom_get_header (CxrDicom * d, GError ** error);

/* Writes frame `index` (0-based) as GRAY8 (bits 8) or GRAY16_LE (bits 16,
 * little-endian whatever the host) rows of width samples, `stride` bytes
 * apart. bits 0 means cxr_dicom_get_bits (). */
gboolean cxr_dicom_get_frame (CxrDicom * d, guint index, guint8 * out,
    gsize stride, guint bits, GError ** error);

G_END_DECLS
