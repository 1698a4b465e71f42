/* imagedecode — JPEG and PNG decoding for cxrdatasetsrc; see imagedecode.h.
 *
 * Both libraries report fatal errors by calling a handler that must not
 * return, so each decode sets a setjmp () point and the handlers longjmp ()
 * back to it with the library's message saved. Everything that must survive
 * the jump lives behind a pointer (the CxrImage, the decoder structs), never
 * in a local variable changed after setjmp (). */
#include "imagedecode.h"
#include "dicom.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

G_DEFINE_QUARK (cxr-image-error-quark, cxr_image_error);

guint
cxr_image_format_bpp (CxrImageFormat format)
{
  switch (format) {
    case CXR_IMAGE_FORMAT_GRAY8:
      return 1;
    case CXR_IMAGE_FORMAT_GRAY16_LE:
      return 2;
    case CXR_IMAGE_FORMAT_RGB:
      return 3;
  }
  return 0;
}

void
cxr_image_clear (CxrImage * image)
{
  g_free (image->data);
  g_free (image->modality);
  g_free (image->body_part);
  if (image->dicom_header)
    g_bytes_unref (image->dicom_header);
  memset (image, 0, sizeof *image);
}

/* The header is checked before anything is allocated from it. */
static gboolean
check_dimensions (guint64 width, guint64 height, const gchar * what,
    GError ** error)
{
  if (width == 0 || height == 0) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_CORRUPT,
        "%s header gives an empty image (%" G_GUINT64_FORMAT "x%"
        G_GUINT64_FORMAT ")", what, width, height);
    return FALSE;
  }
  if (width > CXR_IMAGE_MAX_SIDE || height > CXR_IMAGE_MAX_SIDE
      || width * height > CXR_IMAGE_MAX_PIXELS) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_TOO_LARGE,
        "%s image is %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
        ", larger than allowed (sides up to %u, at most %" G_GUINT64_FORMAT
        " pixels)", what, width, height, CXR_IMAGE_MAX_SIDE,
        CXR_IMAGE_MAX_PIXELS);
    return FALSE;
  }
  return TRUE;
}

/* Rows padded to 4 bytes: GStreamer's default stride for these formats. */
static gboolean
alloc_image (CxrImage * image, CxrImageFormat format, guint width,
    guint height, GError ** error)
{
  gsize row_bytes = (gsize) width * cxr_image_format_bpp (format);

  image->format = format;
  image->width = width;
  image->height = height;
  image->stride = (row_bytes + 3) & ~(gsize) 3;
  image->size = image->stride * height;
  /* zeroed only when there is padding, so no byte of the buffer is ever
   * uninitialised; a full decode overwrites every other byte anyway */
  if (image->stride != row_bytes)
    image->data = g_try_malloc0 (image->size);
  else
    image->data = g_try_malloc (image->size);
  if (image->data == NULL) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_NO_MEMORY,
        "Out of memory for a %ux%u image (%" G_GSIZE_FORMAT " bytes)", width,
        height, image->size);
    return FALSE;
  }
  return TRUE;
}

/* ---- JPEG ---- */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} JpegErrorMgr;

static void
jpeg_on_error (j_common_ptr cinfo)
{
  JpegErrorMgr *err = (JpegErrorMgr *) cinfo->err;

  err->pub.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

/* libjpeg only warns about damaged entropy-coded data and fills the rest of
 * the image with grey. A half-grey X-ray must not slip into training
 * unnoticed, so these warnings are errors here; harmless ones (extra bytes
 * between markers, unknown JFIF revision, bad ICC marker) are ignored. */
static void
jpeg_on_message (j_common_ptr cinfo, int msg_level)
{
  if (msg_level >= 0)
    return;                     /* trace messages */
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
      jpeg_on_error (cinfo);
      break;
    default:
      cinfo->err->num_warnings++;
      break;
  }
}

/* never print to stderr */
static void
jpeg_on_output (j_common_ptr cinfo)
{
  (void) cinfo;
}

