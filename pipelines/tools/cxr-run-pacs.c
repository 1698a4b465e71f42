/* cxr-run-pacs (what `cxr-run pacs` runs) — classifies the chest
 * radiographs that reach an archive and stores a structured report of each
 * back into it.
 *
 *   cxr-run pacs --url URL [--user NAME --password-file FILE] [--once]
 *                [--ca-file FILE] [--capture] [--model FILE] [--state FILE]
 *                [--results dicom://AET@HOST:PORT [--ae-title AET]]
 *                [--interval SECONDS] [--verbose]
 *
 * cxr-run hands it its arguments, "pacs" taken out; they are read with
 * GOption here, where each option is described (cxr-run pacs --help).
 * -v/--verbose adds GStreamer's debug detail (source file, function,
 * element; no patient data) to a film's error.
 *
 * The archive is followed through Orthanc's change feed (/changes: DICOMweb
 * has no feed of new instances); each new instance's modality and body part
 * are looked up, and the chest radiographs (modality CR or DX, body part
 * CHEST or none) are fetched with WADO-RS and classified, one after the
 * other, by one pipeline (one model) for the whole feed,
 *
 *   appsrc ! cxrdicomdec ! cxrclassify ! cxrdicomsink url=URL/dicom-web
 *
 * which stores its report back with STOW-RS, or with --results in a DICOM
 * node by C-STORE (the PACS's own port, a router); with --capture also a picture
 * of the film with the label and the heatmap burned in (cxrclassify
 * heatmap=true ! videoconvert ! cxroverlay ! cxrdicomsink capture=true).
 * Other instances (the reports and pictures themselves among them) are
 * skipped and counted. Where the feed has got to
 * is kept in the state file (default cxr-pacs-state.json), rewritten
 * atomically after each instance, so a restart goes on where it stopped;
 * a report's UIDs come from its image's and the model's, so a film handled
 * again after a kill (between storing and noting it) is stored as the same
 * report, once. --once handles what is there and exits; without it the feed
 * is asked again every --interval seconds (default 5).
 *
 * Credentials: --user, or CXR_PACS_USER; the password from the first line
 * of --password-file, or CXR_PACS_PASSWORD. Never on the command line, never
 * printed. An https archive's certificate is checked against the system's
 * certificates, or those of --ca-file.
 * Patient data goes only into the reports sent back to the same archive:
 * what is printed names instances by the archive's own ids. */
#include "config.h"
#include "answer.h"
#include "filmanswer.h"
#include "dicomweb.h"

#include <glib/gstdio.h>
#include <gst/app/gstappsrc.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* what every film's pipeline is given; the strings are the options' */
typedef struct {
  gchar *url;                   /* the archive's root (Orthanc's API) */
  gchar *user, *password_file, *ca_file, *model;
  gchar *results, *ae_title;    /* a DICOM node the results go to, as AET */
  gboolean capture;
  gboolean verbose;             /* errors with GStreamer's debug detail */
} Settings;

typedef struct {
  guint classified, skipped, unanswered, failed;
} Counts;

static volatile sig_atomic_t stopping;

static void
on_signal (int sig)
{
  (void) sig;
  stopping = 1;
}

/* GET path as JSON; NULL with the error */
static JsonNode *
get_json (CxrDicomWeb * web, const char *path, GError ** error)
{
  GBytes *reply = cxr_dicomweb_get (web, path, "application/json", NULL,
      error);
  JsonParser *parser;
  JsonNode *node = NULL;
  gsize size;

  if (!reply)
    return NULL;
  parser = json_parser_new ();
  const gchar *data = g_bytes_get_data (reply, &size);
  if (size > 0 && json_parser_load_from_data (parser, data, size, NULL)
      && json_parser_get_root (parser))
    node = json_node_copy (json_parser_get_root (parser));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the archive's reply to %s is not JSON", path);
  g_object_unref (parser);
  g_bytes_unref (reply);
  return node;
}

/* A string tag of the instance's simplified tags, or "" */
static const char *
tag (JsonObject * tags, const char *name)
{
  JsonNode *n = json_object_get_member (tags, name);

  return n && JSON_NODE_HOLDS_VALUE (n)
      && json_node_get_value_type (n) == G_TYPE_STRING ?
      json_node_get_string (n) : "";
}

