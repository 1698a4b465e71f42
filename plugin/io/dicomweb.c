/* The DICOMweb client of dicomweb.h, on libsoup 3. */
#define _GNU_SOURCE             /* memmem */
#include "dicomweb.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

struct _CxrDicomWeb
{
  SoupSession *session;
  gchar *url;                   /* without a trailing slash */
  gchar *authorization;         /* "Basic ...", or NULL */
};

/* the first line of file, or CXR_PACS_PASSWORD without one; NULL when
 * neither */
static gchar *
read_password (const gchar * file, GError ** error)
{
  gchar *contents;

  if (!file) {
    const gchar *env = g_getenv ("CXR_PACS_PASSWORD");
    return env ? g_strdup (env) : NULL;
  }
  if (!g_file_get_contents (file, &contents, NULL, error)) {
    g_prefix_error (error, "cannot read the password file: ");
    return NULL;
  }
  contents[strcspn (contents, "\r\n")] = '\0';
  return contents;
}

/* s overwritten before it is freed: a password leaves no copy behind */
static void
free_secret (gchar * s)
{
  if (s) {
    memset (s, 0, strlen (s));
    g_free (s);
  }
}

CxrDicomWeb *
cxr_dicomweb_new (const gchar * url, const gchar * user,
    const gchar * password_file, const gchar * ca_file, GError ** error)
{
  GUri *uri = url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  const gchar *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  CxrDicomWeb *web;
  gchar *password;

  if (!uri || (g_ascii_strcasecmp (scheme, "http") != 0
          && g_ascii_strcasecmp (scheme, "https") != 0)) {
    /* not repeated: what does not parse may still hold a password */
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "the archive's address is not an http or https URL");
    g_clear_pointer (&uri, g_uri_unref);
    return NULL;
  }
  if (g_uri_get_userinfo (uri)) {
    /* not even the address is repeated: it holds the password */
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "the archive's address holds credentials: give the user name and "
        "a password file instead");
    g_uri_unref (uri);
    return NULL;
  }
  g_uri_unref (uri);
  password = read_password (password_file, error);
  if (password_file && !password)
    return NULL;

  web = g_new0 (CxrDicomWeb, 1);
  web->url = g_strdup (url);
  while (*web->url && web->url[strlen (web->url) - 1] == '/')
    web->url[strlen (web->url) - 1] = '\0';
  web->session = soup_session_new_with_options ("timeout", 300,
      "user-agent", "gst-cxr", NULL);
  if (ca_file) {
    GTlsDatabase *db = g_tls_file_database_new (ca_file, error);
    if (!db) {
      g_prefix_error (error, "cannot read the CA file %s: ", ca_file);
      free_secret (password);
      cxr_dicomweb_free (web);
      return NULL;
    }
    soup_session_set_tls_database (web->session, db);
    g_object_unref (db);
  }
  if (!user)
    user = g_getenv ("CXR_PACS_USER");
  if (user || password) {
    gchar *pair = g_strconcat (user ? user : "", ":",
        password ? password : "", NULL);
    gchar *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
    web->authorization = g_strconcat ("Basic ", encoded, NULL);
    free_secret (pair);
    free_secret (encoded);
  }
  free_secret (password);
  return web;
}

void
cxr_dicomweb_free (CxrDicomWeb * web)
{
  if (!web)
    return;
  g_object_unref (web->session);
  g_free (web->url);
  free_secret (web->authorization);
  g_free (web);
}

/* what is wrong with a certificate, for someone who can fix it */
static const gchar *
why_untrusted (GTlsCertificateFlags flags, const gchar * otherwise)
{
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return "its certificate is for another name than the address's";
  if (flags & (G_TLS_CERTIFICATE_EXPIRED | G_TLS_CERTIFICATE_NOT_ACTIVATED))
    return "its certificate has expired or is not valid yet";
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return "its certificate is signed by a CA not trusted here (name that "
        "CA in a CA file)";
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    return "its certificate has been revoked";
  return otherwise;
}

