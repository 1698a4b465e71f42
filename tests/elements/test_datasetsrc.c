/* Element tests for cxrdatasetsrc and its image decoder.
 *
 * Fixtures are built in a temporary folder by each test: JPEGs copied from
 * the data set (CXR_DATA_DIR, default ../shared/data; without it the tests
 * that need it do nothing and the run says "skipped") and PNGs written here
 * with libpng,
 * so their exact pixels are known. Every pipeline is
 * cxrdatasetsrc ! fakesink, with the buffers (and the caps they came with)
 * collected from fakesink's handoff signal and the messages from the bus. */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <png.h>
#include <stdarg.h>
#include <string.h>

#include "imagedecode.h"
#include "patient.h"
#include "gst/cxr/cxrmeta.h"
#include "testdata.h"

/* ---- fixtures ---- */

static gboolean
have_data (void)
{
  return g_file_test (test_data_dir (), G_FILE_TEST_IS_DIR);
}

/* path of a file in the data set; NULL when there is no data set (main
 * has said so), and a failure when the data set lacks the file */
static gchar *
data_file (const gchar * relative)
{
  gchar *path = g_build_filename (test_data_dir (), relative, NULL);

  if (!have_data ()) {
    g_free (path);
    return NULL;
  }
  fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR),
      "the data set has no %s", path);
  return path;
}

/* for qsort / g_ptr_array_sort on arrays of strings */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* the first n files of a data set folder, sorted; NULL when there is no
 * data set, and a failure when the folder lacks them */
static gchar **
data_files (const gchar * relative, guint n)
{
  gchar *dir = g_build_filename (test_data_dir (), relative, NULL);
  GDir *d;
  GPtrArray *names;
  const gchar *name;
  gchar **out = NULL;

  if (!have_data ()) {
    g_free (dir);
    return NULL;
  }
  d = g_dir_open (dir, 0, NULL);
  fail_unless (d != NULL, "the data set has no folder %s", dir);
  names = g_ptr_array_new ();
  while ((name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  g_ptr_array_sort (names, compare_strings);
  fail_unless (names->len >= n, "%s holds %u files; the test needs %u", dir,
      names->len, n);
  out = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
  for (guint i = 0; i < names->len; i++)
    g_free (g_ptr_array_index (names, i));
  g_ptr_array_unref (names);
  g_free (dir);
  return out;
}

static gchar *
make_tmpdir (void)
{
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("cxrdatasetsrc-XXXXXX", &err);

  fail_unless (dir != NULL, "g_dir_make_tmp: %s", err ? err->message : "");
  return dir;
}

static void
write_file (const gchar * dir, const gchar * relative, const void *data,
    gsize size)
{
  gchar *path = g_build_filename (dir, relative, NULL);
  gchar *parent = g_path_get_dirname (path);

  fail_unless (g_mkdir_with_parents (parent, 0755) == 0);
  fail_unless (g_file_set_contents (path, data, size, NULL), "%s", path);
  g_free (parent);
  g_free (path);
}

/* copies src to dir/relative, keeping at most max_bytes (truncation) */
static void
copy_file (const gchar * src, const gchar * dir, const gchar * relative,
    gsize max_bytes)
{
  gchar *data;
  gsize size;

  fail_unless (g_file_get_contents (src, &data, &size, NULL), "%s", src);
  write_file (dir, relative, data, MIN (size, max_bytes));
  g_free (data);
}

/* Writes a PNG. pixels: packed rows in PNG's own layout (16-bit samples
 * big-endian). rows == FALSE writes the header only (see below). */
static void
write_png (const gchar * dir, const gchar * relative, guint width,
    guint height, int color_type, int bit_depth, const guint8 * pixels,
    const png_color * palette, int n_palette, const guint8 * trans,
    int n_trans, gboolean rows)
{
  gchar *path = g_build_filename (dir, relative, NULL);
  FILE *f = fopen (path, "wb");
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL,
      NULL, NULL);
  png_infop info = png_create_info_struct (png);
  gsize row_bytes;

  fail_unless (f && png && info, "%s", path);
  fail_if (setjmp (png_jmpbuf (png)), "libpng failed writing %s", path);
  png_init_io (png, f);
  png_set_IHDR (png, info, width, height, bit_depth, color_type,
      PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
      PNG_FILTER_TYPE_DEFAULT);
  if (palette)
    png_set_PLTE (png, info, palette, n_palette);
  if (trans)
    png_set_tRNS (png, info, trans, n_trans, NULL);
  png_write_info (png, info);
  if (rows) {
    row_bytes = png_get_rowbytes (png, info);
    for (guint y = 0; y < height; y++)
      png_write_row (png, pixels + y * row_bytes);
    png_write_end (png, NULL);
  } else {
    /* then just the start of an IDAT chunk: png_read_info () returns there,
     * so the decoder sees the header of an otherwise plausible file */
    static const guint8 idat[] = { 0, 0, 0, 16, 'I', 'D', 'A', 'T' };

    png_write_flush (png);
    fail_unless (fwrite (idat, 1, sizeof idat, f) == sizeof idat);
  }
  png_destroy_write_struct (&png, &info);
  fclose (f);
  g_free (path);
}

/* ---- running the element ---- */

typedef struct
{
  GPtrArray *samples;           /* GstSample: buffer + caps it came with */
  GPtrArray *warnings;          /* gchar *: warning texts */
  GPtrArray *skipped;           /* GstStructure: cxrdatasetsrc-skipped */
  gchar *error;                 /* error text, NULL if none */
  guint n_files;
  guint n_skipped;
} RunResult;

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer data)
{
  GPtrArray *samples = data;
  GstCaps *caps = gst_pad_get_current_caps (pad);

  (void) sink;
  g_ptr_array_add (samples, gst_sample_new (buf, caps, NULL, NULL));
  if (caps)
    gst_caps_unref (caps);
}

/* Runs cxrdatasetsrc (properties as NULL-terminated name/value pairs) into
 * fakesink until EOS or error. */