/* cxrclassify's own gate, with its default lists: an instance it would
 * not answer is not fetched */
static gboolean
is_chest_radiograph (JsonObject * tags)
{
  const char *body_part = tag (tags, "BodyPartExamined");

  return cxr_gate (CXR_GATE_MODALITIES, CXR_GATE_BODY_PARTS,
      tag (tags, "Modality"), *body_part ? body_part : NULL)
      == CXR_REFUSAL_NONE;
}

typedef struct {
  guint stored;                 /* objects cxrdicomsink stored */
  gchar *label;
  gdouble probability;
  GError *error;                /* the film's pipeline's, if any */
  gboolean film_failed;         /* the error is the film's, not the
                                 * archive's or this program's */
  gchar *not_stored;            /* why cxrdicomsink made nothing of it */
} Answer;

/* --verbose: GStreamer's debug detail (where in GStreamer the error arose)
 * on a line of its own after error's message */
static void
add_detail (GError * error, const gchar * debug)
{
  gchar *message = g_strdup_printf ("%s\n  (%s)", error->message, debug);

  g_free (error->message);
  error->message = message;
}

/* One pipeline and one model for the whole feed,
 *   appsrc ! cxrdicomdec ! cxrclassify ! cxrdicomsink
 * each film pushed as one framed buffer. Nothing in it queues, so a film is
 * through once appsrc's push of it has returned: appsrc then asks for more
 * (need-data), which posts "cxr-film-through" on the bus after everything
 * the film gave was posted. After an error it is made anew for the next
 * film. */
typedef struct {
  GstElement *pipeline, *src, *sink;
  GstBus *bus;
  gint pushing;                 /* atomic: a film is on its way down */
} Classifier;

static GstPadProbeReturn
on_film_out (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  (void) pad, (void) info;
  g_atomic_int_set (&((Classifier *) data)->pushing, 1);
  return GST_PAD_PROBE_OK;
}

static void
on_need_data (GstAppSrc * src, guint length, gpointer data)
{
  (void) length;
  if (g_atomic_int_compare_and_exchange (&((Classifier *) data)->pushing, 1, 0))
    gst_element_post_message (GST_ELEMENT (src),
        gst_message_new_application (GST_OBJECT (src),
            gst_structure_new_empty ("cxr-film-through")));
}

static void
classifier_stop (Classifier * classifier)
{
  if (!classifier->pipeline)
    return;
  gst_element_set_state (classifier->pipeline, GST_STATE_NULL);
  gst_object_unref (classifier->bus);
  gst_object_unref (classifier->src);
  gst_object_unref (classifier->sink);
  g_clear_pointer (&classifier->pipeline, gst_object_unref);
}

static gboolean
classifier_start (Classifier * classifier, const Settings * set, GError ** error)
{
  gchar *description = g_strconcat ("appsrc name=src "
      "caps=application/dicom,framed=true ! cxrdicomdec name=decode ! ",
      cxr_run_classify_and_store (set->capture), NULL);
  GError *warning = NULL;
  GstElement *classify;
  GstPad *pad;

  classifier->pipeline = gst_parse_launch (description, &warning);
  g_free (description);
  if (!classifier->pipeline) {
    g_propagate_error (error, warning);
    return FALSE;
  }
  g_clear_error (&warning);     /* a pipeline, with a warning */
  classifier->src = gst_bin_get_by_name (GST_BIN (classifier->pipeline), "src");
  classifier->sink = gst_bin_get_by_name (GST_BIN (classifier->pipeline), "sink");
  classify = gst_bin_get_by_name (GST_BIN (classifier->pipeline), "classify");
  if (set->results)
    g_object_set (classifier->sink, "url", set->results, NULL);
  else {
    gchar *dicomweb = g_strconcat (set->url, "/dicom-web", NULL);
    g_object_set (classifier->sink, "url", dicomweb, "user", set->user,
        "password-file", set->password_file, "ca-file", set->ca_file, NULL);
    g_free (dicomweb);
  }
  if (set->ae_title)
    g_object_set (classifier->sink, "ae-title", set->ae_title, NULL);
  if (set->model)
    g_object_set (classify, "model", set->model, NULL);
  gst_object_unref (classify);
  g_signal_connect (classifier->src, "need-data", G_CALLBACK (on_need_data), classifier);
  pad = gst_element_get_static_pad (classifier->src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_film_out, classifier, NULL);
  gst_object_unref (pad);
  classifier->pushing = 0;
  classifier->bus = gst_element_get_bus (classifier->pipeline);
  gst_element_set_state (classifier->pipeline, GST_STATE_PLAYING);
  return TRUE;
}

