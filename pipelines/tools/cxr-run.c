/* cxr-run — runs gst-cxr's folder jobs with a progress display.
 *
 *   cxr-run [-v] SUBCOMMAND [ARGUMENT...]    (the subcommands: cxr-run.1)
 *
 * The command line is read with GOption, each subcommand with a context
 * of its own (the subcommands table below: its options, its usage and what
 * it does), so that `cxr-run SUBCOMMAND --help` lists them; GStreamer's own
 * options (--help-gst) come with each. -v/--verbose, before or after the
 * subcommand, adds GStreamer's debug detail (source file, function, element
 * path) to an error, which is otherwise the one line of its message. A
 * mistake on the command line is one line too, and exit status 2.
 *
 * classify: every image in FOLDER (class subfolders, a CSV manifest, or a
 * flat folder) through cxrclassify; one JSON line per image goes to --output
 * (default: results.jsonl). evaluate: the same on a labelled folder, and the
 * metrics summary (confusion matrix, accuracy, AUC, ...) is printed and
 * written to --summary. --report writes the HTML report (cxrmetasink
 * report-location), with heatmaps (cxrclassify heatmap=true).
 *
 * The pipeline is the one a gst-launch-1.0 user would write:
 *   cxrdatasetsrc location=FOLDER target-size=124 ! queue
 *     ! cxrclassify model=FILE
 *     ! cxrmetasink location=FILE.jsonl summary-location=FILE.json
 * On a terminal a progress line shows done/total, images per second and
 * the time left.
 *
 * train: every labelled image in FOLDER into cxrtrain, which caches them,
 * trains (epochs, validation, checkpoints) and writes MODEL:
 *   cxrdatasetsrc location=FOLDER target-size=124 ! cxrtrain output=MODEL
 * Further arguments NAME=VALUE set cxrtrain properties (epochs=20 seed=3).
 * The progress line follows the caching, then each epoch; every epoch's
 * validation figures are printed as they come.
 *
 * calibrate: a site's labelled films into cxrtrain mode=calibrate
 * model=BASE, which fits BASE's decision to them (mode=fine-tune: its
 * weights too) and writes MODEL; the cross-validated figures before and
 * after are printed.
 *
 * Shards, for schedulers that start processes themselves (Slurm job
 * arrays, GNU parallel): classify --shard K/N takes the K-th of N runs of
 * consecutive files and writes OUTPUT.K-of-N once it is complete (a
 * re-run finds it and skips the shard); merge puts the N shards together
 * into OUTPUT and the summary (shards.c). Under mpirun each process takes
 * its share by itself, and process 0 alone shows progress and writes.
 *
 * pacs: the chest radiographs that reach an archive, classified, and a
 * structured report of each stored back; listen: the AI node, films in by
 * C-STORE and reports out. Each is a program of its own (cxr-run-pacs.c,
 * cxr-run-listen.c; run_helper finds it), so that the other jobs do not load
 * the network's libraries, given the arguments as they came, the
 * subcommand taken out, and reads them (and its --help) itself. */
#include "config.h"
#include "dist.h"
#include "shards.h"

#include <gst/gst.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

