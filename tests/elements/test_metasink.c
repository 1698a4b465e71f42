/* test_metasink.c — cxrmetasink: JSON Lines per frame, the summary at EOS
 * (file and element message), with figures worked by hand.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/cxr/cxrmeta.h>
#include "imagedecode.h"
#include "summary.h"
#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>


#define EPS 1e-9

static const gchar *binary[] = { "NORMAL", "PNEUMONIA" };

/* A frame as cxrdatasetsrc ! cxrclassify would make it.  p is the
 * PNEUMONIA probability; the prediction is p >= threshold.  truth NULL and
 * truth_index -1: no label meta.  classified FALSE: no result meta. */
typedef struct
{
  GstClockTime pts;
  const gchar *file;
  const gchar *truth;
  gint truth_index;
  gfloat p;
  gboolean classified;
  gboolean stale;
} Frame;

static GstBuffer *
make_buffer (const Frame * f)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);

  GST_BUFFER_PTS (buf) = f->pts;
  if (f->classified) {
    gfloat probs[2] = { 1.0f - f->p, f->p };
    const gfloat threshold = 0.5f;

    gst_buffer_add_cxr_classification_meta (buf, 2, binary, probs,
        f->p >= threshold, threshold, "3f2a9c1e", 1000,
        f->stale ? GST_CXR_CLASSIFICATION_FLAG_STALE :
        GST_CXR_CLASSIFICATION_FLAG_NONE);
  }
  if (f->truth || f->truth_index >= 0 || f->file)
    gst_buffer_add_cxr_label_meta (buf, f->truth_index, f->truth, f->file);
  return buf;
}

/* A harness around a cxrmetasink with these properties; bus may be NULL. */
static GstHarness *
start_sink (const gchar * location, const gchar * summary, GstBus * bus)
{
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  GstHarness *h;

  fail_unless (sink != NULL);
  g_object_set (sink, "location", location, "summary-location", summary,
      "print-summary", FALSE, NULL);
  if (bus)
    gst_element_set_bus (sink, bus);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "application/x-cxr-test");
  return h;
}

static void
push_frames (GstHarness * h, const Frame * frames, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    fail_unless_equals_int (gst_harness_push (h, make_buffer (&frames[i])),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
}

/* Every line of the file parsed; one JsonNode per line. */
static GPtrArray *
read_lines (const gchar * path)
{
  GPtrArray *nodes = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  gchar *text = NULL, **lines;
  guint i;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i][0]; i++) {
    JsonParser *parser = json_parser_new ();
    GError *err = NULL;

    fail_unless (json_parser_load_from_data (parser, lines[i], -1, &err),
        "line %u: %s", i, err ? err->message : "");
    g_ptr_array_add (nodes, json_node_ref (json_parser_get_root (parser)));
    g_object_unref (parser);
  }
  fail_unless (lines[i] && lines[i + 1] == NULL);       /* no blank lines */
  g_strfreev (lines);
  g_free (text);
  return nodes;
}

static JsonObject *
line (GPtrArray * nodes, guint i)
{
  return json_node_get_object (g_ptr_array_index (nodes, i));
}

static JsonNode *
read_json (const gchar * path)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root;

  fail_unless (json_parser_load_from_file (parser, path, NULL));
  root = json_node_ref (json_parser_get_root (parser));
  g_object_unref (parser);
  return root;
}

static gboolean
is_null (JsonObject * o, const gchar * key)
{
  fail_unless (json_object_has_member (o, key), "no key %s", key);
  return JSON_NODE_HOLDS_NULL (json_object_get_member (o, key));
}

static gint64
arr_int (JsonArray * a, guint i)
{
  return json_array_get_int_element (a, i);
}

/* A fresh folder per test, removed with everything in it. */
static gchar *
make_dir (void)
{
  gchar *dir = g_dir_make_tmp ("metasink-XXXXXX", NULL);

  fail_unless (dir != NULL);
  return dir;
}

static void
remove_dir (gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL);

    g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
  g_free (dir);
}

/* ---- per-frame lines ---- */

