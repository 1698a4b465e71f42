/* A DICOM node that cxrdicomsink stores objects in by DIMSE C-STORE
 * (DCMTK's dcmnet; C++ in dicomnode.cpp), named by a URL
 * dicom://AET@HOST:PORT: its called AE title, host and port.
 *
 * Each object goes in an association of its own, over a presentation
 * context of its SOP class in explicit or implicit VR little endian. An
 * association that cannot be made or breaks is tried again, after 1, 2, 4,
 * 8 and 16 s; a node that rejects the association, or answers the
 * C-STORE with a failure status, is not. Errors name the node (AE title,
 * host, port), the status and the toolkit's condition, never an object's
 * content. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _CxrDicomNode CxrDicomNode;

/* The node of url, to which this one presents itself as calling_ae (at
 * most 16 characters, no backslash). NULL + error (G_IO_ERROR_INVALID_
 * ARGUMENT) when url is not dicom://AET@HOST:PORT or an AE title is not
 * one. */
CxrDicomNode *cxr_dicom_node_new (const gchar * url, const gchar * calling_ae,
    GError ** error);
void cxr_dicom_node_free (CxrDicomNode * node);

/* TRUE when ae is an AE title: 1 to 16 characters, no backslash, not only
 * spaces */
gboolean cxr_dicom_ae_title_is_valid (const gchar * ae);

/* C-STORE of one DICOM file (Part 10 bytes). FALSE + error:
 * G_IO_ERROR_INVALID_DATA when the node answers a failure status (it
 * refuses the object), G_IO_ERROR_PERMISSION_DENIED when it rejects the
 * association (the AE titles or the SOP class), G_IO_ERROR_FAILED when no
 * association could be made or kept after the tries, G_IO_ERROR_CANCELLED
 * when cancellable (may be NULL) is cancelled meanwhile. */
gboolean cxr_dicom_node_store (CxrDicomNode * node, GBytes * file,
    GCancellable * cancellable, GError ** error);

G_END_DECLS
