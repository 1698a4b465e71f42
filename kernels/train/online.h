/* online.h — training one network online, for live streams.
 *
 * Each labelled frame goes into a replay buffer holding the newest frames
 * (a CxrDataset used as a ring); every batch-size new frames, one optimiser
 * step runs on a mini-batch drawn at random from the buffer: augmented,
 * class-weighted over what the buffer holds, at a constant learning rate.
 * There is no validation: the model keeps its threshold. The step is the
 * epoch trainer's (cxr_train_step), so both train the same way.
 *
 * Everything random comes from cfg->seed: the same frames in the same
 * order give the same weights. */
#pragma once
#include "trainer.h"

typedef struct CxrOnlineTrainer CxrOnlineTrainer;

/* A trainer of model (one network, batch-size at least 2: batch-norm needs
 * two samples for a variance) with cfg's batch size, learning rate, weight
 * decay, optimizer, class weighting, augmentation, precision and seed, and
 * a buffer of replay_size frames (at least one batch). The model's
 * out-of-distribution statistics are dropped: the weights will move away
 * from what they describe. NULL with an error on unusable arguments or
 * when there is no memory. */
CxrOnlineTrainer *cxr_online_new (CxrModel *model, const CxrTrainConfig *cfg,
    int replay_size, GError **error);
void cxr_online_free (CxrOnlineTrainer *t);

/* Adds a frame (image01: the model's input size, in [0, 1]) with its class
 * index; every batch-size frames, runs a step and sets *stepped. FALSE
 * with an error on an engine failure or divergence (CXR_ERROR_DIVERGED):
 * the weights are then those before the step. */
gboolean cxr_online_add (CxrOnlineTrainer *t, const float *image01, int label,
    gboolean *stepped, GError **error);

/* The figures after the latest step, as the epoch trainer reports them:
 * member 1 of 1, epoch 0, step counting every step, no ETA (-1); loss and
 * accuracy over the steps since the last multiple of interval, after which
 * they start over. */
void cxr_online_report (CxrOnlineTrainer *t, guint64 interval,
    CxrStepReport *report);

guint64 cxr_online_steps (const CxrOnlineTrainer *t);
int cxr_online_batch (const CxrOnlineTrainer *t);

/* Brings the model's id and provenance up to date with the steps taken:
 * call before saving it. */
void cxr_online_update_model (CxrOnlineTrainer *t);