GST_START_TEST (test_lines)
{
  const Frame frames[] = {
    {0, "person1_virus_6.jpeg", "PNEUMONIA", 1, 0.97f, TRUE, FALSE},
    /* only the index: named from the classes */
    {40 * GST_MSECOND, "IM-0001.jpeg", NULL, 0, 0.03f, TRUE, FALSE},
    /* no pts, no label meta at all */
    {GST_CLOCK_TIME_NONE, NULL, NULL, -1, 0.25f, TRUE, FALSE},
  };
  static const gchar *keys[] = { "file", "frame", "pts", "classes",
    "probabilities", "label", "threshold", "stale", "truth", "model",
    "abstained", "reason", "ood_score"
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstHarness *h = start_sink (path, NULL, NULL);
  GPtrArray *nodes;
  JsonObject *o;
  JsonArray *a;
  guint i, k;

  push_frames (h, frames, G_N_ELEMENTS (frames));
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 3);
  for (i = 0; i < nodes->len; i++) {
    o = line (nodes, i);
    for (k = 0; k < G_N_ELEMENTS (keys); k++)
      fail_unless (json_object_has_member (o, keys[k]), "line %u: no %s", i,
          keys[k]);
    fail_unless_equals_int (json_object_get_size (o), G_N_ELEMENTS (keys));
    fail_unless_equals_int (json_object_get_int_member (o, "frame"), i);
    fail_unless_equals_string (json_object_get_string_member (o, "model"),
        "3f2a9c1e");
    fail_if (json_object_get_boolean_member (o, "stale"));
    fail_if (json_object_get_boolean_member (o, "abstained"));
    fail_unless (is_null (o, "reason"));
    fail_unless (is_null (o, "ood_score"));
    fail_unless_equals_float (json_object_get_double_member (o, "threshold"),
        0.5);
    a = json_object_get_array_member (o, "classes");
    fail_unless_equals_int (json_array_get_length (a), 2);
    fail_unless_equals_string (json_array_get_string_element (a, 0),
        "NORMAL");
    fail_unless_equals_string (json_array_get_string_element (a, 1),
        "PNEUMONIA");
    a = json_object_get_array_member (o, "probabilities");
    fail_unless_equals_int (json_array_get_length (a), 2);
    /* exactly the float that was attached */
    fail_unless ((gfloat) json_array_get_double_element (a, 1) ==
        frames[i].p);
    fail_unless ((gfloat) json_array_get_double_element (a, 0) ==
        1.0f - frames[i].p);
  }

  o = line (nodes, 0);
  fail_unless_equals_string (json_object_get_string_member (o, "file"),
      "person1_virus_6.jpeg");
  fail_unless_equals_int (json_object_get_int_member (o, "pts"), 0);
  fail_unless_equals_string (json_object_get_string_member (o, "label"),
      "PNEUMONIA");
  fail_unless_equals_string (json_object_get_string_member (o, "truth"),
      "PNEUMONIA");

  o = line (nodes, 1);
  fail_unless_equals_string (json_object_get_string_member (o, "file"),
      "IM-0001.jpeg");
  fail_unless_equals_int64 (json_object_get_int_member (o, "pts"),
      40 * GST_MSECOND);
  fail_unless_equals_string (json_object_get_string_member (o, "label"),
      "NORMAL");
  fail_unless_equals_string (json_object_get_string_member (o, "truth"),
      "NORMAL");

  o = line (nodes, 2);
  fail_unless (is_null (o, "file"));
  fail_unless (is_null (o, "pts"));
  fail_unless (is_null (o, "truth"));
  fail_unless_equals_string (json_object_get_string_member (o, "label"),
      "NORMAL");

  g_ptr_array_unref (nodes);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* A probability is written as the exact double of the float attached, so
 * that it reads back as the same double and the same float; a whole number
 * is still written as a real (1.0, not 1). */
GST_START_TEST (test_exact_numbers)
{
  const Frame frames[] = {
    {0, "a.jpeg", "PNEUMONIA", -1, 0.97f, TRUE, FALSE},
    {1, "b.jpeg", "PNEUMONIA", -1, 1.0f, TRUE, FALSE},
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstHarness *h = start_sink (path, NULL, NULL);
  GPtrArray *nodes;
  JsonArray *a;

  push_frames (h, frames, 2);
  gst_harness_teardown (h);

  nodes = read_lines (path);
  a = json_object_get_array_member (line (nodes, 0), "probabilities");
  fail_unless (json_array_get_double_element (a, 1) == (gdouble) 0.97f);
  fail_unless (json_array_get_double_element (a, 0) ==
      (gdouble) (1.0f - 0.97f));
  fail_unless (json_object_get_double_member (line (nodes, 0), "threshold")
      == 0.5);
  a = json_object_get_array_member (line (nodes, 1), "probabilities");
  for (guint i = 0; i < 2; i++)
    fail_unless_equals_int (json_node_get_value_type
        (json_array_get_element (a, i)), G_TYPE_DOUBLE);
  g_ptr_array_unref (nodes);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* A heatmap meta becomes a "heatmap" object of the line; a frame without
 * one has no such key. */
GST_START_TEST (test_heatmap_json)
{
  const Frame frame = { 0, "a.jpeg", "PNEUMONIA", -1, 0.9f, TRUE, FALSE };
  const gfloat values[6] = { 0.0f, 0.25f, 1.0f, 0.5f, 0.125f, 0.75f };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstHarness *h = start_sink (path, NULL, NULL);
  GstBuffer *buf = make_buffer (&frame);
  GPtrArray *lines;
  JsonObject *o;
  JsonArray *v;

  gst_buffer_add_cxr_heatmap_meta (buf, 3, 2, values, 1);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_buffer (&frame)),
      GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  lines = read_lines (path);
  fail_unless_equals_int (lines->len, 2);
  o = json_object_get_object_member (line (lines, 0), "heatmap");
  fail_unless (o != NULL);
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 3);
  fail_unless_equals_int (json_object_get_int_member (o, "height"), 2);
  v = json_object_get_array_member (o, "values");
  fail_unless_equals_int (json_array_get_length (v), 6);
  for (guint i = 0; i < 6; i++)
    fail_unless_equals_float (json_array_get_double_element (v, i),
        values[i]);
  fail_if (json_object_has_member (line (lines, 1), "heatmap"));
  g_ptr_array_unref (lines);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* heatmap-location: one PNG a frame with a heatmap, the film in RGB with
 * the map's hot cell coloured and its cold cells left grey, named after
 * the frame's number; none for a frame without. */
GST_START_TEST (test_heatmap_pictures)
{
  const Frame frame = { 0, "a.jpeg", "PNEUMONIA", -1, 0.9f, TRUE, FALSE };
  const gfloat values[4] = { 0.0f, 1.0f, 0.0f, 0.0f };
  gchar *dir = make_dir ();
  gchar *pictures = g_build_filename (dir, "pictures", NULL);
  gchar *first = g_build_filename (pictures, "frame-000000.png", NULL);
  gchar *second = g_build_filename (pictures, "frame-000001.png", NULL);
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  GstHarness *h;
  CxrImage image;
  GError *error = NULL;
  const guint8 *cold, *hot;

  g_object_set (sink, "location", "/dev/null", "print-summary", FALSE,
      "heatmap-location", pictures, NULL);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=GRAY8,width=800,"
      "height=600,framerate=1/1");
  for (int k = 0; k < 2; k++) {
    GstBuffer *frame_buf = gst_buffer_new_allocate (NULL, 800 * 600, NULL);
    GstBuffer *with = make_buffer (&frame);
    gst_buffer_memset (frame_buf, 0, 100, 800 * 600);
    gst_buffer_copy_into (frame_buf, with, GST_BUFFER_COPY_META, 0, -1);
    gst_buffer_unref (with);
    if (k == 0)
      gst_buffer_add_cxr_heatmap_meta (frame_buf, 2, 2, values, 1);
    fail_unless_equals_int (gst_harness_push (h, frame_buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  fail_unless (cxr_image_decode_file (first, 0, &image, &error), "%s",
      error ? error->message : "");
  fail_unless_equals_int (image.format, CXR_IMAGE_FORMAT_RGB);
  fail_unless_equals_int (image.width, 512);
  fail_unless_equals_int (image.height, 384);
  /* the top right quarter is hot, the bottom left one cold */
  hot = image.data + 40 * image.stride + 470 * 3;
  cold = image.data + 340 * image.stride + 40 * 3;
  fail_unless (hot[0] > hot[2] + 40, "hot: %d %d %d", hot[0], hot[1],
      hot[2]);
  fail_unless (cold[0] == 100 && cold[1] == 100 && cold[2] == 100,
      "cold: %d %d %d", cold[0], cold[1], cold[2]);
  cxr_image_clear (&image);
  fail_if (g_file_test (second, G_FILE_TEST_EXISTS));
  g_remove (first);
  g_rmdir (pictures);
  g_free (first);
  g_free (second);
  g_free (pictures);
  remove_dir (dir);
}

GST_END_TEST;

/* report-location: a mistake whose file name is markup and not UTF-8 is
 * shown escaped, in a page that is valid UTF-8 */
GST_START_TEST (test_report_escapes)
{
  const Frame frames[] = {
    {0, "NORMAL/<b>&\"x\xf0", "NORMAL", -1, 0.9f, TRUE, FALSE},
    {1, "PNEUMONIA/y.jpeg", "PNEUMONIA", -1, 0.8f, TRUE, FALSE},
  };
  gchar *dir = make_dir ();
  gchar *report = g_build_filename (dir, "report.html", NULL);
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  GstHarness *h;
  gchar *html;

  g_object_set (sink, "location", "/dev/null", "print-summary", FALSE,
      "report-location", report, NULL);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "application/x-cxr-test");
  push_frames (h, frames, 2);
  gst_harness_teardown (h);

  fail_unless (g_file_get_contents (report, &html, NULL, NULL));
  fail_unless (g_utf8_validate (html, -1, NULL));
  fail_unless (strstr (html, "NORMAL/&lt;b&gt;&amp;&quot;x") != NULL);
  fail_if (strstr (html, "<b>") != NULL);
  fail_unless (strstr (html, "<svg id=\"roc\"") != NULL);
  g_free (html);
  g_remove (report);
  g_free (report);
  remove_dir (dir);
}

GST_END_TEST;

GST_START_TEST (test_escapes)
{
  /* a quote, a backslash, a newline, a tab, a control character, UTF-8 */
  const gchar *name = "we\"ird\\name\n\t\x01 ünïcødé 肺炎.jpeg";
  const Frame frames[] = {
    {0, name, "PNEU\"MO\\NIA", -1, 0.9f, TRUE, FALSE},
    {1, "plain.jpeg", NULL, -1, 0.1f, TRUE, FALSE},
    /* not UTF-8 (a Latin-1 file name): replaced, the line stays JSON */
    {2, "caf\xe9.jpeg", NULL, -1, 0.1f, TRUE, FALSE},
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstHarness *h = start_sink (path, NULL, NULL);
  GPtrArray *nodes;

  push_frames (h, frames, G_N_ELEMENTS (frames));
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 3);       /* the newline was escaped */
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 0),
          "file"), name);
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 0),
          "truth"), "PNEU\"MO\\NIA");
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 1),
          "file"), "plain.jpeg");
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 2),
          "file"), "caf\xef\xbf\xbd.jpeg");    /* U+FFFD */

  g_ptr_array_unref (nodes);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* ---- the summary ---- */

