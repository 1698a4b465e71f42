/* shards.h — cxr-run's shards: where each writes, and their merge. */
#pragma once
#include <glib.h>

/* shard k of n's results: OUTPUT.K-of-N (g_free) */
gchar *cxr_run_shard_path (const gchar * output, guint k, guint n);

/* The shard that shard ("K/N") names of a job writing output: 0 to go
 * on, the job writing *partial (g_free) and moving it to *done (g_free)
 * once complete; 1 when that shard is done already, 2 when shard is not
 * K/N; both with a line on stderr. */
int cxr_run_shard_start (const gchar * shard, const gchar * output,
    gchar ** done, gchar ** partial);

/* Shards 1 .. n of output, as cxr_run_shard_path names them, into one
 * file of results at output, in the order one run writes them, and their
 * summary (printed, and written to summary unless NULL), both written
 * atomically. 0 when done; else 1, with a line on stderr saying why. */
int cxr_run_merge (const gchar * output, guint n, const gchar * summary);
