/* trainer.h — training a CxrModel on a cache of labelled images.
 *
 * The images are kept preprocessed at the model's input size, as 16-bit
 * values of the image in [0, 1] before normalisation (2 bytes a pixel: the
 * 5,216 training images of the data set at 124x124 take 160 MB). Each epoch
 * shuffles the training images, augments each one afresh, and steps the
 * optimiser on mini-batches; after each epoch a patient-wise validation split
 * scores the weights, and the best epoch's weights are what the model keeps.
 *
 * Everything random (split, shuffle, augmentation, dropout) comes from
 * cfg->seed: the same seed, data and thread count give the same weights. */
#pragma once
#include "augment.h"
#include "cache.h"
#include "split.h"
#include "metrics.h"
#include "model.h"
#include "net.h"
#include "optim.h"

/* --- configuration ------------------------------------------------------ */

typedef enum {
  CXR_SCHEDULE_NONE,            /* constant learning rate */
  CXR_SCHEDULE_COSINE,          /* linear warm-up, then cosine decay to 0 */
} CxrSchedule;

typedef enum {
  CXR_CLASS_WEIGHTING_NONE,
  CXR_CLASS_WEIGHTING_BALANCED, /* weight_c = n / (n_classes * n_c), train split */
} CxrClassWeighting;

typedef enum {
  CXR_THRESHOLD_YOUDEN,         /* max sensitivity + specificity - 1 */
  CXR_THRESHOLD_SENSITIVITY,    /* most specific one reaching a sensitivity */
} CxrThresholdMethod;

typedef struct {
  int epochs;                   /* 30 */
  int batch_size;               /* 32; fewer training images: all of them */
  float learning_rate;          /* 1e-3, the peak of the schedule */
  float weight_decay;           /* 1e-4 */
  CxrOptimizerKind optimizer;   /* Adam (AdamW) */
  CxrSchedule schedule;         /* cosine */
  int warmup_epochs;            /* 1 */
  double validation_fraction;   /* 0.15; 0: no validation, keep the last epoch */
  uint64_t seed;                /* 0 */
  CxrClassWeighting class_weighting;    /* balanced */
  /* 0; e > 0: the loss aims at 1 - e / 2 and e / 2 instead of 1 and 0 (two
   * classes), which keeps the logits from growing without bound */
  float label_smoothing;
  CxrAugmentParams augment;     /* 10 degrees, 0.1 shift, 0.1 zoom */
  int patience;                 /* 8 epochs without a better validation; 0: off */
  CxrPrecision precision;       /* auto; validation always runs in fp32 */
  CxrThresholdMethod threshold_method;  /* Youden */
  /* Youden: take the highest threshold whose validation J is within this
   * of the best (0: the best J itself); see cxr_threshold_youden_within */
  double threshold_tolerance;
  double target_sensitivity;    /* 0.95, for CXR_THRESHOLD_SENSITIVITY */
  /* 1: one network. K: an ensemble of K networks whose logits are averaged,
   * trained one after the other, each as a single network would be but
   * from its own seed streams, on the same split; the threshold and the
   * validation figures are the ensemble's. A model with more members
   * trains them all. */
  int members;
  /* fine-tuning: when set, every step also pulls the trainable weights
   * toward these (the model's layout, all members), adding
   * anchor_strength (w - anchor) to their gradient (L2-SP) */
  const float *anchor;
  float anchor_strength;
  /* when training ends, the out-of-distribution statistics (ood.h) are
   * fitted to the training images' pooled features, the threshold at this
   * quantile of the validation images' scores (0.995). A fit that fails
   * leaves the model without statistics. 0: not fitted, the model keeps
   * what it had (for fine-tuning, whose weights move little) */
  double ood_quantile;
} CxrTrainConfig;

void cxr_train_config_init (CxrTrainConfig *cfg);

/* --- the pieces of a step, shared with the online trainer (online.h) ---- */

/* Each class's loss weight (weight[0 .. CXR_MAX_CLASSES)) from the number
 * of images of each class among n: balanced, n / (n_classes * n_c); 1 for
 * a class without images and without weighting. */
void cxr_class_weights (CxrClassWeighting weighting, const int *counts, int n,
    int n_classes, float *weight);

/* Image i of ds as a training input: back to [0, 1], augmented with rng,
 * then normalised as norm says. scratch: side x side floats. */
void cxr_training_input (const CxrDataset *ds, int i,
    const CxrAugmentParams *augment, const CxrNormalization *norm,
    CxrRng *rng, float *scratch, float *input);

