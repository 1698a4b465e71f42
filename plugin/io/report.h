/* report.h — cxrmetasink's report: one self-contained HTML page (inline
 * SVG and CSS, pictures as data: URIs, no script) with the summary, the
 * ROC curve and its operating point, the reliability diagram, the
 * confusion matrix and the worst mistakes as thumbnails. No GStreamer. */
#pragma once
#include <glib.h>
#include "metrics.h"

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
  guint n_classes;
  const gchar *const *classes;
  gdouble threshold;            /* on the last class's probability */
  guint64 count, evaluated, abstained, unclassified;
  const CxrConfusion *confusion;        /* NULL when nothing was evaluated */
  const CxrBinaryMetrics *metrics;
  gdouble auc, brier;
  const CxrReliability *reliability;
  const gfloat *scores;         /* evaluated frames: P(last class) */
  const guint8 *positive;       /* and whether their truth is the last */
  const GPtrArray *mistakes;    /* CxrReportMistake *, worst first */
} CxrReport;

/* the page */
gchar *cxr_report_html (const CxrReport * report);

void cxr_report_mistake_free (CxrReportMistake * m);

G_END_DECLS
