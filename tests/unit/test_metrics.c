/* test_metrics.c — known answers for kernels/eval/metrics.c, worked by hand. */
#include "metrics.h"

#include <glib.h>
#include <math.h>

#define EPS 1e-12

static void
add_n (CxrConfusion * c, int truth, int prediction, int times)
{
  int i;

  for (i = 0; i < times; i++)
    cxr_confusion_add (c, truth, prediction);
}

static void
test_confusion_binary (void)
{
  CxrConfusion c;
  CxrBinaryMetrics m;

  /* TN = 50, FP = 10, FN = 5, TP = 35, count 100.
   * accuracy = 85/100, precision = 35/45 = 7/9, recall = 35/40 = 7/8,
   * specificity = 50/60 = 5/6, F1 = 2 TP / (2 TP + FP + FN) = 70/85 = 14/17
   * (check: 2 (7/9)(7/8) / (7/9 + 7/8) = (49/36) / (119/72) = 14/17). */
  cxr_confusion_init (&c, 2);
  add_n (&c, 0, 0, 50);
  add_n (&c, 0, 1, 10);
  add_n (&c, 1, 0, 5);
  add_n (&c, 1, 1, 35);
  g_assert_cmpint (c.counts[0][1], ==, 10);
  g_assert_cmpint (c.counts[1][0], ==, 5);

  cxr_confusion_metrics (&c, &m);
  g_assert_cmpint (m.count, ==, 100);
  g_assert_cmpfloat_with_epsilon (m.accuracy, 0.85, EPS);
  g_assert_cmpfloat_with_epsilon (m.precision, 7.0 / 9.0, EPS);
  g_assert_cmpfloat_with_epsilon (m.recall, 7.0 / 8.0, EPS);
  g_assert_cmpfloat_with_epsilon (m.specificity, 5.0 / 6.0, EPS);
  g_assert_cmpfloat_with_epsilon (m.f1, 14.0 / 17.0, EPS);
}

static void
test_confusion_three_class (void)
{
  CxrConfusion c;
  CxrBinaryMetrics m;

  /* rows = truth, columns = prediction:
   *   [5 1 0]
   *   [2 6 1]
   *   [0 3 7]   total 25, diagonal 18 -> accuracy 18/25 = 0.72.
   * Class 2 against the rest: TP = 7, FN = 0 + 3 = 3, FP = 0 + 1 = 1,
   * TN = 25 - 11 = 14: precision 7/8, recall 7/10, specificity 14/15,
   * F1 = 14 / (14 + 1 + 3) = 7/9. */
  cxr_confusion_init (&c, 3);
  add_n (&c, 0, 0, 5);
  add_n (&c, 0, 1, 1);
  add_n (&c, 1, 0, 2);
  add_n (&c, 1, 1, 6);
  add_n (&c, 1, 2, 1);
  add_n (&c, 2, 1, 3);
  add_n (&c, 2, 2, 7);

  cxr_confusion_metrics (&c, &m);
  g_assert_cmpint (m.count, ==, 25);
  g_assert_cmpfloat_with_epsilon (m.accuracy, 0.72, EPS);
  g_assert_cmpfloat_with_epsilon (m.precision, 7.0 / 8.0, EPS);
  g_assert_cmpfloat_with_epsilon (m.recall, 0.7, EPS);
  g_assert_cmpfloat_with_epsilon (m.specificity, 14.0 / 15.0, EPS);
  g_assert_cmpfloat_with_epsilon (m.f1, 7.0 / 9.0, EPS);
}

