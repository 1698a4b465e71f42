/* metrics.h — what a classifier's results are worth.
 * Binary figures take the LAST class as the positive one (PNEUMONIA after
 * NORMAL); a sample is called positive when its probability >= threshold. */
#pragma once
#include <glib.h>
#include <stdint.h>

#include "classes.h"

typedef struct {
  int n_classes;
  int64_t counts[CXR_MAX_CLASSES][CXR_MAX_CLASSES]; /* [truth][prediction] */
} CxrConfusion;

typedef struct {
  int64_t count;
  double accuracy;
  double precision;     /* positive predictive value; 0 when nothing is called positive */
  double recall;        /* sensitivity; 0 when there are no positives */
  double specificity;   /* 0 when there are no negatives */
  double f1;
} CxrBinaryMetrics;

/* Reliability diagram of a positive-class probability: 10 equal-width bins
 * over [0, 1]. */
#define CXR_RELIABILITY_BINS 10

typedef struct {
  double lower, upper;          /* i / 10 and (i + 1) / 10 */
  int64_t count;
  double mean_probability;      /* NAN when the bin is empty */
  double fraction_positive;     /* NAN when the bin is empty */
} CxrReliabilityBin;

typedef struct {
  int64_t count;                /* samples in all bins */
  CxrReliabilityBin bins[CXR_RELIABILITY_BINS];
  double ece;                   /* expected calibration error; NAN if count 0 */
} CxrReliability;

void cxr_confusion_init (CxrConfusion *c, int n_classes);
void cxr_confusion_add (CxrConfusion *c, int truth, int prediction);

/* accuracy over all classes; the rest for positive = n_classes - 1 */
void cxr_confusion_metrics (const CxrConfusion *c, CxrBinaryMetrics *m);

/* ROC AUC of scores against binary truth (nonzero = positive): the chance
 * that a random positive scores above a random negative, ties counting one
 * half (Mann-Whitney U with average ranks). NAN when either class is empty. */
double cxr_roc_auc (const float *scores, const uint8_t *truth, int64_t n);

/* The ROC curve: fpr[k], tpr[k] of calling positive every score at or
 * above the k-th highest distinct score, from (0, 0) to (1, 1) (either
 * stays 0 when its class is empty). fpr and tpr hold n + 1 values; returns
 * how many points were written. */
int64_t cxr_roc_curve (const float *scores, const uint8_t *truth, int64_t n,
    double *fpr, double *tpr);

/* Threshold maximising Youden's J = sensitivity + specificity - 1 over all
 * distinct scores; among equal J the highest threshold. 0.5 when either
 * class is empty. If j_out is not NULL it receives J. */
float cxr_threshold_youden (const float *scores, const uint8_t *truth, int64_t n,
    double *j_out);

/* The highest threshold whose J is within tolerance (in J, 0 to 1) of the
 * best: it gives up at most that much of validation J to call the positive
 * class only on stronger evidence, a margin against data where the negative
 * class scores higher than in validation. Tolerance 0 is
 * cxr_threshold_youden. */
float cxr_threshold_youden_within (const float *scores, const uint8_t *truth,
    int64_t n, double tolerance, double *j_out);

/* The highest threshold whose sensitivity is still >= target_sensitivity,
 * i.e. the most specific one that reaches the target. 0.5 when there are no
 * positives. */
float cxr_threshold_for_sensitivity (const float *scores, const uint8_t *truth,
    int64_t n, double target_sensitivity);

/* Brier score of scores (probabilities of the positive class) against binary
 * truth (nonzero = positive): the mean of (p - y)^2, 0 for perfect, 0.25 for
 * a constant 0.5. NAN when n is 0 or a score is NaN. */
double cxr_brier_score (const float *scores, const uint8_t *truth, int64_t n);

/* Fills r with the reliability bins of scores against binary truth and the
 * expected calibration error, sum over bins of count / n * |mean p -
 * fraction positive|. Bin i holds lower <= p < upper, p = 1 the last bin;
 * the edges are compared as floats (the float nearest i / 10), so a score
 * written as 0.7 lands in [0.7, 0.8). Scores below 0 go to the first bin,
 * above 1 to the last; a NaN score (in the first bin) makes that bin's mean
 * and the ECE NaN. With n = 0 every bin is empty and the ECE NAN. */
void cxr_reliability (const float *scores, const uint8_t *truth, int64_t n,
    CxrReliability *r);