static RunResult *
run_src (const gchar * first_property, ...)
{
  RunResult *r = g_new0 (RunResult, 1);
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("cxrdatasetsrc", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  gboolean done = FALSE;
  va_list args;

  fail_unless (src && sink);
  va_start (args, first_property);
  g_object_set_valist (G_OBJECT (src), first_property, args);
  va_end (args);
  r->samples = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_sample_unref);
  r->warnings = g_ptr_array_new_with_free_func (g_free);
  r->skipped = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), r->samples);
  gst_bin_add_many (GST_BIN (pipeline), src, sink, NULL);
  fail_unless (gst_element_link (src, sink));

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop (bus, 60 * GST_SECOND);
    GError *err = NULL;

    fail_unless (msg != NULL, "no EOS or error within 60 s");
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, NULL);
        r->error = g_strdup (err->message);
        g_error_free (err);
        done = TRUE;
        break;
      case GST_MESSAGE_WARNING:
        gst_message_parse_warning (msg, &err, NULL);
        g_ptr_array_add (r->warnings, g_strdup (err->message));
        g_error_free (err);
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_message_has_name (msg, "cxrdatasetsrc-skipped"))
          g_ptr_array_add (r->skipped,
              gst_structure_copy (gst_message_get_structure (msg)));
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
  g_object_get (src, "n-files", &r->n_files, "n-skipped", &r->n_skipped,
      NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return r;
}

static void
run_result_free (RunResult * r)
{
  g_ptr_array_unref (r->samples);
  g_ptr_array_unref (r->warnings);
  g_ptr_array_unref (r->skipped);
  g_free (r->error);
  g_free (r);
}

static GstBuffer *
sample_buffer (RunResult * r, guint i)
{
  fail_unless (i < r->samples->len);
  return gst_sample_get_buffer (g_ptr_array_index (r->samples, i));
}

static GstCxrLabelMeta *
sample_label (RunResult * r, guint i)
{
  GstCxrLabelMeta *meta = gst_buffer_get_cxr_label_meta (sample_buffer (r,
          i));

  fail_unless (meta != NULL, "buffer %u has no label meta", i);
  return meta;
}

static const gchar *
sample_patient (RunResult * r, guint i)
{
  return gst_cxr_label_meta_get_patient (sample_label (r, i));
}

static void
sample_info (RunResult * r, guint i, GstVideoInfo * info)
{
  GstCaps *caps = gst_sample_get_caps (g_ptr_array_index (r->samples, i));

  fail_unless (caps != NULL);
  fail_unless (gst_video_info_from_caps (info, caps));
}

/* sources of all buffers, joined with spaces */
static gchar *
sources (RunResult * r)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < r->samples->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", sample_label (r,
            i)->source);
  return g_string_free (s, FALSE);
}

static void
assert_contains (const gchar * text, const gchar * part)
{
  fail_unless (text != NULL, "expected text containing \"%s\", got NULL",
      part);
  fail_unless (strstr (text, part) != NULL, "\"%s\" does not contain \"%s\"",
      text, part);
}

/* ---- tests ---- */

/* NORMAL x2, PNEUMONIA x3, plus things that must be ignored */
static gchar *
make_imagefolder (void)
{
  gchar **normal = data_files ("chest_xray/train/NORMAL", 2);
  gchar **pneumonia = data_files ("chest_xray/train/PNEUMONIA", 3);
  gchar *dir;

  if (normal == NULL || pneumonia == NULL) {
    g_strfreev (normal);
    g_strfreev (pneumonia);
    return NULL;
  }
  dir = make_tmpdir ();
  copy_file (normal[0], dir, "NORMAL/n1.jpeg", G_MAXSIZE);
  copy_file (normal[1], dir, "NORMAL/n0.JPG", G_MAXSIZE);
  copy_file (pneumonia[0], dir, "PNEUMONIA/p2.jpeg", G_MAXSIZE);
  copy_file (pneumonia[1], dir, "PNEUMONIA/p0.jpeg", G_MAXSIZE);
  copy_file (pneumonia[2], dir, "PNEUMONIA/p1.jpg", G_MAXSIZE);
  copy_file (pneumonia[2], dir, "PNEUMONIA/.hidden.jpeg", G_MAXSIZE);
  copy_file (pneumonia[2], dir, ".hidden/h.jpeg", G_MAXSIZE);
  write_file (dir, "PNEUMONIA/notes.txt", "x", 1);
  write_file (dir, "EMPTY/readme.md", "x", 1);  /* no images: not a class */
  g_strfreev (normal);
  g_strfreev (pneumonia);
  return dir;
}

