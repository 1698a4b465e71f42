/* Helpers for tests that learn from the real chest X-rays. */
#pragma once
#include <glib.h>

/* The data folder: $CXR_DATA_DIR, else ../shared/data. */
const char *test_data_dir (void);

/* A JPEG file as 8-bit grey, rows padded to 4 bytes as GStreamer's GRAY8
 * (*stride bytes each); NULL on any error. Free with g_free. */
guint8 *test_jpeg_gray (const char *path, int *width, int *height, int *stride);