/* libjpeg-turbo's reduced IDCTs skip most of the work at small scales, so
 * decoding at the smallest n/8 that still covers target is several times
 * faster than a full decode followed by a downscale. Images already smaller
 * than target stay at 8/8: never upscale. */
/* The pixels an image really covers at n/8, to the nearest (at least 1):
 * libjpeg rounds its output up, and at a partial last block the last row
 * and column stand for a sliver of real pixels (and the encoder's padding)
 * as if for a whole scaled pixel, which stretches the film and over-weights
 * its edge. */
static guint
covered (guint side, guint num)
{
  return MAX (1, (side * num + 4) / 8);
}

static void
jpeg_choose_scale (j_decompress_ptr cinfo, guint target)
{
  for (guint num = 1; num <= 8; num++) {
    cinfo->scale_num = num;
    cinfo->scale_denom = 8;
    jpeg_calc_output_dimensions (cinfo);
    if (covered (cinfo->image_width, num) >= target
        && covered (cinfo->image_height, num) >= target)
      return;
  }
}

static void
jpeg_set_gerror (JpegErrorMgr * err, GError ** error)
{
  gint code;

  switch (err->pub.msg_code) {
    case JERR_OUT_OF_MEMORY:
      code = CXR_IMAGE_ERROR_NO_MEMORY;
      break;
    case JERR_CONVERSION_NOTIMPL:
    case JERR_BAD_PRECISION:
    case JERR_NOT_COMPILED:
    case JERR_NO_ARITH_TABLE:
      code = CXR_IMAGE_ERROR_UNSUPPORTED;
      break;
    default:
      code = CXR_IMAGE_ERROR_CORRUPT;
      break;
  }
  g_set_error (error, CXR_IMAGE_ERROR, code, "JPEG decoding failed: %s",
      err->message);
}

gboolean
cxr_image_decode_jpeg (const guint8 * data, gsize size, guint target_size,
    CxrImage * image, GError ** error)
{
  struct jpeg_decompress_struct cinfo;
  JpegErrorMgr jerr;

  memset (image, 0, sizeof *image);
  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error (&jerr.pub);
  jerr.pub.error_exit = jpeg_on_error;
  jerr.pub.emit_message = jpeg_on_message;
  jerr.pub.output_message = jpeg_on_output;
  jerr.message[0] = '\0';

  if (setjmp (jerr.jump)) {
    jpeg_set_gerror (&jerr, error);
    goto fail;
  }

  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, data, size);
  jpeg_read_header (&cinfo, TRUE);

  if (!check_dimensions (cinfo.image_width, cinfo.image_height, "JPEG", error))
    goto fail;

  /* grey stays grey: a third of the memory and no colour conversion */
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
    image->format = CXR_IMAGE_FORMAT_GRAY8;
  } else {
    cinfo.out_color_space = JCS_RGB;
    image->format = CXR_IMAGE_FORMAT_RGB;
  }

  if (target_size > 0)
    jpeg_choose_scale (&cinfo, target_size);

  jpeg_start_decompress (&cinfo);
  if ((guint) cinfo.output_components != cxr_image_format_bpp (image->format)) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_UNSUPPORTED,
        "JPEG decoding failed: %d output components, expected %u",
        cinfo.output_components, cxr_image_format_bpp (image->format));
    goto fail;
  }
  if (!alloc_image (image, image->format, cinfo.output_width,
          cinfo.output_height, error))
    goto fail;
  /* scaled: only the rows and columns the image covers (full-size decodes
   * are exact already) */
  if (cinfo.scale_num < cinfo.scale_denom) {
    image->width = covered (cinfo.image_width, cinfo.scale_num);
    image->height = covered (cinfo.image_height, cinfo.scale_num);
    image->width = MIN (image->width, cinfo.output_width);
    image->height = MIN (image->height, cinfo.output_height);
    image->size = image->stride * image->height;
  }

  while (cinfo.output_scanline < image->height) {
    JSAMPROW row = image->data + (gsize) cinfo.output_scanline * image->stride;

    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  /* No jpeg_finish_decompress (): every pixel is in, and a file whose EOI
   * marker alone is missing is not worth refusing. */
  jpeg_destroy_decompress (&cinfo);
  return TRUE;

fail:
  jpeg_destroy_decompress (&cinfo);
  cxr_image_clear (image);
  return FALSE;
}

