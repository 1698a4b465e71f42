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
  g_free (e->patient);
  g_free (e);
}

enum { PATH, LABEL, PATIENT, N_COLUMNS };
static const gchar *column_names[N_COLUMNS] = { "path", "label", "patient" };

/* A header line sets column[field] to what field holds; FALSE when the
 * line is data. */
static gboolean
read_header (gchar ** fields, gint * column)
{
  guint n = g_strv_length (fields);
  gint seen[N_COLUMNS] = { 0 }, named[N_COLUMNS];

  if (n > N_COLUMNS)
    return FALSE;
  for (guint f = 0; f < n; f++) {
    gint c = 0;
    while (c < N_COLUMNS && g_ascii_strcasecmp (fields[f], column_names[c]))
      c++;
    if (c == N_COLUMNS || seen[c]++)
      return FALSE;
    named[f] = c;
  }
  /* a data line leaves the columns as they were */
  if (seen[PATH] != 1)
    return FALSE;
  memcpy (column, named, n * sizeof *column);
  return TRUE;
}

GPtrArray *
cxr_manifest_parse (const gchar * contents, gsize length, const gchar * name,
    GError ** error)
{
  /* a copy that ends in a NUL, and whose embedded NULs end their line */
  gchar *text = g_strndup (contents, length);
  gchar **lines;
  GPtrArray *entries = g_ptr_array_new_with_free_func (entry_free);
  gint column[N_COLUMNS] = { PATH, LABEL, PATIENT };
  gboolean first = TRUE;

  /* spreadsheet exports often start with a UTF-8 byte order mark */
  lines = g_strsplit (g_str_has_prefix (text, "\xef\xbb\xbf") ? text + 3 :
      text, "\n", -1);
  g_free (text);
  for (guint n = 0; lines[n]; n++) {
    gchar *line = g_strstrip (lines[n]);        /* also drops a CR */
    gchar **fields, *value[N_COLUMNS] = { NULL };
    guint n_fields;
    CxrManifestEntry *e;

    if (line[0] == '\0')
      continue;
    fields = g_strsplit (line, ",", -1);
    for (guint f = 0; fields[f]; f++)
      g_strstrip (fields[f]);
    if (first && read_header (fields, column)) {
      first = FALSE;
      g_strfreev (fields);
      continue;
    }
    first = FALSE;
    n_fields = g_strv_length (fields);
    for (guint f = 0; f < MIN (n_fields, N_COLUMNS); f++)
      value[column[f]] = fields[f][0] ? fields[f] : NULL;
    if (n_fields > N_COLUMNS || !value[PATH]) {
      g_set_error (error, CXR_MANIFEST_ERROR, 0,
          "Line %u of manifest '%s' is not 'path,label,patient'%s", n + 1,
          name, n_fields > N_COLUMNS ? " (too many commas; fields with "
          "commas are not supported)" : " (no file path)");
      g_strfreev (fields);
      g_strfreev (lines);
      g_ptr_array_unref (entries);
      return NULL;
    }
    e = g_new0 (CxrManifestEntry, 1);
    e->path = g_strdup (value[PATH]);
    e->label = g_strdup (value[LABEL]);
    e->patient = g_strdup (value[PATIENT]);
    e->line = n + 1;
    g_ptr_array_add (entries, e);
    g_strfreev (fields);
  }
  g_strfreev (lines);
  return entries;
}
