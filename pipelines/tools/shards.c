/* shards.c — cxr-run's shards (`cxr-run classify FOLDER --shard K/N`), and
 * their merge (`cxr-run merge`): each shard's JSON lines, numbered from 0 in
 * the shard, come out as one run numbers them, shard after shard (a shard
 * is a run of consecutive files of the list), and their summary is one
 * run's, figure for figure (kernels/eval/lines.h). */
#include "shards.h"
#include "sharedlines.h"

#include <glib/gstdio.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

gchar *
cxr_run_shard_path (const gchar * output, guint k, guint n)
{
  return g_strdup_printf ("%s.%u-of-%u", output, k, n);
}

int
cxr_run_shard_start (const gchar * shard, const gchar * output,
    gchar ** done, gchar ** partial)
{
  guint k = 0, n = 0;
  char extra;

  if (sscanf (shard, "%u/%u%c", &k, &n, &extra) != 2 || k < 1 || k > n) {
    fprintf (stderr, "cxr-run: --shard takes K/N, the K-th of N shares, K "
        "from 1 to N (1/4, 2/4, 3/4, 4/4)\n");
    return 2;
  }
  *done = cxr_run_shard_path (output, k, n);
  if (g_file_test (*done, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, "cxr-run: shard %u/%u is done already (%s); skipped\n",
        k, n, *done);
    g_clear_pointer (done, g_free);
    return 1;
  }
  *partial = g_strconcat (*done, ".partial", NULL);
  return 0;
}

/* every shard is there, or a line names those that are not */
static gboolean
all_shards (const gchar * output, guint n)
{
  GString *missing = g_string_new (NULL);
  gboolean ok;

  for (guint k = 1; k <= n; k++) {
    gchar *path = cxr_run_shard_path (output, k, n);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
      g_string_append_printf (missing, "%s%u/%u", missing->len ? ", " : "",
          k, n);
    g_free (path);
  }
  ok = missing->len == 0;
  if (!ok)
    fprintf (stderr, "cxr-run: merge: shard %s not done: run cxr-run "
        "classify FOLDER --shard K/%u --output %s for each\n", missing->str,
        n, output);
  g_string_free (missing, TRUE);
  return ok;
}

/* shard k's lines, renumbered, onto out; FALSE with a line on stderr */
static gboolean
take_shard (CxrLines * lines, const gchar * output, guint k, guint n,
    FILE * out)
{
  gchar *path = cxr_run_shard_path (output, k, n), *line = NULL, *text;
  GError *error = NULL;
  GIOChannel *in = g_io_channel_new_file (path, "r", &error);
  GIOStatus status = in ? G_IO_STATUS_NORMAL : G_IO_STATUS_ERROR;
  gsize length;

  while (status == G_IO_STATUS_NORMAL) {
    status = g_io_channel_read_line (in, &line, &length, NULL, &error);
    if (status != G_IO_STATUS_NORMAL || length == 0 || line[0] == '\n') {
      g_clear_pointer (&line, g_free);
      continue;
    }
    text = cxr_lines_take (lines, line, length, &error);
    if (!text || fputs (text, out) < 0)
      status = G_IO_STATUS_ERROR;
    g_free (text);
    g_clear_pointer (&line, g_free);
  }
  if (status != G_IO_STATUS_EOF)
    fprintf (stderr, "cxr-run: merge: %s: %s\n", path,
        error ? error->message : g_strerror (errno));
  g_clear_error (&error);
  if (in)
    g_io_channel_unref (in);
  g_free (path);
  return status == G_IO_STATUS_EOF;
}

/* text to path, atomically */
static gboolean
write_file (const gchar * path, const gchar * text)
{
  GError *error = NULL;

  if (g_file_set_contents_full (path, text, -1,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0666,
          &error))
    return TRUE;
  fprintf (stderr, "cxr-run: merge: %s\n", error->message);
  g_error_free (error);
  return FALSE;
}

/* a file written beside its destination and moved there once complete,
 * so that a reader never sees part of it */
static gboolean
finish_file (FILE * f, const gchar * partial, const gchar * path)
{
  gboolean ok = fflush (f) == 0 && fsync (fileno (f)) == 0;

  ok = fclose (f) == 0 && ok && rename (partial, path) == 0;
  if (!ok) {
    fprintf (stderr, "cxr-run: merge: cannot write %s: %s\n", path,
        g_strerror (errno));
    g_unlink (partial);
  }
  return ok;
}

int
cxr_run_merge (const gchar * output, guint n, const gchar * summary)
{
  gchar *partial = g_strconcat (output, ".partial", NULL), *json, *text;
  gboolean ok = all_shards (output, n);
  FILE *out = ok ? fopen (partial, "w") : NULL;
  CxrLines lines;

  if (ok && !out) {
    fprintf (stderr, "cxr-run: merge: cannot write %s: %s\n", partial,
        g_strerror (errno));
    ok = FALSE;
  }
  gst_cxr_lines_start (&lines);
  for (guint k = 1; ok && k <= n; k++)
    ok = take_shard (&lines, output, k, n, out);
  if (out && !ok) {
    fclose (out);
    g_unlink (partial);
  } else if (out)
    ok = finish_file (out, partial, output);
  if (ok) {
    cxr_summary_finish (&lines.summary);
    json = cxr_summary_json (&lines.summary);
    text = cxr_summary_text (&lines.summary, "cxr-run merge");
    ok = !summary || write_file (summary, json);
    fputs (text, stdout);
    g_free (json);
    g_free (text);
  }
  if (ok)
    fprintf (stderr, "cxr-run: %u shards, %" G_GUINT64_FORMAT " results in "
        "%s%s%s\n", n, lines.frames, output, summary ? ", summary in " : "",
        summary ? summary : "");
  cxr_lines_clear (&lines);
  g_free (partial);
  return ok ? 0 : 1;
}