typedef struct {
  GMainLoop *loop;
  GstElement *pipeline, *source, *sink;
  gint64 started;
  gboolean failed;
  gboolean tty;
  gboolean training;            /* sink is cxrtrain */
  gboolean calibrating;         /* cxrtrain fits a base model to a site */
  gboolean caching_done;        /* training: the first progress arrived */
  gboolean verbose;             /* errors with GStreamer's debug detail */
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

static void
print_bar (Job * job, const char *what, guint64 done, guint64 total,
    double rate, const char *unit, double eta_seconds, const char *extra)
{
  char eta[32] = "?", bar[31];
  int filled = total ? (int) (30 * MIN (done, total) / total) : 0;

  if (eta_seconds >= 0)
    format_duration (eta_seconds, eta, sizeof eta);
  memset (bar, '#', filled);
  memset (bar + filled, '.', 30 - filled);
  bar[30] = '\0';
  fprintf (stderr, "%s%s[%s] %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
      "  %.1f %s  ETA %s%s   ", job->tty ? "\r" : "", what, bar, done, total,
      rate, unit, eta, extra);
  if (!job->tty)
    fputc ('\n', stderr);
  fflush (stderr);
}

/* folder jobs: results written against images found */
static gboolean
show_progress (gpointer data)
{
  Job *job = data;
  guint64 done = 0;
  guint total = 0;
  double elapsed = (g_get_monotonic_time () - job->started) / 1e6;
  double rate;

  /* process 0 speaks for a run over several */
  if (cxr_dist_launched_rank () > 0 || (job->training && job->caching_done))
    return G_SOURCE_CONTINUE;   /* cxrtrain-progress messages take over */
  g_object_get (job->sink, job->training ? "frames-cached" : "count", &done,
      NULL);
  g_object_get (job->source, "n-files", &total, NULL);
  rate = elapsed > 0 ? done / elapsed : 0;
  print_bar (job, job->training ? "reading " : "", done, total, rate,
      "images/s", rate > 0 && total >= done ? (total - done) / rate : -1, "");
  return G_SOURCE_CONTINUE;
}

/* "member k/K " for a member of an ensemble, "" otherwise */
static void
member_label (const GstStructure * s, char *buf, gsize size)
{
  gint member = 1, members = 1;

  gst_structure_get (s, "member", G_TYPE_INT, &member, "members", G_TYPE_INT,
      &members, NULL);
  if (members > 1)
    g_snprintf (buf, size, "member %d/%d ", member, members);
  else
    buf[0] = '\0';
}

/* the first message after caching: the reading bar's last state, once */
static void
end_caching (Job * job)
{
  if (job->caching_done)
    return;
  show_progress (job);
  fputc ('\n', stderr);
  job->caching_done = TRUE;
}

static void
show_training (Job * job, const GstStructure * s)
{
  gint epoch = 0, epochs = 0, step = 0, steps = 0;
  double loss = 0, acc = 0, rate = 0, eta = -1;
  char who[32], what[48], extra[64];

  end_caching (job);
  gst_structure_get (s, "epoch", G_TYPE_INT, &epoch, "epochs", G_TYPE_INT,
      &epochs, "step", G_TYPE_INT, &step, "steps-per-epoch", G_TYPE_INT,
      &steps, "loss", G_TYPE_DOUBLE, &loss, "accuracy", G_TYPE_DOUBLE, &acc,
      "images-per-second", G_TYPE_DOUBLE, &rate, "eta-seconds", G_TYPE_DOUBLE,
      &eta, NULL);
  member_label (s, who, sizeof who);
  g_snprintf (what, sizeof what, "%sepoch %d/%d ", who, epoch, epochs);
  g_snprintf (extra, sizeof extra, "  loss %.4f  acc %.3f", loss, acc);
  print_bar (job, what, (guint64) step, (guint64) steps, rate, "images/s", eta, extra);
}

static void
show_epoch (Job * job, const GstStructure * s)
{
  gint epoch = 0;
  double val_loss = 0, val_acc = 0, val_auc = 0, threshold = 0;
  gboolean best = FALSE;
  char who[32];

  gst_structure_get (s, "epoch", G_TYPE_INT, &epoch, "val-loss",
      G_TYPE_DOUBLE, &val_loss, "val-accuracy", G_TYPE_DOUBLE, &val_acc,
      "val-auc", G_TYPE_DOUBLE, &val_auc, "threshold", G_TYPE_DOUBLE,
      &threshold, "best", G_TYPE_BOOLEAN, &best, NULL);
  member_label (s, who, sizeof who);
  fprintf (stderr, "%s%sepoch %d: validation loss %.4f, accuracy %.4f, AUC "
      "%.4f, threshold %.3f%s\n", job->tty ? "\n" : "", who, epoch,
      val_loss, val_acc, val_auc, threshold, best ? "  (best so far)" : "");
}

/* an ensemble's own figures come only at the end */
static void
show_done (const GstStructure * s)
{
  gint members = 1;
  double val_auc = NAN;

  gst_structure_get (s, "members", G_TYPE_INT, &members, "val-auc",
      G_TYPE_DOUBLE, &val_auc, NULL);
  if (members > 1)
    fprintf (stderr, "ensemble of %d networks: validation AUC %.4f\n",
        members, val_auc);
}

static void
show_calibrate_progress (Job * job, const GstStructure * s)
{
  gint done = 0, total = 0;
  double elapsed = (g_get_monotonic_time () - job->started) / 1e6;

  end_caching (job);
  gst_structure_get (s, "done", G_TYPE_INT, &done, "total", G_TYPE_INT,
      &total, NULL);
  /* a fit takes tens of seconds: per minute, and the time left */
  print_bar (job, "fine-tuning ", (guint64) done, (guint64) total,
      60.0 * done / MAX (elapsed, 1e-9), "fits/min",
      done > 0 ? elapsed / done * (total - done) : -1, "");
}

static void
show_calibrated (Job * job, const GstStructure * s)
{
  const gchar *method = gst_structure_get_string (s, "method");
  const gchar *before = gst_structure_get_string (s, "cv-before");
  const gchar *after = gst_structure_get_string (s, "cv-after");
  const gchar *rule = gst_structure_get_string (s, "threshold-rule");
  gint images = 0;
  gfloat threshold = NAN;

  end_caching (job);
  gst_structure_get (s, "images", G_TYPE_INT, &images, "threshold",
      G_TYPE_FLOAT, &threshold, NULL);
  fprintf (stderr, "\ncalibrated on %d films: %s, threshold %.3f (%s)\n"
      "  before (the model as it came): %s\n"
      "  after (cross-validated):       %s\n", images, method ? method : "?",
      threshold, rule ? rule : "?", before ? before : "?",
      after ? after : "?");
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
      /* one line; where in GStreamer it arose only when asked for */
      fprintf (stderr, "%scxr-run: %s\n", job->tty ? "\n" : "",
          error->message);
      if (debug && job->verbose)
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
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "cxrtrain-progress"))
        show_training (job, s);
      else if (gst_structure_has_name (s, "cxrtrain-epoch"))
        show_epoch (job, s);
      else if (gst_structure_has_name (s, "cxrtrain-done") && !job->calibrating)
        show_done (s);
      else if (gst_structure_has_name (s, "cxrtrain-calibrate-progress"))
        show_calibrate_progress (job, s);
      else if (gst_structure_has_name (s, "cxrtrain-calibrated"))
        show_calibrated (job, s);
      break;
    }
    case GST_MESSAGE_EOS:
      if (!job->training)
        show_progress (job);
      if (cxr_dist_launched_rank () == 0)
        fputc ('\n', stderr);
      g_main_loop_quit (job->loop);
      break;
    default:
      break;
  }
  return TRUE;
}

