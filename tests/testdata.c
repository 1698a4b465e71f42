/* testdata.c — decoding the real chest X-rays for tests, with libjpeg. */
#include "testdata.h"

#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdio.h>              /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>

const char *
test_data_dir (void)
{
  const char *d = g_getenv ("CXR_DATA_DIR");
  return d && d[0] ? d : "../shared/data";
}

static int missing;

void
test_missing (const char *what)
{
  g_print ("SKIP: %s\n", what);
  missing++;
}

int
test_exit_status (int failed)
{
  if (failed)
    return 1;
  if (!missing)
    return 0;
  if (g_strcmp0 (g_getenv ("CI"), "true") == 0) {
    g_print ("FAIL: under CI=true nothing may be skipped (%d thing(s) "
        "missing, above)\n", missing);
    return 1;
  }
  return 77;
}

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
} JpegError;

static void
jpeg_fail (j_common_ptr cinfo)
{
  longjmp (((JpegError *) cinfo->err)->jump, 1);
}

guint8 *
test_jpeg_gray (const char *path, int *width, int *height, int *stride)
{
  struct jpeg_decompress_struct cinfo;
  JpegError err;
  guint8 *volatile pixels = NULL;
  FILE *f = fopen (path, "rb");

  if (!f)
    return NULL;
  cinfo.err = jpeg_std_error (&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  if (setjmp (err.jump)) {
    jpeg_destroy_decompress (&cinfo);
    fclose (f);
    g_free (pixels);
    return NULL;
  }
  jpeg_create_decompress (&cinfo);
  jpeg_stdio_src (&cinfo, f);
  jpeg_read_header (&cinfo, TRUE);
  cinfo.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress (&cinfo);
  *width = cinfo.output_width;
  *height = cinfo.output_height;
  *stride = (*width + 3) & ~3;
  pixels = g_malloc ((size_t) *stride * *height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + (size_t) cinfo.output_scanline * *stride;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  fclose (f);
  return pixels;
}

void
test_remove_tree (const gchar * path)
{
  GDir *d;
  const gchar *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)
      && (d = g_dir_open (path, 0, NULL))) {
    while ((name = g_dir_read_name (d))) {
      gchar *child = g_build_filename (path, name, NULL);
      test_remove_tree (child);
      g_free (child);
    }
    g_dir_close (d);
  }
  g_remove (path);
}
