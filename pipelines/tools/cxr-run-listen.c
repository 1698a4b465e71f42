/* cxr-run-listen (what `cxr-run listen` runs) — the AI node: films in by
 * DICOM C-STORE, a structured report of each out to the PACS.
 *
 *   cxr-run listen --results dicom://AET@HOST:PORT | --output FOLDER
 *                  [--port PORT] [--ae-title AET] [--allowed-callers A,B]
 *                  [--spool FOLDER] [--capture] [--model FILE] [--verbose]
 *
 * cxr-run hands it its arguments, "listen" taken out; they are read with
 * GOption here (cxr-run listen --help). The pipeline is the one a
 * gst-launch-1.0 user would write:
 *
 *   cxrdicomsrc port=PORT ae-title=AET ! cxrdicomdec ! cxrclassify
 *     ! cxrdicomsink url=dicom://PACS@HOST:PORT ae-title=AET
 *
 * (with --capture: cxrclassify heatmap=true ! videoconvert ! cxroverlay !
 * cxrdicomsink capture=true). One line per film says what it
 * was found to be and what was stored, by SOP Instance UID (nothing of the
 * patient's). It runs until SIGINT or SIGTERM, which finish the film under
 * way. When the PACS cannot be reached for longer than cxrdicomsink's
 * retries, the pipeline is started again after --retry seconds: the films
 * wait in the spool meanwhile, and senders are answered as ever once the
 * node is back. A PACS that refuses a report, or a setting that cannot
 * work, stops the node with exit status 1. */
#include "config.h"
#include "filmanswer.h"

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  /* the command line */
  gchar *results, *output, *ae_title, *allowed_callers, *spool, *model;
  gint port, retry;
  gboolean capture, verbose;

  GMainLoop *loop;
  GstElement *pipeline;
  gboolean stopping;            /* a signal came: EOS sent */
  gboolean again;               /* the PACS could not be reached */
  int status;
  guint received, answered, stored;
  gchar *label;                 /* the last film's answer */
  gdouble probability;
} Node;

static int
parse_options (int *argc, char ***argv, Node * node)
{
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    {"results", 0, 0, G_OPTION_ARG_STRING, &node->results,
        "The DICOM node the reports are stored in by C-STORE (the PACS)",
        "dicom://AET@HOST:PORT"},
    {"output", 0, 0, G_OPTION_ARG_FILENAME, &node->output,
        "Write the reports into FOLDER (as well, with --results)",
        "FOLDER"},
    {"port", 0, 0, G_OPTION_ARG_INT, &node->port,
        "The port films are sent to (default: 11112)", "PORT"},
    {"ae-title", 0, 0, G_OPTION_ARG_STRING, &node->ae_title,
        "This node's AE title, called by senders and calling the PACS "
        "(default: GSTCXR)", "AET"},
    {"allowed-callers", 0, 0, G_OPTION_ARG_STRING, &node->allowed_callers,
        "The senders' AE titles films are taken from, comma-separated "
        "(default: any)", "AET,AET"},
    {"spool", 0, 0, G_OPTION_ARG_FILENAME, &node->spool,
        "Where films wait until their reports are out (default: "
        "gst-cxr/dicomsrc/PORT in $XDG_STATE_HOME)", "FOLDER"},
    {"capture", 0, 0, G_OPTION_ARG_NONE, &node->capture,
        "Also store a picture of each film with the label and the heatmap "
        "burned in", NULL},
    {"model", 0, 0, G_OPTION_ARG_FILENAME, &node->model,
        "The model (default: the installed default model)", "FILE"},
    {"retry", 0, 0, G_OPTION_ARG_INT, &node->retry,
        "When the PACS cannot be reached, start again after SECONDS "
        "(default: 30)", "SECONDS"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &node->verbose,
        "With an error, also GStreamer's debug detail", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version,
        "Print cxr-run's version and exit", NULL},
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context = g_option_context_new (NULL);
  GError *error = NULL;
  int status = -1;

  g_set_prgname ("cxr-run listen");     /* its usage line */
  g_option_context_set_summary (context, "Runs the AI node: films in by "
      "DICOM C-STORE, a report of each out to the PACS.");
  g_option_context_set_description (context, "The pipeline: cxrdicomsrc "
      "port=PORT ae-title=AET ! cxrdicomdec ! cxrclassify\n"
      "  ! cxrdicomsink url=dicom://PACS@HOST:PORT\n"
      "A line per film says what it was found to be. SIGINT or SIGTERM "
      "stops it\nonce the film under way is done; films not answered yet "
      "wait in the spool\nfor the next start.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, &error)) {
    fprintf (stderr, "cxr-run listen: %s (see cxr-run listen --help)\n",
        error->message);
    g_error_free (error);
    status = 2;
  } else if (*argc > 1) {
    fprintf (stderr, "cxr-run listen: unexpected argument '%s' (see cxr-run "
        "listen --help)\n", (*argv)[1]);
    status = 2;
  } else if (version) {
    printf ("cxr-run %s\n", VERSION);
    status = 0;
  } else if (!node->results && !node->output) {
    fprintf (stderr, "cxr-run listen: where do the reports go? --results "
        "dicom://AET@HOST:PORT, or --output FOLDER\n");
    status = 2;
  } else if (node->port < 1 || node->port > 65535 || node->retry < 1) {
    fprintf (stderr, "cxr-run listen: --port takes 1 to 65535, --retry a "
        "positive number of seconds\n");
    status = 2;
  }
  g_option_context_free (context);
  return status;
}