/* NAME=VALUE onto element: FALSE, with a message naming what is wrong,
 * for a property it does not have, one it cannot take, or a value that is
 * not of the property's type or out of its range */
static gboolean
set_property (GstElement * element, const gchar * setting)
{
  gchar **kv = g_strsplit (setting, "=", 2);
  const gchar *factory = GST_OBJECT_NAME (gst_element_get_factory (element));
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS
      (element), kv[0]);
  GValue value = G_VALUE_INIT;
  gboolean ok = FALSE;

  if (!pspec || !(pspec->flags & G_PARAM_WRITABLE))
    fprintf (stderr, "cxr-run: %s has no property '%s' that can be set "
        "(see gst-inspect-1.0 %s)\n", factory, kv[0], factory);
  else {
    g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
    if (!gst_value_deserialize (&value, kv[1]))
      fprintf (stderr, "cxr-run: '%s' is not a value for %s's %s (%s)\n",
          kv[1], factory, kv[0], g_type_name (G_PARAM_SPEC_VALUE_TYPE (pspec)));
    else if (g_param_value_validate (pspec, &value))
      fprintf (stderr, "cxr-run: %s=%s is out of the range %s takes (see "
          "gst-inspect-1.0 %s)\n", kv[0], kv[1], kv[0], factory);
    else {
      g_object_set_property (G_OBJECT (element), kv[0], &value);
      ok = TRUE;
    }
    g_value_unset (&value);
  }
  g_strfreev (kv);
  return ok;
}


/* What the command line sets: one subcommand's options, the options every
 * subcommand has, and the arguments left (FOLDER, then NAME=VALUE). GOption
 * writes into it, hence one for the program. */
static struct {
  gchar *model, *output, *summary, *report, *shard;
  gint shards;
  gchar **arguments;
  gboolean verbose, version;
} opt;

