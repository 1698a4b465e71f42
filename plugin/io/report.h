/* report.h — cxrmetasink's report: one self-contained HTML page (inline
 * SVG and CSS, pictures as data: URIs, no script) with the summary, the
 * ROC curve and its operating point, the reliability diagram, the
 * confusion matrix and the worst mistakes as thumbnails. The figures are
 * the summary's fields that its table gives a report row. No GStreamer. */
#pragma once
#include <glib.h>
#include "summary.h"

G_BEGIN_DECLS

/* a wrong answer, for the thumbnails */
typedef struct {
  guint64 frame;
  gchar *file;                  /* may be NULL */
  gchar *truth, *label;
  gdouble probability;          /* of the positive class */
  GBytes *png;                  /* the film (with its heatmap), or NULL */
} CxrReportMistake;

typedef struct {
  const CxrSummary *summary;    /* finished: its figures worked out */
  const GPtrArray *mistakes;    /* CxrReportMistake *, worst first */
} CxrReport;

/* the page */
gchar *cxr_report_html (const CxrReport * report);

/* the most mistakes the report shows */
#define CXR_REPORT_MISTAKES 8

/* Keeps m (owned) in mistakes, the worst ones so far, worst first (by the
 * probability given to the wrong side; positive names the positive
 * class), at most CXR_REPORT_MISTAKES of them; mistakes frees what it
 * drops with cxr_report_mistake_free. Returns TRUE when m is kept, so that
 * the caller may add its picture; FALSE, m freed, when it is no worse than
 * every one kept. */
gboolean cxr_report_keep_mistake (GPtrArray * mistakes, CxrReportMistake * m,
    const gchar * positive);

void cxr_report_mistake_free (CxrReportMistake * m);

G_END_DECLS