static void
test_confusion_out_of_range (void)
{
  CxrConfusion c;
  CxrBinaryMetrics m;
  int64_t total = 0;
  int i, j;

  /* Only the (1, 1) sample is inside a 2-class matrix: count 1, all right. */
  cxr_confusion_init (&c, 2);
  cxr_confusion_add (&c, -1, 0);
  cxr_confusion_add (&c, 0, -1);
  cxr_confusion_add (&c, 2, 0);
  cxr_confusion_add (&c, 0, 2);
  cxr_confusion_add (&c, CXR_MAX_CLASSES, 0);
  cxr_confusion_add (&c, 0, 1000000);
  cxr_confusion_add (&c, 1, 1);
  /* nothing landed anywhere else in the full 16x16 array either */
  for (i = 0; i < CXR_MAX_CLASSES; i++)
    for (j = 0; j < CXR_MAX_CLASSES; j++)
      total += c.counts[i][j];
  g_assert_cmpint (total, ==, 1);
  g_assert_cmpint (c.counts[1][1], ==, 1);
  cxr_confusion_metrics (&c, &m);
  g_assert_cmpint (m.count, ==, 1);
  g_assert_cmpfloat (m.accuracy, ==, 1.0);
  g_assert_cmpfloat (m.recall, ==, 1.0);

  /* Too many classes is clamped; class CXR_MAX_CLASSES is still skipped. */
  cxr_confusion_init (&c, 1000);
  g_assert_cmpint (c.n_classes, ==, CXR_MAX_CLASSES);
  cxr_confusion_add (&c, CXR_MAX_CLASSES, CXR_MAX_CLASSES);
  cxr_confusion_add (&c, CXR_MAX_CLASSES - 1, 0);
  cxr_confusion_metrics (&c, &m);
  g_assert_cmpint (m.count, ==, 1);
  g_assert_cmpfloat (m.accuracy, ==, 0.0);
}

static void
test_confusion_empty (void)
{
  CxrConfusion c;
  CxrBinaryMetrics m;

  /* No samples: every denominator is 0, so every figure is 0. */
  cxr_confusion_init (&c, 2);
  cxr_confusion_metrics (&c, &m);
  g_assert_cmpint (m.count, ==, 0);
  g_assert_cmpfloat (m.accuracy, ==, 0.0);
  g_assert_cmpfloat (m.precision, ==, 0.0);
  g_assert_cmpfloat (m.recall, ==, 0.0);
  g_assert_cmpfloat (m.specificity, ==, 0.0);
  g_assert_cmpfloat (m.f1, ==, 0.0);

  /* All negatives, all called negative: TN = 4 -> accuracy 1, specificity 1;
   * nothing called positive and no positives -> precision, recall, F1 0. */
  add_n (&c, 0, 0, 4);
  cxr_confusion_metrics (&c, &m);
  g_assert_cmpfloat (m.accuracy, ==, 1.0);
  g_assert_cmpfloat (m.specificity, ==, 1.0);
  g_assert_cmpfloat (m.precision, ==, 0.0);
  g_assert_cmpfloat (m.recall, ==, 0.0);
  g_assert_cmpfloat (m.f1, ==, 0.0);
}

static void
test_auc_known (void)
{
  const float s[] = { 0.1f, 0.2f, 0.8f, 0.9f };
  const uint8_t up[] = { 0, 0, 1, 1 };
  const uint8_t down[] = { 1, 1, 0, 0 };
  const float flat[] = { 0.3f, 0.3f, 0.3f, 0.3f };
  const uint8_t mixed[] = { 1, 0, 1, 0 };

  /* every positive above every negative: 4/4 pairs won */
  g_assert_cmpfloat_with_epsilon (cxr_roc_auc (s, up, 4), 1.0, EPS);
  /* every positive below every negative: 0/4 pairs */
  g_assert_cmpfloat_with_epsilon (cxr_roc_auc (s, down, 4), 0.0, EPS);
  /* all tied: 4 pairs at one half each = 2/4 */
  g_assert_cmpfloat_with_epsilon (cxr_roc_auc (flat, mixed, 4), 0.5, EPS);
}

/* The ROC curve of the tie case below, by hand: scores 0.8 (pos), 0.5
 * (pos, pos, neg), 0.2 (neg); 3 positives, 2 negatives. At 0.8: (0, 1/3);
 * at 0.5: (1/2, 1); at 0.2: (1, 1). Its trapezoids make the AUC, 5/6. */
static void
test_roc_curve (void)
{
  const float s[] = { 0.5f, 0.8f, 0.2f, 0.5f, 0.5f };
  const uint8_t t[] = { 0, 1, 0, 1, 1 };
  const double fpr_want[] = { 0.0, 0.0, 0.5, 1.0 };
  const double tpr_want[] = { 0.0, 1.0 / 3.0, 1.0, 1.0 };
  double fpr[6], tpr[6], area = 0.0;

  g_assert_cmpint (cxr_roc_curve (s, t, 5, fpr, tpr), ==, 4);
  for (int k = 0; k < 4; k++) {
    g_assert_cmpfloat_with_epsilon (fpr[k], fpr_want[k], EPS);
    g_assert_cmpfloat_with_epsilon (tpr[k], tpr_want[k], EPS);
    if (k > 0)
      area += (fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1]) / 2.0;
  }
  g_assert_cmpfloat_with_epsilon (area, cxr_roc_auc (s, t, 5), EPS);
}

