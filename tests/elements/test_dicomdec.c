/* Element tests for cxrdicomdec and the application/dicom typefinder.
 *
 * Fixtures are made once, in a temporary folder, with DCMTK's own tools
 * (Debian package dcmtk): img2dcm wraps one of the project's sample films
 * (CXR_SAMPLE_FILMS, pipelines/sample-films) as JPEG baseline; dcmdjpeg,
 * dcmcrle, dcmcjpls and dcmcjpeg +e1 turn it into uncompressed, RLE, JPEG-LS
 * lossless and JPEG lossless; dcmodify makes a MONOCHROME1 copy and a copy
 * carrying a patient name and id; dump2dcm builds small synthetic files
 * (16-bit, multi-frame, a structured report without pixels) from text dumps
 * and raw pixel files, so their exact pixels are known.
 *
 * The reference pixels of the JPEG-derived files are the raw bytes of the
 * uncompressed file's Pixel Data (its last width*height bytes), read here
 * without DCMTK. Pipelines: filesrc ! decodebin ! appsink (typefinder and
 * rank) and filesrc ! cxrdicomdec ! appsink.
 *
 * When the cxr plugin (GST_PLUGIN_PATH) already provides cxrdicomdec and the
 * typefinder they are used; otherwise the ones linked into this test are
 * registered statically. */
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <string.h>

#include "gstcxrdicomdec.h"
#include "dicom.h"
#include "testdata.h"

/* ---- fixtures ---- */

static gchar *fixture_dir;      /* NULL: not made (yet) */
static gboolean have_jpeg_fixtures;
static gboolean have_tools;
static gboolean fixture_error;    /* a tool failed: tests fail */

/* in make_fixtures, which runs before the tests (outside check) */
#define FX(cond) G_STMT_START {                                        \
  if (!(cond)) {                                                       \
    g_printerr ("fixture: %s failed\n", #cond);                        \
    fixture_error = TRUE;                                              \
    return;                                                            \
  }                                                                    \
} G_STMT_END
static guint ref_width, ref_height;
static guint8 *ref_pixels;      /* ref_width * ref_height, GRAY8 */

static gchar *
fx (const gchar * name)
{
  return g_build_filename (fixture_dir, name, NULL);
}

/* runs a command line (argv NULL-terminated); TRUE on exit status 0 */
static gboolean
run_tool (const gchar * first, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  va_list ap;
  const gchar *a;
  gint status = -1;
  gchar *err = NULL;
  GError *error = NULL;
  gboolean ok;

  va_start (ap, first);
  for (a = first; a != NULL; a = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  ok = g_spawn_sync (fixture_dir, (gchar **) argv->pdata, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
      &err, &status, &error);
  if (!ok || !g_spawn_check_wait_status (status, NULL)) {
    g_printerr ("tool %s failed: %s %s\n", first,
        error ? error->message : "", err ? err : "");
    ok = FALSE;
  }
  g_clear_error (&error);
  g_free (err);
  g_ptr_array_free (argv, TRUE);
  return ok;
}

static gboolean
write_file (const gchar * name, const void *data, gsize size)
{
  gchar *path = fx (name);
  gboolean ok = g_file_set_contents (path, data, size, NULL);
  g_free (path);
  return ok;
}

static gboolean
copy_file (const gchar * from, const gchar * to)
{
  gchar *src = fx (from), *data = NULL;
  gsize size = 0;
  gboolean ok = g_file_get_contents (src, &data, &size, NULL)
      && write_file (to, data, size);
  g_free (src);
  g_free (data);
  return ok;
}

/* the first NORMAL JPEG of the project's sample films, or NULL */
static gchar *
find_jpeg (void)
{
  const gchar *films = g_getenv ("CXR_SAMPLE_FILMS");
  gchar *dir, *best = NULL;
  const gchar *name;
  GDir *d;

  if (films == NULL)
    return NULL;
  dir = g_build_filename (films, "NORMAL", NULL);
  d = g_dir_open (dir, 0, NULL);
  while (d && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".jpeg") && (best == NULL
            || strcmp (name, best) < 0)) {
      g_free (best);
      best = g_strdup (name);
    }
  if (d)
    g_dir_close (d);
  if (best) {
    gchar *path = g_build_filename (dir, best, NULL);
    g_free (best);
    best = path;
  }
  g_free (dir);
  return best;
}

/* dump2dcm text for a small synthetic image */
static gboolean
make_synthetic (const gchar * name, const gchar * extra, guint bits,
    guint frames, guint samples, const void *pixels, gsize size)
{
  gchar *raw = g_strdup_printf ("%s.raw", name);
  gchar *txt = g_strdup_printf ("%s.txt", name);
  gchar *dump = g_strdup_printf (
      "(0002,0010) UI [1.2.840.10008.1.2.1]\n"
      "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]\n"
      "(0008,0018) UI [1.2.3.4.5.6.%u.%u]\n"
      "(0008,0060) CS [DX]\n"
      "(0018,0015) CS [CHEST]\n"
      "(0018,5101) CS [PA]\n"
      "(0020,000d) UI [1.2.3.4.5.7]\n"
      "(0028,0002) US %u\n"
      "(0028,0004) CS [%s]\n"
      "%s"
      "(0028,0008) IS [%u]\n"
      "(0028,0010) US 4\n"
      "(0028,0011) US 5\n"
      "(0028,0100) US %u\n"
      "(0028,0101) US %u\n"
      "(0028,0102) US %u\n"
      "(0028,0103) US 0\n"
      "%s"
      "(7fe0,0010) %s =%s\n", bits, frames, samples,
      samples == 3 ? "RGB" : "MONOCHROME2",
      samples == 3 ? "(0028,0006) US 0\n" : "", frames, bits, bits, bits - 1,
      extra, bits == 16 ? "OW" : "OB", raw);
  gboolean ok = write_file (raw, pixels, size)
      && write_file (txt, dump, strlen (dump))
      && run_tool ("dump2dcm", "-q", txt, name, NULL);
  g_free (dump);
  g_free (raw);
  g_free (txt);
  return ok;
}