GST_START_TEST (test_imagefolder)
{
  gchar *dir = make_imagefolder (), *s;
  RunResult *r;
  GstVideoInfo info;
  static const gint expected_class[] = { 0, 0, 1, 1, 1 };

  if (dir == NULL)
    return;

  /* default: sorted class folder names, files sorted by path */
  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 5);
  fail_unless_equals_int (r->n_files, 5);
  fail_unless_equals_int (r->n_skipped, 0);
  s = sources (r);
  fail_unless_equals_string (s,
      "NORMAL/n0.JPG NORMAL/n1.jpeg PNEUMONIA/p0.jpeg PNEUMONIA/p1.jpg "
      "PNEUMONIA/p2.jpeg");
  g_free (s);
  for (guint i = 0; i < 5; i++) {
    GstCxrLabelMeta *m = sample_label (r, i);
    GstBuffer *buf = sample_buffer (r, i);

    fail_unless_equals_int (m->class_index, expected_class[i]);
    fail_unless_equals_string (m->class_name,
        expected_class[i] ? "PNEUMONIA" : "NORMAL");
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), i * GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    sample_info (r, i, &info);
    fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
        GST_VIDEO_FORMAT_RGB);
    fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), 224);
    fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), 224);
    fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&info), 0);
    fail_unless_equals_int (gst_buffer_get_size (buf),
        GST_VIDEO_INFO_SIZE (&info));
  }
  run_result_free (r);

  /* classes gives the order (and so the indices), not the file order */
  r = run_src ("location", dir, "classes", " PNEUMONIA, NORMAL ", NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 5);
  for (guint i = 0; i < 5; i++) {
    GstCxrLabelMeta *m = sample_label (r, i);

    fail_unless_equals_int (m->class_index, 1 - expected_class[i]);
    fail_unless_equals_string (m->class_name,
        expected_class[i] ? "PNEUMONIA" : "NORMAL");
  }
  run_result_free (r);

  /* a listed class without a folder is fine (it just has no images) */
  r = run_src ("location", dir, "classes", "NORMAL,PNEUMONIA,COVID", NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 5);
  run_result_free (r);

  /* a class folder that is not listed is an error naming what was found */
  r = run_src ("location", dir, "classes", "NORMAL", NULL);
  assert_contains (r->error, "not listed in the 'classes' property: "
      "PNEUMONIA");
  assert_contains (r->error, "Classes found: NORMAL, PNEUMONIA");
  fail_unless_equals_int (r->samples->len, 0);
  run_result_free (r);

  r = run_src ("location", dir, "classes", "NORMAL,,PNEUMONIA", NULL);
  assert_contains (r->error, "a class name is empty");
  run_result_free (r);

  test_remove_tree (dir);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_recursive)
{
  gchar **jpegs = data_files ("chest_xray/train/NORMAL", 4);
  gchar *dir, *s;
  RunResult *r;

  if (jpegs == NULL)
    return;
  dir = make_tmpdir ();
  copy_file (jpegs[0], dir, "A/a.jpeg", G_MAXSIZE);
  copy_file (jpegs[1], dir, "B/deep/er/b.jpeg", G_MAXSIZE);
  copy_file (jpegs[2], dir, "B/c.jpeg", G_MAXSIZE);
  copy_file (jpegs[3], dir, "B/deep-x.jpeg", G_MAXSIZE);

  /* sorted by the whole path ('-' < '/'), not folder by folder */
  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  s = sources (r);
  fail_unless_equals_string (s,
      "A/a.jpeg B/c.jpeg B/deep-x.jpeg B/deep/er/b.jpeg");
  g_free (s);
  fail_unless_equals_string (sample_label (r, 3)->class_name, "B");
  run_result_free (r);

  r = run_src ("location", dir, "recursive", FALSE, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  s = sources (r);
  fail_unless_equals_string (s, "A/a.jpeg B/c.jpeg B/deep-x.jpeg");
  g_free (s);
  run_result_free (r);

  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

GST_START_TEST (test_csv_manifest)
{
  gchar **jpegs = data_files ("chest_xray/train/NORMAL", 3);
  gchar *dir, *csv, *abs_line, *s;
  RunResult *r;

  if (jpegs == NULL)
    return;
  dir = make_tmpdir ();
  csv = g_build_filename (dir, "lists", "val.csv", NULL);
  copy_file (jpegs[0], dir, "lists/img/a.jpeg", G_MAXSIZE);
  copy_file (jpegs[1], dir, "lists/img/b.jpeg", G_MAXSIZE);
  copy_file (jpegs[2], dir, "lists/img/c.png.jpeg", G_MAXSIZE);

  /* byte order mark, header, CRLF, blank line, unlabelled entry, manifest
   * order kept, and an absolute path */
  abs_line = g_strdup_printf ("\xef\xbb\xbfpath,label\r\n"
      "img/b.jpeg,PNEUMONIA\r\n\n"
      "img/a.jpeg , NORMAL\nimg/c.png.jpeg,\n%s/lists/img/a.jpeg\n", dir);
  write_file (dir, "lists/val.csv", abs_line, strlen (abs_line));
  r = run_src ("location", csv, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 4);
  s = sources (r);
  /* the absolute path is reported as written */
  fail_unless (g_str_has_prefix (s, "img/b.jpeg img/a.jpeg img/c.png.jpeg /"),
      "%s", s);
  fail_unless (g_str_has_suffix (s, "/lists/img/a.jpeg"), "%s", s);
  g_free (s);
  /* classes: sorted distinct labels */
  fail_unless_equals_int (sample_label (r, 0)->class_index, 1);
  fail_unless_equals_string (sample_label (r, 0)->class_name, "PNEUMONIA");
  fail_unless_equals_int (sample_label (r, 1)->class_index, 0);
  fail_unless_equals_string (sample_label (r, 1)->class_name, "NORMAL");
  fail_unless_equals_int (sample_label (r, 2)->class_index, -1);
  fail_unless (sample_label (r, 2)->class_name == NULL);
  fail_unless_equals_int (sample_label (r, 3)->class_index, -1);
  run_result_free (r);

  r = run_src ("location", csv, "classes", "PNEUMONIA,NORMAL", NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (sample_label (r, 0)->class_index, 0);
  fail_unless_equals_int (sample_label (r, 1)->class_index, 1);
  run_result_free (r);

  r = run_src ("location", csv, "classes", "NORMAL,COVID", NULL);
  assert_contains (r->error, "Line 2 of manifest");
  assert_contains (r->error, "label 'PNEUMONIA' is not one of the classes");
  run_result_free (r);

  /* a bad line stops the start, naming the line */
  write_file (dir, "lists/val.csv", "img/a.jpeg,NORMAL\nimg/b.jpeg,NORMAL,x,y\n",
      strlen ("img/a.jpeg,NORMAL\nimg/b.jpeg,NORMAL,x,y\n"));
  r = run_src ("location", csv, NULL);
  assert_contains (r->error, "Line 2 of manifest");
  assert_contains (r->error, "too many commas");
  fail_unless_equals_int (r->samples->len, 0);
  run_result_free (r);

  write_file (dir, "lists/val.csv", ",NORMAL\n", strlen (",NORMAL\n"));
  r = run_src ("location", csv, NULL);
  assert_contains (r->error, "Line 1 of manifest");
  assert_contains (r->error, "no file path");
  run_result_free (r);

  write_file (dir, "lists/val.csv", "path,label\n\n", strlen ("path,label\n\n"));
  r = run_src ("location", csv, NULL);
  assert_contains (r->error, "lists no images");
  run_result_free (r);

  /* a listed file that does not exist is an unreadable file: skipped */
  write_file (dir, "lists/val.csv", "img/a.jpeg,N\nimg/gone.jpeg,N\n",
      strlen ("img/a.jpeg,N\nimg/gone.jpeg,N\n"));
  r = run_src ("location", csv, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 1);
  fail_unless_equals_int (r->n_skipped, 1);
  assert_contains (g_ptr_array_index (r->warnings, 0), "gone.jpeg");
  run_result_free (r);

  g_free (abs_line);
  g_free (csv);
  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

GST_START_TEST (test_flat_folder)
{
  gchar **jpegs = data_files ("chest_xray/train/PNEUMONIA", 3);
  gchar *dir, *s;
  RunResult *r;

  if (jpegs == NULL)
    return;
  dir = make_tmpdir ();
  copy_file (jpegs[0], dir, "z.jpeg", G_MAXSIZE);
  copy_file (jpegs[1], dir, "a.jpeg", G_MAXSIZE);
  copy_file (jpegs[2], dir, "m.Jpeg", G_MAXSIZE);
  write_file (dir, "sub/readme.txt", "x", 1);   /* a folder without images */

  r = run_src ("location", dir, "classes", "NORMAL,PNEUMONIA", NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  s = sources (r);
  fail_unless_equals_string (s, "a.jpeg m.Jpeg z.jpeg");
  g_free (s);
  for (guint i = 0; i < r->samples->len; i++) {
    fail_unless_equals_int (sample_label (r, i)->class_index, -1);
    fail_unless (sample_label (r, i)->class_name == NULL);
  }
  run_result_free (r);

  /* num-buffers from GstBaseSrc */
  r = run_src ("location", dir, "num-buffers", 2, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 2);
  run_result_free (r);

  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

GST_START_TEST (test_shuffle)
{
  gchar **jpegs = data_files ("chest_xray/train/NORMAL", 12);
  gchar *dir, *sorted, *s1, *s1b, *s2;
  gchar **a, **b;
  RunResult *r;

  if (jpegs == NULL)
    return;
  dir = make_tmpdir ();
  for (guint i = 0; i < 12; i++) {
    gchar *name = g_strdup_printf ("f%02u.jpeg", i);
    copy_file (jpegs[i], dir, name, G_MAXSIZE);
    g_free (name);
  }

  r = run_src ("location", dir, NULL);
  sorted = sources (r);
  run_result_free (r);
  r = run_src ("location", dir, "shuffle", TRUE, "seed", (guint64) 1, NULL);
  s1 = sources (r);
  run_result_free (r);
  r = run_src ("location", dir, "shuffle", TRUE, "seed", (guint64) 1, NULL);
  s1b = sources (r);
  run_result_free (r);
  r = run_src ("location", dir, "shuffle", TRUE, "seed",
      G_GUINT64_CONSTANT (0xfedcba9876543210), NULL);
  s2 = sources (r);
  run_result_free (r);

  /* a permutation: same multiset, different order */
  a = g_strsplit (sorted, " ", -1);
  b = g_strsplit (s1, " ", -1);
  fail_unless_equals_int (g_strv_length (a), 12);
  fail_unless_equals_int (g_strv_length (b), 12);
  qsort (b, 12, sizeof (gchar *), compare_strings);
  for (guint i = 0; i < 12; i++)
    fail_unless_equals_string (a[i], b[i]);
  g_strfreev (a);
  g_strfreev (b);
  fail_if (g_str_equal (sorted, s1), "seed 1 gave sorted order");
  fail_unless_equals_string (s1, s1b);
  fail_if (g_str_equal (s1, s2), "two seeds gave the same order: %s", s1);
  g_print ("shuffle seed 1: %s\n", s1);

  g_free (sorted);
  g_free (s1);
  g_free (s1b);
  g_free (s2);
  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

/* decode-threads: frames in the same order, with the same pixels, however
 * many threads decode; a broken file among them is skipped in its place;
 * num-buffers stops the decoders cleanly */
static gchar *
checksums (RunResult * r)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < r->samples->len; i++) {
    GstMapInfo map;
    GstBuffer *buf = sample_buffer (r, i);
    gchar *sum;

    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    sum = g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size);
    gst_buffer_unmap (buf, &map);
    g_string_append_printf (s, "%s%s", i ? " " : "", sum);
    g_free (sum);
  }
  return g_string_free (s, FALSE);
}

GST_START_TEST (test_decode_threads)
{
  gchar **jpegs = data_files ("chest_xray/train/PNEUMONIA", 12);
  gchar *dir, *order1, *pixels1;
  RunResult *r;

  if (jpegs == NULL)
    return;
  dir = make_tmpdir ();
  for (guint i = 0; i < 12; i++) {
    gchar *name = g_strdup_printf ("f%02u.jpeg", i);
    /* f05 broken: cut short */
    copy_file (jpegs[i], dir, name, i == 5 ? 3000 : G_MAXSIZE);
    g_free (name);
  }
  r = run_src ("location", dir, "shuffle", TRUE, "seed", (guint64) 3,
      "decode-threads", 1, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 11);
  order1 = sources (r);
  pixels1 = checksums (r);
  run_result_free (r);
  for (guint threads = 2; threads <= 5; threads += 3) {
    gchar *order, *pixels;

    r = run_src ("location", dir, "shuffle", TRUE, "seed", (guint64) 3,
        "decode-threads", threads, NULL);
    fail_unless (r->error == NULL, "%s", r->error);
    fail_unless_equals_int (r->n_skipped, 1);
    assert_contains (g_ptr_array_index (r->warnings, 0), "f05.jpeg");
    order = sources (r);
    pixels = checksums (r);
    fail_unless_equals_string (order, order1);
    fail_unless_equals_string (pixels, pixels1);
    /* no gap in the timestamps where the broken file was */
    for (guint i = 0; i < r->samples->len; i++)
      fail_unless_equals_uint64 (GST_BUFFER_PTS (sample_buffer (r, i)),
          i * GST_SECOND);
    g_free (order);
    g_free (pixels);
    run_result_free (r);
  }
  /* stopped after 2 frames while the decoders are ahead */
  r = run_src ("location", dir, "decode-threads", 4, "num-buffers", 2, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 2);
  run_result_free (r);

  g_free (order1);
  g_free (pixels1);
  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

GST_START_TEST (test_corrupt_files)
{
  gchar **jpegs = data_files ("chest_xray/train/NORMAL", 2);
  gchar *dir;
  RunResult *r;
  GstStructure *st;
  guint8 noise[3000];
  GRand *rand = g_rand_new_with_seed (7);

  if (jpegs == NULL)
    return;
  for (guint i = 0; i < sizeof noise; i++)
    noise[i] = g_rand_int (rand);
  g_rand_free (rand);

  dir = make_tmpdir ();
  copy_file (jpegs[0], dir, "a.jpeg", G_MAXSIZE);
  copy_file (jpegs[1], dir, "b_truncated.jpeg", 3000);
  copy_file (jpegs[1], dir, "c.jpeg", G_MAXSIZE);

  /* truncated JPEG: skipped, reported, counted */
  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 2);
  fail_unless_equals_int (r->n_files, 3);
  fail_unless_equals_int (r->n_skipped, 1);
  fail_unless_equals_int (r->warnings->len, 1);
  assert_contains (g_ptr_array_index (r->warnings, 0), "b_truncated.jpeg");
  assert_contains (g_ptr_array_index (r->warnings, 0), "Premature end");
  fail_unless_equals_int (r->skipped->len, 1);
  st = g_ptr_array_index (r->skipped, 0);
  fail_unless (g_str_has_suffix (gst_structure_get_string (st, "file"),
          "/b_truncated.jpeg"));
  assert_contains (gst_structure_get_string (st, "reason"), "JPEG");
  fail_unless_equals_string (sample_label (r, 1)->source, "c.jpeg");
  /* no gap in the timestamps for the skipped file */
  fail_unless_equals_uint64 (GST_BUFFER_PTS (sample_buffer (r, 1)),
      GST_SECOND);
  run_result_free (r);

  /* skip-corrupt=false: an error naming the file, after the good one */
  r = run_src ("location", dir, "skip-corrupt", FALSE, NULL);
  assert_contains (r->error, "b_truncated.jpeg");
  fail_unless_equals_int (r->samples->len, 1);
  fail_unless_equals_int (r->n_skipped, 0);
  run_result_free (r);

  /* random bytes named .png */
  copy_file (jpegs[1], dir, "b_truncated.jpeg", G_MAXSIZE);
  write_file (dir, "b_noise.png", noise, sizeof noise);
  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 3);
  fail_unless_equals_int (r->n_skipped, 1);
  assert_contains (g_ptr_array_index (r->warnings, 0), "b_noise.png");
  assert_contains (g_ptr_array_index (r->warnings, 0), "Not a JPEG, PNG or DICOM");
  run_result_free (r);

  r = run_src ("location", dir, "skip-corrupt", FALSE, NULL);
  assert_contains (r->error, "b_noise.png");
  run_result_free (r);

  test_remove_tree (dir);
  g_free (dir);
  g_strfreev (jpegs);
}

GST_END_TEST;

GST_START_TEST (test_missing_and_empty)
{
  gchar *dir = make_tmpdir ();
  gchar *missing = g_build_filename (dir, "no-such-folder", NULL);
  gchar *txt = g_build_filename (dir, "notes.txt", NULL);
  RunResult *r;

  r = run_src ("location", missing, NULL);
  assert_contains (r->error, "no-such-folder' does not exist");
  fail_unless_equals_int (r->samples->len, 0);
  run_result_free (r);

  write_file (dir, "notes.txt", "x", 1);
  write_file (dir, "sub/readme.txt", "x", 1);
  write_file (dir, ".hidden.jpeg", "x", 1);
  r = run_src ("location", dir, NULL);
  assert_contains (r->error, "No JPEG, PNG or DICOM images in folder");
  assert_contains (r->error, dir);
  run_result_free (r);

  r = run_src ("location", txt, NULL);
  assert_contains (r->error, "neither a folder nor a .csv manifest");
  run_result_free (r);

  r = run_src (NULL, NULL);
  assert_contains (r->error, "No location set");
  run_result_free (r);

  g_free (txt);
  g_free (missing);
  test_remove_tree (dir);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_caps_change)
{
  gchar **small = data_files ("chest_xray/train/NORMAL", 1);
  gchar *big = data_file ("chest_xray_fullres_sample/NORMAL/IM-0199-0001.jpeg");
  gchar *dir;
  RunResult *r;
  GstVideoInfo info;

  if (small == NULL || big == NULL) {
    g_strfreev (small);
    g_free (big);
    return;
  }
  dir = make_tmpdir ();
  copy_file (small[0], dir, "a.jpeg", G_MAXSIZE);
  copy_file (big, dir, "b.jpeg", G_MAXSIZE);
  copy_file (small[0], dir, "c.jpeg", G_MAXSIZE);

  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 3);
  sample_info (r, 0, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_RGB);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), 224);
  sample_info (r, 1, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), 1506);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), 833);
  /* 1506 is not a multiple of 4: the buffer follows the padded stride */
  fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), 1508);
  fail_unless_equals_int (gst_buffer_get_size (sample_buffer (r, 1)),
      1508 * 833);
  sample_info (r, 2, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_RGB);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), 224);
  run_result_free (r);

  test_remove_tree (dir);
  g_free (dir);
  g_free (big);
  g_strfreev (small);
}

