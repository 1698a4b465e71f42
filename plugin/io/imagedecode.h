/* imagedecode — JPEG (libjpeg-turbo), PNG (libpng) and DICOM (dicom.h) to
 * 8-bit grey, 16-bit grey or RGB, for cxrdatasetsrc.
 *
 * Corrupt or hostile input never crashes or aborts: every failure comes back
 * as a GError in CXR_IMAGE_ERROR (or G_FILE_ERROR when the file cannot be
 * read) with a message that names what is wrong. Header dimensions are
 * checked before anything is allocated from them.
 *
 * Rows are padded to 4 bytes, exactly like GStreamer's default strides for
 * GRAY8, GRAY16_LE and RGB, so a decoded image can be wrapped in a GstBuffer
 * without a copy. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Refused before any allocation: a side above CXR_IMAGE_MAX_SIDE or more than
 * CXR_IMAGE_MAX_PIXELS pixels (2^28, i.e. 256 MiB of GRAY8). */
#define CXR_IMAGE_MAX_SIDE 65536u
#define CXR_IMAGE_MAX_PIXELS (G_GUINT64_CONSTANT (1) << 28)

typedef enum {
  CXR_IMAGE_FORMAT_GRAY8,
  CXR_IMAGE_FORMAT_GRAY16_LE,   /* 16-bit PNG only */
  CXR_IMAGE_FORMAT_RGB,
} CxrImageFormat;

typedef struct {
  CxrImageFormat format;
  guint width;
  guint height;
  gsize stride;                 /* bytes per row, a multiple of 4, at least
                                 * width * bpp (a scaled JPEG keeps
                                 * libjpeg's wider rows) */
  gsize size;                   /* stride * height */
  guint8 *data;                 /* owned, g_free () */
  /* a DICOM file's Modality and Body Part Examined, owned; else NULL */
  gchar *modality, *body_part;
  /* a DICOM file's header (dicom.h's cxr_dicom_get_header: it holds the
   * patient's data), a reference; else NULL */
  GBytes *dicom_header;
} CxrImage;

#define CXR_IMAGE_ERROR (cxr_image_error_quark ())
GQuark cxr_image_error_quark (void);

typedef enum {
  CXR_IMAGE_ERROR_UNKNOWN_FORMAT,       /* neither JPEG nor PNG */
  CXR_IMAGE_ERROR_CORRUPT,              /* truncated or damaged data */
  CXR_IMAGE_ERROR_UNSUPPORTED,          /* e.g. CMYK JPEG */
  CXR_IMAGE_ERROR_TOO_LARGE,            /* over the limits above */
  CXR_IMAGE_ERROR_NO_MEMORY,
} CxrImageError;

/* Bytes per pixel of a format. */
guint cxr_image_format_bpp (CxrImageFormat format);

/* Decodes a JPEG or PNG (told apart by their signatures, not by the file
 * name) held in memory. target_size > 0 lets a JPEG decode at the smallest
 * DCT scale (n/8, n = 1..8) whose output is still >= target_size on both
 * sides; it is ignored for PNG, and the result is never scaled further.
 * On success fills *image (free with cxr_image_clear ()); on failure leaves
 * it zeroed. */
gboolean cxr_image_decode (const guint8 * data, gsize size, guint target_size,
    CxrImage * image, GError ** error);
gboolean cxr_image_decode_jpeg (const guint8 * data, gsize size,
    guint target_size, CxrImage * image, GError ** error);
gboolean cxr_image_decode_png (const guint8 * data, gsize size,
    CxrImage * image, GError ** error);
/* DICOM (told apart by "DICM" at byte 128): the first frame, grey */
gboolean cxr_image_decode_dicom (const guint8 * data, gsize size,
    CxrImage * image, GError ** error);

/* Reads the whole file and decodes it; a file that cannot be read gives a
 * G_FILE_ERROR. */
gboolean cxr_image_decode_file (const gchar * path, guint target_size,
    CxrImage * image, GError ** error);

void cxr_image_clear (CxrImage * image);

G_END_DECLS