static void
test_auc_ties (void)
{
  /* pos {0.8, 0.5, 0.5}, neg {0.5, 0.2}; pairs (pos, neg):
   * 0.8>0.5, 0.8>0.2, 0.5=0.5 (1/2), 0.5>0.2, 0.5=0.5 (1/2), 0.5>0.2
   * -> (1 + 1 + 0.5 + 1 + 0.5 + 1) / 6 = 5/6.
   * Same by ranks: 0.2 -> 1, the three 0.5 -> (2+3+4)/3 = 3, 0.8 -> 5;
   * R_pos = 5 + 3 + 3 = 11, U = 11 - 3*4/2 = 5, AUC = 5 / (3*2). */
  const float s[] = { 0.5f, 0.8f, 0.2f, 0.5f, 0.5f };
  const uint8_t t[] = { 0, 1, 0, 1, 1 };

  g_assert_cmpfloat_with_epsilon (cxr_roc_auc (s, t, 5), 5.0 / 6.0, EPS);
}

static void
test_auc_degenerate (void)
{
  const float s[] = { 0.1f, 0.7f, 0.4f };
  const uint8_t all_pos[] = { 1, 1, 2 };        /* nonzero = positive */
  const uint8_t all_neg[] = { 0, 0, 0 };
  const float with_nan[] = { NAN, 0.5f, 0.2f };
  const uint8_t t_nan[] = { 0, 1, 1 };

  g_assert_true (isnan (cxr_roc_auc (s, all_pos, 3)));
  g_assert_true (isnan (cxr_roc_auc (s, all_neg, 3)));
  g_assert_true (isnan (cxr_roc_auc (s, all_neg, 0)));
  g_assert_true (isnan (cxr_roc_auc (NULL, NULL, 0)));
  /* a NaN score ranks lowest: both positives beat it -> 2/2 */
  g_assert_cmpfloat_with_epsilon (cxr_roc_auc (with_nan, t_nan, 3), 1.0, EPS);
}

static void
test_auc_brute_force (void)
{
  const int n = 1000;
  float *s = g_new (float, n);
  uint8_t *t = g_new (uint8_t, n);
  GRand *rand = g_rand_new_with_seed (12345);
  int64_t wins2 = 0, n_pos = 0;
  double auc, expected;
  int i, j;

  /* Scores on a grid of 11 values give many ties; positives lean high. */
  for (i = 0; i < n; i++) {
    t[i] = g_rand_int_range (rand, 0, 3) == 0;
    s[i] = g_rand_int_range (rand, 0, 8 + 3 * t[i]) / 10.0f;
    n_pos += t[i];
  }
  /* twice U: a win counts 2, a tie 1 */
  for (i = 0; i < n; i++) {
    if (!t[i])
      continue;
    for (j = 0; j < n; j++) {
      if (t[j])
        continue;
      wins2 += s[i] > s[j] ? 2 : s[i] == s[j] ? 1 : 0;
    }
  }
  expected = wins2 / (2.0 * n_pos * (n - n_pos));
  auc = cxr_roc_auc (s, t, n);
  g_assert_cmpfloat (expected, >, 0.55);
  g_assert_cmpfloat (expected, <, 0.95);
  g_assert_cmpfloat_with_epsilon (auc, expected, EPS);

  g_rand_free (rand);
  g_free (s);
  g_free (t);
}

static void
test_youden_known (void)
{
  /* pos {0.9, 0.8, 0.4}, neg {0.7, 0.3, 0.2}; J = tp/3 - fp/3:
   *   t=0.9: tp 1 fp 0 -> 1/3      t=0.4: tp 3 fp 1 -> 2/3
   *   t=0.8: tp 2 fp 0 -> 2/3      t=0.3: tp 3 fp 2 -> 1/3
   *   t=0.7: tp 2 fp 1 -> 1/3      t=0.2: tp 3 fp 3 -> 0
   * Best J 2/3 at 0.8 and 0.4; the tie goes to the higher, 0.8. */
  const float s[] = { 0.3f, 0.9f, 0.4f, 0.7f, 0.2f, 0.8f };
  const uint8_t t[] = { 0, 1, 1, 0, 0, 1 };
  double j = -1.0;

  g_assert_cmpfloat (cxr_threshold_youden (s, t, 6, &j), ==, 0.8f);
  g_assert_cmpfloat_with_epsilon (j, 2.0 / 3.0, EPS);
  g_assert_cmpfloat (cxr_threshold_youden (s, t, 6, NULL), ==, 0.8f);
}

