/* Helpers for tests that learn from the real chest X-rays, or that need
 * something else from outside the project. */
#pragma once
#include <glib.h>

/* The data folder: $CXR_DATA_DIR, else ../shared/data. */
const char *test_data_dir (void);

/* A JPEG file as 8-bit grey, rows padded to 4 bytes as GStreamer's GRAY8
 * (*stride bytes each); NULL on any error. Free with g_free. */
guint8 *test_jpeg_gray (const char *path, int *width, int *height, int *stride);

/* Removes path and, for a folder, everything in it, without following
 * links. */
void test_remove_tree (const gchar * path);

/* Tests that need something from outside the project (the data set, a
 * tool) cannot run without it. test_missing records, before the tests run
 * (check runs them in child processes), that `what` is not there, and says
 * so. test_exit_status turns the number of failed tests into the exit
 * status: 77 (meson's "skipped") when none failed but something was
 * missing, except under CI=true, where everything must be there and a skip
 * is a failure. */
void test_missing (const char *what);
int test_exit_status (int failed);
