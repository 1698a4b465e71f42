/* sharedlines.c — cxrmetasink's results as one set (see sharedlines.h). */
#include "sharedlines.h"
#include "dist.h"
#include "gst/cxr/cxrmeta.h"

#include <errno.h>
#include <string.h>

#define N_REASONS (GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION + 1)

static void
reason_names (const gchar ** names)
{
  for (guint r = 0; r < N_REASONS; r++)
    names[r] = gst_cxr_abstain_reason_name (r);
}

void
gst_cxr_summary_start (CxrSummary * summary)
{
  const gchar *names[N_REASONS];

  reason_names (names);
  cxr_summary_init (summary, names, N_REASONS);
}

void
gst_cxr_lines_start (CxrLines * lines)
{
  const gchar *names[N_REASONS];

  reason_names (names);
  cxr_lines_init (lines, names, N_REASONS);
}

gboolean
gst_cxr_shared_lines_write (const GString * mine, FILE * out,
    CxrSummary * summary, GError ** error)
{
  size_t total;
  gchar *all = cxr_dist_gather (mine->str, mine->len, &total);
  const gchar *line = all, *end = all + total;
  gboolean ok = TRUE;
  CxrLines lines;

  if (cxr_dist_rank () > 0) {
    g_free (all);
    return TRUE;
  }
  gst_cxr_lines_start (&lines);
  while (ok && line < end) {
    const gchar *newline = memchr (line, '\n', end - line);
    gsize length = (newline ? newline : end) - line;
    gchar *text = cxr_lines_take (&lines, line, length, error);

    ok = text && fputs (text, out) >= 0;
    if (text && !ok)
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "%s", g_strerror (errno));
    g_free (text);
    line += length + 1;
  }
  if (ok && fflush (out) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s",
        g_strerror (errno));
    ok = FALSE;
  }
  /* the whole run's summary in place of this process's */
  cxr_summary_clear (summary);
  *summary = lines.summary;
  g_clear_object (&lines.parser);
  g_free (all);
  return ok;
}