GST_END_TEST;

/* Pixel (x, y) of a mapped frame, as bytes. */
static const guint8 *
frame_pixel (GstVideoFrame * frame, guint x, guint y)
{
  return (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0)
      + y * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0)
      + x * GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
}

GST_START_TEST (test_png_pixels)
{
  gchar *dir = make_tmpdir ();
  guint8 gray8[13 * 7], gray16[5 * 3 * 2], rgba[5 * 3 * 4], ga[3 * 2 * 2];
  guint8 pal_idx[4 * 2], gray1[2 * 3];
  static const png_color palette[] = { {10, 20, 30}, {200, 100, 50},
  {0, 255, 0}
  };
  static const guint8 trans[] = { 0, 128 };
  RunResult *r;
  GstVideoInfo info;
  GstVideoFrame frame;

  for (guint i = 0; i < sizeof gray8; i++)
    gray8[i] = (i * 37 + 11) & 0xff;
  for (guint i = 0; i < 15; i++) {
    guint16 v = i * 4369 + (i & 1) * 0x0102;    /* big-endian in PNG */
    gray16[2 * i] = v >> 8;
    gray16[2 * i + 1] = v & 0xff;
  }
  for (guint i = 0; i < sizeof rgba; i++)
    rgba[i] = (i * 53 + 7) & 0xff;
  for (guint i = 0; i < sizeof ga; i++)
    ga[i] = (i * 91 + 3) & 0xff;
  for (guint i = 0; i < sizeof pal_idx; i++)
    pal_idx[i] = i % 3;
  /* 1-bit grey, 3 wide: rows 101, 010 (packed MSB first, 1 byte per row) */
  gray1[0] = 0xa0;
  gray1[1] = 0x40;
  gray1[2] = 0xe0;

  write_png (dir, "a_gray8.png", 13, 7, PNG_COLOR_TYPE_GRAY, 8, gray8, NULL,
      0, NULL, 0, TRUE);
  write_png (dir, "b_gray16.png", 5, 3, PNG_COLOR_TYPE_GRAY, 16, gray16,
      NULL, 0, NULL, 0, TRUE);
  write_png (dir, "c_rgba.png", 5, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba,
      NULL, 0, NULL, 0, TRUE);
  write_png (dir, "d_gray_alpha.png", 3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga,
      NULL, 0, NULL, 0, TRUE);
  write_png (dir, "e_palette.PNG", 4, 2, PNG_COLOR_TYPE_PALETTE, 8, pal_idx,
      palette, 3, trans, 2, TRUE);
  write_png (dir, "f_gray1.png", 3, 3, PNG_COLOR_TYPE_GRAY, 1, gray1, NULL,
      0, NULL, 0, TRUE);

  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 6);

  /* 8-bit grey, 13 wide: stride 16 */
  sample_info (r, 0, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 0),
          GST_MAP_READ));
  fail_unless_equals_int (GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), 16);
  for (guint y = 0; y < 7; y++)
    for (guint x = 0; x < 13; x++)
      fail_unless_equals_int (*frame_pixel (&frame, x, y), gray8[y * 13 + x]);
  gst_video_frame_unmap (&frame);

  /* 16-bit grey stays 16-bit, little-endian */
  sample_info (r, 1, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY16_LE);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 1),
          GST_MAP_READ));
  for (guint y = 0; y < 3; y++)
    for (guint x = 0; x < 5; x++) {
      const guint8 *p = frame_pixel (&frame, x, y);
      guint i = y * 5 + x;
      fail_unless_equals_int (p[0] | p[1] << 8,
          gray16[2 * i] << 8 | gray16[2 * i + 1]);
    }
  gst_video_frame_unmap (&frame);

  /* RGBA: alpha dropped; 5 * 3 = 15 bytes per row, stride 16 */
  sample_info (r, 2, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_RGB);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 2),
          GST_MAP_READ));
  fail_unless_equals_int (GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), 16);
  for (guint y = 0; y < 3; y++)
    for (guint x = 0; x < 5; x++)
      for (guint c = 0; c < 3; c++)
        fail_unless_equals_int (frame_pixel (&frame, x, y)[c],
            rgba[(y * 5 + x) * 4 + c]);
  gst_video_frame_unmap (&frame);

  /* grey + alpha: GRAY8, alpha dropped */
  sample_info (r, 3, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 3),
          GST_MAP_READ));
  for (guint y = 0; y < 2; y++)
    for (guint x = 0; x < 3; x++)
      fail_unless_equals_int (*frame_pixel (&frame, x, y), ga[(y * 3 + x) * 2]);
  gst_video_frame_unmap (&frame);

  /* palette with transparency: RGB from the palette */
  sample_info (r, 4, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_RGB);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 4),
          GST_MAP_READ));
  for (guint y = 0; y < 2; y++)
    for (guint x = 0; x < 4; x++) {
      const guint8 *p = frame_pixel (&frame, x, y);
      const png_color *c = &palette[pal_idx[y * 4 + x]];
      fail_unless (p[0] == c->red && p[1] == c->green && p[2] == c->blue);
    }
  gst_video_frame_unmap (&frame);

  /* 1-bit grey expands to 0 / 255 */
  sample_info (r, 5, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless (gst_video_frame_map (&frame, &info, sample_buffer (r, 5),
          GST_MAP_READ));
  for (guint y = 0; y < 3; y++)
    for (guint x = 0; x < 3; x++)
      fail_unless_equals_int (*frame_pixel (&frame, x, y),
          (gray1[y] >> (7 - x)) & 1 ? 255 : 0);
  gst_video_frame_unmap (&frame);

  run_result_free (r);
  test_remove_tree (dir);
  g_free (dir);
}