/* Six frames, threshold 0.5, positive = PNEUMONIA:
 *   truth      p     prediction
 *   NORMAL     0.10  NORMAL      TN
 *   NORMAL     0.40  NORMAL      TN
 *   NORMAL     0.55  PNEUMONIA   FP
 *   PNEUMONIA  0.55  PNEUMONIA   TP
 *   PNEUMONIA  0.90  PNEUMONIA   TP
 *   PNEUMONIA  0.70  PNEUMONIA   TP
 * confusion [[2, 1], [0, 3]]; accuracy 5/6; precision 3/4; recall 1;
 * specificity 2/3; F1 = 2 TP / (2 TP + FP + FN) = 6/7.
 * AUC: of the 9 (positive, negative) pairs, 0.55 beats 0.10 and 0.40 and
 * ties 0.55 (1/2), 0.90 and 0.70 beat all three: 8.5 / 9 = 17/18.
 * Brier: (0.01 + 0.16 + 0.3025 + 0.2025 + 0.01 + 0.09) / 6 = 0.775 / 6.
 * Reliability (the edges are the floats nearest i/10, so 0.70f and 0.90f
 * open their bins although as doubles they are just below 0.7 and 0.9):
 *   bin 1 [0.1, 0.2): 0.10 (N)         mean 0.10, positive 0   -> 0.10
 *   bin 4 [0.4, 0.5): 0.40 (N)         mean 0.40, positive 0   -> 0.40
 *   bin 5 [0.5, 0.6): 0.55 (N, P)      mean 0.55, positive 1/2 -> 0.05
 *   bin 7 [0.7, 0.8): 0.70 (P)         mean 0.70, positive 1   -> 0.30
 *   bin 9 [0.9, 1.0]: 0.90 (P)         mean 0.90, positive 1   -> 0.10
 * ECE = (0.10 + 0.40 + 2 * 0.05 + 0.30 + 0.10) / 6 = 1/6. */