static void
make_fixtures (void)
{
  gchar *jpeg, *path;

  fixture_dir = g_dir_make_tmp ("test_dicomdec-XXXXXX", NULL);
  FX (fixture_dir != NULL);

  gchar *tool = g_find_program_in_path ("dump2dcm");
  have_tools = tool != NULL;
  g_free (tool);
  if (!have_tools) {
    test_missing ("DCMTK tools (Debian package dcmtk) not installed: the "
        "tests of DICOM files did nothing");
    return;
  }

  /* synthetic: 16-bit 5x4 with pixel spacing 0.2 (rows) \ 0.1 (columns) */
  guint16 px16[20];
  for (guint i = 0; i < 20; i++)
    px16[i] = GUINT16_TO_LE ((guint16) (i * 3000 + 7));
  FX (make_synthetic ("s16.dcm", "(0028,0030) DS [0.2\\0.1]\n", 16,
          1, 1, px16, sizeof px16));
  /* synthetic: 8-bit, 3 frames of 5x4, 40 ms per frame */
  guint8 px8[60];
  for (guint i = 0; i < 60; i++)
    px8[i] = (guint8) (i * 4);
  FX (make_synthetic ("multi.dcm", "(0018,1063) DS [40]\n", 8, 3,
          1, px8, sizeof px8));
  /* synthetic: 8-bit RGB 5x4, interleaved */
  guint8 rgb[60];
  for (guint i = 0; i < 60; i++)
    rgb[i] = (guint8) ((i * 37) % 256);
  FX (make_synthetic ("rgb.dcm", "", 8, 1, 3, rgb, sizeof rgb));
  /* synthetic: 16-bit 5x4 with one VOI window, center 2048, width 1024
   * (added by dcmodify), values 1000, 1100, ... 2900 */
  guint16 pxw[20];
  for (guint i = 0; i < 20; i++)
    pxw[i] = GUINT16_TO_LE ((guint16) (1000 + i * 100));
  FX (make_synthetic ("window.dcm", "", 16, 1, 1, pxw, sizeof pxw));
  FX (run_tool ("dcmodify", "-nb", "-i", "(0028,1050)=2048", "-i",
          "(0028,1051)=1024", "window.dcm", NULL));
  /* synthetic: signed 16-bit 5x4 (Pixel Representation 1, by dcmodify)
   * with Rescale Slope 2 and Intercept -1024; raw values -3000 + i * 450,
   * so modality values 2 * raw - 1024 from -7024 to 10076 */
  guint16 pxs[20];
  for (guint i = 0; i < 20; i++)
    pxs[i] = GUINT16_TO_LE ((guint16) (gint16) (-3000 + (gint) i * 450));
  FX (make_synthetic ("signed.dcm", "", 16, 1, 1, pxs, sizeof pxs));
  FX (run_tool ("dcmodify", "-nb", "-m", "(0028,0103)=1", "-i",
          "(0028,1053)=2", "-i", "(0028,1052)=-1024", "signed.dcm", NULL));
  /* synthetic: 8-bit, 3 frames, timing from Frame Time Vector (first
   * entry 0: the increment before the first frame), no Frame Time */
  FX (make_synthetic ("ftv.dcm", "(0018,1065) DS [0\\50\\50]\n", 8, 3,
          1, px8, sizeof px8));
  /* synthetic: 8-bit, 3 frames, timing from Cine Rate only */
  FX (make_synthetic ("cine.dcm", "(0018,0040) IS [10]\n", 8, 3, 1, px8,
          sizeof px8));
  /* a text structured report: no Pixel Data at all */
  const gchar *sr =
      "(0002,0010) UI [1.2.840.10008.1.2.1]\n"
      "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.88.11]\n"
      "(0008,0018) UI [1.2.3.4.5.8]\n"
      "(0008,0060) CS [SR]\n" "(0040,a040) CS [CONTAINER]\n";
  FX (write_file ("sr.txt", sr, strlen (sr)));
  FX (run_tool ("dump2dcm", "-q", "sr.txt", "sr.dcm", NULL));
  /* uncompressed YBR_FULL_422, 4x4: per two pixels Y0 Y1 Cb Cr, with
   * Cb = Cr = 128 so that the grey is Y itself */
  guint8 ybr[32];
  for (guint i = 0; i < 8; i++) {
    ybr[4 * i] = (guint8) (20 * i + 5);
    ybr[4 * i + 1] = (guint8) (20 * i + 15);
    ybr[4 * i + 2] = ybr[4 * i + 3] = 128;
  }
  FX (write_file ("ybr422.raw", ybr, sizeof ybr));
  gchar *ybr_dump = g_strdup_printf (
      "(0002,0010) UI [1.2.840.10008.1.2.1]\n"
      "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]\n"
      "(0008,0018) UI [1.2.3.4.5.9]\n"
      "(0008,0060) CS [OT]\n"
      "(0028,0002) US 3\n" "(0028,0004) CS [YBR_FULL_422]\n"
      "(0028,0006) US 0\n" "(0028,0010) US 4\n" "(0028,0011) US 4\n"
      "(0028,0100) US 8\n" "(0028,0101) US 8\n" "(0028,0102) US 7\n"
      "(0028,0103) US 0\n" "(7fe0,0010) OB =%s/ybr422.raw\n", fixture_dir);
  FX (write_file ("ybr422.txt", ybr_dump, strlen (ybr_dump)));
  g_free (ybr_dump);
  FX (run_tool ("dump2dcm", "-q", "ybr422.txt", "ybr422.dcm", NULL));
  /* headers that claim a huge image over a few bytes of pixels */
  const gchar *huge[][2] = {
    {"huge-frames", "(0028,0008) IS [1000000]\n(0028,0010) US 512\n"
          "(0028,0011) US 512\n"},
    {"huge-sides", "(0028,0010) US 60000\n(0028,0011) US 60000\n"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (huge); i++) {
    gchar *txt = g_strdup_printf ("%s.txt", huge[i][0]);
    gchar *dcm = g_strdup_printf ("%s.dcm", huge[i][0]);
    gchar *dump = g_strdup_printf (
        "(0002,0010) UI [1.2.840.10008.1.2.1]\n"
        "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]\n"
        "(0008,0018) UI [1.2.3.4.5.10]\n" "(0028,0002) US 1\n"
        "(0028,0004) CS [MONOCHROME2]\n" "%s"
        "(0028,0100) US 8\n" "(0028,0101) US 8\n" "(0028,0102) US 7\n"
        "(0028,0103) US 0\n" "(7fe0,0010) OB 00\\01\\02\\03\n",
        huge[i][1]);
    FX (write_file (txt, dump, strlen (dump)));
    FX (run_tool ("dump2dcm", "-q", txt, dcm, NULL));
    g_free (dump);
    g_free (txt);
    g_free (dcm);
  }
  /* not DICOM */
  gchar *junk = g_strnfill (4096, 'x');
  FX (write_file ("junk.dcm", junk, 4096));
  g_free (junk);

  jpeg = find_jpeg ();
  if (jpeg == NULL) {
    test_missing ("no JPEG under $CXR_SAMPLE_FILMS/NORMAL (set it to "
        "pipelines/sample-films): the tests of DICOM files made from one did "
        "nothing");
    return;
  }
  FX (run_tool ("img2dcm", "-q", jpeg, "baseline.dcm", NULL));
  g_free (jpeg);
  FX (run_tool ("dcmdjpeg", "baseline.dcm", "plain.dcm", NULL));
  FX (run_tool ("dcmcrle", "plain.dcm", "rle.dcm", NULL));
  FX (run_tool ("dcmcjpls", "plain.dcm", "jpegls.dcm", NULL));
  FX (run_tool ("dcmcjpeg", "+e1", "plain.dcm", "lossless.dcm",
          NULL));
  FX (copy_file ("plain.dcm", "mono1.dcm"));
  FX (run_tool ("dcmodify", "-nb", "-i",
          "(0028,0004)=MONOCHROME1", "mono1.dcm", NULL));
  FX (copy_file ("plain.dcm", "phi.dcm"));
  FX (run_tool ("dcmodify", "-nb", "-i", "(0010,0010)=DOE^JANE",
          "-i", "(0010,0020)=PID98765", "-i", "(0010,0030)=19700101",
          "-i", "(0008,0050)=ACC55555", "phi.dcm", NULL));

  /* truncated: the first 60% of the file */
  gchar *data = NULL;
  gsize size = 0;
  path = fx ("plain.dcm");
  FX (g_file_get_contents (path, &data, &size, NULL));
  g_free (path);
  FX (write_file ("truncated.dcm", data, size * 6 / 10));

  /* reference: Rows/Columns from the JPEG header via the DICOM file's
   * last width*height bytes (8-bit, uncompressed, Pixel Data last) */
  {
    /* Rows (0028,0010) and Columns (0028,0011), explicit VR little endian */
    const guint8 rows_tag[] = { 0x28, 0, 0x10, 0, 'U', 'S', 2, 0 };
    const guint8 cols_tag[] = { 0x28, 0, 0x11, 0, 'U', 'S', 2, 0 };
    for (gsize i = 0; i + 10 <= size; i++) {
      if (memcmp (data + i, rows_tag, 8) == 0)
        ref_height = GST_READ_UINT16_LE (data + i + 8);
      if (memcmp (data + i, cols_tag, 8) == 0)
        ref_width = GST_READ_UINT16_LE (data + i + 8);
      if (ref_width && ref_height)
        break;
    }
  }
  FX (ref_width > 0 && ref_height > 0);
  FX (size > (gsize) ref_width * ref_height);
  ref_pixels = g_memdup2 (data + size - (gsize) ref_width * ref_height,
      (gsize) ref_width * ref_height);
  g_free (data);
  have_jpeg_fixtures = TRUE;
}

/* ---- running a pipeline ---- */

typedef struct
{
  GPtrArray *samples;           /* GstSample */
  GString *messages;            /* every bus message, as text */
  GError *error;                /* the first error message, if any */
  gchar *error_debug;
  GstTagList *tags;             /* merged tag messages */
} Result;

static void
result_clear (Result * r)
{
  g_ptr_array_unref (r->samples);
  g_string_free (r->messages, TRUE);
  g_clear_error (&r->error);
  g_free (r->error_debug);
  if (r->tags)
    gst_tag_list_unref (r->tags);
}

static void
note_message (Result * r, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);

  g_string_append_printf (r->messages, "%s ", GST_MESSAGE_TYPE_NAME (msg));
  if (s) {
    gchar *t = gst_structure_to_string (s);
    g_string_append_printf (r->messages, "%s\n", t);
    g_free (t);
  }
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && r->error == NULL) {
    gst_message_parse_error (msg, &r->error, &r->error_debug);
    g_string_append_printf (r->messages, "error %s %s\n", r->error->message,
        GST_STR_NULL (r->error_debug));
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_TAG) {
    GstTagList *tags;
    gchar *t;
    gst_message_parse_tag (msg, &tags);
    t = gst_tag_list_to_string (tags);
    g_string_append_printf (r->messages, "tags %s\n", t);
    g_free (t);
    if (r->tags == NULL)
      r->tags = tags;
    else {
      gst_tag_list_insert (r->tags, tags, GST_TAG_MERGE_APPEND);
      gst_tag_list_unref (tags);
    }
  }
}

