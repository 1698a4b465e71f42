/* manifest.c — see manifest.h. */
#include "manifest.h"

#include <string.h>

GQuark
cxr_manifest_error_quark (void)
{
  return g_quark_from_static_string ("cxr-manifest-error-quark");
}

static void
entry_free (gpointer data)
{
  CxrManifestEntry *e = data;

  g_free (e->path);
  g_free (e->label);
  g_free (e);
}

GPtrArray *
cxr_manifest_parse (const gchar * contents, gsize length, const gchar * name,
    GError ** error)
{
  /* a copy that ends in a NUL, and whose embedded NULs end their line */
  gchar *text = g_strndup (contents, length);
  gchar **lines;
  GPtrArray *entries = g_ptr_array_new_with_free_func (entry_free);
  gboolean first = TRUE;

  /* spreadsheet exports often start with a UTF-8 byte order mark */
  lines = g_strsplit (g_str_has_prefix (text, "\xef\xbb\xbf") ? text + 3 :
      text, "\n", -1);
  g_free (text);
  for (guint n = 0; lines[n]; n++) {
    gchar *line = g_strstrip (lines[n]);        /* also drops a CR */
    gchar *comma = strchr (line, ',');
    const gchar *path, *label = "";
    CxrManifestEntry *e;

    if (line[0] == '\0')
      continue;
    if (comma) {
      *comma = '\0';
      label = g_strstrip (comma + 1);
    }
    path = g_strstrip (line);
    if (first && g_ascii_strcasecmp (path, "path") == 0
        && (label[0] == '\0' || g_ascii_strcasecmp (label, "label") == 0)) {
      first = FALSE;            /* header line */
      continue;
    }
    first = FALSE;
    if (path[0] == '\0' || strchr (label, ',')) {
      g_set_error (error, CXR_MANIFEST_ERROR, 0,
          "Line %u of manifest '%s' is not 'path,label'%s", n + 1, name,
          path[0] ?
          " (more than one comma; paths with commas are not supported)" :
          " (no file path)");
      g_strfreev (lines);
      g_ptr_array_unref (entries);
      return NULL;
    }
    e = g_new0 (CxrManifestEntry, 1);
    e->path = g_strdup (path);
    e->label = label[0] ? g_strdup (label) : NULL;
    e->line = n + 1;
    g_ptr_array_add (entries, e);
  }
  g_strfreev (lines);
  return entries;
}
