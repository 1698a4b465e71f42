/* lines.h — cxrmetasink's JSON lines read back. A run split into parts
 * (the shares of several processes, or shards run one by one) writes each
 * part's lines numbered from 0; taken in order, they come out numbered as
 * one run would have numbered them, and summed up as one run's summary
 * (summary.h), figure for figure. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "summary.h"

G_BEGIN_DECLS

typedef struct {
  CxrSummary summary;           /* of the lines taken */
  guint64 frames;               /* lines taken */
  JsonParser *parser;
} CxrLines;

/* reasons: as cxr_summary_init's, the names a line's "reason" holds */
void cxr_lines_init (CxrLines * lines, const gchar * const *reasons,
    guint n_reasons);
void cxr_lines_clear (CxrLines * lines);

/* The next line of a part (one JSON object, with or without its newline):
 * counted in the summary, and returned (with a newline) with "frame" set
 * to its place among all lines taken, and "pts" likewise when it was the
 * part's frame number in seconds (as cxrdatasetsrc stamps frames). NULL
 * with error set when the line is not one of cxrmetasink's. */
gchar *cxr_lines_take (CxrLines * lines, const gchar * line, gssize length,
    GError ** error);

G_END_DECLS