GST_END_TEST;

/* 2064x1951 grey JPEG */
#define BIG_JPEG "chest_xray_fullres_sample/NORMAL/IM-0357-0001.jpeg"

GST_START_TEST (test_target_size)
{
  gchar *big = data_file (BIG_JPEG);
  gchar *dir;
  RunResult *r;
  GstVideoInfo info;
  static const struct
  {
    gint target;
    gint width, height;         /* round (2064 * n / 8), round (1951 * n / 8) */
  } cases[] = {
    {0, 2064, 1951},
    {224, 258, 244},            /* 1/8 */
    {245, 516, 488},            /* 1/8 is 244 high: 2/8 */
    {600, 774, 732},            /* 3/8 */
    {1219, 1290, 1219},         /* 5/8: 1219.4 rows, the partial one dropped */
    {1220, 1548, 1463},         /* 5/8 covers only 1219: 6/8 */
    {1951, 2064, 1951},         /* 8/8 */
    {5000, 2064, 1951},         /* never upscaled */
  };

  if (big == NULL)
    return;
  dir = make_tmpdir ();
  copy_file (big, dir, "big.jpeg", G_MAXSIZE);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    r = run_src ("location", dir, "target-size", cases[i].target, NULL);
    fail_unless (r->error == NULL, "%s", r->error);
    sample_info (r, 0, &info);
    fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
        GST_VIDEO_FORMAT_GRAY8);
    fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), cases[i].width);
    fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), cases[i].height);
    run_result_free (r);
  }

  /* timing only, never asserted */
  for (guint t = 0; t < 2; t++) {
    guint target = t ? 124 : 0;
    gint64 start = g_get_monotonic_time ();
    CxrImage image;

    for (guint k = 0; k < 5; k++) {
      fail_unless (cxr_image_decode_file (big, target, &image, NULL));
      cxr_image_clear (&image);
    }
    g_print ("decode 2064x1951 JPEG, target-size %3u: %.1f ms\n", target,
        (g_get_monotonic_time () - start) / 5000.0);
  }

  test_remove_tree (dir);
  g_free (dir);
  g_free (big);
}

