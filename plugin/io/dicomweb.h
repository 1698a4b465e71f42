/* A small DICOMweb client (libsoup 3) of one archive: what cxrdicomsink
 * stores with (STOW-RS) and what cxr-run pacs reads with (WADO-RS and
 * the archive's own JSON API).
 *
 * Credentials: the user name, else CXR_PACS_USER; the password from the
 * first line of a file, else CXR_PACS_PASSWORD; sent as HTTP Basic
 * authentication. An https archive's certificate and name are checked,
 * against the system's certificates or a CA file. Neither the password nor
 * anything the archive sends reaches an error text: errors name the
 * archive's address, the request's path and the HTTP status. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _CxrDicomWeb CxrDicomWeb;

/* The client of the archive at url (http or https; no credentials in it).
 * user, password_file and ca_file may be NULL. NULL + error when the URL
 * is not one, the password file or the CA file cannot be read. */
CxrDicomWeb *cxr_dicomweb_new (const gchar * url, const gchar * user,
    const gchar * password_file, const gchar * ca_file, GError ** error);
void cxr_dicomweb_free (CxrDicomWeb * web);

/* GET url + path (path begins with "/"), asking for accept: the body, and
 * in content_type (when not NULL) the reply's Content-Type with its
 * parameters. NULL + error when the archive cannot be reached or answers
 * an HTTP error: G_IO_ERROR_PERMISSION_DENIED for refused credentials
 * (401, 403), G_IO_ERROR_HOST_UNREACHABLE when it cannot be reached,
 * G_TLS_ERROR when its certificate is not trusted, G_IO_ERROR_NOT_FOUND
 * for 404, G_IO_ERROR_INVALID_DATA for another refusal of the request
 * itself (4xx: asking again gives the same), G_IO_ERROR_FAILED for any
 * other answer that is not a success (5xx, a redirect, which is not
 * followed). */
GBytes *cxr_dicomweb_get (CxrDicomWeb * web, const gchar * path,
    const gchar * accept, gchar ** content_type, GError ** error);

/* STOW-RS of one DICOM file (POST url/studies: url is the archive's
 * DICOMweb root); FALSE + error, as for get, and also when the archive
 * lists the object among those it failed to store
 * (G_IO_ERROR_INVALID_DATA), or G_IO_ERROR_CANCELLED when cancellable
 * (may be NULL) is cancelled meanwhile. */
gboolean cxr_dicomweb_store (CxrDicomWeb * web, GBytes * file,
    GCancellable * cancellable, GError ** error);

/* The first part of a multipart/related body (WADO-RS) whose Content-Type
 * names its boundary; NULL when there is none. */
GBytes *cxr_dicomweb_first_part (GBytes * body, const gchar * content_type);

/* whether error says that asking again cannot help (credentials refused,
 * certificate not trusted) */
gboolean cxr_dicomweb_error_is_final (const GError * error);

G_END_DECLS
