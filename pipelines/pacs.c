/* cxr-run-pacs (what `cxr-run pacs` runs) — classifies the chest radiographs that reach an archive and
 * stores a structured report of each back into it.
 *
 *   cxr-run pacs --url URL [--user NAME --password-file FILE] [--once]
 *                [--model FILE] [--state FILE] [--interval SECONDS]
 *
 * The archive is followed through Orthanc's change feed (/changes: DICOMweb
 * has no feed of new instances); each new instance's modality and body part
 * are looked up, and the chest radiographs (modality CR or DX, body part
 * CHEST or none) are fetched with WADO-RS and classified by
 *
 *   appsrc ! cxrdicomdec ! cxrclassify ! cxrdicomsink
 *
 * whose report is stored back with STOW-RS. Other instances (the reports
 * themselves among them) are skipped and counted. Where the feed has got to
 * is kept in the state file (default cxr-pacs-state.json), rewritten
 * atomically after each instance, so a restart goes on where it stopped;
 * a report's UIDs come from its image's and the model's, so a film handled
 * again after a kill (between storing and noting it) is stored as the same
 * report, once. --once handles what is there and exits; without it the feed
 * is asked again every --interval seconds (default 5).
 *
 * Credentials: --user, or CXR_PACS_USER; the password from the first line
 * of --password-file, or CXR_PACS_PASSWORD. Never on the command line, never
 * printed. An https URL is checked against the system's certificates.
 * Patient data goes only into the reports sent back to the same archive:
 * what is printed names instances by the archive's own ids. */
#define _GNU_SOURCE             /* memmem */
#include <curl/curl.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsrc.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  CURL *curl;
  gchar *url;                   /* without a trailing slash */
} Archive;

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

static size_t
collect (char *data, size_t size, size_t n, void *bytes)
{
  g_byte_array_append (bytes, (const guint8 *) data, size * n);
  return size * n;
}

/* HTTP to the archive: body appended to reply, the status returned; 0,
 * with the error, when the archive cannot be reached. content_type of the
 * reply when asked for. */