/* ---- PNG ---- */

typedef struct {
  const guint8 *data;
  gsize size;
  gsize pos;
  png_bytep *rows;
  char message[256];
} PngDecoder;

static void
png_on_read (png_structp png, png_bytep out, png_size_t len)
{
  PngDecoder *dec = png_get_io_ptr (png);

  if (len > dec->size - dec->pos)
    png_error (png, "unexpected end of data (truncated file?)");
  memcpy (out, dec->data + dec->pos, len);
  dec->pos += len;
}

static void
png_on_error (png_structp png, png_const_charp msg)
{
  PngDecoder *dec = png_get_error_ptr (png);

  g_strlcpy (dec->message, msg, sizeof dec->message);
  png_longjmp (png, 1);
}

/* warnings (bad ancillary chunks, odd colour profiles) do not affect the
 * pixels; keep them off stderr */
static void
png_on_warning (png_structp png, png_const_charp msg)
{
  (void) png;
  (void) msg;
}

gboolean
cxr_image_decode_png (const guint8 * data, gsize size, CxrImage * image,
    GError ** error)
{
  PngDecoder dec = { data, size, 0, NULL, "" };
  png_structp png;
  png_infop info;
  png_uint_32 width, height;
  int bit_depth, color_type, interlace;
  CxrImageFormat format;

  memset (image, 0, sizeof *image);
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, &dec, png_on_error,
      png_on_warning);
  info = png ? png_create_info_struct (png) : NULL;
  if (info == NULL) {
    png_destroy_read_struct (&png, NULL, NULL);
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_NO_MEMORY,
        "PNG decoding failed: out of memory");
    return FALSE;
  }

  if (setjmp (png_jmpbuf (png))) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_CORRUPT,
        "PNG decoding failed: %s", dec.message);
    goto fail;
  }

  png_set_read_fn (png, &dec, png_on_read);
  png_read_info (png, info);
  png_get_IHDR (png, info, &width, &height, &bit_depth, &color_type,
      &interlace, NULL, NULL);
  if (!check_dimensions (width, height, "PNG", error))
    goto fail;

  /* X-rays are grey: grey (with or without alpha) gives GRAY8, keeping 16
   * bits when there is no alpha; everything else gives RGB. Alpha is
   * dropped, which also drops tRNS transparency (see png_set_strip_alpha). */
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0)
    format = (bit_depth == 16 && color_type == PNG_COLOR_TYPE_GRAY) ?
        CXR_IMAGE_FORMAT_GRAY16_LE : CXR_IMAGE_FORMAT_GRAY8;
  else
    format = CXR_IMAGE_FORMAT_RGB;

  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8 (png);
  png_set_strip_alpha (png);
  if (bit_depth == 16) {
    if (format == CXR_IMAGE_FORMAT_GRAY16_LE)
      png_set_swap (png);       /* PNG is big-endian */
    else
      png_set_scale_16 (png);
  }
  png_set_interlace_handling (png);
  png_read_update_info (png, info);

  /* the transforms above must have produced exactly the chosen format */
  if (png_get_rowbytes (png, info) !=
      (gsize) width * cxr_image_format_bpp (format)) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_UNSUPPORTED,
        "PNG decoding failed: unexpected layout (colour type %d, %d bits)",
        color_type, bit_depth);
    goto fail;
  }

  if (!alloc_image (image, format, width, height, error))
    goto fail;
  dec.rows = g_try_new (png_bytep, height);
  if (dec.rows == NULL) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_NO_MEMORY,
        "PNG decoding failed: out of memory");
    goto fail;
  }
  for (png_uint_32 y = 0; y < height; y++)
    dec.rows[y] = image->data + (gsize) y * image->stride;
  png_read_image (png, dec.rows);
  /* No png_read_end (): the pixels are complete; trailing chunks are not
   * worth refusing the image over. */

  g_free (dec.rows);
  png_destroy_read_struct (&png, &info, NULL);
  return TRUE;

