/* report.c — the HTML report (see report.h). */
#include "report.h"

#include <math.h>

#define PLOT 280                /* side of a plot's square, in pixels */
#define MARGIN 40

/* t escaped for HTML; file names need not be UTF-8, the page must be */
static void
text (GString * s, const gchar * t)
{
  gchar *valid = g_utf8_make_valid (t ? t : "", -1);
  gchar *escaped = g_markup_escape_text (valid, -1);

  g_string_append (s, escaped);
  g_free (escaped);
  g_free (valid);
}

static void
figure (GString * s, const gchar * name, gdouble v, const gchar * format)
{
  g_string_append_printf (s, "<tr><th>%s</th><td>", name);
  if (isfinite (v))
    g_string_append_printf (s, format, v);
  else
    g_string_append (s, "&ndash;");
  g_string_append (s, "</td></tr>\n");
}

/* x, y in [0, 1] to the plot's pixels */
static gdouble
px (gdouble x)
{
  return MARGIN + x * PLOT;
}

static gdouble
py (gdouble y)
{
  return MARGIN + (1.0 - y) * PLOT;
}

/* an empty plot: the square, the diagonal, the axes' names */
static void
plot_open (GString * s, const gchar * id, const gchar * title,
    const gchar * x_name, const gchar * y_name)
{
  g_string_append_printf (s, "<figure><svg id=\"%s\" xmlns=\"http://www.w3."
      "org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">"
      "<title>%s</title>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
      "fill=\"white\" stroke=\"#444\"/>\n<line x1=\"%g\" y1=\"%g\" x2=\"%g\" "
      "y2=\"%g\" stroke=\"#bbb\" stroke-dasharray=\"4 4\"/>\n", id,
      PLOT + 2 * MARGIN, PLOT + 2 * MARGIN, title, MARGIN, MARGIN, PLOT, PLOT,
      px (0), py (0), px (1), py (1));
  for (int k = 0; k <= 4; k++)
    g_string_append_printf (s, "<text x=\"%g\" y=\"%d\" font-size=\"10\" "
        "text-anchor=\"middle\">%.2f</text><text x=\"%d\" y=\"%g\" "
        "font-size=\"10\" text-anchor=\"end\">%.2f</text>\n", px (k / 4.0),
        PLOT + MARGIN + 14, k / 4.0, MARGIN - 4, py (k / 4.0) + 3, k / 4.0);
  g_string_append_printf (s, "<text x=\"%g\" y=\"%d\" font-size=\"12\" "
      "text-anchor=\"middle\">%s</text><text x=\"12\" y=\"%g\" "
      "font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 %g)"
      "\">%s</text>\n", px (0.5), PLOT + 2 * MARGIN - 6, x_name, py (0.5),
      py (0.5), y_name);
}

static void
plot_close (GString * s, const gchar * caption)
{
  g_string_append_printf (s, "</svg><figcaption>%s</figcaption></figure>\n",
      caption);
}

/* the summary's figures that have a report row, in the rows' order: a
 * rate only when there is a confusion matrix, any other value as it is, a
 * dash when it is not a number */
static void
figures (GString * s, const CxrSummary * sum)
{
  for (guint row = 1;; row++) {
    const CxrSummaryField *f = NULL;

    for (guint i = 0; i < cxr_summary_n_fields; i++)
      if (cxr_summary_fields[i].report_row == row)
        f = &cxr_summary_fields[i];
    if (f == NULL)
      return;
    if (f->kind == CXR_SUMMARY_RATE && cxr_summary_is_null (sum, f))
      continue;
    figure (s, f->report, cxr_summary_number (sum, f), f->format);
  }
}

