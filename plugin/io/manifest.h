/* manifest — a CSV list of labelled images, as cxrdatasetsrc reads it: one
 * `path,label,patient` line per image, the label and the patient optional
 * (`path`, `path,label` or `path,,patient`); an optional header naming the
 * columns (`path`, `label`, `patient`, in any order, `path` among them);
 * empty lines ignored, CR LF or LF line ends, a UTF-8 byte order mark
 * allowed. Fields may not contain commas. No GStreamer here. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *path;          /* as written in the manifest */
  gchar *label;         /* NULL when the line has none */
  gchar *patient;       /* NULL when the line has none */
  guint line;           /* 1-based, for messages */
} CxrManifestEntry;

#define CXR_MANIFEST_ERROR (cxr_manifest_error_quark ())
GQuark cxr_manifest_error_quark (void);

/* The entries of contents (length bytes; need not end in a NUL) in order,
 * a GPtrArray of CxrManifestEntry that frees them. NULL + error (naming
 * the manifest, `name`, and the line) for a line that does
 * not fit the columns. */
GPtrArray *cxr_manifest_parse (const gchar * contents, gsize length,
    const gchar * name, GError ** error);

G_END_DECLS
