/* metrics.c — confusion matrices, ROC AUC, threshold choice and
 * calibration (Brier score, reliability bins, ECE).
 *
 * The score-based figures sort the samples once (O(n log n)) and sweep the
 * tie groups.  A NaN score sorts below every other score and is never called
 * positive (NaN >= t is false), so it is never a candidate threshold. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
cxr_confusion_init (CxrConfusion * c, int n_classes)
{
  memset (c, 0, sizeof (*c));
  c->n_classes = CLAMP (n_classes, 0, CXR_MAX_CLASSES);
}

void
cxr_confusion_add (CxrConfusion * c, int truth, int prediction)
{
  if (truth < 0 || truth >= c->n_classes ||
      prediction < 0 || prediction >= c->n_classes)
    return;
  c->counts[truth][prediction]++;
}

static double
ratio (int64_t num, int64_t den)
{
  return den > 0 ? (double) num / (double) den : 0.0;
}

void
cxr_confusion_metrics (const CxrConfusion * c, CxrBinaryMetrics * m)
{
  int64_t total = 0, correct = 0, tp = 0, fp = 0, fn = 0, tn;
  int n = CLAMP (c->n_classes, 0, CXR_MAX_CLASSES);
  int pos = n - 1;
  int i, j;

  for (i = 0; i < n; i++) {
    for (j = 0; j < n; j++) {
      int64_t k = c->counts[i][j];

      total += k;
      if (i == j)
        correct += k;
      if (i == pos && j == pos)
        tp += k;
      else if (i == pos)
        fn += k;
      else if (j == pos)
        fp += k;
    }
  }
  tn = total - tp - fp - fn;

  m->count = total;
  m->accuracy = ratio (correct, total);
  m->precision = ratio (tp, tp + fp);
  m->recall = ratio (tp, tp + fn);
  m->specificity = ratio (tn, tn + fp);
  m->f1 = ratio (2 * tp, 2 * tp + fp + fn);   /* = 2PR / (P + R) */
}

/* One sample in a sort.  The original index breaks ties, which makes qsort
 * stable and the result independent of the C library. */
typedef struct {
  float score;
  uint8_t positive;
  int64_t index;
} Sample;

static int
score_order (float a, float b)
{
  gboolean na = isnan (a), nb = isnan (b);

  if (na || nb)
    return nb - na;             /* NaN is the lowest */
  return (a > b) - (a < b);
}

static int
compare_ascending (const void *pa, const void *pb)
{
  const Sample *a = pa, *b = pb;
  int r = score_order (a->score, b->score);

  return r ? r : (a->index > b->index) - (a->index < b->index);
}

static int
compare_descending (const void *pa, const void *pb)
{
  const Sample *a = pa, *b = pb;
  int r = score_order (b->score, a->score);

  return r ? r : (a->index > b->index) - (a->index < b->index);
}

/* Copies the samples into a new sorted array and counts the classes. */
static Sample *
sort_samples (const float *scores, const uint8_t * truth, int64_t n,
    gboolean descending, int64_t * n_pos, int64_t * n_neg)
{
  Sample *s = g_new (Sample, n);
  int64_t i;

  *n_pos = 0;
  for (i = 0; i < n; i++) {
    s[i].score = scores[i];
    s[i].positive = truth[i] != 0;
    s[i].index = i;
    *n_pos += s[i].positive;
  }
  *n_neg = n - *n_pos;
  qsort (s, (size_t) n, sizeof (Sample),
      descending ? compare_descending : compare_ascending);
  return s;
}

/* End (exclusive) of the group of equal scores starting at i. */
static int64_t
group_end (const Sample * s, int64_t n, int64_t i)
{
  int64_t j = i + 1;

  while (j < n && score_order (s[j].score, s[i].score) == 0)
    j++;
  return j;
}

double
cxr_roc_auc (const float *scores, const uint8_t * truth, int64_t n)
{
  int64_t n_pos, n_neg, i, j, k, rank_sum2 = 0;
  Sample *s;

  if (n <= 0)
    return NAN;
  s = sort_samples (scores, truth, n, FALSE, &n_pos, &n_neg);
  if (n_pos == 0 || n_neg == 0) {
    g_free (s);
    return NAN;
  }

  /* The group at 0-based positions [i, j) shares the average 1-based rank
   * (i + 1 + j) / 2; sum twice the ranks of the positives to stay in
   * integers.  U = R_pos - n_pos (n_pos + 1) / 2, AUC = U / (n_pos n_neg). */
  for (i = 0; i < n; i = j) {
    int64_t pos_in_group = 0;

    j = group_end (s, n, i);
    for (k = i; k < j; k++)
      pos_in_group += s[k].positive;
    rank_sum2 += pos_in_group * (i + 1 + j);
  }
  g_free (s);

  return (double) (rank_sum2 - n_pos * (n_pos + 1)) /
      (2.0 * (double) n_pos * (double) n_neg);
}

int64_t
cxr_roc_curve (const float *scores, const uint8_t * truth, int64_t n,
    double *fpr, double *tpr)
{
  int64_t n_pos, n_neg, i, j, tp = 0, fp = 0, points = 1;
  Sample *s;

  fpr[0] = tpr[0] = 0.0;
  if (n <= 0)
    return 1;
  s = sort_samples (scores, truth, n, TRUE, &n_pos, &n_neg);
  /* each group of equal scores is one threshold: one step, diagonal where
   * the group holds both classes */
  for (i = 0; i < n; i = j) {
    j = group_end (s, n, i);
    for (int64_t k = i; k < j; k++) {
      tp += s[k].positive;
      fp += !s[k].positive;
    }
    fpr[points] = n_neg ? (double) fp / n_neg : 0.0;
    tpr[points] = n_pos ? (double) tp / n_pos : 0.0;
    points++;
  }
  g_free (s);
  return points;
}