static const Frame six[] = {
  {0 * GST_SECOND, "n1.jpeg", "NORMAL", 0, 0.10f, TRUE, FALSE},
  {1 * GST_SECOND, "n2.jpeg", NULL, 0, 0.40f, TRUE, FALSE},
  {2 * GST_SECOND, "n3.jpeg", "NORMAL", -1, 0.55f, TRUE, FALSE},
  {3 * GST_SECOND, "p1.jpeg", "PNEUMONIA", 1, 0.55f, TRUE, FALSE},
  {4 * GST_SECOND, "p2.jpeg", NULL, 1, 0.90f, TRUE, FALSE},
  {5 * GST_SECOND, "p3.jpeg", "PNEUMONIA", -1, 0.70f, TRUE, FALSE},
};

static void
check_confusion (JsonArray * rows, gint64 tn, gint64 fp, gint64 fn,
    gint64 tp)
{
  fail_unless_equals_int (json_array_get_length (rows), 2);
  fail_unless_equals_int (json_array_get_length (json_array_get_array_element
          (rows, 0)), 2);
  fail_unless_equals_int64 (arr_int (json_array_get_array_element (rows, 0),
          0), tn);
  fail_unless_equals_int64 (arr_int (json_array_get_array_element (rows, 0),
          1), fp);
  fail_unless_equals_int64 (arr_int (json_array_get_array_element (rows, 1),
          0), fn);
  fail_unless_equals_int64 (arr_int (json_array_get_array_element (rows, 1),
          1), tp);
}

/* The six frames' figures are floats: 0.1f is 0.1 to 1.5e-9. */
#define EPS_FLOAT 1e-6

static gboolean
near_or_null (JsonObject * o, const gchar * key, gdouble want)
{
  if (isnan (want))
    return is_null (o, key);
  return !is_null (o, key) &&
      fabs (json_object_get_double_member (o, key) - want) < EPS_FLOAT;
}

/* brier, ece and the 10 reliability bins of the six frames */
static void
check_calibration (JsonObject * o)
{
  const gint64 counts[] = { 0, 1, 0, 0, 1, 2, 0, 1, 0, 1 };
  const gdouble means[] = { NAN, 0.1, NAN, NAN, 0.4, 0.55, NAN, 0.7, NAN,
    0.9
  };
  const gdouble fractions[] = { NAN, 0.0, NAN, NAN, 0.0, 0.5, NAN, 1.0, NAN,
    1.0
  };
  JsonArray *bins;
  guint i;

  fail_unless (fabs (json_object_get_double_member (o, "brier") -
          0.775 / 6.0) < EPS_FLOAT);
  fail_unless (fabs (json_object_get_double_member (o, "ece") - 1.0 / 6.0) <
      EPS_FLOAT);
  bins = json_object_get_array_member (o, "reliability");
  fail_unless (bins != NULL);
  fail_unless_equals_int (json_array_get_length (bins), 10);
  for (i = 0; i < 10; i++) {
    JsonObject *b = json_array_get_object_element (bins, i);

    fail_unless_equals_int (json_object_get_size (b), 5);
    fail_unless (fabs (json_object_get_double_member (b, "lower") -
            i / 10.0) < EPS);
    fail_unless (fabs (json_object_get_double_member (b, "upper") -
            (i + 1) / 10.0) < EPS);
    fail_unless_equals_int64 (json_object_get_int_member (b, "count"),
        counts[i]);
    fail_unless (near_or_null (b, "mean_probability", means[i]), "bin %u", i);
    fail_unless (near_or_null (b, "fraction_positive", fractions[i]),
        "bin %u", i);
  }
}

/* the summary object holds the table's keys, in its order, and no other */
static void
check_keys (JsonObject * o)
{
  GList *members = json_object_get_members (o), *m = members;

  for (guint i = 0; i < cxr_summary_n_fields; i++, m = m->next) {
    fail_unless (m != NULL, "no %s", cxr_summary_fields[i].key);
    fail_unless_equals_string (m->data, cxr_summary_fields[i].key);
  }
  fail_unless (m == NULL, "%s is not in the table",
      m ? (const gchar *) m->data : "");
  g_list_free (members);
}