static void
test_youden_tied_scores (void)
{
  /* pos {0.6, 0.6, 0.5}, neg {0.6, 0.5, 0.1, 0.1}; P = 3, N = 4:
   *   t=0.6: tp 2 fp 1 -> 2/3 - 1/4 = 5/12
   *   t=0.5: tp 3 fp 2 -> 1 - 1/2   = 6/12
   *   t=0.1: tp 3 fp 4 -> 0
   * Best 0.5 with J = 1/2: the tied group counts as a whole. */
  const float s[] = { 0.6f, 0.1f, 0.6f, 0.5f, 0.6f, 0.5f, 0.1f };
  const uint8_t t[] = { 1, 0, 0, 1, 1, 0, 0 };
  double j;

  g_assert_cmpfloat (cxr_threshold_youden (s, t, 7, &j), ==, 0.5f);
  g_assert_cmpfloat_with_epsilon (j, 0.5, EPS);
}

static void
test_youden_brute_force (void)
{
  const int n = 300;
  float *s = g_new (float, n);
  uint8_t *t = g_new (uint8_t, n);
  GRand *rand = g_rand_new_with_seed (777);
  int64_t n_pos = 0, best_num = 0;
  float best = 0.0f;
  gboolean found = FALSE;
  double j;
  int i, k;

  for (i = 0; i < n; i++) {
    t[i] = g_rand_boolean (rand);
    s[i] = g_rand_int_range (rand, 0, 12 + 4 * t[i]) / 16.0f;
    n_pos += t[i];
  }
  /* O(n^2): every score as a threshold; J P N = tp N - fp P is exact. */
  for (i = 0; i < n; i++) {
    int64_t tp = 0, fp = 0, num;

    for (k = 0; k < n; k++) {
      if (s[k] >= s[i]) {
        if (t[k])
          tp++;
        else
          fp++;
      }
    }
    num = tp * (n - n_pos) - fp * n_pos;
    if (!found || num > best_num || (num == best_num && s[i] > best)) {
      found = TRUE;
      best_num = num;
      best = s[i];
    }
  }
  g_assert_cmpfloat (cxr_threshold_youden (s, t, n, &j), ==, best);
  g_assert_cmpfloat_with_epsilon (j,
      (double) best_num / (n_pos * (double) (n - n_pos)), EPS);
  g_assert_cmpfloat (j, >, 0.0);

  g_rand_free (rand);
  g_free (s);
  g_free (t);
}

/* Youden within a tolerance: the highest threshold whose J is at most
 * that far below the best. */
static void
test_youden_within_known (void)
{
  /* positives 0.9 0.8 0.6 0.35, negatives 0.7 0.3 0.2 0.1; J going down:
   * 0.9: .25, 0.8: .5, 0.7: .25, 0.6: .5, 0.35: .75 (best), 0.3: .5 */
  const float s[] = { 0.9f, 0.8f, 0.6f, 0.35f, 0.7f, 0.3f, 0.2f, 0.1f };
  const uint8_t t[] = { 1, 1, 1, 1, 0, 0, 0, 0 };
  double j;

  g_assert_cmpfloat (cxr_threshold_youden_within (s, t, 8, 0.0, &j), ==,
      0.35f);
  g_assert_cmpfloat_with_epsilon (j, 0.75, EPS);
  g_assert_cmpfloat (cxr_threshold_youden_within (s, t, 8, 0.1, &j), ==,
      0.35f);
  g_assert_cmpfloat (cxr_threshold_youden_within (s, t, 8, 0.25, &j), ==,
      0.8f);
  g_assert_cmpfloat_with_epsilon (j, 0.5, EPS);
  g_assert_cmpfloat (cxr_threshold_youden_within (s, t, 8, 0.5, &j), ==,
      0.9f);
  g_assert_cmpfloat_with_epsilon (j, 0.25, EPS);
}

