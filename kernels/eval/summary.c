/* summary.c — the evaluation accumulator and the summary's fields (see
 * summary.h). */
#include "summary.h"

#include <math.h>
#include <string.h>

void
cxr_summary_init (CxrSummary * s, const gchar * const *reasons,
    guint n_reasons)
{
  memset (s, 0, sizeof *s);
  s->n_reasons = CLAMP (n_reasons, 1, CXR_SUMMARY_MAX_REASONS);
  for (guint r = 1; r < s->n_reasons; r++)
    s->reasons[r] = reasons[r];
  cxr_confusion_init (&s->confusion, 0);
  s->scores = g_array_new (FALSE, FALSE, sizeof (gfloat));
  s->positive = g_array_new (FALSE, FALSE, sizeof (guint8));
  cxr_summary_finish (s);
}

void
cxr_summary_clear (CxrSummary * s)
{
  for (guint i = 0; i < s->n_classes; i++)
    g_clear_pointer (&s->classes[i], g_free);
  s->n_classes = 0;
  g_clear_pointer (&s->scores, g_array_unref);
  g_clear_pointer (&s->positive, g_array_unref);
}

/* index of name among the summary's classes, -1 if absent */
static gint
class_index (const CxrSummary * s, const gchar * name)
{
  for (guint i = 0; name && i < s->n_classes; i++)
    if (g_strcmp0 (s->classes[i], name) == 0)
      return i;
  return -1;
}

static gboolean
same_classes (const CxrSummary * s, const CxrSummaryFrame * f)
{
  if (f->n_classes != s->n_classes)
    return FALSE;
  for (guint i = 0; i < f->n_classes; i++)
    if (g_strcmp0 (f->classes[i], s->classes[i]) != 0)
      return FALSE;
  return TRUE;
}

gint
cxr_summary_add (CxrSummary * s, const CxrSummaryFrame * f)
{
  guint last;
  gint t;
  gfloat score;
  guint8 positive;

  s->count++;
  if (f->labelled)
    s->labelled++;
  if (!f->classified) {
    s->unclassified++;
    return -1;
  }
  if (s->n_classes == 0) {
    /* The first classified frame fixes the summary's classes. */
    for (s->n_classes = 0; s->n_classes < MIN (f->n_classes,
            CXR_MAX_CLASSES); s->n_classes++)
      s->classes[s->n_classes] = g_strdup (f->classes[s->n_classes]);
    s->threshold = f->threshold;
    cxr_confusion_init (&s->confusion, s->n_classes);
  }
  if (f->stale) {
    s->stale++;
    return -1;
  }
  if (f->abstain_reason != 0) {
    s->abstained++;
    s->by_reason[MIN (f->abstain_reason, s->n_reasons - 1)]++;
    return -1;
  }
  if (!f->labelled)
    return -1;

  t = class_index (s, f->truth);
  if (t < 0 || !same_classes (s, f)) {
    s->unmatched++;
    return -1;
  }
  last = s->n_classes - 1;
  cxr_confusion_add (&s->confusion, t, f->predicted);
  score = f->probabilities[last];
  positive = (guint) t == last;
  g_array_append_val (s->scores, score);
  g_array_append_val (s->positive, positive);
  return t;
}

void
cxr_summary_finish (CxrSummary * s)
{
  const gfloat *scores = (const gfloat *) s->scores->data;
  const guint8 *positive = (const guint8 *) s->positive->data;

  s->evaluated = s->scores->len;
  memset (&s->metrics, 0, sizeof s->metrics);
  s->auc = NAN;
  s->brier = NAN;
  cxr_reliability (NULL, NULL, 0, &s->reliability);
  if (s->evaluated == 0)
    return;
  cxr_confusion_metrics (&s->confusion, &s->metrics);
  s->auc = cxr_roc_auc (scores, positive, s->evaluated);
  s->brier = cxr_brier_score (scores, positive, s->evaluated);
  cxr_reliability (scores, positive, s->evaluated, &s->reliability);
}

/* ---- the table ---- */

#define AT(member) G_STRUCT_OFFSET (CxrSummary, member)