GST_START_TEST (test_summary_file)
{
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstHarness *h = start_sink (path, summary, NULL);
  JsonNode *root;
  JsonObject *o;
  JsonArray *classes;
  GDir *d;
  const gchar *name;
  gchar *text;
  guint files = 0;

  push_frames (h, six, G_N_ELEMENTS (six));
  /* written at EOS, not at stop */
  fail_unless (g_file_test (summary, G_FILE_TEST_EXISTS));
  gst_harness_teardown (h);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "count"), 6);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 6);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 6);
  fail_unless_equals_int (json_object_get_int_member (o, "unclassified"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "stale"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "unmatched"), 0);
  fail_unless_equals_float (json_object_get_double_member (o, "threshold"),
      0.5);
  classes = json_object_get_array_member (o, "classes");
  fail_unless_equals_int (json_array_get_length (classes), 2);
  fail_unless_equals_string (json_array_get_string_element (classes, 1),
      "PNEUMONIA");
  check_confusion (json_object_get_array_member (o, "confusion"), 2, 1, 0, 3);
  fail_unless (fabs (json_object_get_double_member (o, "accuracy") -
          5.0 / 6.0) < EPS);
  fail_unless (fabs (json_object_get_double_member (o, "precision") - 0.75) <
      EPS);
  fail_unless (fabs (json_object_get_double_member (o, "recall") - 1.0) <
      EPS);
  fail_unless (fabs (json_object_get_double_member (o, "specificity") -
          2.0 / 3.0) < EPS);
  fail_unless (fabs (json_object_get_double_member (o, "f1") - 6.0 / 7.0) <
      EPS);
  fail_unless (fabs (json_object_get_double_member (o, "auc") - 17.0 / 18.0)
      < EPS);
  check_calibration (o);
  check_keys (o);
  /* a rate of 1 is still a real */
  fail_unless_equals_int (json_node_get_value_type (json_object_get_member (o,
              "recall")), G_TYPE_DOUBLE);
  json_node_unref (root);
  /* one line */
  fail_unless (g_file_get_contents (summary, &text, NULL, NULL));
  fail_unless (strchr (text, '\n') == text + strlen (text) - 1, "%s", text);
  g_free (text);

  /* the temporary file of the atomic write is gone */
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)))
    files++;
  g_dir_close (d);
  fail_unless_equals_int (files, 2);

  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

static gdouble
get_double (const GstStructure * s, const gchar * field)
{
  gdouble v = NAN;

  fail_unless (gst_structure_get_double (s, field, &v), "no %s", field);
  return v;
}

static guint64
get_uint64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s", field);
  return v;
}

static guint64
confusion_cell (const GstStructure * s, guint i, guint j)
{
  const GValue *rows = gst_structure_get_value (s, "confusion");
  const GValue *row;

  fail_unless (rows && GST_VALUE_HOLDS_ARRAY (rows));
  fail_unless_equals_int (gst_value_array_get_size (rows), 2);
  row = gst_value_array_get_value (rows, i);
  fail_unless (GST_VALUE_HOLDS_ARRAY (row));
  fail_unless_equals_int (gst_value_array_get_size (row), 2);
  return g_value_get_uint64 (gst_value_array_get_value (row, j));
}

GST_START_TEST (test_summary_message)
{
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h = start_sink (path, NULL, bus);
  GstMessage *msg;
  const GstStructure *s;
  const GValue *classes;

  push_frames (h, six, G_N_ELEMENTS (six));

  /* the summary comes before EOS */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ELEMENT);
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_has_name (s, "cxrmetasink-summary"));
  fail_unless_equals_uint64 (get_uint64 (s, "count"), 6);
  fail_unless_equals_uint64 (get_uint64 (s, "labelled"), 6);
  fail_unless_equals_uint64 (get_uint64 (s, "evaluated"), 6);
  fail_unless_equals_uint64 (get_uint64 (s, "unclassified"), 0);
  fail_unless (fabs (get_double (s, "accuracy") - 5.0 / 6.0) < EPS);
  fail_unless (fabs (get_double (s, "precision") - 0.75) < EPS);
  fail_unless (fabs (get_double (s, "recall") - 1.0) < EPS);
  fail_unless (fabs (get_double (s, "specificity") - 2.0 / 3.0) < EPS);
  fail_unless (fabs (get_double (s, "f1") - 6.0 / 7.0) < EPS);
  fail_unless (fabs (get_double (s, "auc") - 17.0 / 18.0) < EPS);
  fail_unless (fabs (get_double (s, "brier") - 0.775 / 6.0) < EPS_FLOAT);
  fail_unless (fabs (get_double (s, "ece") - 1.0 / 6.0) < EPS_FLOAT);
  fail_unless_equals_uint64 (confusion_cell (s, 0, 0), 2);
  fail_unless_equals_uint64 (confusion_cell (s, 0, 1), 1);
  fail_unless_equals_uint64 (confusion_cell (s, 1, 0), 0);
  fail_unless_equals_uint64 (confusion_cell (s, 1, 1), 3);
  classes = gst_structure_get_value (s, "classes");
  fail_unless (classes && GST_VALUE_HOLDS_ARRAY (classes));
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value
          (classes, 0)), "NORMAL");
  gst_message_unref (msg);

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* The JSON object, the element message and the report follow the one
 * table: the message holds the table's message fields that are not null
 * in the JSON, with the same values, and nothing else; the report shows
 * the figures the table gives a row, in the rows' order. */
