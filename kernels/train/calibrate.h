/* calibrate.h — fitting a trained model's decision to a site's own films.
 *
 * A hospital's films differ from the training data in ways no training
 * recipe takes out completely. A small labelled sample of its own films
 * (tens of each class) is enough to re-fit how the network's averaged logit
 * z becomes a decision:
 *
 *   platt      keeps the weights: P = sigmoid (a z + b), a and b fitted to
 *              the sample by maximum likelihood (Platt scaling, with Platt's
 *              smoothed targets so that a separable sample still gives a
 *              finite fit), then the threshold on the calibrated
 *              probabilities by the threshold rule below;
 *   fine-tune  also moves the weights: a few epochs at a low learning rate,
 *              every step pulled toward the base weights (L2-SP), the pull's
 *              strength chosen by cross-validation; then Platt as above.
 *              When cross-validation finds it no better than platt (or
 *              every strength fails), the platt model is what comes out,
 *              and a fine-tuned model loses the base's val_ figures.
 *
 * Every fitted figure is cross-validated patient-wise over k folds: each
 * fold is scored by a rule (and, for fine-tune, weights) fitted on the
 * other folds alone, and the figures pool the folds' films. The "before"
 * figures are the model as it came, which fits nothing. The model finally written
 * is fitted on the whole sample. Two-class (sigmoid) models only. */
#pragma once
#include "trainer.h"

typedef enum {
  CXR_CALIBRATE_PLATT,
  CXR_CALIBRATE_FINE_TUNE,
} CxrCalibrateMethod;

/* How the site's threshold is set on its calibrated probabilities */
typedef enum {
  /* the best Youden's J on the sample: sensitivity and specificity
   * weighed alike, whatever the sample's mix of classes */
  CXR_SITE_THRESHOLD_YOUDEN,
  /* 0.5: with probabilities calibrated to the site, the fewest expected
   * errors at the mix of classes the sample has; nothing more is fitted */
  CXR_SITE_THRESHOLD_FEWEST_ERRORS,
  /* the decisions the model made: its own threshold carried onto the
   * calibrated probabilities (the calibration then fixes the
   * probabilities alone) */
  CXR_SITE_THRESHOLD_MODEL,
  /* whichever of model, fewest-errors and youden (in that order on a tie)
   * has the best cross-validated accuracy with Platt's calibration */
  CXR_SITE_THRESHOLD_AUTO,
} CxrSiteThreshold;

/* "youden", "fewest-errors", "model", "auto" (NULL / -1 for anything
 * else) */
const char *cxr_site_threshold_name (CxrSiteThreshold rule);
int cxr_site_threshold_from_name (const char *name);

/* figures of probabilities p and decisions over a site's films */
typedef struct {
  double auc;
  double accuracy, sensitivity, specificity;    /* of the decisions */
  double brier;                 /* mean (p - y)^2 */
  double log_loss;              /* mean -log p(truth) */
} CxrSiteFigures;

typedef struct {
  CxrCalibrateMethod method;
  CxrSiteThreshold threshold_rule;      /* auto */
  int folds;                    /* 5 */
  int min_per_class;            /* 20: fewer films of a class are refused */
  /* fine-tune: seed, epochs (5), learning rate (1e-4, cosine), batch size,
   * augmentation, precision, class weighting; validation_fraction is
   * ignored (the folds are the validation) */
  CxrTrainConfig train;
  int n_strengths;
  double strengths[4];          /* L2-SP strengths tried: 1, 0.1, 0.01 */
  /* after each fit of the cross-validation (may be NULL) */
  void (*on_progress) (int done, int total, void *user);
  /* asked between fine-tuning steps (may be NULL): TRUE stops the whole
   * calibration, which then fails with CXR_ERROR_CANCELLED */
  gboolean (*should_stop) (void *user);
  void *user;
} CxrCalibrateConfig;

typedef struct {
  int n, positives;             /* films in the sample, of the last class */
  CxrSiteFigures base;          /* the model as it came, its own threshold */
  CxrSiteFigures platt;
  CxrSiteFigures fine_tune;     /* NAN unless fine-tune was asked for */
  double strength;              /* fine-tune's chosen strength; NAN */
  CxrSiteThreshold threshold_rule;      /* the rule used (never auto) */
  CxrCalibrateMethod used;      /* what the model now holds */
} CxrCalibrateReport;

void cxr_calibrate_config_init (CxrCalibrateConfig *cfg);

/* Maximum-likelihood a, b of P(y = 1) = sigmoid (a z + b) over n samples,
 * with Platt's targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2) in place of 1
 * and 0. FALSE when it does not converge. */
gboolean cxr_platt_fit (const float *z, const uint8_t *y, int n, float *a,
    float *b);

/* Figures of scores (probability of the positive class) against truth,
 * deciding positive from threshold[i] (a threshold per film, as each fold
 * has its own). */
void cxr_site_figures (const float *scores, const float *thresholds,
    const uint8_t *truth, int n, CxrSiteFigures *out);

/* Fits model to the site's films in ds with cfg (NULL: defaults); report
 * may be NULL. On success the model holds the new logit calibration and
 * threshold (and, for fine-tune, weights), and provenance keys
 * calibration_base_model, calibration_method, calibration_images,
 * calibration_fingerprint, calibration_folds, calibration_threshold_rule,
 * calibration_cv_before and
 * calibration_cv_after ("auc=.. accuracy=.. sensitivity=.. specificity=..
 * brier=.. log_loss=.."), calibration_strength (fine-tune). FALSE with a
 * CXR_ERROR, the model untouched, on a sample too small or one-sided (fewer
 * than min_per_class films of a class, or too few patients to fill the
 * folds), a model that is not two-class, or an engine failure. */
gboolean cxr_calibrate (CxrModel *model, const CxrDataset *ds,
    const CxrCalibrateConfig *cfg, CxrCalibrateReport *report,
    GError **error);