/* "filesrc location=FILE ! MIDDLE ! appsink" until EOS or error */
static void
run_pipeline (const gchar * file, const gchar * middle, Result * r)
{
  gchar *path = fx (file);
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! %s ! "
      "appsink name=sink sync=false", path, middle);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  GstElement *sink;
  GstBus *bus;
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  gboolean done = FALSE;

  memset (r, 0, sizeof *r);
  r->samples = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_sample_unref);
  r->messages = g_string_new (NULL);
  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_clear_error (&err);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  while (!done) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        10 * GST_MSECOND);
    GstMessage *msg;

    if (sample)
      g_ptr_array_add (r->samples, sample);
    while ((msg = gst_bus_pop (bus)) != NULL) {
      note_message (r, msg);
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR
          || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
        done = TRUE;
      gst_message_unref (msg);
    }
    if (!sample && gst_app_sink_is_eos (GST_APP_SINK (sink)))
      done = TRUE;
    fail_unless (g_get_monotonic_time () < deadline, "timeout: %s", desc);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  {
    GstMessage *msg;
    while ((msg = gst_bus_pop (bus)) != NULL) {
      note_message (r, msg);
      gst_message_unref (msg);
    }
  }
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (path);
}

static void
sample_info (GstSample * s, GstVideoInfo * info)
{
  fail_unless (gst_video_info_from_caps (info, gst_sample_get_caps (s)));
}