static void
roc (GString * s, const CxrSummary * sum)
{
  gint64 n = sum->evaluated;
  gdouble *fpr = g_new (gdouble, n + 1), *tpr = g_new (gdouble, n + 1);
  gint64 points = cxr_roc_curve ((const gfloat *) sum->scores->data,
      (const guint8 *) sum->positive->data, n, fpr, tpr);
  const CxrBinaryMetrics *m = &sum->metrics;
  gchar caption[128];

  plot_open (s, "roc", "ROC curve", "1 - specificity", "sensitivity");
  g_string_append (s, "<polyline fill=\"none\" stroke=\"#c0392b\" "
      "stroke-width=\"2\" points=\"");
  for (gint64 k = 0; k < points; k++)
    g_string_append_printf (s, "%.2f,%.2f ", px (fpr[k]), py (tpr[k]));
  g_string_append (s, "\"/>\n");
  g_string_append_printf (s, "<circle id=\"operating-point\" cx=\"%.2f\" "
      "cy=\"%.2f\" r=\"5\" fill=\"#2c3e50\"><title>threshold %.3f: "
      "sensitivity %.3f, specificity %.3f</title></circle>\n",
      px (1.0 - m->specificity), py (m->recall), sum->threshold, m->recall,
      m->specificity);
  g_snprintf (caption, sizeof caption, "ROC curve (AUC %.4f); the dot is "
      "the operating point at threshold %.3f", sum->auc, sum->threshold);
  plot_close (s, caption);
  g_free (fpr);
  g_free (tpr);
}

static void
reliability (GString * s, const CxrSummary * sum)
{
  const CxrReliability *rel = &sum->reliability;
  gchar caption[128];

  plot_open (s, "reliability", "Reliability diagram",
      "mean predicted probability", "fraction positive");
  for (int i = 0; i < CXR_RELIABILITY_BINS; i++) {
    const CxrReliabilityBin *b = &rel->bins[i];
    if (b->count == 0)
      continue;
    g_string_append_printf (s, "<rect class=\"bin\" x=\"%.2f\" y=\"%.2f\" "
        "width=\"%.2f\" height=\"%.2f\" fill=\"#5d8aa8\" opacity=\"0.8\">"
        "<title>%.1f-%.1f: %" G_GINT64_FORMAT " films, mean p %.3f, "
        "fraction positive %.3f</title></rect>\n", px (b->lower) + 1,
        py (b->fraction_positive), PLOT / 10.0 - 2,
        b->fraction_positive * PLOT, b->lower, b->upper, b->count,
        b->mean_probability, b->fraction_positive);
    g_string_append_printf (s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" "
        "fill=\"#c0392b\"/>\n", px (b->mean_probability),
        py (b->fraction_positive));
  }
  g_snprintf (caption, sizeof caption, "Reliability: bars are the fraction "
      "positive in each tenth of p, dots at the bin's mean p (ECE %.4f)",
      rel->ece);
  plot_close (s, caption);
}

static void
confusion (GString * s, const CxrSummary * sum)
{
  g_string_append (s, "<table id=\"confusion\"><caption>Confusion matrix "
      "(rows: truth, columns: prediction)</caption>\n<tr><th></th>");
  for (guint j = 0; j < sum->n_classes; j++) {
    g_string_append (s, "<th>");
    text (s, sum->classes[j]);
    g_string_append (s, "</th>");
  }
  g_string_append (s, "</tr>\n");
  for (guint i = 0; i < sum->n_classes; i++) {
    g_string_append (s, "<tr><th>");
    text (s, sum->classes[i]);
    g_string_append (s, "</th>");
    for (guint j = 0; j < sum->n_classes; j++)
      g_string_append_printf (s, "<td class=\"%s\">%" G_GINT64_FORMAT
          "</td>", i == j ? "right" : "wrong",
          sum->confusion.counts[i][j]);
    g_string_append (s, "</tr>\n");
  }
  g_string_append (s, "</table>\n");
}