/* against every score tried as a threshold, for several tolerances */
static void
test_youden_within_brute_force (void)
{
  const int n = 300;
  const double tolerances[] = { 0.0, 0.02, 0.1, 0.3 };
  float *s = g_new (float, n);
  uint8_t *t = g_new (uint8_t, n);
  int64_t *num = g_new (int64_t, n);
  GRand *rand = g_rand_new_with_seed (99);
  int64_t n_pos = 0, n_neg, best_num = G_MININT64;

  for (int i = 0; i < n; i++) {
    t[i] = g_rand_boolean (rand);
    s[i] = g_rand_int_range (rand, 0, 20 + 8 * t[i]) / 32.0f;
    n_pos += t[i];
  }
  n_neg = n - n_pos;
  for (int i = 0; i < n; i++) {
    int64_t tp = 0, fp = 0;

    for (int k = 0; k < n; k++)
      if (s[k] >= s[i]) {
        tp += t[k];
        fp += !t[k];
      }
    num[i] = tp * n_neg - fp * n_pos;
    best_num = MAX (best_num, num[i]);
  }
  for (guint c = 0; c < G_N_ELEMENTS (tolerances); c++) {
    float want = -1.0f;

    for (int i = 0; i < n; i++)
      if (num[i] >= best_num - tolerances[c] * n_pos * n_neg && s[i] > want)
        want = s[i];
    g_assert_cmpfloat (cxr_threshold_youden_within (s, t, n, tolerances[c],
            NULL), ==, want);
  }
  g_rand_free (rand);
  g_free (num);
  g_free (s);
  g_free (t);
}

static void
test_sensitivity_known (void)
{
  /* positives at 0.9, 0.7, 0.4, 0.3; negatives at 0.8, 0.5, 0.1.
   * Sensitivity at t: 0.9 -> 1/4, 0.7 -> 2/4, 0.4 -> 3/4, 0.3 -> 4/4.
   * Target 0.75 is first reached at 0.4; 0.5 reaches 1/4, 1.0 needs 0.3,
   * 0.76 also needs 0.3; target 0 is met at the top score 0.9. */
  const float s[] = { 0.8f, 0.9f, 0.1f, 0.7f, 0.5f, 0.4f, 0.3f };
  const uint8_t t[] = { 0, 1, 0, 1, 0, 1, 1 };

  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 0.75), ==, 0.4f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 0.5), ==, 0.7f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 0.76), ==, 0.3f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 1.0), ==, 0.3f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 0.0), ==, 0.9f);
  /* unreachable: the most sensitive threshold there is, the lowest score */
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, t, 7, 1.5), ==, 0.1f);
}

static void
test_thresholds_degenerate (void)
{
  const float s[] = { 0.2f, 0.9f, 0.6f };
  const uint8_t all_neg[] = { 0, 0, 0 };
  const uint8_t all_pos[] = { 1, 1, 1 };
  double j = -1.0;

  /* n = 0 or one class empty -> 0.5 (and J 0) */
  g_assert_cmpfloat (cxr_threshold_youden (NULL, NULL, 0, &j), ==, 0.5f);
  g_assert_cmpfloat (j, ==, 0.0);
  j = -1.0;
  g_assert_cmpfloat (cxr_threshold_youden (s, all_neg, 3, &j), ==, 0.5f);
  g_assert_cmpfloat (j, ==, 0.0);
  g_assert_cmpfloat (cxr_threshold_youden (s, all_pos, 3, NULL), ==, 0.5f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (NULL, NULL, 0, 0.9), ==,
      0.5f);
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, all_neg, 3, 0.9), ==,
      0.5f);
  /* all positive: 0.9 -> 1/3, 0.6 -> 2/3, 0.2 -> 3/3; target 0.6 -> 0.6 */
  g_assert_cmpfloat (cxr_threshold_for_sensitivity (s, all_pos, 3, 0.6), ==,
      0.6f);
}