static const GOptionEntry global_entries[] = {
  {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt.verbose,
      "With an error, also GStreamer's debug detail (source file, function, "
      "element)", NULL},
  {"version", 0, 0, G_OPTION_ARG_NONE, &opt.version,
      "Print cxr-run's version and exit", NULL},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry arguments_entry[] = {
  {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt.arguments,
      NULL, NULL},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry classify_entries[] = {
  {"model", 0, 0, G_OPTION_ARG_FILENAME, &opt.model,
      "The model (default: the installed default model)", "FILE"},
  {"output", 0, 0, G_OPTION_ARG_FILENAME, &opt.output,
      "Where the JSON lines go (default: results.jsonl)", "FILE.jsonl"},
  {"summary", 0, 0, G_OPTION_ARG_FILENAME, &opt.summary,
      "Also write the metrics summary there", "FILE.json"},
  {"report", 0, 0, G_OPTION_ARG_FILENAME, &opt.report,
      "Also write the HTML report, with heatmaps", "FILE.html"},
  {"shard", 0, 0, G_OPTION_ARG_STRING, &opt.shard,
      "Only the K-th of N runs of consecutive files, into FILE.jsonl.K-of-N "
      "(skipped when that is there); cxr-run merge puts the shards "
      "together", "K/N"},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry evaluate_entries[] = {
  {"model", 0, 0, G_OPTION_ARG_FILENAME, &opt.model,
      "The model (default: the installed default model)", "FILE"},
  {"output", 0, 0, G_OPTION_ARG_FILENAME, &opt.output,
      "Where the JSON lines go (default: results.jsonl)", "FILE.jsonl"},
  {"summary", 0, 0, G_OPTION_ARG_FILENAME, &opt.summary,
      "Where the metrics summary goes (default: summary.json)", "FILE.json"},
  {"report", 0, 0, G_OPTION_ARG_FILENAME, &opt.report,
      "Also write the HTML report, with heatmaps", "FILE.html"},
  {"shard", 0, 0, G_OPTION_ARG_STRING, &opt.shard,
      "Only the K-th of N runs of consecutive files, into FILE.jsonl.K-of-N "
      "(skipped when that is there); cxr-run merge puts the shards "
      "together", "K/N"},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry merge_entries[] = {
  {"shards", 0, 0, G_OPTION_ARG_INT, &opt.shards,
      "How many shards there are (needed)", "N"},
  {"output", 0, 0, G_OPTION_ARG_FILENAME, &opt.output,
      "The merged results (default: results.jsonl); the shards are "
      "FILE.jsonl.1-of-N ... FILE.jsonl.N-of-N", "FILE.jsonl"},
  {"summary", 0, 0, G_OPTION_ARG_FILENAME, &opt.summary,
      "Also write the summary there", "FILE.json"},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry train_entries[] = {
  {"output", 0, 0, G_OPTION_ARG_FILENAME, &opt.output,
      "Where the trained model is written (needed)", "MODEL"},
  {"model", 0, 0, G_OPTION_ARG_FILENAME, &opt.model,
      "The weights to start from (default: new ones)", "START"},
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry calibrate_entries[] = {
  {"model", 0, 0, G_OPTION_ARG_FILENAME, &opt.model,
      "The model to fit to the site's films (needed)", "BASE"},
  {"output", 0, 0, G_OPTION_ARG_FILENAME, &opt.output,
      "Where the calibrated model is written (needed)", "MODEL"},
  G_OPTION_ENTRY_NULL
};

typedef struct {
  const gchar *name;
  const gchar *arguments;       /* after [OPTION...] in its usage line */
  const gchar *summary;         /* one line: in cxr-run --help too */
  const gchar *description;     /* the rest of what it does */
  const GOptionEntry *entries;  /* NULL: cxr-run-NAME reads its own */
  gboolean training;            /* into cxrtrain; NAME=VALUE settings */
} Subcommand;

static const Subcommand subcommands[] = {
  {"classify", "FOLDER",
      "Classifies every image in FOLDER, one JSON line each.",
      "FOLDER: class subfolders, a CSV manifest or a flat folder of images.\n"
      "The pipeline: cxrdatasetsrc location=FOLDER target-size=124 ! queue\n"
      "  ! cxrclassify model=FILE ! cxrmetasink location=FILE.jsonl\n"
      "On a terminal a progress line shows done/total, images per second\n"
      "and the time left.",
      classify_entries, FALSE},
  {"evaluate", "FOLDER",
      "Classifies a labelled FOLDER and scores it (accuracy, AUC, ...).",
      "FOLDER: class subfolders or a CSV manifest with labels. The metrics\n"
      "summary (confusion matrix, accuracy, AUC, ...) is printed and\n"
      "written to --summary; one JSON line per image goes to --output.",
      evaluate_entries, FALSE},
  {"train", "FOLDER [NAME=VALUE...]",
      "Trains a model on a labelled FOLDER.",
      "cxrdatasetsrc location=FOLDER target-size=124 ! cxrtrain "
      "output=MODEL:\n"
      "cxrtrain caches the images, trains (epochs, validation, checkpoints)\n"
      "and writes MODEL. NAME=VALUE sets a cxrtrain property (epochs=20\n"
      "seed=3; gst-inspect-1.0 cxrtrain lists them). The progress line\n"
      "follows the caching, then each epoch; each epoch's validation\n"
      "figures are printed as they come.",
      train_entries, TRUE},
  {"calibrate", "FOLDER [mode=fine-tune] [NAME=VALUE...]",
      "Fits a model's decision to a site's labelled films.",
      "cxrtrain mode=calibrate model=BASE fits BASE's decision to the\n"
      "films in FOLDER (mode=fine-tune: its weights too) and writes MODEL;\n"
      "the cross-validated figures before and after are printed.\n"
      "NAME=VALUE sets a cxrtrain property.",
      calibrate_entries, TRUE},
  {"merge", "",
      "Puts the shards of a run (--shard K/N) together.",
      "Reads FILE.jsonl.1-of-N ... FILE.jsonl.N-of-N (--output FILE.jsonl,\n"
      "--shards N) and writes FILE.jsonl, the results in the order one run\n"
      "writes them, and their summary (printed; --summary FILE.json too).",
      merge_entries, FALSE},
  {"pacs", NULL,
      "Classifies what reaches an archive and stores reports back.",
      NULL, NULL, FALSE},
  {"listen", NULL, "Runs the AI node: films in by DICOM C-STORE, reports "
        "out.", NULL, NULL, FALSE},
};

static const Subcommand *
find_subcommand (const gchar * name)
{
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (subcommands[i].name, name) == 0)
      return &subcommands[i];
  return NULL;
}

/* cxr-run's own: the global options, and the subcommands, a line each */
static GOptionContext *
global_context (void)
{
  GOptionContext *context = g_option_context_new ("SUBCOMMAND [ARGUMENT...]");
  GString *list = g_string_new ("Runs gst-cxr's jobs. Subcommands:");

  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    g_string_append_printf (list, "\n  %-10s %s", subcommands[i].name,
        subcommands[i].summary);
  g_option_context_set_summary (context, list->str);
  g_option_context_set_description (context, "cxr-run SUBCOMMAND --help "
      "shows a subcommand's arguments and options.");
  g_option_context_add_main_entries (context, global_entries, NULL);
  g_string_free (list, TRUE);
  return context;
}

/* the subcommand's: its options, then the global ones and GStreamer's */
static GOptionContext *
subcommand_context (const Subcommand * sub)
{
  GOptionContext *context = g_option_context_new (sub->arguments);

  g_option_context_set_summary (context, sub->summary);
  g_option_context_set_description (context, sub->description);
  g_option_context_add_main_entries (context, sub->entries, NULL);
  g_option_context_add_main_entries (context, global_entries, NULL);
  g_option_context_add_main_entries (context, arguments_entry, NULL);
  /* initialises GStreamer once the command line has been read */
  g_option_context_add_group (context, gst_init_get_option_group ());
  return context;
}

static int
print_version (void)
{
  printf ("cxr-run %s\n", VERSION);
  return 0;
}

/* no subcommand: the version, or the usage and status 2 */
static int
run_global (int argc, char **argv)
{
  GOptionContext *context = global_context ();
  GError *error = NULL;
  int status = 2;

  g_set_prgname ("cxr-run");
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "cxr-run: %s (cxr-run --help lists what it takes)\n",
        error->message);
    g_error_free (error);
  } else if (opt.version)
    status = print_version ();
  else {
    gchar *help = g_option_context_get_help (context, TRUE, NULL);
    fputs (help, stderr);
    g_free (help);
  }
  g_option_context_free (context);
  return status;
}

/* execs cxr-run-NAME with argv (argv[0] replaced): the one beside this
 * program (a build folder), else the installed one */
static int
run_helper (const Subcommand * sub, char **argv)
{
  gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  gchar *dir = self ? g_path_get_dirname (self) : g_strdup (".");
  gchar *name = g_strconcat ("cxr-run-", sub->name, NULL);
  gchar *program = g_build_filename (dir, name, NULL);

  if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE)) {
    g_free (program);
    program = g_build_filename (CXR_HELPERS_DIR, name, NULL);
  }
  argv[0] = program;
  execv (program, argv);
  fprintf (stderr, "cxr-run: cannot run %s: %s\n", program, g_strerror (errno));
  return 1;
}

/* what the options left and what the job needs: FALSE, with a line that
 * says what is wrong, for a job that cannot start */
static gboolean
check_arguments (const Subcommand * sub)
{
  const gchar *command = sub->name, *wrong = NULL;
  gboolean training = sub->training;
  gchar **args = opt.arguments;

  if (!args || !args[0]) {
    fprintf (stderr, "cxr-run: %s: no FOLDER given (see cxr-run %s "
        "--help)\n", command, command);
    return FALSE;
  }
  for (guint i = 1; args[i] && !wrong; i++)
    if (!training || !strchr (args[i], '=') || args[i][0] == '-')
      wrong = args[i];
  if (wrong && training)
    fprintf (stderr, "cxr-run: %s: '%s' is not a cxrtrain setting "
        "NAME=VALUE\n", command, wrong);
  else if (wrong)
    fprintf (stderr, "cxr-run: %s: one FOLDER only ('%s' is one too many)\n",
        command, wrong);
  else if (training && !opt.output)
    fprintf (stderr, "cxr-run: %s: needs --output MODEL, where the model is "
        "written\n", command);
  else if (strcmp (command, "calibrate") == 0 && !opt.model)
    fprintf (stderr, "cxr-run: calibrate: needs --model BASE, the model to "
        "fit to the site's films\n");
  else
    return TRUE;
  return FALSE;
}

/* sub's job on FOLDER (opt.arguments[0]), as opt says */
static int
run_job (const Subcommand * sub)
{
  const gchar *folder = opt.arguments[0];
  gchar **settings = opt.arguments + 1;
  const gchar *model = opt.model, *output = opt.output;
  const gchar *summary = opt.summary, *report = opt.report;
  GError *error = NULL;
  gchar *launch;
  Job job = { 0 };
  GstBus *bus;

  job.calibrating = strcmp (sub->name, "calibrate") == 0;
  job.training = sub->training;
  job.verbose = opt.verbose;
  gchar *shard_output = NULL, *partial = NULL;
  int status;

  if (!output)
    output = "results.jsonl";
  if (opt.shard) {
    /* a shard's results, complete, or none: a re-run skips what is done */
    if (summary || report) {
      fprintf (stderr, "cxr-run: %s: a shard has no summary or report of "
          "its own; cxr-run merge writes the summary of all\n", sub->name);
      return 2;
    }
    status = cxr_run_shard_start (opt.shard, output, &shard_output,
        &partial);
    if (status != 0)
      return status == 1 ? 0 : 2;
    output = partial;
  } else if (!summary && strcmp (sub->name, "evaluate") == 0)
    summary = "summary.json";

  if (job.training)
    launch = g_strdup ("cxrdatasetsrc name=source target-size=124 ! "
        "cxrtrain name=sink");
  else
    /* the queue lets decoding and the network run on separate cores */
    launch = g_strdup ("cxrdatasetsrc name=source target-size=124 ! queue ! "
        "cxrclassify name=classify ! cxrmetasink name=sink");
  /* without FATAL_ERRORS a missing element still gives a part pipeline */
  job.pipeline = gst_parse_launch_full (launch, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_free (launch);
  if (!job.pipeline) {
    fprintf (stderr, "cxr-run: %s (is the cxr plugin on GST_PLUGIN_PATH?)\n",
        error->message);
    g_error_free (error);
    return 1;
  }
  job.source = gst_bin_get_by_name (GST_BIN (job.pipeline), "source");
  job.sink = gst_bin_get_by_name (GST_BIN (job.pipeline), "sink");
  g_object_set (job.source, "location", folder, NULL);
  if (job.training) {
    g_object_set (job.sink, "output", output, NULL);
    if (model)
      g_object_set (job.sink, "model", model, NULL);
    if (job.calibrating)
      gst_util_set_object_arg (G_OBJECT (job.sink), "mode", "calibrate");
    for (guint i = 0; settings[i]; i++)
      if (!set_property (job.sink, settings[i])) {
        gst_object_unref (job.source);
        gst_object_unref (job.sink);
        gst_object_unref (job.pipeline);
        return 2;
      }
  } else {
    g_object_set (job.sink, "location", output, NULL);
    if (opt.shard) {
      g_object_set (job.source, "shard", opt.shard, NULL);
      g_object_set (job.sink, "print-summary", FALSE, NULL);
    }
  }
  if (summary)
    g_object_set (job.sink, "summary-location", summary, NULL);
  if (!job.training) {
    GstElement *classify = gst_bin_get_by_name (GST_BIN (job.pipeline),
        "classify");
    if (model)
      g_object_set (classify, "model", model, NULL);
    if (report) {
      g_object_set (classify, "heatmap", TRUE, NULL);
      g_object_set (job.sink, "report-location", report, NULL);
    }
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
  if (!job.failed && shard_output && g_rename (partial, shard_output) != 0) {
    fprintf (stderr, "cxr-run: cannot write %s: %s\n", shard_output,
        g_strerror (errno));
    job.failed = TRUE;
  }
  if (job.failed || cxr_dist_launched_rank () > 0)
    ;                           /* process 0 speaks for a run over several */
  else if (shard_output)
    fprintf (stderr, "cxr-run: shard %s in %s\n", opt.shard, shard_output);
  else if (job.training)
    fprintf (stderr, "cxr-run: model written to %s\n", output);
  else
    fprintf (stderr, "cxr-run: results in %s%s%s%s%s\n", output,
        summary ? ", summary in " : "", summary ? summary : "",
        report ? ", report in " : "", report ? report : "");
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (job.source);
  gst_object_unref (job.sink);
  gst_object_unref (job.pipeline);
  g_main_loop_unref (job.loop);
  status = job.failed ? 1 : 0;
  g_free (partial);
  g_free (shard_output);
  return status;
}

/* merge: the shards, as many as --shards says */
static int
run_merge (void)
{
  if (opt.arguments && opt.arguments[0]) {
    fprintf (stderr, "cxr-run: merge: takes no FOLDER ('%s'); the shards "
        "are found by --output and --shards\n", opt.arguments[0]);
    return 2;
  }
  if (opt.shards < 1) {
    fprintf (stderr, "cxr-run: merge: needs --shards N, how many shards "
        "there are\n");
    return 2;
  }
  return cxr_run_merge (opt.output ? opt.output : "results.jsonl",
      (guint) opt.shards, opt.summary);
}

/* argv: the subcommand's arguments and the global options before it */
static int
run_subcommand (const Subcommand * sub, int argc, char **argv)
{
  gchar *name = g_strconcat ("cxr-run ", sub->name, NULL);
  GOptionContext *context = subcommand_context (sub);
  GError *error = NULL;
  int status = 2;

  g_set_prgname (name);         /* its usage line: cxr-run classify ... */
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "cxr-run: %s: %s (see cxr-run %s --help)\n", sub->name,
        error->message, sub->name);
    g_error_free (error);
  } else if (opt.version)
    status = print_version ();
  else if (strcmp (sub->name, "merge") == 0)
    status = run_merge ();
  else if (check_arguments (sub))
    status = run_job (sub);
  g_option_context_free (context);
  g_free (name);
  return status;
}

int
main (int argc, char **argv)
{
  int at = 1;                   /* where the subcommand is */
  const Subcommand *sub;

  /* the help in the terminal's character set; numbers stay C's (JSON) */
  setlocale (LC_CTYPE, "");
  /* global options (-v, --version) may come before the subcommand */
  while (at < argc && argv[at][0] == '-')
    at++;
  if (at == argc)
    return run_global (argc, argv);
  sub = find_subcommand (argv[at]);
  if (!sub) {
    fprintf (stderr, "cxr-run: unknown subcommand '%s' (cxr-run --help "
        "lists them)\n", argv[at]);
    return 2;
  }
  /* the subcommand taken out: what came before it is read with the rest */
  memmove (argv + at, argv + at + 1, (argc - at) * sizeof *argv);
  argc--;
  if (!sub->entries)
    return run_helper (sub, argv);
  return run_subcommand (sub, argc, argv);
}
