/* summarymessage.h — the summary as cxrmetasink's element message. */
#pragma once
#include <gst/gst.h>

#include "summary.h"

/* The structure "cxrmetasink-summary": the fields the table
 * (kernels/eval/summary.h) puts in the message, in its order, those whose
 * JSON value is null left out; counts as guint64, the classes as a
 * GstValueArray of strings, the confusion as a GstValueArray of rows of
 * guint64, the other figures as gdouble; "processes" (guint) when several
 * made it. */
GstStructure *gst_cxr_summary_structure (const CxrSummary * sum);