/* One request: the reply's body, or NULL + error (dicomweb.h's codes). */
static GBytes *
request (CxrDicomWeb * web, const gchar * method, const gchar * path,
    const gchar * accept, const gchar * content_type, GBytes * body,
    GCancellable * cancellable, gchar ** reply_type, GError ** error)
{
  gchar *url = g_strconcat (web->url, path, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  GError *e = NULL;
  GBytes *reply;
  guint status;

  g_free (url);
  if (!msg) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "cannot make a request of %s%s", web->url, path);
    return NULL;
  }
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  if (web->authorization)
    soup_message_headers_replace (headers, "Authorization",
        web->authorization);
  if (accept)
    soup_message_headers_replace (headers, "Accept", accept);
  if (body)
    soup_message_set_request_body_from_bytes (msg, content_type, body);
  /* a redirect is an answer: followed, a POST would become a GET and
   * seem to succeed */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  reply = soup_session_send_and_read (web->session, msg, cancellable, &e);
  status = soup_message_get_status (msg);
  if (!reply) {
    /* a certificate refused is final; a TLS connection that failed
     * otherwise is like any connection that failed */
    if (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, g_steal_pointer (&e));
    else if (g_error_matches (e, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
      g_set_error (error, G_TLS_ERROR, e->code, "the archive at %s is not "
          "trusted: %s", web->url, why_untrusted
          (soup_message_get_tls_peer_certificate_errors (msg), e->message));
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
          "cannot reach the archive at %s: %s", web->url, e->message);
    g_clear_error (&e);
  } else if (status == SOUP_STATUS_UNAUTHORIZED
      || status == SOUP_STATUS_FORBIDDEN) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
        "the archive at %s refused the credentials (HTTP %u): check the "
        "user name and the password file", web->url, status);
    g_clear_pointer (&reply, g_bytes_unref);
  } else if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    /* a DICOMweb path names its study's, series' and instance's UIDs:
     * not repeated. A 4xx: this request is refused, and would be again */
    const gchar *uids = strstr (path, "/studies/");
    g_set_error (error, G_IO_ERROR, status == SOUP_STATUS_NOT_FOUND ?
        G_IO_ERROR_NOT_FOUND : status >= 400 && status < 500 ?
        G_IO_ERROR_INVALID_DATA : G_IO_ERROR_FAILED,
        "the archive at %s answered HTTP %u to %s %.*s%s", web->url, status,
        method, uids ? (int) (uids - path) + 9 : (int) strlen (path), path,
        uids ? "..." : "");
    g_clear_pointer (&reply, g_bytes_unref);
  } else if (reply_type)
    *reply_type = g_strdup (soup_message_headers_get_one
        (soup_message_get_response_headers (msg), "Content-Type"));
  g_object_unref (msg);
  return reply;
}

GBytes *
cxr_dicomweb_get (CxrDicomWeb * web, const gchar * path,
    const gchar * accept, gchar ** content_type, GError ** error)
{
  return request (web, "GET", path, accept, NULL, NULL, NULL, content_type,
      error);
}

/* whether a STOW-RS reply (DICOM JSON) lists a failed object: a Failed SOP
 * Sequence (0008,1198) with a value */
static gboolean
lists_failure (GBytes * reply)
{
  JsonParser *parser = json_parser_new ();
  gsize size;
  const gchar *data = g_bytes_get_data (reply, &size);
  gboolean failed = FALSE;

  if (size > 0 && json_parser_load_from_data (parser, data, size, NULL)) {
    JsonNode *root = json_parser_get_root (parser);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (root) ?
        json_node_get_object (root) : NULL;
    JsonNode *seq = o ? json_object_get_member (o, "00081198") : NULL;
    failed = seq && JSON_NODE_HOLDS_OBJECT (seq)
        && json_object_has_member (json_node_get_object (seq), "Value");
  }
  g_object_unref (parser);
  return failed;
}

gboolean
cxr_dicomweb_store (CxrDicomWeb * web, GBytes * file,
    GCancellable * cancellable, GError ** error)
{
  static const gchar boundary[] = "gst-cxr-part-5f0c2a";
  gchar *type = g_strdup_printf ("multipart/related; type=\"application/"
      "dicom\"; boundary=%s", boundary);
  gchar *head = g_strdup_printf ("--%s\r\nContent-Type: application/dicom"
      "\r\n\r\n", boundary);
  gchar *tail = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  GByteArray *body = g_byte_array_new ();
  gsize size;
  const guint8 *data = g_bytes_get_data (file, &size);
  GBytes *bytes, *reply;
  gboolean ok;

  g_byte_array_append (body, (const guint8 *) head, strlen (head));
  g_byte_array_append (body, data, size);
  g_byte_array_append (body, (const guint8 *) tail, strlen (tail));
  bytes = g_byte_array_free_to_bytes (body);
  reply = request (web, "POST", "/studies", "application/dicom+json", type,
      bytes, cancellable, NULL, error);
  ok = reply != NULL;
  if (ok && lists_failure (reply)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the archive at %s did not store the object (its STOW-RS reply "
        "lists it as failed)", web->url);
    ok = FALSE;
  }
  if (reply)
    g_bytes_unref (reply);
  g_bytes_unref (bytes);
  g_free (type);
  g_free (head);
  g_free (tail);
  return ok;
}

GBytes *
cxr_dicomweb_first_part (GBytes * body, const gchar * content_type)
{
  const gchar *b = content_type ? strstr (content_type, "boundary=") : NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (body, &size);
  const guint8 *start, *end;
  gchar *boundary, *delimiter;
  GBytes *part = NULL;

  if (!b || !data)
    return NULL;
  b += strlen ("boundary=");
  if (*b == '"')
    b++;
  boundary = g_strndup (b, strcspn (b, "\";\r\n"));
  delimiter = g_strconcat ("\r\n--", boundary, NULL);
  /* the part begins after the first boundary line's headers */
  start = *boundary ? memmem (data, size, delimiter + 2,
      strlen (delimiter) - 2) : NULL;
  if (start)
    start = memmem (start, data + size - start, "\r\n\r\n", 4);
  if (start) {
    start += 4;
    end = memmem (start, data + size - start, delimiter, strlen (delimiter));
    if (end)
      part = g_bytes_new (start, end - start);
  }
  g_free (delimiter);
  g_free (boundary);
  return part;
}

gboolean
cxr_dicomweb_error_is_final (const GError * error)
{
  return error && (error->domain == G_TLS_ERROR
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED));
}
