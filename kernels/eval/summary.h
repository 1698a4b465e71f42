/* summary.h — the evaluation accumulator and the table of the summary's
 * fields. cxrmetasink reads each frame's metas into a CxrSummaryFrame and
 * adds it; at the end the one table below says what the summary holds, and
 * drives its JSON object, its printed text, the element message (built by
 * the element, which alone knows GStreamer) and the HTML report's figures.
 * No GStreamer here.
 *
 * The metrics cover the evaluated frames: labelled, classified, answered
 * (not abstained), not stale (a copy of an earlier frame's result would
 * weigh that frame twice), classified with the same classes as the first
 * classified frame, and with a truth among those classes. Labelled,
 * classified, fresh frames that fail the last two tests are "unmatched".
 * Binary figures take the last class as the positive one (metrics.h). */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "classes.h"
#include "metrics.h"

G_BEGIN_DECLS

/* the most reasons to abstain that the summary counts apart */
#define CXR_SUMMARY_MAX_REASONS 16

/* One frame, as the caller read it off its metas. */
typedef struct {
  gboolean labelled;            /* it has a truth, by name or by index */
  const gchar *truth;           /* the truth's name; NULL when not known */
  gboolean classified;          /* FALSE: no result, the rest is not read */
  guint n_classes;
  const gchar *const *classes;  /* [n_classes] */
  const gfloat *probabilities;  /* [n_classes] */
  guint predicted;
  gfloat threshold;
  gboolean stale;               /* a copy of an earlier frame's result */
  guint abstain_reason;         /* why it got no diagnosis; 0: answered */
} CxrSummaryFrame;

typedef struct {
  /* counted by cxr_summary_add */
  guint64 count;                /* frames */
  guint64 labelled, unclassified, stale, unmatched;
  guint64 abstained;            /* fresh frames with no diagnosis, */
  guint64 by_reason[CXR_SUMMARY_MAX_REASONS];   /* by reason (0 unused) */
  guint n_reasons;              /* reasons[0] is "answered" */
  const gchar *reasons[CXR_SUMMARY_MAX_REASONS];
  guint n_classes;              /* 0 until the first classified frame, */
  gchar *classes[CXR_MAX_CLASSES];      /* which fixes them */
  gfloat threshold;             /* and the threshold */
  CxrConfusion confusion;       /* of the evaluated frames */
  GArray *scores;               /* gfloat per evaluated frame: P(last) */
  GArray *positive;             /* guint8 per evaluated frame: truth last */

  /* worked out by cxr_summary_finish */
  guint64 evaluated;
  CxrBinaryMetrics metrics;     /* the rates; zeros when evaluated = 0 */
  gdouble auc;                  /* NAN when a class is missing */
  gdouble brier;                /* NAN when evaluated = 0 */
  CxrReliability reliability;   /* the bins and the ECE of P(last) */

  guint processes;              /* that made the results together; 0: one */
} CxrSummary;

/* reasons[1 .. n_reasons - 1] name the reasons a frame may abstain for
 * (reasons[0], answered, is not read); the strings must outlive s. A
 * reason past the last counts as the last, the catch-all. */
void cxr_summary_init (CxrSummary * s, const gchar * const *reasons,
    guint n_reasons);
void cxr_summary_clear (CxrSummary * s);

/* Counts the frame; returns the index of its truth among the summary's
 * classes when it is evaluated, else -1. */
gint cxr_summary_add (CxrSummary * s, const CxrSummaryFrame * frame);

/* Works out the figures of the frames added so far. */
void cxr_summary_finish (CxrSummary * s);

/* ---- the table ---- */

typedef enum {
  CXR_SUMMARY_COUNT,            /* a guint64 */
  CXR_SUMMARY_CLASSES,          /* the class names; null before the first
                                 * classified frame */
  CXR_SUMMARY_THRESHOLD,        /* a gfloat; null before the first
                                 * classified frame */
  CXR_SUMMARY_REASONS,          /* an object: reason name to count */
  CXR_SUMMARY_CONFUSION,        /* rows = truth, columns = prediction, in
                                 * the classes' order; null when nothing
                                 * was evaluated */
  CXR_SUMMARY_RATE,             /* a gdouble of the confusion; null when
                                 * nothing was evaluated */
  CXR_SUMMARY_REAL,             /* a gdouble; null when NAN */
  CXR_SUMMARY_BINS,             /* the reliability bins, objects lower,
                                 * upper, count, mean_probability,
                                 * fraction_positive; null when nothing was
                                 * evaluated */
} CxrSummaryKind;

/* the printed summary's lines that list fields */
typedef enum {
  CXR_SUMMARY_UNPRINTED,
  CXR_SUMMARY_LINE_COUNTS,      /* "6 frames, 6 labelled, ..." */
  CXR_SUMMARY_LINE_RATES,       /* "accuracy 0.8333  precision 0.7500 ..." */
  CXR_SUMMARY_LINE_CALIBRATION, /* "Brier 0.1292  ECE 0.1667" */
} CxrSummaryLine;

typedef struct {
  const gchar *key;             /* JSON key and message field */
  CxrSummaryKind kind;
  gsize offset;                 /* of a COUNT, THRESHOLD, RATE or REAL
                                 * value in CxrSummary */
  gboolean message;             /* in the element message (when not null) */
  CxrSummaryLine line;          /* printed on that line, */
  const gchar *print;           /* named so */
  guint report_row;             /* the report's figures: row, from 1 (0:
                                 * not shown), */
  const gchar *report;          /* name */
  const gchar *format;          /* and printf format of the gdouble */
} CxrSummaryField;

/* in the JSON object's order */
extern const CxrSummaryField cxr_summary_fields[];
extern const guint cxr_summary_n_fields;

gboolean cxr_summary_is_null (const CxrSummary * s,
    const CxrSummaryField * f);
/* a COUNT's value */
guint64 cxr_summary_count (const CxrSummary * s, const CxrSummaryField * f);
/* a COUNT, THRESHOLD, RATE or REAL value as a gdouble, whether null or
 * not (a rate reads 0 when nothing was evaluated, the threshold 0 before
 * the first classified frame) */
gdouble cxr_summary_number (const CxrSummary * s, const CxrSummaryField * f);

/* the summary as a JSON object in the table's order, then "processes"
 * when several made it: one line of text, ending in a newline */
gchar *cxr_summary_json (const CxrSummary * s);
/* The readable summary, its first line starting "who: ". */
gchar *cxr_summary_text (const CxrSummary * s, const gchar * who);

/* ---- JSON values, as the summary and cxrmetasink's lines write them ---- */

/* null for NULL; text that is not UTF-8 (a file name) made valid */
void cxr_json_add_string (JsonBuilder * b, const gchar * str);
/* null for NaN and the infinities, which JSON has not */
void cxr_json_add_number (JsonBuilder * b, gdouble v);
/* The builder's value as compact JSON text ending in a newline; the
 * builder is reset for the next value. */
gchar *cxr_json_text (JsonBuilder * b, gsize * length);

G_END_DECLS