fail:
  g_free (dec.rows);
  png_destroy_read_struct (&png, &info, NULL);
  cxr_image_clear (image);
  return FALSE;
}

/* ---- dispatch ---- */

static const guint8 jpeg_signature[] = { 0xff, 0xd8, 0xff };
static const guint8 png_signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
  '\n'
};

gboolean
cxr_image_decode (const guint8 * data, gsize size, guint target_size,
    CxrImage * image, GError ** error)
{
  memset (image, 0, sizeof *image);
  if (size >= sizeof jpeg_signature
      && memcmp (data, jpeg_signature, sizeof jpeg_signature) == 0)
    return cxr_image_decode_jpeg (data, size, target_size, image, error);
  if (size >= sizeof png_signature
      && memcmp (data, png_signature, sizeof png_signature) == 0)
    return cxr_image_decode_png (data, size, image, error);
  if (size >= 132 && memcmp (data + 128, "DICM", 4) == 0)
    return cxr_image_decode_dicom (data, size, image, error);

  if (size == 0)
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_UNKNOWN_FORMAT,
        "The file is empty");
  else
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_UNKNOWN_FORMAT,
        "Not a JPEG, PNG or DICOM image (no JPEG or PNG signature at the "
        "start, no DICM at byte 128)");
  return FALSE;
}

/* The first frame, through plugin/io/dicom.h: modality LUT, first VOI window,
 * MONOCHROME1 inverted; GRAY16_LE for data of more than 8 bits. */
gboolean
cxr_image_decode_dicom (const guint8 * data, gsize size, CxrImage * image,
    GError ** error)
{
  CxrDicom *d = cxr_dicom_open_memory (data, size, NULL, error);
  guint bits;

  memset (image, 0, sizeof *image);
  if (!d)
    return FALSE;
  bits = cxr_dicom_get_bits (d);
  image->format = bits > 8 ? CXR_IMAGE_FORMAT_GRAY16_LE : CXR_IMAGE_FORMAT_GRAY8;
  image->width = cxr_dicom_get_width (d);
  image->height = cxr_dicom_get_height (d);
  /* the same limits as for JPEG and PNG (dicom.h's are over all frames) */
  if (!check_dimensions (image->width, image->height, "DICOM", error)) {
    cxr_dicom_free (d);
    memset (image, 0, sizeof *image);
    return FALSE;
  }
  image->stride = ((gsize) image->width * (bits > 8 ? 2 : 1) + 3) & ~(gsize) 3;
  image->size = image->stride * image->height;
  image->data = g_try_malloc (image->size);
  if (!image->data) {
    g_set_error (error, CXR_IMAGE_ERROR, CXR_IMAGE_ERROR_NO_MEMORY,
        "No memory for a %ux%u image", image->width, image->height);
  } else if (cxr_dicom_get_frame (d, 0, image->data, image->stride,
          bits > 8 ? 16 : 8, error)) {
    image->modality = g_strdup (cxr_dicom_get_modality (d));
    image->body_part = g_strdup (cxr_dicom_get_body_part (d));
    /* for a report of the film (cxrdicomsink); a film without one is
     * still a film */
    image->dicom_header = cxr_dicom_get_header (d, NULL);
    cxr_dicom_free (d);
    return TRUE;
  }
  cxr_dicom_free (d);
  cxr_image_clear (image);
  return FALSE;
}

gboolean
cxr_image_decode_file (const gchar * path, guint target_size,
    CxrImage * image, GError ** error)
{
  gchar *contents;
  gsize length;
  gboolean ok;

  memset (image, 0, sizeof *image);
  if (!g_file_get_contents (path, &contents, &length, error))
    return FALSE;
  ok = cxr_image_decode ((const guint8 *) contents, length, target_size, image,
      error);
  g_free (contents);
  return ok;
}