static long
request (Archive * a, const char *method, const char *path,
    const char *accept, const char *content_type, const guint8 * body,
    gsize size, GByteArray * reply, gchar ** reply_type, GError ** error)
{
  gchar *url = g_strconcat (a->url, path, NULL);
  struct curl_slist *headers = NULL;
  gchar *h;
  long status = 0;
  CURLcode rc;

  if (accept) {
    h = g_strconcat ("Accept: ", accept, NULL);
    headers = curl_slist_append (headers, h);
    g_free (h);
  }
  if (content_type) {
    h = g_strconcat ("Content-Type: ", content_type, NULL);
    headers = curl_slist_append (headers, h);
    g_free (h);
  }
  curl_easy_setopt (a->curl, CURLOPT_URL, url);
  curl_easy_setopt (a->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (a->curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (a->curl, CURLOPT_WRITEDATA, reply);
  if (strcmp (method, "POST") == 0) {
    curl_easy_setopt (a->curl, CURLOPT_POST, 1L);
    curl_easy_setopt (a->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (a->curl, CURLOPT_POSTFIELDSIZE_LARGE,
        (curl_off_t) size);
  } else
    curl_easy_setopt (a->curl, CURLOPT_HTTPGET, 1L);
  rc = curl_easy_perform (a->curl);
  if (rc != CURLE_OK)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
        "cannot reach the archive at %s: %s", a->url, curl_easy_strerror (rc));
  else {
    char *type = NULL;
    curl_easy_getinfo (a->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo (a->curl, CURLINFO_CONTENT_TYPE, &type);
    if (reply_type)
      *reply_type = g_strdup (type);
    if (status == 401 || status == 403)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
          "the archive at %s refused the credentials (HTTP %ld): check the "
          "user name and the password file", a->url, status);
    else if (status >= 400)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "the archive at %s answered HTTP %ld to %s %s", a->url, status,
          method, path);
  }
  curl_slist_free_all (headers);
  g_free (url);
  return rc == CURLE_OK && status < 400 ? status : 0;
}

/* GET path as JSON; NULL with the error */
static JsonNode *
get_json (Archive * a, const char *path, GError ** error)
{
  GByteArray *reply = g_byte_array_new ();
  JsonNode *node = NULL;

  if (request (a, "GET", path, "application/json", NULL, NULL, 0, reply,
          NULL, error)) {
    g_byte_array_append (reply, (const guint8 *) "", 1);
    node = json_from_string ((const char *) reply->data, error);
  }
  g_byte_array_unref (reply);
  return node;
}

/* The first part of a multipart/related reply whose Content-Type says
 * boundary=...; NULL when there is none */
static GBytes *
first_part (GByteArray * reply, const char *content_type)
{
  const char *b = content_type ? strstr (content_type, "boundary=") : NULL;
  gchar *boundary, *delimiter;
  const guint8 *start, *end;
  GBytes *part = NULL;

  if (!b)
    return NULL;
  b += strlen ("boundary=");
  boundary = g_strndup (b + (*b == '"'), strcspn (b + (*b == '"'), "\";\r\n"));
  delimiter = g_strconcat ("\r\n--", boundary, NULL);
  /* the body begins after the first boundary line's headers */
  start = memmem (reply->data, reply->len, delimiter + 2,
      strlen (delimiter) - 2);
  if (start)
    start = memmem (start, reply->data + reply->len - start, "\r\n\r\n", 4);
  if (start) {
    start += 4;
    end = memmem (start, reply->data + reply->len - start, delimiter,
        strlen (delimiter));
    if (end)
      part = g_bytes_new (start, end - start);
  }
  g_free (delimiter);
  g_free (boundary);
  return part;
}

/* STOW-RS of one DICOM file into the archive */
static gboolean
store (Archive * a, GBytes * file, GError ** error)
{
  const char *boundary = "gst-cxr-part-5f0c2a";
  gchar *type = g_strdup_printf ("multipart/related; type=\"application/"
      "dicom\"; boundary=%s", boundary);
  gchar *head = g_strdup_printf ("--%s\r\nContent-Type: application/dicom"
      "\r\n\r\n", boundary);
  gchar *tail = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  GByteArray *body = g_byte_array_new (), *reply = g_byte_array_new ();
  gsize size;
  const guint8 *data = g_bytes_get_data (file, &size);
  gboolean ok;

  g_byte_array_append (body, (const guint8 *) head, strlen (head));
  g_byte_array_append (body, data, size);
  g_byte_array_append (body, (const guint8 *) tail, strlen (tail));
  ok = request (a, "POST", "/dicom-web/studies", "application/dicom+json",
      type, body->data, body->len, reply, NULL, error) != 0;
  g_byte_array_unref (body);
  g_byte_array_unref (reply);
  g_free (type);
  g_free (head);
  g_free (tail);
  return ok;
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

static gboolean
is_chest_radiograph (JsonObject * tags)
{
  const char *modality = tag (tags, "Modality");
  const char *body_part = tag (tags, "BodyPartExamined");

  return (strcmp (modality, "CR") == 0 || strcmp (modality, "DX") == 0)
      && (!*body_part || g_ascii_strcasecmp (body_part, "CHEST") == 0);
}

typedef struct {
  GBytes *report;               /* what cxrdicomsink wrote */
  gchar *label;
  gdouble probability;
  gchar *error;
} Answer;

/* film through cxrdicomdec ! cxrclassify ! cxrdicomsink into folder; the
 * report, or NULL when the film was not answered (answer->error says why
 * when it could not be read) */
static void
classify (GBytes * film, const char *model, const char *folder,
    Answer * answer)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch ("appsrc name=src ! cxrdicomdec ! "
      "cxrclassify name=classify ! cxrdicomsink name=sink", &error);
  GstElement *src, *sink, *classifier;
  GstBus *bus;
  gboolean done = FALSE;

  memset (answer, 0, sizeof *answer);
  if (!pipeline) {
    answer->error = g_strdup (error->message);
    g_error_free (error);
    return;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  classifier = gst_bin_get_by_name (GST_BIN (pipeline), "classify");
  g_object_set (sink, "location", folder, NULL);
  g_object_set (classifier, "post-messages", TRUE, NULL);
  if (model)
    g_object_set (classifier, "model", model, NULL);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped_bytes
      (film));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      answer->error = g_strdup (error->message);
      g_clear_error (&error);
      done = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
      done = TRUE;
    else if (gst_structure_has_name (s, "cxrdicomsink")) {
      gchar *contents;
      gsize size;
      const char *path = gst_structure_get_string (s, "path");
      if (g_file_get_contents (path, &contents, &size, NULL))
        answer->report = g_bytes_new_take (contents, size);
      g_unlink (path);
    } else if (gst_structure_has_name (s, "cxrclassify")) {
      const gchar *label = gst_structure_get_string (s, "label");
      g_free (answer->label);
      answer->label = g_strdup (label);
      const GValue *p = gst_structure_get_value (s, "probabilities");
      guint n = p && GST_VALUE_HOLDS_ARRAY (p) ? gst_value_array_get_size (p)
          : 0;
      /* the positive class is the last */
      if (n > 0)
        answer->probability = g_value_get_double (gst_value_array_get_value
            (p, n - 1));
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (classifier);
  gst_object_unref (pipeline);
}

/* One new instance: FALSE, with the error, only when the archive failed
 * (then the instance is to be handled again); a film that cannot be read or
 * is not for the model is counted and done. */
static gboolean
handle_instance (Archive * a, const char *id, const char *model,
    const char *folder, Counts * counts, GError ** error)
{
  gchar *path = g_strdup_printf ("/instances/%s/simplified-tags", id);
  JsonNode *node = get_json (a, path, error);
  JsonObject *tags;
  GByteArray *reply;
  gchar *type = NULL;
  GBytes *film;
  Answer answer;
  gboolean ok = TRUE;

  g_free (path);
  if (!node)
    return FALSE;
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
  reply = g_byte_array_new ();
  /* transfer-syntax=*: the file as it was stored, not transcoded by the
   * archive (which fails on a broken image before cxrdicomdec could say
   * what is wrong with it) */
  if (!request (a, "GET", path, "multipart/related; type=\"application/"
          "dicom\"; transfer-syntax=*", NULL, NULL, 0, reply, &type, error)) {
    g_free (path);
    g_byte_array_unref (reply);
    return FALSE;
  }
  g_free (path);
  film = first_part (reply, type);
  g_byte_array_unref (reply);
  g_free (type);
  if (!film) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the archive's WADO-RS reply for instance %s holds no DICOM part", id);
    return FALSE;
  }
  classify (film, model, folder, &answer);
  g_bytes_unref (film);
  if (answer.report) {
    if ((ok = store (a, answer.report, error))) {
      counts->classified++;
      printf ("%s: %s, P(PNEUMONIA) %.3f; report stored\n", id,
          answer.label ? answer.label : "?", answer.probability);
    }
    g_bytes_unref (answer.report);
  } else if (answer.error) {
    counts->failed++;
    printf ("%s: not classified: %s\n", id, answer.error);
  } else {
    counts->unanswered++;
    printf ("%s: not answered (not a chest X-ray for this model)\n", id);
  }
  fflush (stdout);
  g_free (answer.label);
  g_free (answer.error);
  return ok;
}

/* the feed position in the state file; 0 when there is none */
static gint64
read_state (const char *state, GError ** error)
{
  gchar *contents;
  gint64 since = 0;

  if (!g_file_get_contents (state, &contents, NULL, NULL))
    return 0;
  if (sscanf (contents, "{\"since\": %" G_GINT64_FORMAT "}", &since) != 1)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s is not a state file of cxr-run pacs (remove it to start from "
        "the archive's first instance)", state);
  g_free (contents);
  return since;
}

static gboolean
write_state (const char *state, gint64 since, GError ** error)
{
  gchar *contents = g_strdup_printf ("{\"since\": %" G_GINT64_FORMAT "}\n",
      since);
  gboolean ok = g_file_set_contents_full (state, contents, -1,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
      error);

  g_free (contents);
  return ok;
}

/* the changes after *since, each new instance handled and the state
 * written after it; FALSE with the error when the archive failed. *done:
 * the feed has nothing more now. */
static gboolean
follow (Archive * a, gint64 * since, const char *state, const char *model,
    const char *folder, Counts * counts, gboolean * done, GError ** error)
{
  gchar *path = g_strdup_printf ("/changes?since=%" G_GINT64_FORMAT
      "&limit=100", *since);
  JsonNode *node = get_json (a, path, error);
  JsonObject *feed;
  JsonArray *changes;
  gboolean ok = TRUE;

  g_free (path);
  if (!node)
    return FALSE;
  feed = json_node_get_object (node);
  changes = json_object_get_array_member (feed, "Changes");
  for (guint i = 0; ok && !stopping && changes
      && i < json_array_get_length (changes); i++) {
    JsonObject *c = json_array_get_object_element (changes, i);
    gint64 seq = json_object_get_int_member (c, "Seq");

    if (g_strcmp0 (json_object_get_string_member (c, "ChangeType"),
            "NewInstance") == 0)
      ok = handle_instance (a, json_object_get_string_member (c, "ID"),
          model, folder, counts, error);
    if (ok) {
      *since = seq;
      ok = write_state (state, seq, error);
    }
  }
  if (ok && !stopping) {
    *since = MAX (*since, json_object_get_int_member (feed, "Last"));
    *done = json_object_get_boolean_member (feed, "Done");
    ok = write_state (state, *since, error);
  }
  json_node_unref (node);
  return ok;
}

static gchar *
read_password (const char *file, GError ** error)
{
  gchar *contents;

  if (!file) {
    const char *env = g_getenv ("CXR_PACS_PASSWORD");
    return env ? g_strdup (env) : NULL;
  }
  if (!g_file_get_contents (file, &contents, NULL, error))
    return NULL;
  contents[strcspn (contents, "\r\n")] = '\0';
  return contents;
}

int
main (int argc, char **argv)
{
  const char *url = NULL, *user = g_getenv ("CXR_PACS_USER");
  const char *password_file = NULL, *model = NULL;
  const char *state = "cxr-pacs-state.json";
  gboolean once = FALSE, done = FALSE;
  int interval = 5;
  GError *error = NULL;
  gchar *password = NULL, *folder;
  Counts counts = { 0 };
  Archive a = { 0 };
  gint64 since;
  int status = 0;

  gst_init (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp (argv[i], "--url") == 0)
      url = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--user") == 0)
      user = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--password-file") == 0)
      password_file = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--model") == 0)
      model = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--state") == 0)
      state = argv[++i];
    else if (i + 1 < argc && strcmp (argv[i], "--interval") == 0)
      interval = atoi (argv[++i]);
    else if (strcmp (argv[i], "--once") == 0)
      once = TRUE;
    else {
      fprintf (stderr, "cxr-run pacs: unknown argument '%s' (the password "
          "goes in --password-file or CXR_PACS_PASSWORD, never on the "
          "command line)\n", argv[i]);
      return 2;
    }
  }
  interval = MAX (interval, 1);
  if (!url) {
    fprintf (stderr, "cxr-run pacs: needs --url, the archive's address\n");
    return 2;
  }
  password = read_password (password_file, &error);
  if (error) {
    fprintf (stderr, "cxr-run pacs: cannot read the password file: %s\n",
        error->message);
    return 2;
  }
  since = read_state (state, &error);
  if (error) {
    fprintf (stderr, "cxr-run pacs: %s\n", error->message);
    return 2;
  }

  curl_global_init (CURL_GLOBAL_DEFAULT);
  a.curl = curl_easy_init ();
  a.url = g_strdup (url);
  while (*a.url && a.url[strlen (a.url) - 1] == '/')
    a.url[strlen (a.url) - 1] = '\0';
  if (user)
    curl_easy_setopt (a.curl, CURLOPT_USERNAME, user);
  if (password)
    curl_easy_setopt (a.curl, CURLOPT_PASSWORD, password);
  /* https: the peer's certificate and name are checked (curl's defaults,
   * said here so that no one turns them off by accident) */
  curl_easy_setopt (a.curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (a.curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt (a.curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (a.curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt (a.curl, CURLOPT_TIMEOUT, 300L);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  folder = g_dir_make_tmp ("cxr-pacs-XXXXXX", NULL);

  while (!stopping) {
    if (!follow (&a, &since, state, model, folder, &counts, &done, &error)) {
      fprintf (stderr, "cxr-run pacs: %s\n", error->message);
      /* credentials do not get better by asking again */
      if (once || g_error_matches (error, G_IO_ERROR,
              G_IO_ERROR_PERMISSION_DENIED)) {
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
  fprintf (stderr, "cxr-run pacs: %u classified and stored, %u not chest "
      "radiographs (skipped), %u not answered, %u could not be read; the "
      "feed is at %" G_GINT64_FORMAT " (%s)\n", counts.classified,
      counts.skipped, counts.unanswered, counts.failed, since, state);
  g_rmdir (folder);
  g_free (folder);
  curl_easy_cleanup (a.curl);
  curl_global_cleanup ();
  g_free (a.url);
  if (password) {
    memset (password, 0, strlen (password));
    g_free (password);
  }
  return status;
}