/* film through the feed's pipeline, whose cxrdicomsink stores what it
 * makes of it in the archive */
static void
classify (Classifier * classifier, GBytes * film, const Settings * set, Answer * answer)
{
  gboolean done = FALSE;

  memset (answer, 0, sizeof *answer);
  if (!classifier->pipeline && !classifier_start (classifier, set, &answer->error))
    return;
  gst_app_src_push_buffer (GST_APP_SRC (classifier->src),
      gst_buffer_new_wrapped_bytes (film));
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop_filtered (classifier->bus, GST_SECOND / 5,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING
        | GST_MESSAGE_ELEMENT | GST_MESSAGE_APPLICATION);
    const GstStructure *s = msg ? gst_message_get_structure (msg) : NULL;

    if (!msg) {
      /* a signal: the film is left for the next run */
      if (stopping) {
        g_set_error_literal (&answer->error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
            "stopped");
        done = TRUE;
      }
      continue;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gchar *name = gst_object_get_name (GST_MESSAGE_SRC (msg));
      gchar *debug = NULL;
      gst_message_parse_error (msg, &answer->error, &debug);
      if (debug && set->verbose)
        add_detail (answer->error, debug);
      g_free (debug);
      /* the film's: what it is made into (a stream error anywhere), or
       * an object of it the archive refuses; not a resource of this
       * program's (its model) nor an archive that may take it later */
      answer->film_failed = g_strcmp0 (name, "decode") == 0
          || answer->error->domain == GST_STREAM_ERROR
          || g_error_matches (answer->error, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_FAILED);
      g_free (name);
      done = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING
        && GST_MESSAGE_SRC (msg) == GST_OBJECT (classifier->sink)) {
      GError *warning;
      gst_message_parse_warning (msg, &warning, NULL);
      g_free (answer->not_stored);
      answer->not_stored = g_strdup (warning->message);
      g_error_free (warning);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS
        || gst_structure_has_name (s, "cxr-film-through"))
      done = TRUE;
    else if (gst_structure_has_name (s, "cxrdicomsink"))
      answer->stored++;
    else if (gst_structure_has_name (s, "cxrclassify"))
      cxr_run_read_answer (s, &answer->label, &answer->probability);
    gst_message_unref (msg);
  }
  /* a pipeline that failed or was stopped is not used again */
  if (answer->error)
    classifier_stop (classifier);
}

/* after a failed request about instance id: TRUE when it is to be passed
 * over (it was deleted, or the archive's reply about it is not one), FALSE
 * when the archive is to be asked again */
static gboolean
gone (const char *id, Counts * counts, GError ** error)
{
  if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
      && !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    return FALSE;
  counts->failed++;
  printf ("%s: not classified: %s\n", id, (*error)->message);
  fflush (stdout);
  g_clear_error (error);
  return TRUE;
}

/* One new instance: FALSE, with the error, only when the archive failed
 * (then the instance is to be handled again); a film that cannot be read or
 * is not for the model is counted and done. */