/* A network being trained: bound to params and grads, stepped by opt; with
 * anchor set, pulled toward those weights by anchor_strength (L2-SP). */
typedef struct {
  CxrNet *net;
  CxrOptimizer *opt;
  float *params, *grads;
  const float *anchor;
  float anchor_strength;
} CxrLearner;

/* A prepared mini-batch. */
typedef struct {
  const float *input;           /* batch x the network's input, normalised */
  const int *labels;            /* batch: class index */
  const float *weights;         /* batch: each sample's loss weight */
  uint64_t dropout_seed;
  /* this process's part of a batch that several processes share, on a
   * net made for it (cxr_net_new_shared_training) */
  gboolean shared;
} CxrBatch;

/* One optimiser step of the learner on a prepared batch: the weighted
 * loss's gradient, pulled toward the anchor when it has one, then its
 * optimiser. Returns the batch's mean loss, the batch's logits in logits.
 * A shared batch's gradients and loss are summed over the processes
 * before the step, so that every process takes the same step, the one the
 * whole batch gives.
 * On an engine failure: NAN with error set. On divergence (the loss or a
 * weight not finite): NAN, no error, and *why says what; the weights are
 * then unusable and must be put back. */
double cxr_train_step (const CxrLearner *learner, const CxrBatch *batch,
    float *logits, const char **why, GError **error);

/* --- progress ----------------------------------------------------------- */

typedef struct {
  int epoch, epochs;            /* epoch counts from 1 */
  int member, members;          /* ensemble member in training, from 1 */
  int step, steps_per_epoch;    /* step within the epoch, from 1 */
  double loss;                  /* running mean over the epoch (weighted) */
  double accuracy;              /* running, at 0.5, augmented, dropout on */
  float learning_rate;          /* of this step */
  double images_per_second;     /* training images, since the run started */
  double eta_seconds;           /* to the last epoch, at the pace so far */
} CxrStepReport;

typedef struct {
  int epoch, epochs;
  int member, members;          /* ensemble member in training, from 1 */
  double train_loss, train_accuracy;
  int n_val;                    /* 0: no validation; the val_ fields are NAN */
  double val_loss;              /* unweighted mean cross-entropy */
  double val_accuracy;          /* at 0.5 (argmax for more than two classes) */
  double val_accuracy_at_threshold;
  double val_auc;               /* last class against the rest */
  double val_sensitivity, val_specificity;      /* at the threshold */
  float threshold;              /* chosen on this epoch's validation scores */
  gboolean is_best;
  double elapsed_seconds;       /* since training started */
} CxrEpochReport;

typedef struct {
  /* every step_interval steps (default 10 when 0) and at the epoch's last
   * step; FALSE stops training (the best model so far is kept) */
  gboolean (*on_step) (const CxrStepReport *report, void *user);
  /* after each epoch's validation; FALSE stops training */
  gboolean (*on_epoch) (const CxrEpochReport *report, void *user);
  /* after each epoch: the best model so far, with its threshold and
   * provenance, valid during the call only (save it there) */
  void (*on_checkpoint) (const CxrModel *best, void *user);
  int step_interval;
} CxrTrainCallbacks;

/* Trains model->params in place, from their current values (to resume, pass
 * a loaded model), on ds with cfg (NULL: defaults); cb may be NULL.
 *
 * A logit calibration the model came with is dropped (set to 1 and 0, its
 * calibration_ provenance removed): it fitted the old weights.
 *
 * At the end the model holds the best epoch's weights (by validation loss,
 * ties by validation AUC), the threshold chosen on validation for them
 * (0.5 without validation), an updated id and provenance keys: epochs_run,
 * best_epoch, seed, train_images, val_images, val_auc, val_accuracy,
 * val_sensitivity, val_specificity, threshold_method, learning_rate,
 * batch_size, augment, class_weighting, precision, train_seconds, software,
 * data_fingerprint. Stopping from a callback is not an error.
 *
 * FALSE with a CXR_ERROR on unusable arguments (a dataset that does not fit
 * the model's input, too few images), an engine failure, or divergence (a
 * loss that is not finite); the model then still holds usable weights: the
 * best so far, or those it started with. */
gboolean cxr_train (CxrModel *model, const CxrDataset *ds,
    const CxrTrainConfig *cfg, const CxrTrainCallbacks *cb, void *user,
    GError **error);
