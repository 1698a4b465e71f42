/* soak — a long run of cxrclassify, with resident memory sampled:
 *
 *  1. FRAMES frames (100,000) from a live videotestsrc through cxrclassify
 *     with the shipped model, the model file replaced (written whole and
 *     renamed, as cxrtrain does) every 1,000 frames by one of two versions
 *     in turn;
 *  2. CYCLES (1,000) times NULL -> PLAYING -> NULL of a one-frame pipeline
 *     with the classifier.
 *
 * It prints the resident memory every 10,000 frames and every 100 cycles,
 * and its growth after the warm-up (the first tenth). A benchmark: it
 * reports, and fails only when a pipeline does.
 *
 *   soak MODEL [FRAMES [CYCLES]]      (GST_PLUGIN_PATH: the build's plugin)
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model.h"

typedef struct {
  const gchar *live;            /* the file cxrclassify reads */
  const gchar *versions[2];     /* copied over it in turn */
  guint64 frames, total;
  gsize *rss;                   /* KiB after every 1,000th frame */
} Soak;

static gsize
resident_kib (void)
{
  unsigned long size = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");

  if (f) {
    if (fscanf (f, "%lu %lu", &size, &resident) != 2)
      resident = 0;
    fclose (f);
  }
  return resident * (gsize) sysconf (_SC_PAGESIZE) / 1024;
}

static void
replace_file (const gchar * from, const gchar * to)
{
  gchar *contents, *tmp = g_strconcat (to, ".next", NULL);
  gsize length;

  if (!g_file_get_contents (from, &contents, &length, NULL)
      || !g_file_set_contents (tmp, contents, length, NULL)
      || g_rename (tmp, to) != 0)
    g_error ("cannot replace %s", to);
  g_free (contents);
  g_free (tmp);
}

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Soak * s)
{
  (void) sink;
  (void) buf;
  (void) pad;
  if (++s->frames % 1000 == 0) {
    s->rss[s->frames / 1000 - 1] = resident_kib ();
    replace_file (s->versions[(s->frames / 1000) % 2], s->live);
  }
}

/* runs a pipeline to EOS; FALSE on an error */
static gboolean
run (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  gboolean ok;

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (!ok) {
    GError *error = NULL;
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("soak: %s\n", error->message);
    g_error_free (error);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return ok;
}

static void
report_growth (const char *what, const gsize * rss, guint n)
{
  gsize lo = rss[n / 10], hi = rss[n / 10];

  for (guint i = n / 10; i < n; i++) {
    lo = MIN (lo, rss[i]);
    hi = MAX (hi, rss[i]);
  }
  printf ("%s: after the warm-up, resident memory from %.1f to %.1f MiB "
      "(last %.1f MiB; growth from the end of the warm-up %+.1f MiB)\n", what,
      lo / 1024.0, hi / 1024.0, rss[n - 1] / 1024.0,
      ((double) rss[n - 1] - rss[n / 10]) / 1024.0);
}

int
main (int argc, char **argv)
{
  Soak s = { 0 };
  GError *error = NULL;
  gchar *dir, *launch;
  CxrModel *m;
  GstElement *pipeline, *sink;
  guint64 frames = argc > 2 ? g_ascii_strtoull (argv[2], NULL, 10) : 100000;
  guint cycles = argc > 3 ? atoi (argv[3]) : 1000;
  gint64 start;

  gst_init (&argc, &argv);
  if (argc < 2 || frames < 1000 || cycles < 10) {
    g_printerr ("usage: soak MODEL [FRAMES >= 1000 [CYCLES >= 10]]\n");
    return 2;
  }
  /* two versions of the model: as it is, and with another threshold */
  dir = g_dir_make_tmp ("soak-XXXXXX", NULL);
  s.versions[0] = argv[1];
  s.versions[1] = g_build_filename (dir, "other.safetensors", NULL);
  s.live = g_build_filename (dir, "live.safetensors", NULL);
  m = cxr_model_load (argv[1], &error);
  if (!m) {
    g_printerr ("soak: %s\n", error->message);
    return 1;
  }
  m->threshold = m->threshold * 0.9f;
  if (!cxr_model_save (m, s.versions[1], &error)) {
    g_printerr ("soak: %s\n", error->message);
    return 1;
  }
  cxr_model_free (m);
  replace_file (s.versions[0], s.live);
  s.total = frames;
  s.rss = g_new0 (gsize, frames / 1000);

  launch = g_strdup_printf ("videotestsrc is-live=true num-buffers=%"
      G_GUINT64_FORMAT " pattern=ball ! video/x-raw,format=GRAY8,width=256,"
      "height=256,framerate=1000/1 ! cxrclassify model=\"%s\" ! fakesink "
      "name=sink sync=false signal-handoffs=true", frames, s.live);
  pipeline = gst_parse_launch (launch, &error);
  if (!pipeline) {
    g_printerr ("soak: %s\n", error->message);
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &s);
  start = g_get_monotonic_time ();
  if (!run (pipeline))
    return 1;
  printf ("%" G_GUINT64_FORMAT " frames, the model file replaced %"
      G_GUINT64_FORMAT " times, in %.0f s\n", s.frames, s.frames / 1000,
      (g_get_monotonic_time () - start) / 1e6);
  printf ("frames  resident MiB\n");
  for (guint i = 9; i < frames / 1000; i += 10)
    printf ("%6u  %.1f\n", (i + 1) * 1000, s.rss[i] / 1024.0);
  report_growth ("frames", s.rss, frames / 1000);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (launch);

  gsize *rss = g_new0 (gsize, cycles);
  launch = g_strdup_printf ("videotestsrc num-buffers=1 ! video/x-raw,"
      "format=GRAY8,width=256,height=256 ! cxrclassify model=\"%s\" ! "
      "fakesink", argv[1]);
  pipeline = gst_parse_launch (launch, &error);
  start = g_get_monotonic_time ();
  for (guint c = 0; c < cycles; c++) {
    if (!run (pipeline))
      return 1;
    rss[c] = resident_kib ();
  }
  printf ("%u cycles NULL -> PLAYING -> NULL in %.0f s\ncycles  resident MiB\n",
      cycles, (g_get_monotonic_time () - start) / 1e6);
  for (guint c = cycles / 10 - 1; c < cycles; c += cycles / 10)
    printf ("%6u  %.1f\n", c + 1, rss[c] / 1024.0);
  report_growth ("cycles", rss, cycles);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (rss);

  g_remove (s.live);
  g_remove (s.versions[1]);
  g_rmdir (dir);
  g_free (s.rss);
  return 0;
}