/* Six samples on binary fractions, so every sum is exact:
 *   p      y   (p - y)^2   bin
 *   0.0    0   0           0  [0.0, 0.1)
 *   0.125  0   0.015625    1  [0.1, 0.2)
 *   0.125  1   0.765625    1
 *   0.75   1   0.0625      7  [0.7, 0.8)
 *   0.75   0   0.5625      7
 *   1.0    1   0           9  [0.9, 1.0]  (p = 1 in the last bin)
 * Brier = 1.40625 / 6 = 0.234375.
 * bin 0: 1 sample, mean 0, fraction 0     -> |0 - 0|       = 0
 * bin 1: 2, mean 0.125, fraction 0.5      -> |0.125 - 0.5| = 0.375
 * bin 7: 2, mean 0.75, fraction 0.5       -> 0.25
 * bin 9: 1, mean 1, fraction 1            -> 0
 * bins 2-6 and 8 empty.
 * ECE = (1 * 0 + 2 * 0.375 + 2 * 0.25 + 1 * 0) / 6 = 1.25 / 6 = 5/24. */
static void
test_calibration_known (void)
{
  const float s[] = { 0.75f, 0.125f, 1.0f, 0.0f, 0.75f, 0.125f };
  const uint8_t t[] = { 1, 0, 1, 0, 0, 1 };
  const int64_t counts[] = { 1, 2, 0, 0, 0, 0, 0, 2, 0, 1 };
  const double means[] = { 0.0, 0.125, NAN, NAN, NAN, NAN, NAN, 0.75, NAN,
    1.0
  };
  const double fractions[] = { 0.0, 0.5, NAN, NAN, NAN, NAN, NAN, 0.5, NAN,
    1.0
  };
  CxrReliability r;
  int b;

  g_assert_cmpfloat_with_epsilon (cxr_brier_score (s, t, 6), 0.234375, EPS);

  cxr_reliability (s, t, 6, &r);
  g_assert_cmpint (r.count, ==, 6);
  g_assert_cmpfloat_with_epsilon (r.ece, 5.0 / 24.0, EPS);
  for (b = 0; b < CXR_RELIABILITY_BINS; b++) {
    const CxrReliabilityBin *bin = &r.bins[b];

    g_assert_cmpfloat_with_epsilon (bin->lower, b / 10.0, EPS);
    g_assert_cmpfloat_with_epsilon (bin->upper, (b + 1) / 10.0, EPS);
    g_assert_cmpint (bin->count, ==, counts[b]);
    if (counts[b] == 0) {
      g_assert_true (isnan (bin->mean_probability));
      g_assert_true (isnan (bin->fraction_positive));
    } else {
      g_assert_cmpfloat_with_epsilon (bin->mean_probability, means[b], EPS);
      g_assert_cmpfloat_with_epsilon (bin->fraction_positive, fractions[b],
          EPS);
    }
  }
}

/* Perfect and worst: Brier 0 and 1, ECE 0 and 1. A constant 0.5 against
 * half positives is calibrated (ECE 0) but uninformative (Brier 0.25). */
static void
test_calibration_extremes (void)
{
  const float s[] = { 0.0f, 1.0f, 0.0f, 1.0f };
  const uint8_t right[] = { 0, 1, 0, 1 };
  const uint8_t wrong[] = { 1, 0, 1, 0 };
  const float half[] = { 0.5f, 0.5f, 0.5f, 0.5f };
  CxrReliability r;

  g_assert_cmpfloat (cxr_brier_score (s, right, 4), ==, 0.0);
  cxr_reliability (s, right, 4, &r);
  g_assert_cmpfloat (r.ece, ==, 0.0);
  g_assert_cmpint (r.bins[0].count, ==, 2);
  g_assert_cmpint (r.bins[9].count, ==, 2);

  g_assert_cmpfloat (cxr_brier_score (s, wrong, 4), ==, 1.0);
  cxr_reliability (s, wrong, 4, &r);
  g_assert_cmpfloat (r.ece, ==, 1.0);

  g_assert_cmpfloat (cxr_brier_score (half, right, 4), ==, 0.25);
  cxr_reliability (half, right, 4, &r);
  g_assert_cmpfloat (r.ece, ==, 0.0);
  g_assert_cmpint (r.bins[5].count, ==, 4);
  g_assert_cmpfloat (r.bins[5].fraction_positive, ==, 0.5);
}

/* The edges are the floats nearest i / 10: 0.1f ... 0.9f each open their
 * own bin (as doubles 0.7f and 0.9f are just below 0.7 and 0.9), the float
 * just below an edge stays under it, and out-of-range scores are clamped to
 * the end bins. */
