/* sharedlines.h — cxrmetasink's results as one set when they come in parts:
 * several processes (mpirun) that each classified their share of the
 * files, or shards run one by one (cxr-run merge). */
#pragma once
#include <gst/gst.h>
#include <stdio.h>

#include "lines.h"
#include "summary.h"

/* A summary (or the reader of results' lines) that counts abstentions by
 * GstCxrAbstainReason, as cxrmetasink does. */
void gst_cxr_summary_start (CxrSummary * summary);
void gst_cxr_lines_start (CxrLines * lines);

/* Called by every process of the run with its own JSON lines, in order:
 * process 0 writes every process's to out, in the order of the processes
 * (that of the file list: each process reads a run of consecutive files),
 * numbered as one process numbers them, and replaces *summary by theirs;
 * the others write nothing. FALSE with error set when process 0 cannot
 * read a line back (not one of cxrmetasink's) or write it. */
gboolean gst_cxr_shared_lines_write (const GString * mine, FILE * out,
    CxrSummary * summary, GError ** error);