GST_END_TEST;

/* The decoder on hostile input: no crash, a clear error, nothing allocated
 * from an unchecked header. */
GST_START_TEST (test_decode_hostile)
{
  gchar *jpeg_path = data_file ("chest_xray/train/NORMAL/IM-0115-0001.jpeg");
  gchar *dir = make_tmpdir ();
  gchar *png_path = g_build_filename (dir, "ok.png", NULL);
  gchar *data, *png_data;
  gsize size, png_size;
  CxrImage image;
  GError *err = NULL;
  guint8 pixels[64 * 48];
  GRand *rand = g_rand_new_with_seed (42);

  /* neither format */
  fail_if (cxr_image_decode ((const guint8 *) "", 0, 0, &image, &err));
  fail_unless (g_error_matches (err, CXR_IMAGE_ERROR,
          CXR_IMAGE_ERROR_UNKNOWN_FORMAT));
  g_clear_error (&err);
  fail_if (cxr_image_decode_file ("/nonexistent/x.jpeg", 0, &image, &err));
  fail_unless (err && err->domain == G_FILE_ERROR);
  g_clear_error (&err);

  /* every truncation of a PNG fails cleanly */
  for (guint i = 0; i < sizeof pixels; i++)
    pixels[i] = g_rand_int (rand);
  write_png (dir, "ok.png", 64, 48, PNG_COLOR_TYPE_GRAY, 8, pixels, NULL, 0,
      NULL, 0, TRUE);
  fail_unless (g_file_get_contents (png_path, &png_data, &png_size, NULL));
  fail_unless (cxr_image_decode ((guint8 *) png_data, png_size, 0, &image,
          NULL));
  fail_unless_equals_int (image.width, 64);
  cxr_image_clear (&image);
  for (gsize len = 0; len < png_size - 12; len++) {   /* IEND is 12 bytes */
    fail_if (cxr_image_decode ((guint8 *) png_data, len, 0, &image, &err),
        "PNG truncated to %" G_GSIZE_FORMAT " bytes decoded", len);
    fail_unless (err && err->domain == CXR_IMAGE_ERROR);
    fail_unless (image.data == NULL);
    g_clear_error (&err);
  }

  /* a PNG header asking for 20000x20000 (> 2^28 pixels) or 70000 wide */
  write_png (dir, "huge.png", 20000, 20000, PNG_COLOR_TYPE_GRAY, 8, NULL,
      NULL, 0, NULL, 0, FALSE);
  g_free (png_path);
  png_path = g_build_filename (dir, "huge.png", NULL);
  fail_if (cxr_image_decode_file (png_path, 0, &image, &err));
  fail_unless (g_error_matches (err, CXR_IMAGE_ERROR,
          CXR_IMAGE_ERROR_TOO_LARGE), "%s", err->message);
  assert_contains (err->message, "20000x20000");
  g_clear_error (&err);
  write_png (dir, "huge.png", 70000, 1, PNG_COLOR_TYPE_GRAY, 8, NULL, NULL, 0,
      NULL, 0, FALSE);
  fail_if (cxr_image_decode_file (png_path, 0, &image, &err));
  fail_unless (g_error_matches (err, CXR_IMAGE_ERROR,
          CXR_IMAGE_ERROR_TOO_LARGE), "%s", err->message);
  g_clear_error (&err);

  if (jpeg_path) {
    fail_unless (g_file_get_contents (jpeg_path, &data, &size, NULL));

    /* every truncation that loses pixel data fails cleanly */
    for (gsize len = 0; len + 2 < size; len += 7) {
      fail_if (cxr_image_decode ((guint8 *) data, len, 0, &image, &err),
          "JPEG truncated to %" G_GSIZE_FORMAT " bytes decoded", len);
      fail_unless (err && err->domain == CXR_IMAGE_ERROR);
      g_clear_error (&err);
    }

    /* random byte changes: decoded or refused, never a crash */
    for (guint k = 0; k < 300; k++) {
      gchar *copy = g_memdup2 (data, size);
      for (guint n = 0; n < 4; n++)
        copy[g_rand_int_range (rand, 0, size)] = g_rand_int (rand);
      if (cxr_image_decode ((guint8 *) copy, size, 0, &image, &err)) {
        fail_unless (image.width > 0 && image.width <= 65536);
        cxr_image_clear (&image);
      } else {
        fail_unless (err && err->domain == CXR_IMAGE_ERROR);
        g_clear_error (&err);
      }
      g_free (copy);
    }

    /* SOF claiming 60000x60000: refused before any allocation */
    for (gsize i = 2; i + 9 < size; i++) {
      if ((guint8) data[i] == 0xff && ((guint8) data[i + 1] == 0xc0
              || (guint8) data[i + 1] == 0xc2)) {
        data[i + 5] = data[i + 7] = (gchar) (60000 >> 8);
        data[i + 6] = data[i + 8] = (gchar) (60000 & 0xff);
        break;
      }
    }
    fail_if (cxr_image_decode ((guint8 *) data, size, 0, &image, &err));
    fail_unless (g_error_matches (err, CXR_IMAGE_ERROR,
            CXR_IMAGE_ERROR_TOO_LARGE), "%s", err ? err->message : "");
    assert_contains (err->message, "60000x60000");
    g_clear_error (&err);
    g_free (data);
  }

  g_rand_free (rand);
  g_free (png_data);
  g_free (png_path);
  g_free (jpeg_path);
  test_remove_tree (dir);
  g_free (dir);
}