GST_START_TEST (test_summary_table)
{
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  gchar *report = g_build_filename (dir, "report.html", NULL);
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *msg;
  const GstStructure *st;
  JsonNode *root;
  JsonObject *o;
  gchar *html;
  const gchar *previous;
  guint in_message = 0;

  g_object_set (sink, "location", path, "summary-location", summary,
      "report-location", report, "print-summary", FALSE, NULL);
  gst_element_set_bus (sink, bus);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "application/x-cxr-test");
  push_frames (h, six, G_N_ELEMENTS (six));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  gst_harness_teardown (h);
  st = gst_message_get_structure (msg);
  root = read_json (summary);
  o = json_node_get_object (root);
  check_keys (o);

  for (guint i = 0; i < cxr_summary_n_fields; i++) {
    const CxrSummaryField *f = &cxr_summary_fields[i];
    JsonNode *n = json_object_get_member (o, f->key);

    if (!f->message || JSON_NODE_HOLDS_NULL (n)) {
      fail_if (gst_structure_has_field (st, f->key), "%s", f->key);
      continue;
    }
    in_message++;
    switch (f->kind) {
      case CXR_SUMMARY_COUNT:
        fail_unless_equals_uint64 (get_uint64 (st, f->key),
            json_node_get_int (n));
        break;
      case CXR_SUMMARY_THRESHOLD:
      case CXR_SUMMARY_RATE:
      case CXR_SUMMARY_REAL:
        fail_unless (get_double (st, f->key) == json_node_get_double (n),
            "%s", f->key);
        break;
      case CXR_SUMMARY_CLASSES:
        for (guint k = 0; k < 2; k++)
          fail_unless_equals_string (g_value_get_string
              (gst_value_array_get_value (gst_structure_get_value (st,
                          f->key), k)), json_array_get_string_element
              (json_node_get_array (n), k));
        break;
      case CXR_SUMMARY_CONFUSION:
        for (guint k = 0; k < 4; k++)
          fail_unless_equals_uint64 (confusion_cell (st, k / 2, k % 2),
              arr_int (json_array_get_array_element (json_node_get_array (n),
                      k / 2), k % 2));
        break;
      default:
        fail ("%s has no message form", f->key);
    }
  }
  fail_unless_equals_int (gst_structure_n_fields (st), in_message);

  fail_unless (g_file_get_contents (report, &html, NULL, NULL));
  previous = html;
  for (guint row = 1; row <= cxr_summary_n_fields; row++)
    for (guint i = 0; i < cxr_summary_n_fields; i++) {
      const CxrSummaryField *f = &cxr_summary_fields[i];
      gchar *cell;
      const gchar *at;

      if (f->report_row != row)
        continue;
      cell = g_strdup_printf ("<tr><th>%s</th><td>", f->report);
      at = strstr (html, cell);
      fail_unless (at != NULL && at > previous, "%s", cell);
      previous = at;
      g_free (cell);
    }

  g_free (html);
  json_node_unref (root);
  gst_message_unref (msg);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_free (report);
  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* a figure of the evaluated frames */
static gboolean
is_metric (const CxrSummaryField * f)
{
  return f->kind == CXR_SUMMARY_CONFUSION || f->kind == CXR_SUMMARY_RATE ||
      f->kind == CXR_SUMMARY_REAL || f->kind == CXR_SUMMARY_BINS;
}

/* With no labels: results and counts, no metrics. */
GST_START_TEST (test_unlabelled)
{
  const Frame frames[] = {
    {0, "a.jpeg", NULL, -1, 0.8f, TRUE, FALSE},
    {1, NULL, NULL, -1, 0.2f, TRUE, FALSE},
    {2, NULL, NULL, -1, 0.0f, FALSE, FALSE},
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h = start_sink (path, summary, bus);
  GstMessage *msg;
  const GstStructure *s;
  JsonNode *root;
  JsonObject *o;
  GPtrArray *nodes;
  guint i;

  push_frames (h, frames, G_N_ELEMENTS (frames));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 3);
  for (i = 0; i < 3; i++)
    fail_unless (is_null (line (nodes, i), "truth"));
  g_ptr_array_unref (nodes);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "count"), 3);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "unclassified"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 0);
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (o, "classes")), 2);
  for (i = 0; i < cxr_summary_n_fields; i++)
    if (is_metric (&cxr_summary_fields[i]))
      fail_unless (is_null (o, cxr_summary_fields[i].key), "%s not null",
          cxr_summary_fields[i].key);
  json_node_unref (root);

  s = gst_message_get_structure (msg);
  fail_unless_equals_uint64 (get_uint64 (s, "count"), 3);
  fail_unless_equals_uint64 (get_uint64 (s, "unclassified"), 1);
  for (i = 0; i < cxr_summary_n_fields; i++)
    if (is_metric (&cxr_summary_fields[i]))
      fail_if (gst_structure_has_field (s, cxr_summary_fields[i].key),
          "%s set", cxr_summary_fields[i].key);
  gst_message_unref (msg);

  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* A stale result is a copy: written with "stale": true, kept out of the
 * metrics.  Here the stale frame is wrong; counted, it would add an FN and
 * make Brier (0.04 + 0.04 + 0.64) / 3 = 0.24 instead of 0.04.  ECE: 0.2 in
 * bin 2 (0.2, NORMAL) and bin 8 (0.8, PNEUMONIA), so 0.2. */