/* the sample's GRAY8 pixels equal the reference, or (lossy) differ by at
 * most max_diff with a mean difference below mean_diff */
static void
check_gray8_reference (GstSample * s, guint max_diff, gdouble mean_diff)
{
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf = gst_sample_get_buffer (s);
  guint worst = 0;
  guint64 total = 0;

  sample_info (s, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), ref_width);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), ref_height);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (guint y = 0; y < ref_height; y++)
    for (guint x = 0; x < ref_width; x++) {
      gint a = map.data[y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + x];
      gint b = ref_pixels[y * ref_width + x];
      guint d = ABS (a - b);
      worst = MAX (worst, d);
      total += d;
    }
  gst_buffer_unmap (buf, &map);
  fail_unless (worst <= max_diff, "max difference %u > %u", worst, max_diff);
  fail_unless ((gdouble) total / ((gdouble) ref_width * ref_height)
      <= mean_diff, "mean difference too large");
}

/* ---- tests ---- */

#define NEED_TOOLS() G_STMT_START {                                      \
  fail_if (fixture_error, "the fixtures could not be made (see above)"); \
  if (!have_tools) return;                                               \
} G_STMT_END

#define NEED_JPEG_FIXTURES() G_STMT_START {                              \
  NEED_TOOLS ();                                                         \
  if (!have_jpeg_fixtures) return;                                       \
} G_STMT_END