float
cxr_threshold_youden (const float *scores, const uint8_t * truth, int64_t n,
    double *j_out)
{
  return cxr_threshold_youden_within (scores, truth, n, 0.0, j_out);
}

float
cxr_threshold_youden_within (const float *scores, const uint8_t * truth,
    int64_t n, double tolerance, double *j_out)
{
  int64_t n_pos, n_neg, i, j, k, tp, fp, best_j = 0;
  int64_t chosen_tp = 0, chosen_fp = 0;
  float chosen = 0.5f;
  Sample *s;

  if (j_out)
    *j_out = 0.0;
  if (n <= 0)
    return 0.5f;
  s = sort_samples (scores, truth, n, TRUE, &n_pos, &n_neg);
  if (n_pos == 0 || n_neg == 0) {
    g_free (s);
    return 0.5f;
  }

  /* Going down from the highest score, threshold t = s[i].score calls
   * positive everything up to the end of its group, and
   * J n_pos n_neg = tp n_neg - fp n_pos compares exactly. The first pass
   * finds the best J; the second, from the top, stops at the first (the
   * highest) threshold within the tolerance of it, so with tolerance 0
   * ties keep the higher threshold. */
  for (int pass = 0; pass < 2; pass++) {
    gboolean found = FALSE;

    tp = fp = 0;
    for (i = 0; i < n && !isnan (s[i].score) && !(pass && found); i = j) {
      int64_t jn;

      j = group_end (s, n, i);
      for (k = i; k < j; k++) {
        if (s[k].positive)
          tp++;
        else
          fp++;
      }
      jn = tp * n_neg - fp * n_pos;
      if (pass == 0 && (!found || jn > best_j)) {
        best_j = jn;
        found = TRUE;
      } else if (pass == 1
          && (double) jn >= best_j - tolerance * n_pos * n_neg) {
        chosen = s[i].score;
        chosen_tp = tp;
        chosen_fp = fp;
        found = TRUE;
      }
    }
  }
  g_free (s);

  if (j_out)
    *j_out = (double) chosen_tp / n_pos - (double) chosen_fp / n_neg;
  return chosen;
}

float
cxr_threshold_for_sensitivity (const float *scores, const uint8_t * truth,
    int64_t n, double target_sensitivity)
{
  int64_t n_pos, n_neg, i, j, k, tp = 0;
  float best = 0.5f;
  Sample *s;

  if (n <= 0)
    return 0.5f;
  s = sort_samples (scores, truth, n, TRUE, &n_pos, &n_neg);
  if (n_pos == 0) {
    g_free (s);
    return 0.5f;
  }

  /* Lower the threshold group by group until the target is met.  If it never
   * is (target > 1, or positives with NaN scores), the lowest score is the
   * most sensitive choice there is. */
  for (i = 0; i < n && !isnan (s[i].score); i = j) {
    j = group_end (s, n, i);
    for (k = i; k < j; k++)
      tp += s[k].positive;
    best = s[i].score;
    if ((double) tp / (double) n_pos >= target_sensitivity)
      break;
  }
  g_free (s);
  return best;
}

double
cxr_brier_score (const float *scores, const uint8_t * truth, int64_t n)
{
  double sum = 0.0;
  int64_t i;

  if (n <= 0)
    return NAN;
  for (i = 0; i < n; i++) {
    double d = (double) scores[i] - (truth[i] != 0);

    sum += d * d;
  }
  return sum / (double) n;
}

/* The bin of p: the last i whose lower edge, as a float, p reaches. */
static int
reliability_bin (float p)
{
  int i = 0;

  while (i + 1 < CXR_RELIABILITY_BINS
      && p >= (float) (i + 1) / (float) CXR_RELIABILITY_BINS)
    i++;
  return i;
}

void
cxr_reliability (const float *scores, const uint8_t * truth, int64_t n,
    CxrReliability * r)
{
  double sum_p[CXR_RELIABILITY_BINS] = { 0 };
  int64_t pos[CXR_RELIABILITY_BINS] = { 0 };
  int64_t i;
  int b;

  memset (r, 0, sizeof (*r));
  for (i = 0; i < n; i++) {
    b = reliability_bin (scores[i]);
    r->bins[b].count++;
    sum_p[b] += scores[i];
    pos[b] += truth[i] != 0;
  }
  r->count = MAX (n, 0);
  r->ece = r->count > 0 ? 0.0 : NAN;
  for (b = 0; b < CXR_RELIABILITY_BINS; b++) {
    CxrReliabilityBin *bin = &r->bins[b];

    bin->lower = (double) b / CXR_RELIABILITY_BINS;
    bin->upper = (double) (b + 1) / CXR_RELIABILITY_BINS;
    bin->mean_probability = bin->fraction_positive = NAN;
    if (bin->count == 0)
      continue;
    bin->mean_probability = sum_p[b] / (double) bin->count;
    bin->fraction_positive = (double) pos[b] / (double) bin->count;
    r->ece += (double) bin->count / (double) r->count *
        fabs (bin->mean_probability - bin->fraction_positive);
  }
}
