/* A DICOM node that takes films by DIMSE C-STORE (DCMTK's dcmnet; C++ in
 * dicomlistener.cpp): the storage SCP behind cxrdicomsrc.
 *
 * It answers to one called AE title, and to the calling AE titles it is
 * given (any when none is). It takes, in any transfer syntax dicom.h
 * decodes, the image storage SOP classes a chest film comes as (CR, DX for
 * presentation and for processing, Secondary Capture) and answers C-ECHO;
 * other SOP classes and transfer syntaxes are refused at association.
 * Several associations are served at once, each in a thread of its own.
 *
 * A C-STORE is answered success only once the object is safe: written to
 * the spool folder as SOP-INSTANCE-UID.dcm (a temporary file, synced, then
 * renamed) and read back as an image dicom.h decodes. Anything else gets a
 * failure status, so the sender keeps the object and tries again: out of
 * resources (0xA700) when it cannot be written, cannot understand (0xC000)
 * when it is no image that can be decoded. The file's meta information
 * names the sender in Source Application Entity Title (0002,0016).
 *
 * Errors and log lines name AE titles, SOP Instance UIDs and statuses,
 * never a data set's content. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CxrDicomListener CxrDicomListener;

/* An object kept, at path (in the spool folder), named by its SOP Instance
 * UID; called in the association's thread before success is answered. */
typedef void (*CxrDicomReceived) (const gchar * path, const gchar * uid,
    gpointer user_data);

/* An association refused, or a C-STORE answered failure: why, in words
 * fit for a log (AE titles, the SOP Instance UID, the status). */
typedef void (*CxrDicomRefused) (const gchar * why, gpointer user_data);

typedef struct
{
  guint16 port;
  const gchar *ae_title;        /* the called AE title answered to */
  const gchar *const *allowed_callers;  /* NULL or empty: any caller */
  const gchar *spool;           /* an existing folder */
  guint max_associations;       /* at once; more are refused (busy) */
  CxrDicomReceived received;
  CxrDicomRefused refused;      /* may be NULL */
  CxrDicomRefused stopped;      /* listening failed after it began */
  gpointer user_data;
} CxrDicomListenerSettings;

/* Listens on the port (all interfaces) from now on. NULL + error
 * (G_IO_ERROR_INVALID_ARGUMENT for an AE title that is not one,
 * G_IO_ERROR_ADDRESS_IN_USE / G_IO_ERROR_PERMISSION_DENIED / G_IO_ERROR_
 * FAILED when the port cannot be listened on). */
CxrDicomListener *cxr_dicom_listener_new (const CxrDicomListenerSettings *
    settings, GError ** error);

/* Stops listening and waits for the associations under way to end. */
void cxr_dicom_listener_free (CxrDicomListener * listener);

/* TRUE when uid is a UID a file may be named by: 1 to 64 digits and dots */
gboolean cxr_dicom_uid_is_valid (const gchar * uid);

G_END_DECLS