GST_START_TEST (test_stale)
{
  const Frame frames[] = {
    {0, "n.jpeg", "NORMAL", 0, 0.2f, TRUE, FALSE},
    {1, "p.jpeg", "PNEUMONIA", 1, 0.8f, TRUE, FALSE},
    {2, "p2.jpeg", "PNEUMONIA", 1, 0.2f, TRUE, TRUE},
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstHarness *h = start_sink (path, summary, NULL);
  GPtrArray *nodes;
  JsonNode *root;
  JsonObject *o;

  push_frames (h, frames, G_N_ELEMENTS (frames));
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 3);
  fail_if (json_object_get_boolean_member (line (nodes, 1), "stale"));
  fail_unless (json_object_get_boolean_member (line (nodes, 2), "stale"));
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 2),
          "label"), "NORMAL");
  g_ptr_array_unref (nodes);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "count"), 3);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 3);
  fail_unless_equals_int (json_object_get_int_member (o, "stale"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 2);
  check_confusion (json_object_get_array_member (o, "confusion"), 1, 0, 0, 1);
  fail_unless_equals_float (json_object_get_double_member (o, "accuracy"),
      1.0);
  fail_unless_equals_float (json_object_get_double_member (o, "auc"), 1.0);
  fail_unless (fabs (json_object_get_double_member (o, "brier") - 0.04) <
      EPS_FLOAT);
  fail_unless (fabs (json_object_get_double_member (o, "ece") - 0.2) <
      EPS_FLOAT);
  json_node_unref (root);

  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* A frame with no classification meta: written, with null results. */
GST_START_TEST (test_unclassified)
{
  const Frame frames[] = {
    {7, "x.jpeg", "PNEUMONIA", -1, 0.0f, FALSE, FALSE},
  };
  static const gchar *nulls[] = { "classes", "probabilities", "label",
    "threshold", "stale", "model", "abstained", "reason", "ood_score"
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstHarness *h = start_sink (path, summary, NULL);
  GPtrArray *nodes;
  JsonNode *root;
  JsonObject *o;
  guint i;

  push_frames (h, frames, 1);
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 1);
  o = line (nodes, 0);
  for (i = 0; i < G_N_ELEMENTS (nulls); i++)
    fail_unless (is_null (o, nulls[i]), "%s not null", nulls[i]);
  fail_unless_equals_string (json_object_get_string_member (o, "file"),
      "x.jpeg");
  fail_unless_equals_int (json_object_get_int_member (o, "frame"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "pts"), 7);
  fail_unless_equals_string (json_object_get_string_member (o, "truth"),
      "PNEUMONIA");
  g_ptr_array_unref (nodes);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "unclassified"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 0);
  fail_unless (is_null (o, "classes"));
  fail_unless (is_null (o, "accuracy"));
  json_node_unref (root);

  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* Frames the model was not for: their lines say so and why, with no label
 * and the score when there is one; the summary counts them by reason and
 * leaves them out of the metrics (here the one answered frame is right) */
GST_START_TEST (test_abstained)
{
  const Frame frames[] = {
    {0, "ct.dcm", "NORMAL", -1, 0.9f, TRUE, FALSE},
    {1, "black.png", "NORMAL", -1, 0.9f, TRUE, FALSE},
    {2, "photo.jpeg", "NORMAL", -1, 0.9f, TRUE, FALSE},
    {3, "film.jpeg", "PNEUMONIA", -1, 0.8f, TRUE, FALSE},
  };
  const GstCxrAbstainReason reasons[] = { GST_CXR_ABSTAIN_MODALITY,
    GST_CXR_ABSTAIN_BLANK, GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION,
    GST_CXR_ABSTAIN_NONE
  };
  const gfloat scores[] = { NAN, NAN, 42.5f, 7.25f };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstHarness *h = start_sink (path, summary, NULL);
  GPtrArray *nodes;
  JsonNode *root;
  JsonObject *o, *by;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    GstBuffer *buf = make_buffer (&frames[i]);
    gst_cxr_classification_meta_set_abstained
        (gst_buffer_get_cxr_classification_meta (buf), reasons[i], scores[i],
        10.0f);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_int (nodes->len, 4);
  for (i = 0; i < 3; i++) {
    o = line (nodes, i);
    fail_unless (json_object_get_boolean_member (o, "abstained"));
    fail_unless (is_null (o, "label"));
    fail_unless_equals_string (json_object_get_string_member (o, "reason"),
        gst_cxr_abstain_reason_name (reasons[i]));
  }
  fail_unless (is_null (line (nodes, 0), "ood_score"));
  fail_unless_equals_float (json_object_get_double_member (line (nodes, 2),
          "ood_score"), 42.5);
  o = line (nodes, 3);
  fail_if (json_object_get_boolean_member (o, "abstained"));
  fail_unless (is_null (o, "reason"));
  fail_unless_equals_string (json_object_get_string_member (o, "label"),
      "PNEUMONIA");
  fail_unless_equals_float (json_object_get_double_member (o, "ood_score"),
      7.25);
  g_ptr_array_unref (nodes);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "abstained"), 3);
  by = json_object_get_object_member (o, "abstained_by_reason");
  fail_unless_equals_int (json_object_get_int_member (by, "modality"), 1);
  fail_unless_equals_int (json_object_get_int_member (by, "blank"), 1);
  fail_unless_equals_int (json_object_get_int_member (by,
          "out-of-distribution"), 1);
  fail_unless_equals_int (json_object_get_int_member (by, "body-part"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 4);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 1);
  fail_unless_equals_float (json_object_get_double_member (o, "accuracy"),
      1.0);
  json_node_unref (root);

  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* A truth the model does not know is counted, not evaluated.  The two
 * evaluated frames are both PNEUMONIA: AUC is undefined (null), the rest
 * is not. */
