/* cxr-run — runs gst-cxr's folder jobs with a progress display.
 *
 *   cxr-run classify FOLDER [--model FILE] [--output FILE.jsonl]
 *   cxr-run evaluate FOLDER [--model FILE] [--output FILE.jsonl]
 *                           [--summary FILE.json]
 *
 * classify: every image in FOLDER (class subfolders, a CSV manifest, or a
 * flat folder) through cxrclassify; one JSON line per image goes to --output
 * (default: results.jsonl). evaluate: the same on a labelled folder, and the
 * metrics summary (confusion matrix, accuracy, AUC, ...) is printed and
 * written to --summary.
 *
 * The pipeline is the one a gst-launch-1.0 user would write:
 *   cxrdatasetsrc location=FOLDER target-size=124 ! cxrclassify model=FILE
 *     ! cxrmetasink location=FILE.jsonl summary-location=FILE.json
 * On a terminal a progress line shows done/total, images per second and
 * the time left. */
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  GMainLoop *loop;
  GstElement *pipeline, *source, *sink;
  gint64 started;
  gboolean failed;
  gboolean tty;
} Job;

static void
format_duration (double seconds, char *out, size_t size)
{
  int s = (int) (seconds + 0.5);
  if (s >= 3600)
    g_snprintf (out, size, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  else
    g_snprintf (out, size, "%d:%02d", s / 60, s % 60);
}

static gboolean
show_progress (gpointer data)
{
  Job *job = data;
  guint64 done = 0;
  guint total = 0;
  double elapsed = (g_get_monotonic_time () - job->started) / 1e6;
  double rate;
  char eta[32] = "?", bar[31];
  int filled;

  g_object_get (job->sink, "count", &done, NULL);
  g_object_get (job->source, "n-files", &total, NULL);
  rate = elapsed > 0 ? done / elapsed : 0;
  if (rate > 0 && total >= done)
    format_duration ((total - done) / rate, eta, sizeof eta);
  filled = total ? (int) (30 * done / total) : 0;
  memset (bar, '#', filled);
  memset (bar + filled, '.', 30 - filled);
  bar[30] = '\0';
  fprintf (stderr, "%s[%s] %" G_GUINT64_FORMAT "/%u  %.1f images/s  ETA %s   ",
      job->tty ? "\r" : "", bar, done, total, rate, eta);
  if (!job->tty)
    fputc ('\n', stderr);
  fflush (stderr);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Job *job = data;
  GError *error = NULL;
  gchar *debug = NULL;

  (void) bus;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      fprintf (stderr, "\ncxr-run: %s\n", error->message);
      if (debug)
        fprintf (stderr, "  (%s)\n", debug);
      g_clear_error (&error);
      g_free (debug);
      job->failed = TRUE;
      g_main_loop_quit (job->loop);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, NULL);
      fprintf (stderr, "%scxr-run: warning: %s\n", job->tty ? "\n" : "",
          error->message);
      g_clear_error (&error);
      break;
    case GST_MESSAGE_EOS:
      show_progress (job);
      fputc ('\n', stderr);
      g_main_loop_quit (job->loop);
      break;
    default:
      break;
  }
  return TRUE;
}

static int
usage (void)
{
  fprintf (stderr, "usage: cxr-run classify|evaluate FOLDER [--model FILE] "
      "[--output FILE.jsonl] [--summary FILE.json]\n");
  return 2;
}

int
main (int argc, char **argv)
{
  const char *command, *folder, *model = NULL, *output = "results.jsonl";
  const char *summary = NULL;
  GError *error = NULL;
  gchar *launch;
  Job job = { 0 };
  GstBus *bus;

  gst_init (&argc, &argv);
  if (argc < 3)
    return usage ();
  command = argv[1];
  folder = argv[2];
  if (strcmp (command, "classify") != 0 && strcmp (command, "evaluate") != 0)
    return usage ();
  for (int i = 3; i < argc; i++) {
    if (i + 1 < argc && strcmp (argv[i], "--model") == 0)
      model = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--output") == 0)
      output = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--summary") == 0)
      summary = argv[++i];
    else
      return usage ();
  }
  if (!summary && strcmp (command, "evaluate") == 0)
    summary = "summary.json";

  launch = g_strdup_printf ("cxrdatasetsrc name=source target-size=124 ! "
      "cxrclassify name=classify ! cxrmetasink name=sink");
  job.pipeline = gst_parse_launch (launch, &error);
  g_free (launch);
  if (!job.pipeline) {
    fprintf (stderr, "cxr-run: %s (is the cxr plugin on GST_PLUGIN_PATH?)\n",
        error->message);
    return 1;
  }
  job.source = gst_bin_get_by_name (GST_BIN (job.pipeline), "source");
  job.sink = gst_bin_get_by_name (GST_BIN (job.pipeline), "sink");
  g_object_set (job.source, "location", folder, NULL);
  g_object_set (job.sink, "location", output, NULL);
  if (summary)
    g_object_set (job.sink, "summary-location", summary, NULL);
  if (model) {
    GstElement *classify = gst_bin_get_by_name (GST_BIN (job.pipeline),
        "classify");
    g_object_set (classify, "model", model, NULL);
    gst_object_unref (classify);
  }

  job.loop = g_main_loop_new (NULL, FALSE);
  job.tty = isatty (fileno (stderr));
  bus = gst_element_get_bus (job.pipeline);
  gst_bus_add_watch (bus, on_message, &job);
  job.started = g_get_monotonic_time ();
  if (gst_element_set_state (job.pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE)
    job.failed = TRUE;
  /* the error message on the bus says why; let the loop show it */
  g_timeout_add (job.tty ? 200 : 2000, show_progress, &job);
  g_main_loop_run (job.loop);

  gst_element_set_state (job.pipeline, GST_STATE_NULL);
  if (!job.failed)
    fprintf (stderr, "cxr-run: results in %s%s%s\n", output,
        summary ? ", summary in " : "", summary ? summary : "");
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (job.source);
  gst_object_unref (job.sink);
  gst_object_unref (job.pipeline);
  g_main_loop_unref (job.loop);
  return job.failed ? 1 : 0;
}