static void
check_lossless (const gchar * file, const gchar * middle)
{
  Result r;

  run_pipeline (file, middle, &r);
  fail_unless (r.error == NULL, "%s: %s", file,
      r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  check_gray8_reference (g_ptr_array_index (r.samples, 0), 0, 0.0);
  result_clear (&r);
}

GST_START_TEST (test_uncompressed_decodebin)
{
  NEED_JPEG_FIXTURES ();
  check_lossless ("plain.dcm", "decodebin");
}

GST_END_TEST;

GST_START_TEST (test_uncompressed_direct)
{
  Result r;

  NEED_JPEG_FIXTURES ();
  check_lossless ("plain.dcm", "cxrdicomdec");
  /* caps: single frame, square pixels, GRAY8 for 8-bit data */
  run_pipeline ("plain.dcm", "cxrdicomdec", &r);
  GstStructure *st = gst_caps_get_structure (gst_sample_get_caps
      (g_ptr_array_index (r.samples, 0)), 0);
  gint n, d;
  fail_unless (gst_structure_get_fraction (st, "framerate", &n, &d));
  fail_unless (n == 0 && d == 1);
  fail_unless (gst_structure_get_fraction (st, "pixel-aspect-ratio", &n, &d));
  fail_unless (n == 1 && d == 1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (gst_sample_get_buffer
          (g_ptr_array_index (r.samples, 0))), 0);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_rle)
{
  NEED_JPEG_FIXTURES ();
  check_lossless ("rle.dcm", "decodebin");
}

GST_END_TEST;

GST_START_TEST (test_jpegls)
{
  NEED_JPEG_FIXTURES ();
  check_lossless ("jpegls.dcm", "decodebin");
}

GST_END_TEST;

GST_START_TEST (test_jpeg_lossless)
{
  NEED_JPEG_FIXTURES ();
  check_lossless ("lossless.dcm", "cxrdicomdec");
}

GST_END_TEST;

GST_START_TEST (test_jpeg_baseline)
{
  Result r;

  NEED_JPEG_FIXTURES ();
  /* plain.dcm was made from it by DCMTK's own decoder: the same pixels */
  run_pipeline ("baseline.dcm", "decodebin", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  check_gray8_reference (g_ptr_array_index (r.samples, 0), 0, 0.0);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_monochrome1)
{
  Result r;
  GstVideoInfo info;
  GstMapInfo map;

  NEED_JPEG_FIXTURES ();
  run_pipeline ("mono1.dcm", "cxrdicomdec", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  GstSample *s = g_ptr_array_index (r.samples, 0);
  sample_info (s, &info);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  for (guint y = 0; y < ref_height; y++)
    for (guint x = 0; x < ref_width; x++)
      fail_unless_equals_int (map.data[y * info.stride[0] + x],
          255 - ref_pixels[y * ref_width + x]);
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_16bit)
{
  Result r;
  GstVideoInfo info;
  GstMapInfo map;

  NEED_TOOLS ();
  run_pipeline ("s16.dcm", "decodebin", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  GstSample *s = g_ptr_array_index (r.samples, 0);
  sample_info (s, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY16_LE);
  fail_unless_equals_int (info.width, 5);
  fail_unless_equals_int (info.height, 4);
  /* Pixel Spacing 0.2 (row) \ 0.1 (column): pixels half as wide as tall */
  fail_unless_equals_int (info.par_n, 1);
  fail_unless_equals_int (info.par_d, 2);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  for (guint y = 0; y < 4; y++)
    for (guint x = 0; x < 5; x++)
      fail_unless_equals_int (GST_READ_UINT16_LE (map.data +
              y * info.stride[0] + 2 * x), (y * 5 + x) * 3000 + 7);
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  fail_unless (r.tags != NULL);
  gchar *v = NULL;
  fail_unless (gst_tag_list_get_string (r.tags, "dicom-modality", &v));
  fail_unless_equals_string (v, "DX");
  g_free (v);
  fail_unless (gst_tag_list_get_string (r.tags, "dicom-view-position", &v));
  fail_unless_equals_string (v, "PA");
  g_free (v);
  fail_unless (gst_tag_list_get_string (r.tags, "dicom-body-part", &v));
  fail_unless_equals_string (v, "CHEST");
  g_free (v);
  fail_unless (gst_tag_list_get_string (r.tags, "dicom-study-instance-uid",
          &v));
  fail_unless_equals_string (v, "1.2.3.4.5.7");
  g_free (v);
  result_clear (&r);

  /* output-depth=8: the top 8 bits, monotonic */
  run_pipeline ("s16.dcm", "cxrdicomdec output-depth=8", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  s = g_ptr_array_index (r.samples, 0);
  sample_info (s, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  for (guint y = 0; y < 4; y++)
    for (guint x = 0; x < 5; x++) {
      gint want = ((y * 5 + x) * 3000 + 7) >> 8;
      gint got = map.data[y * info.stride[0] + x];
      fail_unless (ABS (got - want) <= 1, "%d vs %d", got, want);
    }
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  result_clear (&r);

  /* window=-1: full min..max range */
  run_pipeline ("s16.dcm", "cxrdicomdec window=-1", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  s = g_ptr_array_index (r.samples, 0);
  sample_info (s, &info);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  fail_unless (GST_READ_UINT16_LE (map.data) < 256);
  fail_unless (GST_READ_UINT16_LE (map.data + 3 * info.stride[0] + 8) >
      65535 - 256);
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_multiframe)
{
  Result r;
  GstVideoInfo info;

  NEED_TOOLS ();
  run_pipeline ("multi.dcm", "decodebin", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 3);
  for (guint i = 0; i < 3; i++) {
    GstSample *s = g_ptr_array_index (r.samples, i);
    GstBuffer *b = gst_sample_get_buffer (s);
    GstMapInfo map;

    sample_info (s, &info);
    fail_unless_equals_int (info.fps_n, 25);
    fail_unless_equals_int (info.fps_d, 1);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 40 * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), 40 * GST_MSECOND);
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    for (guint y = 0; y < 4; y++)
      for (guint x = 0; x < 5; x++)
        fail_unless_equals_int (map.data[y * info.stride[0] + x],
            (i * 20 + y * 5 + x) * 4);
    gst_buffer_unmap (b, &map);
  }
  result_clear (&r);
}

GST_END_TEST;

/* the file's bytes, opened with the shim; error filled on failure */
static CxrDicom *
open_fixture (const gchar * name, GError ** error)
{
  gchar *path = fx (name), *data = NULL;
  gsize size = 0;
  CxrDicom *d;

  fail_unless (g_file_get_contents (path, &data, &size, NULL), "%s", path);
  d = cxr_dicom_open_memory ((const guint8 *) data, size, NULL, error);
  g_free (data);
  g_free (path);
  return d;
}

/* uncompressed 4:2:2 holds two samples a pixel, not three: a file with
 * that much pixel data is whole, not truncated */
GST_START_TEST (test_ybr_full_422)
{
  GError *err = NULL;
  CxrDicom *d;
  guint8 out[16];

  NEED_TOOLS ();
  d = open_fixture ("ybr422.dcm", &err);
  fail_unless (d != NULL, "%s", err ? err->message : "");
  fail_unless_equals_int (cxr_dicom_get_width (d), 4);
  fail_unless_equals_int (cxr_dicom_get_height (d), 4);
  fail_unless (cxr_dicom_get_frame (d, 0, out, 4, 8, &err));
  for (guint i = 0; i < 16; i++) {
    gint want = 20 * (i / 2) + (i % 2 ? 15 : 5);
    fail_unless (ABS (out[i] - want) <= 1, "pixel %u: %d, want %d", i,
        out[i], want);
  }
  cxr_dicom_free (d);
}

GST_END_TEST;

/* a header may claim any size: refused before anything is decoded */
GST_START_TEST (test_huge_header)
{
  static const gchar *files[] = { "huge-frames.dcm", "huge-sides.dcm" };

  NEED_TOOLS ();
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    GError *err = NULL;
    CxrDicom *d = open_fixture (files[i], &err);

    fail_unless (d == NULL, "%s was opened", files[i]);
    fail_unless (g_error_matches (err, CXR_DICOM_ERROR,
            CXR_DICOM_ERROR_TOO_LARGE), "%s: %s", files[i], err->message);
    fail_unless (strstr (err->message, "more than allowed") != NULL);
    g_error_free (err);
  }
}

GST_END_TEST;

GST_START_TEST (test_rgb)
{
  Result r;
  GstVideoInfo info;
  GstMapInfo map;

  NEED_TOOLS ();
  /* converted to grey with BT.601 luma weights */
  run_pipeline ("rgb.dcm", "decodebin", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  GstSample *s = g_ptr_array_index (r.samples, 0);
  sample_info (s, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY8);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  for (guint i = 0; i < 20; i++) {
    gdouble R = (i * 3 * 37) % 256, G = ((i * 3 + 1) * 37) % 256,
        B = ((i * 3 + 2) * 37) % 256;
    gint want = (gint) (0.299 * R + 0.587 * G + 0.114 * B + 0.5);
    gint got = map.data[(i / 5) * info.stride[0] + i % 5];
    fail_unless (ABS (got - want) <= 1, "pixel %u: %d, want %d", i, got,
        want);
  }
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  result_clear (&r);
}

GST_END_TEST;

/* the first sample of r as GRAY16_LE, value at pixel i (row-major 5x4) */
static gint
gray16_at (GstSample * s, guint i)
{
  GstVideoInfo info;
  GstMapInfo map;
  gint v;

  sample_info (s, &info);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info),
      GST_VIDEO_FORMAT_GRAY16_LE);
  fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map,
          GST_MAP_READ));
  v = GST_READ_UINT16_LE (map.data + (i / 5) * info.stride[0] + 2 * (i % 5));
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  return v;
}

/* DICOM PS3.3 C.11.2.1.2.1, LINEAR: value x through window c, w onto
 * 0..ymax */
static gdouble
linear_window (gdouble x, gdouble c, gdouble w, gdouble ymax)
{
  if (x <= c - 0.5 - (w - 1) / 2)
    return 0;
  if (x > c - 0.5 + (w - 1) / 2)
    return ymax;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * ymax;
}

/* window=-1 on a 20-pixel ramp: stretched over 0..65535, evenly, rising */
static void
check_full_range (GstSample * s)
{
  fail_unless (gray16_at (s, 0) < 256, "min %d", gray16_at (s, 0));
  fail_unless (gray16_at (s, 19) > 65535 - 256, "max %d",
      gray16_at (s, 19));
  for (guint i = 1; i < 20; i++) {
    gdouble want = (gdouble) i / 19 * 65535;
    gint got = gray16_at (s, i);
    fail_unless (gray16_at (s, i - 1) < got, "not increasing at %u", i);
    fail_unless (ABS (got - want) <= 256, "pixel %u: %d, want ~%.0f", i, got,
        want);
  }
}

GST_START_TEST (test_voi_window)
{
  Result r;
  GstSample *s;

  NEED_TOOLS ();
  /* default (window=0): the file's window 2048/1024 */
  run_pipeline ("window.dcm", "cxrdicomdec", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  s = g_ptr_array_index (r.samples, 0);
  for (guint i = 0; i < 20; i++) {
    gdouble want = linear_window (1000 + i * 100, 2048, 1024, 65535);
    gint got = gray16_at (s, i);
    fail_unless (ABS (got - want) <= 1.0, "pixel %u (%u): %d, want %.2f", i,
        1000 + i * 100, got, want);
  }
  /* below and above the window: exactly black and white */
  fail_unless_equals_int (gray16_at (s, 0), 0);        /* 1000 */
  fail_unless_equals_int (gray16_at (s, 5), 0);        /* 1500 */
  fail_unless_equals_int (gray16_at (s, 16), 65535);   /* 2600 */
  fail_unless_equals_int (gray16_at (s, 19), 65535);   /* 2900 */
  /* inside: 1600 -> 4099.9, 2000 -> 29724.6, 2100 -> 36130.7 */
  fail_unless (ABS (gray16_at (s, 6) - 4100) <= 1, "%d",
      gray16_at (s, 6));
  fail_unless (ABS (gray16_at (s, 10) - 29725) <= 1, "%d",
      gray16_at (s, 10));
  fail_unless (ABS (gray16_at (s, 11) - 36131) <= 1, "%d",
      gray16_at (s, 11));
  result_clear (&r);

  /* window=-1: the full min..max range, whatever the file's window */
  run_pipeline ("window.dcm", "cxrdicomdec window=-1", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  check_full_range (g_ptr_array_index (r.samples, 0));
  result_clear (&r);

  /* window=1: the file has one window only: unwindowed, raw values */
  run_pipeline ("window.dcm", "cxrdicomdec window=1", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  s = g_ptr_array_index (r.samples, 0);
  for (guint i = 0; i < 20; i++)
    fail_unless_equals_int (gray16_at (s, i), 1000 + i * 100);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_signed_rescale)
{
  Result r;
  GstSample *s;

  NEED_TOOLS ();
  run_pipeline ("signed.dcm", "cxrdicomdec", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  s = g_ptr_array_index (r.samples, 0);
  /* no window in the file: the modality values' possible range
   * (2 * -32768 - 1024 .. 2 * 32767 - 1024) scaled onto 0..65535, so
   * rising raw values rise, equal steps stay (nearly) equal, and negative
   * raw values are darker than positive ones (not wrapped as unsigned) */
  gdouble lo = 2.0 * -32768 - 1024, hi = 2.0 * 32767 - 1024;
  for (guint i = 0; i < 20; i++) {
    gdouble m = 2.0 * (-3000 + (gint) i * 450) - 1024;
    gdouble want = (m - lo) / (hi - lo) * 65535;
    gint got = gray16_at (s, i);
    fail_unless (ABS (got - want) <= 2.0, "pixel %u (modality %.0f): %d, "
        "want %.1f", i, m, got, want);
    if (i > 0)
      fail_unless (gray16_at (s, i - 1) < got, "not increasing at %u", i);
  }
  result_clear (&r);

  /* window=-1: min..max of the modality values, -7024 .. 10076 */
  run_pipeline ("signed.dcm", "cxrdicomdec window=-1", &r);
  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  check_full_range (g_ptr_array_index (r.samples, 0));
  result_clear (&r);
}

GST_END_TEST;

/* 3 frames: fps fps_n/1, PTS i * ms, the known pixels */
static void
check_timing (const gchar * file, gint fps_n, guint64 ms)
{
  Result r;
  GstVideoInfo info;

  run_pipeline (file, "decodebin", &r);
  fail_unless (r.error == NULL, "%s: %s", file,
      r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 3);
  for (guint i = 0; i < 3; i++) {
    GstSample *s = g_ptr_array_index (r.samples, i);
    GstBuffer *b = gst_sample_get_buffer (s);
    GstMapInfo map;

    sample_info (s, &info);
    fail_unless_equals_int (info.fps_n, fps_n);
    fail_unless_equals_int (info.fps_d, 1);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * ms * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), ms * GST_MSECOND);
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    for (guint y = 0; y < 4; y++)
      for (guint x = 0; x < 5; x++)
        fail_unless_equals_int (map.data[y * info.stride[0] + x],
            (i * 20 + y * 5 + x) * 4);
    gst_buffer_unmap (b, &map);
  }
  result_clear (&r);
}

GST_START_TEST (test_frame_time_vector)
{
  NEED_TOOLS ();
  check_timing ("ftv.dcm", 20, 50);
}

GST_END_TEST;

GST_START_TEST (test_cine_rate)
{
  NEED_TOOLS ();
  check_timing ("cine.dcm", 10, 100);
}

GST_END_TEST;

static void
check_error (const gchar * file, const gchar * middle, const gchar * reason)
{
  Result r;

  run_pipeline (file, middle, &r);
  fail_unless (r.error != NULL, "%s: no error", file);
  fail_unless_equals_int (r.samples->len, 0);
  fail_unless (strstr (r.error->message, reason) != NULL,
      "%s: error \"%s\" does not say \"%s\"", file, r.error->message, reason);
  result_clear (&r);
}

GST_START_TEST (test_not_dicom)
{
  NEED_TOOLS ();
  check_error ("junk.dcm", "cxrdicomdec", "not a DICOM file");
}

GST_END_TEST;

GST_START_TEST (test_no_pixel_data)
{
  NEED_TOOLS ();
  check_error ("sr.dcm", "cxrdicomdec", "no Pixel Data");
  check_error ("sr.dcm", "decodebin", "no Pixel Data");
}

GST_END_TEST;

GST_START_TEST (test_truncated)
{
  NEED_JPEG_FIXTURES ();
  check_error ("truncated.dcm", "cxrdicomdec", "truncated");
}

GST_END_TEST;

/* every file cut at 40 points, straight through dicom.h: an error or an
 * image, never a crash (run under valgrind for the memory side) */
GST_START_TEST (test_cut_anywhere)
{
  static const gchar *files[] = { "plain.dcm", "baseline.dcm", "rle.dcm",
    "jpegls.dcm", "lossless.dcm", "multi.dcm", "s16.dcm", "rgb.dcm"
  };

  NEED_JPEG_FIXTURES ();
  for (guint f = 0; f < G_N_ELEMENTS (files); f++) {
    gchar *path = fx (files[f]), *data = NULL;
    gsize size = 0;

    fail_unless (g_file_get_contents (path, &data, &size, NULL));
    for (guint k = 0; k < 40; k++) {
      gsize cut = size * k / 40 + (k % 7);
      GError *err = NULL;
      CxrDicom *d = cxr_dicom_open_memory ((const guint8 *) data,
          MIN (cut, size), NULL, &err);
      if (d == NULL) {
        fail_unless (err != NULL && err->message[0] != '\0');
        g_clear_error (&err);
        continue;
      }
      guint w = cxr_dicom_get_width (d), h = cxr_dicom_get_height (d);
      guint8 *out = g_malloc ((gsize) w * h * 2);
      for (guint i = 0; i < cxr_dicom_get_n_frames (d); i++)
        if (!cxr_dicom_get_frame (d, i, out, w * 2, 16, &err))
          g_clear_error (&err);
      g_free (out);
      cxr_dicom_free (d);
    }
    g_free (data);
    g_free (path);
  }
}

GST_END_TEST;

/* everything logged while the PHI file is decoded, at LOG level */
static GString *debug_log;
static GMutex debug_lock;

static void
capture_log (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  const gchar *text = gst_debug_message_get (message);

  (void) category, (void) level, (void) file, (void) function, (void) line;
  (void) object, (void) user_data;
  g_mutex_lock (&debug_lock);
  g_string_append_printf (debug_log, "%s\n", text ? text : "");
  g_mutex_unlock (&debug_lock);
}

GST_START_TEST (test_no_phi)
{
  static const gchar *phi[] = { "DOE", "JANE", "PID98765", "19700101",
    "ACC55555"
  };
  Result r;

  NEED_JPEG_FIXTURES ();
  debug_log = g_string_new (NULL);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (capture_log, NULL, NULL);
  gst_debug_set_active (TRUE);
  gst_debug_set_default_threshold (GST_LEVEL_LOG);

  run_pipeline ("phi.dcm", "decodebin", &r);

  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (capture_log);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);

  fail_unless (r.error == NULL, "%s", r.error ? r.error->message : "");
  fail_unless_equals_int (r.samples->len, 1);
  fail_unless (strstr (debug_log->str, "cxrdicomdec") != NULL,
      "nothing was logged: the capture does not work");
  gchar *tags = r.tags ? gst_tag_list_to_string (r.tags) : g_strdup ("");
  gchar *caps = gst_caps_to_string (gst_sample_get_caps
      (g_ptr_array_index (r.samples, 0)));
  for (guint i = 0; i < G_N_ELEMENTS (phi); i++) {
    fail_unless (strstr (debug_log->str, phi[i]) == NULL,
        "%s in the debug log", phi[i]);
    fail_unless (strstr (r.messages->str, phi[i]) == NULL,
        "%s in a bus message", phi[i]);
    fail_unless (strstr (tags, phi[i]) == NULL, "%s in the tags", phi[i]);
    fail_unless (strstr (caps, phi[i]) == NULL, "%s in the caps", phi[i]);
  }
  g_free (tags);
  g_free (caps);
  g_string_free (debug_log, TRUE);
  result_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_typefind)
{
  GstTypeFindFactory *f = GST_TYPE_FIND_FACTORY (gst_registry_lookup_feature
      (gst_registry_get (), "application/dicom"));

  fail_unless (f != NULL);
  fail_unless (gst_plugin_feature_get_rank (GST_PLUGIN_FEATURE (f)) >=
      GST_RANK_PRIMARY);
  gst_object_unref (f);
}

GST_END_TEST;

static void
register_features (void)
{
  GstRegistry *reg = gst_registry_get ();
  GstPluginFeature *f;

  if ((f = gst_registry_lookup_feature (reg, "cxrdicomdec")) != NULL)
    gst_object_unref (f);
  else
    g_assert_true (GST_ELEMENT_REGISTER (cxrdicomdec, NULL));
  if ((f = gst_registry_lookup_feature (reg, "application/dicom")) != NULL)
    gst_object_unref (f);
  else
    g_assert_true (gst_cxr_dicom_typefind_register (NULL));
}

static Suite *
dicomdec_suite (void)
{
  Suite *s = suite_create ("cxrdicomdec");
  TCase *tc = tcase_create ("general");

  register_features ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_typefind);
  tcase_add_test (tc, test_uncompressed_decodebin);
  tcase_add_test (tc, test_uncompressed_direct);
  tcase_add_test (tc, test_rle);
  tcase_add_test (tc, test_jpegls);
  tcase_add_test (tc, test_jpeg_lossless);
  tcase_add_test (tc, test_jpeg_baseline);
  tcase_add_test (tc, test_monochrome1);
  tcase_add_test (tc, test_16bit);
  tcase_add_test (tc, test_multiframe);
  tcase_add_test (tc, test_rgb);
  tcase_add_test (tc, test_ybr_full_422);
  tcase_add_test (tc, test_huge_header);
  tcase_add_test (tc, test_voi_window);
  tcase_add_test (tc, test_signed_rescale);
  tcase_add_test (tc, test_frame_time_vector);
  tcase_add_test (tc, test_cine_rate);
  tcase_add_test (tc, test_not_dicom);
  tcase_add_test (tc, test_no_pixel_data);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_no_phi);
  tcase_add_test (tc, test_cut_anywhere);
  return s;
}

static void
remove_fixtures (void)
{
  if (fixture_dir) {
    GDir *d = g_dir_open (fixture_dir, 0, NULL);
    const gchar *name;
    while (d && (name = g_dir_read_name (d)) != NULL) {
      gchar *p = fx (name);
      g_unlink (p);
      g_free (p);
    }
    if (d)
      g_dir_close (d);
    g_rmdir (fixture_dir);
  }
}

int
main (int argc, char **argv)
{
  Suite *s;
  int failed;

  gst_check_init (&argc, &argv);
  make_fixtures ();             /* once, before check forks the tests */
  s = dicomdec_suite ();
  failed = gst_check_run_suite (s, "cxrdicomdec", __FILE__);
  remove_fixtures ();
  return test_exit_status (failed);
}