static void
mistakes (GString * s, const CxrReport * r)
{
  g_string_append (s, "<h2>The worst mistakes</h2>\n<div id=\"mistakes\">");
  if (!r->mistakes || r->mistakes->len == 0)
    g_string_append (s, "<p>None.</p>");
  for (guint i = 0; r->mistakes && i < r->mistakes->len; i++) {
    const CxrReportMistake *m = g_ptr_array_index (r->mistakes, i);
    g_string_append (s, "<figure class=\"mistake\">");
    if (m->png) {
      gchar *b64 = g_base64_encode (g_bytes_get_data (m->png, NULL),
          g_bytes_get_size (m->png));
      g_string_append_printf (s, "<img class=\"thumb\" alt=\"frame %"
          G_GUINT64_FORMAT "\" src=\"data:image/png;base64,%s\">",
          m->frame, b64);
      g_free (b64);
    }
    g_string_append_printf (s, "<figcaption>frame %" G_GUINT64_FORMAT
        "<br>", m->frame);
    if (m->file) {
      text (s, m->file);
      g_string_append (s, "<br>");
    }
    g_string_append (s, "truth ");
    text (s, m->truth);
    g_string_append (s, ", called ");
    text (s, m->label);
    g_string_append_printf (s, " (P %.3f)</figcaption></figure>\n",
        m->probability);
  }
  g_string_append (s, "</div>\n");
}

gchar *
cxr_report_html (const CxrReport * r)
{
  GString *s = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head>"
      "<meta charset=\"utf-8\"><title>gst-cxr report</title>\n<style>"
      "body{font-family:sans-serif;margin:2em;max-width:1100px}"
      "table{border-collapse:collapse;margin:1em 0}"
      "th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}"
      "td.right{background:#e8f5e9}td.wrong{background:#fdecea}"
      "figure{display:inline-block;margin:0.5em;vertical-align:top}"
      "figcaption{font-size:12px;max-width:300px}"
      "img.thumb{width:160px;display:block}"
      "</style></head><body>\n<h1>gst-cxr report</h1>\n");
  const CxrSummary *sum = r->summary;
  const gchar *positive = sum->n_classes ?
      sum->classes[sum->n_classes - 1] : "";

  g_string_append (s, "<table id=\"summary\"><caption>Summary (positive "
      "class: ");
  text (s, positive);
  g_string_append (s, ")</caption>\n");
  figures (s, sum);
  g_string_append (s, "</table>\n");
  if (sum->evaluated > 0) {
    roc (s, sum);
    reliability (s, sum);
    confusion (s, sum);
  } else {
    g_string_append (s, "<p>No frame was evaluated (labelled, classified "
        "and answered), so there is no curve.</p>\n");
  }
  mistakes (s, r);
  g_string_append (s, "</body></html>\n");
  return g_string_free (s, FALSE);
}

/* how wrong a mistake is: the probability it gave the wrong side */
static gdouble
badness (const CxrReportMistake * m, const gchar * positive)
{
  return g_strcmp0 (m->truth, positive) == 0 ? 1.0 - m->probability :
      m->probability;
}

static gint
worse_first (gconstpointer a, gconstpointer b, gpointer positive)
{
  gdouble da = badness (*(CxrReportMistake **) a, positive);
  gdouble db = badness (*(CxrReportMistake **) b, positive);

  return (da < db) - (da > db);
}

gboolean
cxr_report_keep_mistake (GPtrArray * mistakes, CxrReportMistake * m,
    const gchar * positive)
{
  if (mistakes->len == CXR_REPORT_MISTAKES && badness (m, positive) <=
      badness (g_ptr_array_index (mistakes, CXR_REPORT_MISTAKES - 1),
          positive)) {
    cxr_report_mistake_free (m);
    return FALSE;
  }
  g_ptr_array_add (mistakes, m);
  g_ptr_array_sort_with_data (mistakes, worse_first, (gpointer) positive);
  if (mistakes->len > CXR_REPORT_MISTAKES) {
    /* m itself only when it does not compare (a NaN probability) */
    gboolean kept = g_ptr_array_index (mistakes, CXR_REPORT_MISTAKES) != m;

    g_ptr_array_remove_index (mistakes, CXR_REPORT_MISTAKES);
    return kept;
  }
  return TRUE;
}

void
cxr_report_mistake_free (CxrReportMistake * m)
{
  if (!m)
    return;
  g_free (m->file);
  g_free (m->truth);
  g_free (m->label);
  if (m->png)
    g_bytes_unref (m->png);
  g_free (m);
}