const CxrSummaryField cxr_summary_fields[] = {
  {.key = "count",.kind = CXR_SUMMARY_COUNT,.offset = AT (count),
        .message = TRUE,.line = CXR_SUMMARY_LINE_COUNTS,.print = "frames",
      .report_row = 1,.report = "frames",.format = "%.0f"},
  {.key = "classes",.kind = CXR_SUMMARY_CLASSES,.message = TRUE},
  {.key = "threshold",.kind = CXR_SUMMARY_THRESHOLD,.offset = AT (threshold),
        .message = TRUE,.report_row = 5,.report = "threshold",
      .format = "%.3f"},
  {.key = "labelled",.kind = CXR_SUMMARY_COUNT,.offset = AT (labelled),
        .message = TRUE,.line = CXR_SUMMARY_LINE_COUNTS,
      .print = "labelled"},
  {.key = "unclassified",.kind = CXR_SUMMARY_COUNT,
        .offset = AT (unclassified),.message = TRUE,
        .line = CXR_SUMMARY_LINE_COUNTS,.print = "unclassified",
        .report_row = 3,.report = "not classified (no meta)",
      .format = "%.0f"},
  {.key = "stale",.kind = CXR_SUMMARY_COUNT,.offset = AT (stale),
        .message = TRUE,.line = CXR_SUMMARY_LINE_COUNTS,.print = "stale"},
  {.key = "unmatched",.kind = CXR_SUMMARY_COUNT,.offset = AT (unmatched),
        .message = TRUE,.line = CXR_SUMMARY_LINE_COUNTS,
      .print = "unmatched"},
  /* printed with its reasons, on a line of its own */
  {.key = "abstained",.kind = CXR_SUMMARY_COUNT,.offset = AT (abstained),
        .message = TRUE,.report_row = 4,
      .report = "no diagnosis (abstained)",.format = "%.0f"},
  {.key = "abstained_by_reason",.kind = CXR_SUMMARY_REASONS},
  {.key = "evaluated",.kind = CXR_SUMMARY_COUNT,.offset = AT (evaluated),
        .message = TRUE,.line = CXR_SUMMARY_LINE_COUNTS,
        .print = "evaluated",.report_row = 2,.report = "evaluated",
      .format = "%.0f"},
  {.key = "confusion",.kind = CXR_SUMMARY_CONFUSION,.message = TRUE},
  {.key = "accuracy",.kind = CXR_SUMMARY_RATE,
        .offset = AT (metrics.accuracy),.message = TRUE,
        .line = CXR_SUMMARY_LINE_RATES,.print = "accuracy",.report_row = 6,
      .report = "accuracy",.format = "%.4f"},
  {.key = "precision",.kind = CXR_SUMMARY_RATE,
        .offset = AT (metrics.precision),.message = TRUE,
        .line = CXR_SUMMARY_LINE_RATES,.print = "precision",
      .report_row = 9,.report = "precision",.format = "%.4f"},
  {.key = "recall",.kind = CXR_SUMMARY_RATE,.offset = AT (metrics.recall),
        .message = TRUE,.line = CXR_SUMMARY_LINE_RATES,.print = "recall",
      .report_row = 7,.report = "sensitivity",.format = "%.4f"},
  {.key = "specificity",.kind = CXR_SUMMARY_RATE,
        .offset = AT (metrics.specificity),.message = TRUE,
        .line = CXR_SUMMARY_LINE_RATES,.print = "specificity",
      .report_row = 8,.report = "specificity",.format = "%.4f"},
  {.key = "f1",.kind = CXR_SUMMARY_RATE,.offset = AT (metrics.f1),
        .message = TRUE,.line = CXR_SUMMARY_LINE_RATES,.print = "F1",
      .report_row = 10,.report = "F1",.format = "%.4f"},
  {.key = "auc",.kind = CXR_SUMMARY_REAL,.offset = AT (auc),.message = TRUE,
        .line = CXR_SUMMARY_LINE_RATES,.print = "AUC",.report_row = 11,
      .report = "ROC AUC",.format = "%.4f"},
  {.key = "brier",.kind = CXR_SUMMARY_REAL,.offset = AT (brier),
        .message = TRUE,.line = CXR_SUMMARY_LINE_CALIBRATION,
        .print = "Brier",.report_row = 12,.report = "Brier score",
      .format = "%.4f"},
  {.key = "ece",.kind = CXR_SUMMARY_REAL,.offset = AT (reliability.ece),
        .message = TRUE,.line = CXR_SUMMARY_LINE_CALIBRATION,.print = "ECE",
        .report_row = 13,.report = "expected calibration error",
      .format = "%.4f"},
  {.key = "reliability",.kind = CXR_SUMMARY_BINS},
};

const guint cxr_summary_n_fields = G_N_ELEMENTS (cxr_summary_fields);

guint64
cxr_summary_count (const CxrSummary * s, const CxrSummaryField * f)
{
  g_return_val_if_fail (f->kind == CXR_SUMMARY_COUNT, 0);
  return G_STRUCT_MEMBER (guint64, s, f->offset);
}