static gboolean
handle_instance (CxrDicomWeb * web, Classifier * classifier, const char *id,
    const Settings * set, Counts * counts, GError ** error)
{
  gchar *path = g_strdup_printf ("/instances/%s/simplified-tags", id);
  JsonNode *node = get_json (web, path, error);
  JsonObject *tags;
  GBytes *reply;
  gchar *type = NULL;
  GBytes *film;
  Answer answer;
  gboolean ok = TRUE;

  g_free (path);
  if (!node)
    return gone (id, counts, error);
  tags = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  if (!tags || !is_chest_radiograph (tags)) {
    counts->skipped++;
    json_node_unref (node);
    return TRUE;
  }
  path = g_strdup_printf ("/dicom-web/studies/%s/series/%s/instances/%s",
      tag (tags, "StudyInstanceUID"), tag (tags, "SeriesInstanceUID"),
      tag (tags, "SOPInstanceUID"));
  json_node_unref (node);
  /* transfer-syntax=*: the file as it was stored, not transcoded by the
   * archive (which fails on a broken image before cxrdicomdec could say
   * what is wrong with it) */
  reply = cxr_dicomweb_get (web, path, "multipart/related; type=\"application/"
      "dicom\"; transfer-syntax=*", &type, error);
  g_free (path);
  film = reply ? cxr_dicomweb_first_part (reply, type) : NULL;
  if (reply && !film)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the archive's WADO-RS reply holds no DICOM part");
  if (reply)
    g_bytes_unref (reply);
  g_free (type);
  if (!film)
    return gone (id, counts, error);
  classify (classifier, film, set, &answer);
  g_bytes_unref (film);
  if (answer.error && !answer.film_failed) {
    /* the archive's, or this program's (its model, say): not the film's,
     * which is handled again next time */
    g_propagate_error (error, answer.error);
    answer.error = NULL;
    ok = FALSE;
  } else if (answer.error) {
    counts->failed++;
    printf ("%s: not classified: %s\n", id, answer.error->message);
  } else if (answer.stored > 0) {
    counts->classified++;
    printf ("%s: %s, P(PNEUMONIA) %.3f; %s stored\n", id,
        answer.label ? answer.label : "?", answer.probability,
        answer.stored > 1 ? "report and picture" : "report");
  } else if (answer.not_stored) {
    counts->failed++;
    printf ("%s: no report: %s\n", id, answer.not_stored);
  } else {
    counts->unanswered++;
    printf ("%s: not answered (not a chest X-ray for this model)\n", id);
  }
  fflush (stdout);
  g_free (answer.label);
  g_free (answer.not_stored);
  g_clear_error (&answer.error);
  return ok;
}

/* the feed position in the state file; 0 when there is none */
static gint64
read_state (const char *state, GError ** error)
{
  JsonParser *parser;
  JsonObject *o = NULL;
  gint64 since = -1;
  GError *e = NULL;

  if (!g_file_test (state, G_FILE_TEST_EXISTS))
    return 0;                   /* none yet: from the feed's start */
  parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, state, &e)) {
    g_propagate_prefixed_error (error, e, "cannot read the state file: ");
    g_object_unref (parser);
    return 0;
  }
  if (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    o = json_node_get_object (json_parser_get_root (parser));
  if (o && json_object_has_member (o, "since"))
    since = json_object_get_int_member_with_default (o, "since", -1);
  if (since < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s is not a state file of cxr-run pacs (remove it to start from "
        "the archive's first instance)", state);
  g_object_unref (parser);
  return MAX (since, 0);
}

static gboolean
write_state (const char *state, gint64 since, GError ** error)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  gchar *contents, *line;
  gboolean ok;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "since");
  json_builder_add_int_value (b, since);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  contents = json_generator_to_data (gen, NULL);
  line = g_strconcat (contents, "\n", NULL);
  ok = g_file_set_contents_full (state, line, -1,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
      error);
  g_free (line);
  g_free (contents);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return ok;
}

/* the changes after *since, each new instance handled and the state
 * written after it; FALSE with the error when the archive failed. *done:
 * the feed has nothing more now. */
