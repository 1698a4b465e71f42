/* evaluate.h — the model over cached films, as cxrclassify would run it
 * (fp32, the model's normalisation, no augmentation): logits, the pooled
 * features the out-of-distribution statistics are fitted to, and the
 * validation figures training picks its best epoch by. */
#pragma once
#include "cache.h"
#include "model.h"
#include "trainer.h"

/* Networks to score with: n_members of them, their weights one after the
 * other from params (the model's own, or one member being trained). */
typedef struct {
  const CxrModel *model;
  const float *params;
  int n_members;
} CxrWeights;

/* Films idx[0 .. n) of a cache (all of them, in order, when idx is NULL). */
typedef struct {
  const CxrDataset *ds;
  const int *idx;
  int n;
} CxrSelection;

typedef struct {
  double loss;                  /* mean cross-entropy, unweighted */
  double accuracy;              /* at 0.5 (argmax for more than two classes) */
  double accuracy_at_threshold, auc;
  double sensitivity, specificity;      /* at the threshold */
  float threshold;              /* chosen by cfg's rule on these films */
  float threshold_best_j;       /* Youden's best, whatever the rule */
} CxrValidation;

/* Scores the films with the weights' networks (their logits averaged, as
 * cxrclassify does). The threshold is chosen on these same films, so the
 * figures at the threshold are a little optimistic; AUC does not depend on
 * it. FALSE with an error on an engine failure. */
gboolean cxr_validate (const CxrWeights *weights, const CxrSelection *films,
    const CxrTrainConfig *cfg, CxrValidation *v, GError **error);

/* Whether v is better than best: by validation loss, which rewards
 * calibrated probabilities as well as ranking (AUC saturates near 1 and
 * moves between epochs by less than one film's worth), ties by AUC. */
gboolean cxr_validation_is_better (const CxrValidation *v,
    const CxrValidation *best);

/* Fits model->ood (ood.h) to the pooled features of images fit_idx[0 ..
 * n_fit) of ds (all when NULL), with the threshold at this quantile of the
 * scores of images threshold_idx[0 .. n_threshold) (the fitted images
 * themselves when n_threshold is 0). FALSE with an error, model->ood
 * untouched, for a network without a global-average-pool layer or an
 * engine failure. */
gboolean cxr_fit_feature_stats (CxrModel *model, const CxrDataset *ds,
    const int *fit_idx, int n_fit, const int *threshold_idx, int n_threshold,
    double quantile, GError **error);

/* The averaged logits (n x the spec's outputs) of images idx[0 .. n) of ds
 * (all of them when idx is NULL) under the model's members, in fp32, with
 * the model's normalisation and no augmentation: what cxrclassify computes
 * before the logit calibration. */
gboolean cxr_dataset_logits (const CxrModel *model, const CxrDataset *ds,
    const int *idx, int n, float *logits, GError **error);