gdouble
cxr_summary_number (const CxrSummary * s, const CxrSummaryField * f)
{
  switch (f->kind) {
    case CXR_SUMMARY_COUNT:
      return G_STRUCT_MEMBER (guint64, s, f->offset);
    case CXR_SUMMARY_THRESHOLD:
      return G_STRUCT_MEMBER (gfloat, s, f->offset);
    case CXR_SUMMARY_RATE:
    case CXR_SUMMARY_REAL:
      return G_STRUCT_MEMBER (gdouble, s, f->offset);
    default:
      g_return_val_if_reached (NAN);
  }
}

gboolean
cxr_summary_is_null (const CxrSummary * s, const CxrSummaryField * f)
{
  switch (f->kind) {
    case CXR_SUMMARY_CLASSES:
      return s->n_classes == 0;
    case CXR_SUMMARY_THRESHOLD:
      return s->n_classes == 0 || !isfinite (cxr_summary_number (s, f));
    case CXR_SUMMARY_CONFUSION:
    case CXR_SUMMARY_BINS:
      return s->evaluated == 0;
    case CXR_SUMMARY_RATE:
      return s->evaluated == 0 || !isfinite (cxr_summary_number (s, f));
    case CXR_SUMMARY_REAL:
      return !isfinite (cxr_summary_number (s, f));
    default:
      return FALSE;
  }
}

/* ---- JSON ---- */

void
cxr_json_add_string (JsonBuilder * b, const gchar * str)
{
  gchar *valid;

  if (str == NULL) {
    json_builder_add_null_value (b);
  } else if (g_utf8_validate (str, -1, NULL)) {
    json_builder_add_string_value (b, str);
  } else {
    valid = g_utf8_make_valid (str, -1);
    json_builder_add_string_value (b, valid);
    g_free (valid);
  }
}