static gboolean
follow (CxrDicomWeb * web, Classifier * classifier, gint64 * since, const char *state,
    const Settings * set, Counts * counts, gboolean * done, GError ** error)
{
  gchar *path = g_strdup_printf ("/changes?since=%" G_GINT64_FORMAT
      "&limit=100", *since);
  JsonNode *node = get_json (web, path, error);
  JsonObject *feed;
  JsonArray *changes;
  gboolean ok = TRUE;

  g_free (path);
  if (!node)
    return FALSE;
  feed = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  changes = feed && json_object_has_member (feed, "Changes") ?
      json_object_get_array_member (feed, "Changes") : NULL;
  if (!changes) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the archive's "
        "/changes is not Orthanc's change feed: is the URL Orthanc's root?");
    json_node_unref (node);
    return FALSE;
  }
  for (guint i = 0; ok && !stopping && i < json_array_get_length (changes);
      i++) {
    JsonNode *n = json_array_get_element (changes, i);
    JsonObject *c = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n)
        : NULL;
    gint64 seq = c ? json_object_get_int_member_with_default (c, "Seq", -1)
        : -1;

    if (seq <= *since) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the archive's "
          "change feed is not in order after %" G_GINT64_FORMAT, *since);
      ok = FALSE;
      break;
    }
    if (g_strcmp0 (json_object_get_string_member_with_default (c,
                "ChangeType", NULL), "NewInstance") == 0)
      ok = handle_instance (web, classifier, json_object_get_string_member_with_default
          (c, "ID", ""), set, counts, error);
    if (ok) {
      *since = seq;
      ok = write_state (state, seq, error);
    }
  }
  if (ok && !stopping) {
    gint64 last = json_object_get_int_member_with_default (feed, "Last",
        *since);
    if (last < *since)
      /* a new database (its numbers start again): followed from its
       * start, every film there answered (again) once */
      fprintf (stderr, "cxr-run pacs: the archive's change feed ends at %"
          G_GINT64_FORMAT ", before the state file's %" G_GINT64_FORMAT
          ": following it from its start\n", last, *since);
    *since = last < *since ? 0 : last;
    *done = json_object_get_boolean_member_with_default (feed, "Done", TRUE);
    ok = write_state (state, *since, error);
  }
  json_node_unref (node);
  return ok;
}

/* whether asking the archive again may go better: not when it refused the
 * credentials or is not trusted, nor when this program cannot classify
 * (its model, its settings) */
static gboolean
worth_retrying (const GError * error)
{
  /* a feed refused (a 4xx) or not found (not Orthanc's root) stays so */
  return (error->domain == G_IO_ERROR && !cxr_dicomweb_error_is_final (error)
      && error->code != G_IO_ERROR_NOT_FOUND
      && error->code != G_IO_ERROR_INVALID_DATA)
      || g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE);
}

/* the options, each described once: cxr-run pacs --help shows them. -1
 * when the program is to go on, or its exit status: 0 after --version, 2
 * for a command line it cannot follow (and a line that says why) */
static int
parse_options (int *argc, char ***argv, Settings * set, gchar ** state,
    gboolean * once, int *interval)
{
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    {"url", 0, 0, G_OPTION_ARG_STRING, &set->url,
        "The archive's address: Orthanc's root (its DICOMweb at "
        "URL/dicom-web)", "URL"},
    {"user", 0, 0, G_OPTION_ARG_STRING, &set->user,
        "The archive's user (or CXR_PACS_USER)", "NAME"},
    {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &set->password_file,
        "The password: the first line of FILE (or CXR_PACS_PASSWORD; "
        "never on the command line)", "FILE"},
    {"ca-file", 0, 0, G_OPTION_ARG_FILENAME, &set->ca_file,
        "An https archive's certificate checked against these, not the "
        "system's", "FILE"},
    {"capture", 0, 0, G_OPTION_ARG_NONE, &set->capture,
        "Also store a picture of each film with the label and the heatmap "
        "burned in", NULL},
    {"results", 0, 0, G_OPTION_ARG_STRING, &set->results,
        "Store the reports in this DICOM node by C-STORE instead of back "
        "into the archive by STOW-RS", "dicom://AET@HOST:PORT"},
    {"ae-title", 0, 0, G_OPTION_ARG_STRING, &set->ae_title,
        "This node's AE title, calling the --results node (default: "
        "GSTCXR)", "AET"},
    {"model", 0, 0, G_OPTION_ARG_FILENAME, &set->model,
        "The model (default: the installed default model)", "FILE"},
    {"state", 0, 0, G_OPTION_ARG_FILENAME, state,
        "Where the feed has got to, to go on from after a restart "
        "(default: cxr-pacs-state.json)", "FILE"},
    {"once", 0, 0, G_OPTION_ARG_NONE, once,
        "Handle what is there and exit", NULL},
    {"interval", 0, 0, G_OPTION_ARG_INT, interval,
        "Without --once, ask the feed again every SECONDS (default: 5)",
        "SECONDS"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &set->verbose,
        "With an error, also GStreamer's debug detail (source file, "
        "function, element)", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version,
        "Print cxr-run's version and exit", NULL},
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context = g_option_context_new (NULL);
  GError *error = NULL;
  int status = -1;

  g_set_prgname ("cxr-run pacs");       /* its usage line */
  g_option_context_set_summary (context, "Classifies the chest radiographs "
      "that reach an archive and stores a report of each back.");
  g_option_context_set_description (context, "The archive is followed "
      "through Orthanc's change feed (/changes); each new\n"
      "chest radiograph (modality CR or DX, body part CHEST or none) is "
      "fetched with\nWADO-RS and run through appsrc ! cxrdicomdec ! "
      "cxrclassify ! cxrdicomsink,\nwhich stores its structured report "
      "back with STOW-RS. Other instances are\nskipped and counted. A line "
      "per film says what it was called; the end, what\nwas done.");
  g_option_context_add_main_entries (context, entries, NULL);
  /* initialises GStreamer once the command line has been read */
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, &error)) {
    gboolean unknown = g_error_matches (error, G_OPTION_ERROR,
        G_OPTION_ERROR_UNKNOWN_OPTION);
    /* an unknown --password=... is not echoed past its name */
    gchar *value = unknown ? strchr (error->message, '=') : NULL;
    if (value)
      *value = '\0';
    fprintf (stderr, "cxr-run pacs: %s (see cxr-run pacs --help%s)\n",
        error->message, unknown ? "; the password goes in --password-file "
        "or CXR_PACS_PASSWORD" : "");
    g_error_free (error);
    status = 2;
  } else if (*argc > 1) {
    fprintf (stderr, "cxr-run pacs: unexpected argument '%s' (see cxr-run "
        "pacs --help)\n", (*argv)[1]);
    status = 2;
  } else if (version) {
    printf ("cxr-run %s\n", VERSION);
    status = 0;
  }
  g_option_context_free (context);
  return status;
}