GST_START_TEST (test_unmatched)
{
  const Frame frames[] = {
    {0, "c.jpeg", "COVID-19", -1, 0.9f, TRUE, FALSE},
    {1, "p.jpeg", "PNEUMONIA", -1, 0.9f, TRUE, FALSE},
    {2, "q.jpeg", "PNEUMONIA", -1, 0.3f, TRUE, FALSE},
    {3, "r.jpeg", NULL, 5, 0.3f, TRUE, FALSE},  /* index out of range */
  };
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  gchar *summary = g_build_filename (dir, "summary.json", NULL);
  GstHarness *h = start_sink (path, summary, NULL);
  GPtrArray *nodes;
  JsonNode *root;
  JsonObject *o;

  push_frames (h, frames, G_N_ELEMENTS (frames));
  gst_harness_teardown (h);

  nodes = read_lines (path);
  fail_unless_equals_string (json_object_get_string_member (line (nodes, 0),
          "truth"), "COVID-19");
  fail_unless (is_null (line (nodes, 3), "truth"));
  g_ptr_array_unref (nodes);

  root = read_json (summary);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "labelled"), 4);
  fail_unless_equals_int (json_object_get_int_member (o, "unmatched"), 2);
  fail_unless_equals_int (json_object_get_int_member (o, "evaluated"), 2);
  check_confusion (json_object_get_array_member (o, "confusion"), 0, 0, 1, 1);
  fail_unless_equals_float (json_object_get_double_member (o, "accuracy"),
      0.5);
  fail_unless_equals_float (json_object_get_double_member (o, "recall"), 0.5);
  fail_unless (is_null (o, "auc"));
  json_node_unref (root);

  g_free (summary);
  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

/* ---- errors, stdout, properties ---- */

GST_START_TEST (test_unwritable_location)
{
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL;

  g_object_set (sink, "location", "/nonexistent-cxr-dir/out.jsonl", NULL);
  gst_element_set_bus (sink, bus);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_OPEN_WRITE));
  fail_unless (strstr (err->message, "/nonexistent-cxr-dir/out.jsonl"));
  fail_unless (strstr (debug, g_strerror (ENOENT)), "%s", debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);

  gst_element_set_state (sink, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (sink);
}

GST_END_TEST;

/* Without location the lines go to stdout, and the readable summary to
 * stderr, so that stdout stays JSON Lines. */
GST_START_TEST (test_stdout)
{
  gchar *dir = make_dir ();
  gchar *out_path = g_build_filename (dir, "stdout", NULL);
  gchar *err_path = g_build_filename (dir, "stderr", NULL);
  GstElement *sink = gst_element_factory_make ("cxrmetasink", NULL);
  int saved_out, saved_err, fd_out, fd_err;
  GstHarness *h;
  GPtrArray *nodes;
  gchar *err_text;

  fail_unless (sink != NULL);
  fflush (stdout);
  fflush (stderr);
  saved_out = dup (1);
  saved_err = dup (2);
  fd_out = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  fd_err = g_open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2 (fd_out, 1);
  dup2 (fd_err, 2);

  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "application/x-cxr-test");
  push_frames (h, six, G_N_ELEMENTS (six));
  gst_harness_teardown (h);

  fflush (stdout);
  fflush (stderr);
  dup2 (saved_out, 1);
  dup2 (saved_err, 2);
  close (saved_out);
  close (saved_err);
  close (fd_out);
  close (fd_err);

  nodes = read_lines (out_path);        /* fails on any non-JSON line */
  fail_unless_equals_int (nodes->len, 6);
  g_ptr_array_unref (nodes);
  fail_unless (g_file_get_contents (err_path, &err_text, NULL, NULL));
  fail_unless (strstr (err_text, "accuracy 0.8333") != NULL, "%s", err_text);
  fail_unless (strstr (err_text, "  Brier 0.1292  ECE 0.1667 (10 bins)\n")
      != NULL, "%s", err_text);
  fail_unless (strstr (err_text, "    0.5-0.6      2  0.550  0.500\n") != NULL,
      "%s", err_text);
  fail_unless (strstr (err_text, "0.0-0.1") == NULL, "%s", err_text);
  for (guint i = 0; i < cxr_summary_n_fields; i++)
    if (cxr_summary_fields[i].print)
      fail_unless (strstr (err_text, cxr_summary_fields[i].print) != NULL,
          "%s", cxr_summary_fields[i].print);
  g_free (err_text);

  g_free (out_path);
  g_free (err_path);
  remove_dir (dir);
}

GST_END_TEST;

GST_START_TEST (test_count_property)
{
  gchar *dir = make_dir ();
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  GstHarness *h = start_sink (path, NULL, NULL);
  guint64 count = 99;
  gboolean sync = TRUE;

  g_object_get (h->element, "count", &count, "sync", &sync, NULL);
  fail_unless_equals_uint64 (count, 0);
  fail_if (sync);
  push_frames (h, six, 4);
  g_object_get (h->element, "count", &count, NULL);
  fail_unless_equals_uint64 (count, 4);
  gst_harness_teardown (h);

  g_free (path);
  remove_dir (dir);
}

GST_END_TEST;

static Suite *
metasink_suite (void)
{
  Suite *s = suite_create ("cxrmetasink");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lines);
  tcase_add_test (tc, test_exact_numbers);
  tcase_add_test (tc, test_heatmap_json);
  tcase_add_test (tc, test_heatmap_pictures);
  tcase_add_test (tc, test_report_escapes);
  tcase_add_test (tc, test_escapes);
  tcase_add_test (tc, test_summary_file);
  tcase_add_test (tc, test_summary_message);
  tcase_add_test (tc, test_summary_table);
  tcase_add_test (tc, test_unlabelled);
  tcase_add_test (tc, test_stale);
  tcase_add_test (tc, test_unclassified);
  tcase_add_test (tc, test_abstained);
  tcase_add_test (tc, test_unmatched);
  tcase_add_test (tc, test_unwritable_location);
  tcase_add_test (tc, test_stdout);
  tcase_add_test (tc, test_count_property);
  return s;
}

GST_CHECK_MAIN (metasink);