static GstElement *
build (Node * node, GError ** error)
{
  gchar *description = g_strconcat ("cxrdicomsrc name=src ! cxrdicomdec ! ",
      cxr_run_classify_and_store (node->capture), NULL);
  GstElement *pipeline = gst_parse_launch (description, error);
  GstElement *src, *classify, *sink;

  g_free (description);
  if (!pipeline)
    return NULL;
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  classify = gst_bin_get_by_name (GST_BIN (pipeline), "classify");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (src, "port", (guint) node->port, NULL);
  if (node->ae_title) {
    g_object_set (src, "ae-title", node->ae_title, NULL);
    g_object_set (sink, "ae-title", node->ae_title, NULL);
  }
  if (node->allowed_callers)
    g_object_set (src, "allowed-callers", node->allowed_callers, NULL);
  if (node->spool)
    g_object_set (src, "spool-location", node->spool, NULL);
  if (node->model)
    g_object_set (classify, "model", node->model, NULL);
  if (node->results)
    g_object_set (sink, "url", node->results, NULL);
  if (node->output)
    g_object_set (sink, "location", node->output, NULL);
  gst_object_unref (src);
  gst_object_unref (classify);
  gst_object_unref (sink);
  return pipeline;
}

static void
say_error (Node * node, GstMessage * msg)
{
  GError *error = NULL;
  gchar *debug = NULL;

  gst_message_parse_error (msg, &error, &debug);
  fprintf (stderr, "cxr-run listen: %s\n", error->message);
  if (node->verbose && debug)
    fprintf (stderr, "  %s\n", debug);
  /* the PACS out of reach (cxrdicomsink's retries spent): the films wait
   * in the spool, and the node starts again */
  node->again = !node->stopping && g_error_matches (error,
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE);
  node->status = node->again ? 0 : 1;
  g_error_free (error);
  g_free (debug);
}

static void
say_element (Node * node, const GstStructure * s)
{
  if (gst_structure_has_name (s, "cxrdicomsrc"))
    node->received++;
  else if (gst_structure_has_name (s, "cxrclassify")) {
    cxr_run_read_answer (s, &node->label, &node->probability);
    node->answered++;
  } else if (gst_structure_has_name (s, "cxrdicomsink")) {
    node->stored++;
    printf ("%s: %s, P(PNEUMONIA) %.3f: %s %s\n",
        gst_structure_get_string (s, "source"), GST_STR_NULL (node->label),
        node->probability, gst_structure_get_string (s, "kind"),
        gst_structure_get_string (s, "sop-instance-uid"));
    fflush (stdout);
  }
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Node *node = data;

  (void) bus;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      say_error (node, msg);
      g_main_loop_quit (node->loop);
      break;
    case GST_MESSAGE_WARNING:{
      GError *warning = NULL;
      gst_message_parse_warning (msg, &warning, NULL);
      fprintf (stderr, "cxr-run listen: %s\n", warning->message);
      g_error_free (warning);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (node->loop);
      break;
    case GST_MESSAGE_ELEMENT:
      say_element (node, gst_message_get_structure (msg));
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* SIGINT, SIGTERM: the film under way finished, then out */
static gboolean
on_signal (gpointer data)
{
  Node *node = data;

  node->stopping = TRUE;
  if (node->pipeline)
    gst_element_send_event (node->pipeline, gst_event_new_eos ());
  else
    g_main_loop_quit (node->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
wake (gpointer data)
{
  g_main_loop_quit (((Node *) data)->loop);
  return G_SOURCE_REMOVE;
}

/* the pipeline, run until a signal or an error; FALSE when it is not to
 * be started again */
static gboolean
run_once (Node * node)
{
  GError *error = NULL;
  GstBus *bus;

  node->pipeline = build (node, &error);
  if (!node->pipeline) {
    fprintf (stderr, "cxr-run listen: %s\n", error->message);
    g_error_free (error);
    node->status = 1;
    return FALSE;
  }
  bus = gst_element_get_bus (node->pipeline);
  gst_bus_add_watch (bus, on_message, node);
  node->again = FALSE;
  if (gst_element_set_state (node->pipeline, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE) {
    printf ("listening on port %d as %s\n", node->port, node->ae_title ?
        node->ae_title : "GSTCXR");
    fflush (stdout);
  }
  g_main_loop_run (node->loop);
  gst_element_set_state (node->pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  g_clear_pointer (&node->pipeline, gst_object_unref);
  return node->again && !node->stopping;
}

int
main (int argc, char **argv)
{
  Node node = {.port = 11112,.retry = 30 };
  int status = parse_options (&argc, &argv, &node);

  if (status >= 0)
    return status;
  node.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, &node);
  g_unix_signal_add (SIGTERM, on_signal, &node);
  while (run_once (&node)) {
    fprintf (stderr, "cxr-run listen: starting again in %d s; the films "
        "wait in the spool\n", node.retry);
    g_timeout_add_seconds (node.retry, wake, &node);
    g_main_loop_run (node.loop);
    if (node.stopping)
      break;
  }
  printf ("%u films received, %u answered, %u objects stored\n",
      node.received, node.answered, node.stored);
  g_main_loop_unref (node.loop);
  return node.status;
}