int
main (int argc, char **argv)
{
  Settings set = { .user = NULL };
  gchar *state = NULL;
  gboolean once = FALSE, done = FALSE;
  int interval = 5;
  GError *error = NULL;
  Counts counts = { 0 };
  Classifier classifier = { NULL };
  CxrDicomWeb *web;
  gint64 since;
  int status;

  /* the help in the terminal's character set; numbers stay C's */
  setlocale (LC_CTYPE, "");
  status = parse_options (&argc, &argv, &set, &state, &once, &interval);
  if (status >= 0)
    return status;
  status = 0;
  if (!state)
    state = g_strdup ("cxr-pacs-state.json");
  interval = MAX (interval, 1);
  if (!set.url) {
    fprintf (stderr, "cxr-run pacs: needs --url, the archive's address\n");
    return 2;
  }
  web = cxr_dicomweb_new (set.url, set.user, set.password_file, set.ca_file,
      &error);
  if (!web) {
    fprintf (stderr, "cxr-run pacs: %s\n", error->message);
    g_error_free (error);
    return 2;
  }
  since = read_state (state, &error);
  if (error) {
    fprintf (stderr, "cxr-run pacs: %s\n", error->message);
    g_error_free (error);
    cxr_dicomweb_free (web);
    return 2;
  }
  /* the films' pipelines store at url/dicom-web */
  while (*set.url && set.url[strlen (set.url) - 1] == '/')
    set.url[strlen (set.url) - 1] = '\0';
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  while (!stopping) {
    if (!follow (web, &classifier, &since, state, &set, &counts, &done, &error)) {
      if (stopping)
        break;
      fprintf (stderr, "cxr-run pacs: %s\n", error->message);
      if (once || !worth_retrying (error)) {
        status = 1;
        break;
      }
      g_clear_error (&error);
      done = TRUE;
    }
    if (done && once)
      break;
    if (done)
      for (int s = 0; s < interval && !stopping; s++)
        g_usleep (G_USEC_PER_SEC);
  }
  g_clear_error (&error);
  classifier_stop (&classifier);
  fprintf (stderr, "cxr-run pacs: %u classified and stored, %u not chest "
      "radiographs (skipped), %u not answered, %u could not be read; the "
      "feed is at %" G_GINT64_FORMAT " (%s)\n", counts.classified,
      counts.skipped, counts.unanswered, counts.failed, since, state);
  cxr_dicomweb_free (web);
  g_free (set.url);
  g_free (set.user);
  g_free (set.password_file);
  g_free (set.ca_file);
  g_free (set.model);
  g_free (set.results);
  g_free (set.ae_title);
  g_free (state);
  return status;
}