GST_END_TEST;

/* The patient on each frame's label meta: the Kermany rule by default, a
 * pattern of the user's, none, and a manifest's patient column first. */
GST_START_TEST (test_patients)
{
  static const struct {
    const gchar *file, *patient;
  } kermany[] = {
    {"IM-0117-0001.jpeg", "IM-0117"},
    {"IM-0629-0001-0002.jpeg", "IM-0629"},
    {"NORMAL2-IM-0117-0001.jpeg", "NORMAL2-IM-0117"},
    {"person1_bacteria_1.jpeg", "person1"},
    {"person447_virus_921_1.jpeg", "person447"},
    {"/data/train/PNEUMONIA/person1000_bacteria_2931.jpeg", "person1000"},
    {"C:\\xrays\\IM-0001-0001.jpeg", "IM-0001"},
    {"scan.png", NULL},
    {"IM-.jpeg", NULL},
    {"IM-0117.jpeg", NULL},
    {"person_bacteria_1.jpeg", NULL},
    {"person12_fungus_3.jpeg", NULL},
    {"NORMAL2-0117-0001.jpeg", NULL},
  };
  static const gchar *names[] = { "NORMAL/IM-0005-0001.png",
    "NORMAL/ward3_bed12_0001.png", "PNEUMONIA/ward3_bed12_0002.png",
    "PNEUMONIA/person7_virus_1.png"
  };
  const gchar *csv_text = "label,path,patient\n"
      "NORMAL,NORMAL/IM-0005-0001.png,A-17\n"
      "PNEUMONIA,PNEUMONIA/person7_virus_1.png,\n";
  GRegex *regex = cxr_patient_regex_new (CXR_KERMANY_PATIENT_PATTERN, NULL);
  GError *error = NULL;
  guint8 pixels[16 * 16];
  gchar *dir = make_tmpdir (), *csv;
  RunResult *r;

  for (guint i = 0; i < G_N_ELEMENTS (kermany); i++) {
    gchar *patient = cxr_patient_from_name (regex, kermany[i].file);
    fail_unless_equals_string (patient, kermany[i].patient);
    g_free (patient);
  }
  g_regex_unref (regex);
  fail_unless (cxr_patient_regex_new ("(unclosed", &error) == NULL);
  assert_contains (error->message, "'(unclosed' is not a regular expression");
  g_clear_error (&error);

  memset (pixels, 128, sizeof pixels);
  write_file (dir, "NORMAL/notes.txt", "x", 1);
  write_file (dir, "PNEUMONIA/notes.txt", "x", 1);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    write_png (dir, names[i], 16, 16, PNG_COLOR_TYPE_GRAY, 8, pixels, NULL, 0,
        NULL, 0, TRUE);

  /* sorted by path: NORMAL/IM-.., NORMAL/ward.., PNEUMONIA/person..,
   * PNEUMONIA/ward.. */
  r = run_src ("location", dir, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 4);
  fail_unless_equals_string (sample_patient (r, 0), "IM-0005");
  fail_unless (sample_patient (r, 1) == NULL);
  fail_unless_equals_string (sample_patient (r, 2), "person7");
  run_result_free (r);

  r = run_src ("location", dir, "patient-pattern", "^(ward[0-9]+_bed[0-9]+)_",
      NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless (sample_patient (r, 0) == NULL);
  fail_unless_equals_string (sample_patient (r, 1), "ward3_bed12");
  fail_unless (sample_patient (r, 2) == NULL);
  fail_unless_equals_string (sample_patient (r, 3), "ward3_bed12");
  run_result_free (r);

  r = run_src ("location", dir, "patient-pattern", "", NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  for (guint i = 0; i < r->samples->len; i++)
    fail_unless (sample_patient (r, i) == NULL);
  run_result_free (r);

  r = run_src ("location", dir, "patient-pattern", "ward(", NULL);
  assert_contains (r->error, "patient-pattern: 'ward(' is not a regular "
      "expression");
  fail_unless_equals_int (r->samples->len, 0);
  run_result_free (r);

  /* the column comes first; a line without one falls back on the rule */
  write_file (dir, "list.csv", csv_text, strlen (csv_text));
  csv = g_build_filename (dir, "list.csv", NULL);
  r = run_src ("location", csv, NULL);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (r->samples->len, 2);
  fail_unless_equals_string (sample_label (r, 0)->class_name, "NORMAL");
  fail_unless_equals_string (sample_patient (r, 0), "A-17");
  fail_unless_equals_string (sample_patient (r, 1), "person7");
  run_result_free (r);

  g_free (csv);
  test_remove_tree (dir);
  g_free (dir);
}

GST_END_TEST;

static Suite *
datasetsrc_suite (void)
{
  Suite *s = suite_create ("cxrdatasetsrc");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_imagefolder);
  tcase_add_test (tc, test_recursive);
  tcase_add_test (tc, test_csv_manifest);
  tcase_add_test (tc, test_patients);
  tcase_add_test (tc, test_flat_folder);
  tcase_add_test (tc, test_shuffle);
  tcase_add_test (tc, test_corrupt_files);
  tcase_add_test (tc, test_decode_threads);
  tcase_add_test (tc, test_missing_and_empty);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_png_pixels);
  tcase_add_test (tc, test_target_size);
  tcase_add_test (tc, test_decode_hostile);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  if (!have_data ())
    test_missing ("no data set at CXR_DATA_DIR (default ../shared/data): "
        "the tests of real JPEGs did nothing");
  return test_exit_status (gst_check_run_suite (datasetsrc_suite (),
          "datasetsrc", __FILE__));
}