void
cxr_json_add_number (JsonBuilder * b, gdouble v)
{
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

gchar *
cxr_json_text (JsonBuilder * b, gsize * length)
{
  JsonGenerator *g = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  GString *text;

  json_generator_set_root (g, root);
  text = json_generator_to_gstring (g, g_string_new (NULL));
  g_string_append_c (text, '\n');
  if (length)
    *length = text->len;
  json_node_unref (root);
  g_object_unref (g);
  json_builder_reset (b);
  return g_string_free (text, FALSE);
}

static void
add_bins (JsonBuilder * b, const CxrReliability * rel)
{
  json_builder_begin_array (b);
  for (guint i = 0; i < CXR_RELIABILITY_BINS; i++) {
    const CxrReliabilityBin *bin = &rel->bins[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "lower");
    cxr_json_add_number (b, bin->lower);
    json_builder_set_member_name (b, "upper");
    cxr_json_add_number (b, bin->upper);
    json_builder_set_member_name (b, "count");
    json_builder_add_int_value (b, bin->count);
    json_builder_set_member_name (b, "mean_probability");
    cxr_json_add_number (b, bin->mean_probability);     /* NAN: null */
    json_builder_set_member_name (b, "fraction_positive");
    cxr_json_add_number (b, bin->fraction_positive);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
add_field (JsonBuilder * b, const CxrSummary * s, const CxrSummaryField * f)
{
  json_builder_set_member_name (b, f->key);
  if (cxr_summary_is_null (s, f)) {
    json_builder_add_null_value (b);
    return;
  }
  switch (f->kind) {
    case CXR_SUMMARY_COUNT:
      json_builder_add_int_value (b, cxr_summary_count (s, f));
      break;
    case CXR_SUMMARY_CLASSES:
      json_builder_begin_array (b);
      for (guint i = 0; i < s->n_classes; i++)
        cxr_json_add_string (b, s->classes[i]);
      json_builder_end_array (b);
      break;
    case CXR_SUMMARY_THRESHOLD:
    case CXR_SUMMARY_RATE:
    case CXR_SUMMARY_REAL:
      cxr_json_add_number (b, cxr_summary_number (s, f));
      break;
    case CXR_SUMMARY_REASONS:
      json_builder_begin_object (b);
      for (guint r = 1; r < s->n_reasons; r++) {
        json_builder_set_member_name (b, s->reasons[r]);
        json_builder_add_int_value (b, s->by_reason[r]);
      }
      json_builder_end_object (b);
      break;
    case CXR_SUMMARY_CONFUSION:
      json_builder_begin_array (b);
      for (guint i = 0; i < s->n_classes; i++) {
        json_builder_begin_array (b);
        for (guint j = 0; j < s->n_classes; j++)
          json_builder_add_int_value (b, s->confusion.counts[i][j]);
        json_builder_end_array (b);
      }
      json_builder_end_array (b);
      break;
    case CXR_SUMMARY_BINS:
      add_bins (b, &s->reliability);
      break;
  }
}

gchar *
cxr_summary_json (const CxrSummary * s)
{
  JsonBuilder *b = json_builder_new ();
  gchar *text;

  json_builder_begin_object (b);
  for (guint i = 0; i < cxr_summary_n_fields; i++)
    add_field (b, s, &cxr_summary_fields[i]);
  if (s->processes > 1) {
    json_builder_set_member_name (b, "processes");
    json_builder_add_int_value (b, s->processes);
  }
  json_builder_end_object (b);
  text = cxr_json_text (b, NULL);
  g_object_unref (b);
  return text;
}

/* ---- text ---- */

/* The fields of a line, in the table's order: a count as "6 labelled", a
 * figure as "accuracy 0.8333" (nan when it has no value). */
static void
text_line (GString * t, const CxrSummary * s, CxrSummaryLine line,
    const gchar * separator)
{
  const gchar *sep = "";

  for (guint i = 0; i < cxr_summary_n_fields; i++) {
    const CxrSummaryField *f = &cxr_summary_fields[i];

    if (f->line != line)
      continue;
    if (f->kind == CXR_SUMMARY_COUNT)
      g_string_append_printf (t, "%s%" G_GUINT64_FORMAT " %s", sep,
          cxr_summary_count (s, f), f->print);
    else
      g_string_append_printf (t, "%s%s %.4f", sep, f->print,
          cxr_summary_number (s, f));
    sep = separator;
  }
}

static void
text_reasons (GString * t, const CxrSummary * s)
{
  if (s->abstained == 0)
    return;
  g_string_append_printf (t, "not classified (not for this model): %"
      G_GUINT64_FORMAT, s->abstained);
  for (guint r = 1; r < s->n_reasons; r++)
    if (s->by_reason[r])
      g_string_append_printf (t, ", %s %" G_GUINT64_FORMAT, s->reasons[r],
          s->by_reason[r]);
  g_string_append (t, "; the metrics cover the frames answered\n");
}

static void
text_confusion (GString * t, const CxrSummary * s)
{
  gint width = 9;

  for (guint i = 0; i < s->n_classes; i++)
    width = MAX (width, (gint) strlen (s->classes[i]));
  g_string_append_printf (t, "confusion (rows = truth, columns = "
      "prediction):\n%*s", width, "");
  for (guint j = 0; j < s->n_classes; j++)
    g_string_append_printf (t, " %*s", width, s->classes[j]);
  g_string_append_c (t, '\n');
  for (guint i = 0; i < s->n_classes; i++) {
    g_string_append_printf (t, "%*s", width, s->classes[i]);
    for (guint j = 0; j < s->n_classes; j++)
      g_string_append_printf (t, " %*" G_GINT64_FORMAT, width,
          (gint64) s->confusion.counts[i][j]);
    g_string_append_c (t, '\n');
  }
}

static void
text_bins (GString * t, const CxrReliability * rel)
{
  g_string_append (t, "  reliability (bin: count, mean p, fraction "
      "positive; empty bins left out):\n");
  for (guint i = 0; i < CXR_RELIABILITY_BINS; i++) {
    const CxrReliabilityBin *bin = &rel->bins[i];

    if (bin->count == 0)
      continue;
    g_string_append_printf (t, "    %.1f-%.1f %6" G_GINT64_FORMAT
        "  %.3f  %.3f\n", bin->lower, bin->upper, (gint64) bin->count,
        bin->mean_probability, bin->fraction_positive);
  }
}

gchar *
cxr_summary_text (const CxrSummary * s, const gchar * who)
{
  GString *t = g_string_new (NULL);

  g_string_append_printf (t, "%s: ", who);
  text_line (t, s, CXR_SUMMARY_LINE_COUNTS, ", ");
  g_string_append_c (t, '\n');
  text_reasons (t, s);
  if (s->evaluated == 0) {
    g_string_append_printf (t, "%s: no labelled results, no metrics\n", who);
    return g_string_free (t, FALSE);
  }
  text_confusion (t, s);
  g_string_append_printf (t, "positive class %s:\n  ",
      s->classes[s->n_classes - 1]);
  text_line (t, s, CXR_SUMMARY_LINE_RATES, "  ");
  g_string_append (t, "\n  ");
  text_line (t, s, CXR_SUMMARY_LINE_CALIBRATION, "  ");
  g_string_append_printf (t, " (%d bins)\n", CXR_RELIABILITY_BINS);
  text_bins (t, &s->reliability);
  return g_string_free (t, FALSE);
}