static void
test_calibration_edges (void)
{
  float s[CXR_RELIABILITY_BINS + 4];
  uint8_t t[CXR_RELIABILITY_BINS + 4] = { 0 };
  CxrReliability r;
  int b;

  for (b = 0; b < CXR_RELIABILITY_BINS; b++)
    s[b] = b / 10.0f;           /* 0.0f, 0.1f, ..., 0.9f */
  s[10] = nextafterf (0.7f, 0.0f);      /* bin 6 */
  s[11] = nextafterf (1.0f, 0.0f);      /* bin 9 */
  s[12] = -0.5f;                /* bin 0 */
  s[13] = 1.5f;                 /* bin 9 */
  cxr_reliability (s, t, G_N_ELEMENTS (s), &r);
  g_assert_cmpint (r.count, ==, 14);
  for (b = 0; b < CXR_RELIABILITY_BINS; b++) {
    int64_t want = b == 0 || b == 6 ? 2 : b == 9 ? 3 : 1;

    g_assert_cmpint (r.bins[b].count, ==, want);
  }
  g_assert_cmpfloat (r.bins[7].mean_probability, ==, 0.7f);
  g_assert_cmpfloat (r.bins[9].mean_probability, ==,
      ((double) 0.9f + nextafterf (1.0f, 0.0f) + 1.5) / 3.0);
}

static void
test_calibration_degenerate (void)
{
  const float with_nan[] = { 0.2f, NAN, 0.8f };
  const uint8_t t[] = { 0, 1, 1 };
  CxrReliability r;
  int b;

  /* no samples: Brier and ECE undefined, every bin empty */
  g_assert_true (isnan (cxr_brier_score (NULL, NULL, 0)));
  cxr_reliability (NULL, NULL, 0, &r);
  g_assert_cmpint (r.count, ==, 0);
  g_assert_true (isnan (r.ece));
  for (b = 0; b < CXR_RELIABILITY_BINS; b++) {
    g_assert_cmpint (r.bins[b].count, ==, 0);
    g_assert_true (isnan (r.bins[b].mean_probability));
  }

  /* a NaN score is not hidden: NaN Brier, NaN ECE, NaN in bin 0 */
  g_assert_true (isnan (cxr_brier_score (with_nan, t, 3)));
  cxr_reliability (with_nan, t, 3, &r);
  g_assert_true (isnan (r.ece));
  g_assert_cmpint (r.bins[0].count, ==, 1);
  g_assert_true (isnan (r.bins[0].mean_probability));
  g_assert_cmpfloat (r.bins[8].mean_probability, ==, 0.8f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/metrics/confusion/binary", test_confusion_binary);
  g_test_add_func ("/metrics/confusion/three-class",
      test_confusion_three_class);
  g_test_add_func ("/metrics/confusion/out-of-range",
      test_confusion_out_of_range);
  g_test_add_func ("/metrics/confusion/empty", test_confusion_empty);
  g_test_add_func ("/metrics/auc/known", test_auc_known);
  g_test_add_func ("/metrics/auc/ties", test_auc_ties);
  g_test_add_func ("/metrics/roc-curve", test_roc_curve);
  g_test_add_func ("/metrics/auc/degenerate", test_auc_degenerate);
  g_test_add_func ("/metrics/auc/brute-force", test_auc_brute_force);
  g_test_add_func ("/metrics/youden/known", test_youden_known);
  g_test_add_func ("/metrics/youden/tied-scores", test_youden_tied_scores);
  g_test_add_func ("/metrics/youden/brute-force", test_youden_brute_force);
  g_test_add_func ("/metrics/youden-within/known", test_youden_within_known);
  g_test_add_func ("/metrics/youden-within/brute-force",
      test_youden_within_brute_force);
  g_test_add_func ("/metrics/sensitivity/known", test_sensitivity_known);
  g_test_add_func ("/metrics/thresholds/degenerate",
      test_thresholds_degenerate);
  g_test_add_func ("/metrics/calibration/known", test_calibration_known);
  g_test_add_func ("/metrics/calibration/extremes",
      test_calibration_extremes);
  g_test_add_func ("/metrics/calibration/edges", test_calibration_edges);
  g_test_add_func ("/metrics/calibration/degenerate",
      test_calibration_degenerate);

  return g_test_run ();
}
