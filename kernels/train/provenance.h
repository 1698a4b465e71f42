/* provenance.h — what a model file says of how its weights came to be:
 * the __metadata__ keys that epoch training, online training and
 * calibration write beside what the model itself is (model.h). They are
 * written through these functions alone, so that the figures new weights
 * make stale are listed in one place. */
#pragma once
#include "model.h"
#include "trainer.h"

/* key = the printf of format, replacing what was there */
void cxr_provenance_set (CxrModel *model, const char *key, const char *format,
    ...) G_GNUC_PRINTF (3, 4);

/* key = x, a figure for people (six significant digits, C locale) */
void cxr_provenance_set_figure (CxrModel *model, const char *key, double x);

void cxr_provenance_remove (CxrModel *model, const char *key);

/* The weights changed: the validation figures measured on the old ones go
 * (val_auc, val_accuracy, val_sensitivity, val_specificity,
 * val_threshold_best_j), and with epochs_too the epochs they took
 * (best_epoch, epochs_run). */
void cxr_provenance_weights_changed (CxrModel *model, gboolean epochs_too);

/* What an epoch run knows about itself when it ends or checkpoints. */
typedef struct {
  const CxrTrainConfig *cfg;
  const int *epochs_run, *best_epoch;   /* one per member of the model */
  int n_train, n_val, batch;
  int processes;                /* that trained it together */
  gboolean validated;           /* the figures below describe these weights */
  double val_auc, val_accuracy, val_sensitivity, val_specificity;
  double val_threshold_best_j;  /* Youden's best, whatever the rule */
  CxrPrecision precision;
  double seconds;               /* training so far */
  const char *fingerprint;      /* of the cached films */
} CxrTrainRecord;

/* The keys of an epoch run: epochs_run, best_epoch, seed, train_images,
 * val_images, the validation figures (or none), threshold_method,
 * learning_rate, batch_size, augment (and augment_intensity,
 * augment_sharpness, label_smoothing where used), class_weighting,
 * precision, train_seconds, software, data_fingerprint; world_size when
 * several processes trained it together. */
void cxr_provenance_write_training (CxrModel *model,
    const CxrTrainRecord *record);
