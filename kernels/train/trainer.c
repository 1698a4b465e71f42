/* trainer.c — the training loop: a patient-wise split of the image cache,
 * then epochs of shuffled, augmented mini-batches with validation after
 * each, one ensemble member after the other.
 *
 * Reads top to bottom: the configuration, the pieces of one step, the run
 * (its plan and its buffers, carved from one block by a size table), the
 * loop (batch, epoch, member), then cxr_train itself. */
#include "trainer.h"
#include "error.h"
#include "evaluate.h"
#include "loss.h"
#include "number.h"
#include "provenance.h"
#include "settings.h"
#include "dist.h"

#include <math.h>
#include <string.h>

/* ----------------------------------------------------------------------------
 * configuration */

void
cxr_train_config_init (CxrTrainConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->epochs = 30;
  cfg->batch_size = 32;
  cfg->learning_rate = 1e-3f;
  cfg->weight_decay = 1e-4f;
  cfg->optimizer = CXR_OPTIMIZER_ADAM;
  cfg->schedule = CXR_SCHEDULE_COSINE;
  cfg->warmup_epochs = 1;
  cfg->validation_fraction = 0.15;
  cfg->seed = 0;
  cfg->class_weighting = CXR_CLASS_WEIGHTING_BALANCED;
  /* the seed notebook's ImageDataGenerator settings */
  cfg->augment.rotation_deg = 10.0f;
  cfg->augment.shift_frac = 0.1f;
  cfg->augment.zoom_frac = 0.1f;
  cfg->patience = 8;
  cfg->precision = CXR_PRECISION_AUTO;
  cfg->threshold_method = CXR_THRESHOLD_YOUDEN;
  cfg->target_sensitivity = 0.95;
  cfg->ood_quantile = 0.995;
  cfg->members = 1;
}

/* ----------------------------------------------------------------------------
 * pieces of a step */

/* L2-SP: grads += strength (w - anchor) on the trainable tensors */
static void
pull_to_anchor (const CxrNetSpec *spec, const float *params,
    const float *anchor, float strength, float *grads)
{
  for (int i = 0; i < spec->n_params; i++) {
    const CxrParamInfo *p = &spec->params[i];
    if (p->trainable)
      for (int64_t j = 0; j < p->numel; j++)
        grads[p->offset + j] += strength * (params[p->offset + j]
            - anchor[p->offset + j]);
  }
}

static gboolean
all_finite (const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return FALSE;
  return TRUE;
}

void
cxr_class_weights (CxrClassWeighting weighting, const int *counts, int n,
    int n_classes, float *weight)
{
  for (int c = 0; c < CXR_MAX_CLASSES; c++)
    weight[c] = weighting == CXR_CLASS_WEIGHTING_BALANCED && counts[c] > 0 ?
        (float) n / (float) (n_classes * counts[c]) : 1.0f;
}

void
cxr_training_input (const CxrDataset *ds, int i,
    const CxrAugmentParams *augment, const CxrNormalization *norm,
    CxrRng *rng, float *scratch, float *input)
{
  cxr_dataset_get (ds, i, scratch);
  cxr_augment (scratch, input, ds->side, ds->side, augment, rng);
  cxr_normalize (input, ds->side, ds->side, norm);
}

double
cxr_train_step (const CxrLearner *learner, const CxrBatch *batch,
    float *logits, const char **why, GError **error)
{
  const CxrNetSpec *spec = learner->opt->spec;
  GError *engine_error = NULL;
  double loss;

  loss = cxr_net_forward_backward (learner->net, batch->input, batch->labels,
      batch->weights, batch->dropout_seed, logits, &engine_error);
  if (engine_error) {
    g_propagate_error (error, engine_error);
    return NAN;
  }
  /* a part's gradients and loss are its share of the whole batch's mean
   * (the net divides by the whole batch): their sums are the whole's. The
   * batch-norm running statistics need no sum: the net kept them from the
   * whole batch's statistics, as every process did */
  if (batch->shared) {
    cxr_dist_sum_floats (learner->grads, spec->n_floats);
    cxr_dist_sum_doubles (&loss, 1);
  }
  if (learner->anchor)
    pull_to_anchor (spec, learner->params, learner->anchor,
        learner->anchor_strength, learner->grads);
  if (isfinite (loss))
    cxr_optimizer_step (learner->opt, learner->params, learner->grads);
  /* the weights are checked too: a finite loss can come with an infinite
   * gradient, and a NaN weight can hide behind a ReLU, which turns NaN into
   * 0; a pass over the weights costs nothing next to a step */
  if (isfinite (loss) && all_finite (learner->params, spec->n_floats))
    return loss;
  *why = isnan (loss) ? "loss is NaN" : isinf (loss) ? "loss is infinite" :
      "a weight is not finite";
  return NAN;
}

/* ----------------------------------------------------------------------------
 * the run: its settings, its split, its buffers, and what it knows about
 * itself (for the provenance and the checkpoints) */

/* the float buffers of a run, carved in this order from one block */
enum {
  BUF_INPUT,                    /* batch x 1 x side x side, normalised, NCHW */
  BUF_SCRATCH,                  /* batch x side x side, in [0, 1] */
  BUF_WEIGHTS,                  /* batch: each sample's loss weight */
  BUF_LOGITS,                   /* batch x n_out */
  BUF_GRADS,                    /* n_params, bound to the net */
  BUF_BEST,                     /* n_params: the best (or start) weights */
  N_BUFS
};

typedef struct {
  CxrModel *model;
  const CxrDataset *ds;
  const CxrTrainConfig *cfg;
  const CxrTrainCallbacks *cb;
  void *user;

  /* the split and the schedule */
  int *train_idx, *val_idx;     /* ascending */
  int n_train, n_val;
  int batch, steps_per_epoch, step_interval;
  /* several processes: each takes the part [part, part + part_n) of every
   * batch; alone, the whole batch */
  int processes, part, part_n;
  int64_t total_steps, warmup, done_steps;
  float class_weight[CXR_MAX_CLASSES];

  /* buffers */
  float *block, *buf[N_BUFS];
  float *ckpt;                  /* members x n_params: an ensemble's checkpoint */
  int *order;                   /* n_train: this epoch's order */
  int *labels;                  /* batch: class index */

  /* the run so far */
  int members, member;          /* in the ensemble; the last one started */
  int epochs_run[CXR_MAX_MEMBERS], best_epoch[CXR_MAX_MEMBERS];  /* each */
  int valid_members;            /* leading members with usable weights */
  gboolean ensemble_validated;
  CxrValidation best;
  CxrPrecision precision;
  GTimer *timer;
  char *fingerprint;
  gboolean stop;                /* a callback asked for it */
} Run;

/* the run as its provenance tells it */
static void
write_provenance (CxrModel *model, const Run *run)
{
  gboolean validated = run->n_val > 0 && (run->best_epoch[run->member] > 0
      || run->ensemble_validated);
  CxrTrainRecord record = {
    .cfg = run->cfg,
    .epochs_run = run->epochs_run,.best_epoch = run->best_epoch,
    .n_train = run->n_train,.n_val = run->n_val,.batch = run->batch,
    .processes = run->processes,
    .validated = validated,
    .val_auc = run->best.auc,
    /* at the model's threshold, which is how it will be used */
    .val_accuracy = run->best.accuracy_at_threshold,
    .val_sensitivity = run->best.sensitivity,
    .val_specificity = run->best.specificity,
    .val_threshold_best_j = run->best.threshold_best_j,
    .precision = run->precision,
    .seconds = g_timer_elapsed (run->timer, NULL),
    .fingerprint = run->fingerprint,
  };

  cxr_provenance_write_training (model, &record);
}

/* what cannot work is refused before any weight moves */
static gboolean
check_run (const CxrModel *model, const CxrDataset *ds,
    const CxrTrainConfig *cfg, GError **error)
{
  const CxrNetSpec *spec = model->spec;

  if (spec->in_c != 1 || spec->in_h != ds->side || spec->in_w != ds->side) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the images are cached at 1x%dx%d but the model takes %dx%dx%d",
        ds->side, ds->side, spec->in_c, spec->in_h, spec->in_w);
    return FALSE;
  }
  if (!cxr_train_config_check (cfg, error))
    return FALSE;
  if (cfg->anchor && cfg->members > model->n_members) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "members is %d, but with anchor weights no more than the model's "
        "%d", cfg->members, model->n_members);
    return FALSE;
  }
  if (!isfinite (model->norm.mean) || !isfinite (model->norm.std)
      || model->norm.std == 0.0f) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the model's normalisation (mean, std) is not usable");
    return FALSE;
  }
  for (int i = 0; i < ds->n; i++)
    if (ds->labels[i] >= spec->n_classes) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "image %d has class %d but the model has %d classes", i,
          ds->labels[i], spec->n_classes);
      return FALSE;
    }
  return TRUE;
}

/* The patient-wise split, the steps it makes, and the class weights. */
static gboolean
plan_run (Run *run, GError **error)
{
  const CxrTrainConfig *cfg = run->cfg;
  const CxrDataset *ds = run->ds;
  int counts[CXR_MAX_CLASSES] = { 0 };

  cxr_dataset_split (ds, cfg->validation_fraction, cfg->seed,
      &run->train_idx, &run->n_train, &run->val_idx, &run->n_val);
  /* batch-norm needs two images in a batch to have a variance */
  if (run->n_train < 2) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "%d training images after the validation split; at least 2 are "
        "needed", run->n_train);
    return FALSE;
  }
  run->batch = MIN (cfg->batch_size, run->n_train);
  if (run->batch < run->processes) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "a batch of %d images cannot be shared by %d processes: each needs "
        "at least one image of every batch. Set batch-size to %d or more, "
        "or start fewer processes", run->batch, run->processes,
        run->processes);
    return FALSE;
  }
  {
    size_t lo, hi;
    cxr_dist_part (run->batch, cxr_dist_rank (), run->processes, &lo, &hi);
    run->part = (int) lo;
    run->part_n = (int) (hi - lo);
  }
  /* the last partial batch is dropped; the shuffle differs every epoch, so
   * every image still takes part */
  run->steps_per_epoch = run->n_train / run->batch;
  run->total_steps = (int64_t) cfg->epochs * run->steps_per_epoch;
  /* a short run still decays: warm-up takes at most half of it */
  run->warmup = MIN ((int64_t) cfg->warmup_epochs * run->steps_per_epoch,
      run->total_steps / 2);
  run->warmup = MAX (run->warmup, 1);

  /* balanced: each class weighs in as if the classes were equal in number,
   * counted on the training side */
  for (int i = 0; i < run->n_train; i++)
    counts[ds->labels[run->train_idx[i]]]++;
  cxr_class_weights (cfg->class_weighting, counts, run->n_train,
      run->model->spec->n_classes, run->class_weight);
  return TRUE;
}

/* Every buffer of the run: the float ones carved from one block, in the
 * order of the size table. */
static gboolean
allocate_run (Run *run, GError **error)
{
  const CxrNetSpec *spec = run->model->spec;
  size_t px = (size_t) run->ds->side * run->ds->side, total = 0;
  size_t batch = run->batch, n_params = spec->n_floats;
  const size_t sizes[N_BUFS] = {
    [BUF_INPUT] = batch * px,
    [BUF_SCRATCH] = batch * px,
    [BUF_WEIGHTS] = batch,
    [BUF_LOGITS] = batch * spec->n_outputs,
    [BUF_GRADS] = n_params,
    [BUF_BEST] = n_params,
  };

  for (int b = 0; b < N_BUFS; b++)
    total += sizes[b];
  run->block = g_try_new (float, total);
  if (!run->block) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "cannot allocate %zu MB for training", total * 4 >> 20);
    return FALSE;
  }
  run->buf[0] = run->block;
  for (int b = 1; b < N_BUFS; b++)
    run->buf[b] = run->buf[b - 1] + sizes[b - 1];
  run->order = g_new (int, run->n_train);
  run->labels = g_new (int, batch);
  return TRUE;
}

static void
free_run (Run *run)
{
  if (run->timer)
    g_timer_destroy (run->timer);
  g_free (run->fingerprint);
  g_free (run->labels);
  g_free (run->order);
  g_free (run->ckpt);
  g_free (run->block);
  g_free (run->train_idx);
  g_free (run->val_idx);
}

/* ----------------------------------------------------------------------------
 * the loop */

/* learning rate of a step (from 0): linear warm-up to the peak, then half a
 * cosine down to 0 at the last step */
static float
learning_rate_at (const Run *run, int64_t step)
{
  const CxrTrainConfig *cfg = run->cfg;
  double t;

  if (cfg->schedule == CXR_SCHEDULE_NONE)
    return cfg->learning_rate;
  if (step < run->warmup)
    return cfg->learning_rate * (float) (step + 1) / (float) run->warmup;
  t = (double) (step - run->warmup) / (double) MAX (run->total_steps
      - run->warmup, 1);
  return (float) (cfg->learning_rate * 0.5 * (1.0 + cos (G_PI * t)));
}

/* member k's streams; member 0's are the seed's own, so that a single
 * network trains exactly as it always has */
static uint64_t
member_seed (uint64_t seed, int k)
{
  return k == 0 ? seed : cxr_stream_seed (seed, CXR_STREAM_MEMBER, k);
}

/* after divergence or a failure: the best weights so far (or those the
 * member came with), so that the model is still usable */
static void
restore_best (Run *run)
{
  CxrModel *model = run->model;

  memcpy (cxr_model_member (model, run->member), run->buf[BUF_BEST],
      model->spec->n_floats * sizeof (float));
  if (run->best_epoch[run->member] > 0)
    model->threshold = run->best.threshold;
}

/* This process's part of the batch of images chosen[0 .. batch),
 * augmented: each image draws from its own stream (epoch, image), so
 * threads and processes can share the batch and still agree with one. */
static void
prepare_batch (Run *run, uint64_t seed, int epoch, const int *batch_images)
{
  const CxrDataset *ds = run->ds;
  const CxrModel *model = run->model;
  size_t px = (size_t) ds->side * ds->side;
  float *scratch = run->buf[BUF_SCRATCH], *input = run->buf[BUF_INPUT];
  const int *chosen = batch_images + run->part;
  int batch = run->part_n;

#pragma omp parallel for schedule(static)
  for (int j = 0; j < batch; j++) {
    CxrRng arng;
    cxr_rng_init (&arng, cxr_stream_seed (seed, CXR_STREAM_AUGMENT,
            ((uint64_t) epoch << 32) | (uint32_t) chosen[j]));
    cxr_training_input (ds, chosen[j], &run->cfg->augment, &model->norm,
        &arng, scratch + j * px, input + j * px);
  }
  for (int j = 0; j < batch; j++) {
    run->labels[j] = ds->labels[chosen[j]];
    run->buf[BUF_WEIGHTS][j] = run->class_weight[run->labels[j]];
  }
}

/* the running figures of an epoch */
typedef struct {
  int epoch;
  double loss_sum;
  int64_t correct, seen;
  int64_t step;                 /* the member's steps so far, all epochs */
} EpochTally;

static void
report_step (Run *run, const CxrLearner *learner, const EpochTally *e,
    int step)
{
  double elapsed = g_timer_elapsed (run->timer, NULL);
  CxrStepReport sr = {
    .epoch = e->epoch,.epochs = run->cfg->epochs,
    .step = step + 1,.steps_per_epoch = run->steps_per_epoch,
    .loss = e->loss_sum / (step + 1),
    .accuracy = (double) e->correct / e->seen,
    .learning_rate = learner->opt->learning_rate,
    .member = run->member + 1,.members = run->members,
    .images_per_second = run->done_steps * run->batch / MAX (elapsed, 1e-9),
    .eta_seconds = elapsed / run->done_steps
        * (run->members * run->total_steps - run->done_steps),
  };

  run->stop = !run->cb->on_step (&sr, run->user);
}

/* n summed over the processes of the run */
static int
count_over_processes (const Run *run, int n)
{
  double sum = n;

  if (run->processes > 1)
    cxr_dist_sum_doubles (&sum, 1);
  return (int) sum;
}

/* One epoch's steps over the shuffled training images. FALSE on an engine
 * failure or divergence (the best weights are then put back). */
static gboolean
train_epoch (Run *run, const CxrLearner *learner, uint64_t seed,
    EpochTally *e, GError **error)
{
  const CxrNetSpec *spec = run->model->spec;
  int batch = run->batch, n_out = spec->n_outputs;
  float *logits = run->buf[BUF_LOGITS];
  CxrRng rng;

  /* this epoch's order depends on the seed and the epoch alone */
  memcpy (run->order, run->train_idx, run->n_train * sizeof (int));
  cxr_rng_init (&rng, cxr_stream_seed (seed, CXR_STREAM_SHUFFLE, e->epoch));
  cxr_rng_shuffle (&rng, run->order, run->n_train);

  for (int step = 0; step < run->steps_per_epoch && !run->stop; step++) {
    CxrBatch prepared = { run->buf[BUF_INPUT], run->labels,
      run->buf[BUF_WEIGHTS],
      cxr_stream_seed (seed, CXR_STREAM_DROPOUT, e->step),
      run->processes > 1
    };
    int correct = 0;
    const char *why = NULL;
    double loss;

    prepare_batch (run, seed, e->epoch, run->order + step * batch);
    learner->opt->learning_rate = learning_rate_at (run, e->step);
    loss = cxr_train_step (learner, &prepared, logits, &why, error);
    if (!isfinite (loss)) {
      restore_best (run);
      if (why)
        g_set_error (error, CXR_ERROR, CXR_ERROR_DIVERGED,
            "training diverged at epoch %d step %d%s (%s); the last good "
            "model is kept. Lower the learning rate", e->epoch, step + 1,
            run->members > 1 ? " of an ensemble member" : "", why);
      return FALSE;
    }
    e->step++;
    run->done_steps++;

    e->loss_sum += loss;
    for (int j = 0; j < run->part_n; j++)
      correct += cxr_predicted_class (spec, logits + j * n_out)
          == run->labels[j];
    e->correct += count_over_processes (run, correct);
    e->seen += batch;

    if (run->cb->on_step && ((step + 1) % run->step_interval == 0
            || step + 1 == run->steps_per_epoch))
      report_step (run, learner, e, step);
    /* a stop any process is asked for stops all, at the same step */
    if (run->processes > 1)
      run->stop = cxr_dist_any (run->stop);
  }
  return TRUE;
}

static void
report_epoch (Run *run, const EpochTally *e, const CxrValidation *v,
    gboolean is_best)
{
  CxrEpochReport er = {
    .epoch = e->epoch,.epochs = run->cfg->epochs,
    .member = run->member + 1,.members = run->members,
    .train_loss = e->loss_sum / run->steps_per_epoch,
    .train_accuracy = (double) e->correct / e->seen,
    .n_val = run->n_val,
    .val_loss = v->loss,
    .val_accuracy = v->accuracy,
    .val_accuracy_at_threshold = v->accuracy_at_threshold,
    .val_auc = v->auc,
    .val_sensitivity = v->sensitivity,
    .val_specificity = v->specificity,
    .threshold = v->threshold,
    .is_best = is_best,
    .elapsed_seconds = g_timer_elapsed (run->timer, NULL),
  };

  if (run->cb->on_epoch && !run->cb->on_epoch (&er, run->user))
    run->stop = TRUE;
}

/* A view of the model with the best weights, handed to on_checkpoint; it
 * shares the spec, classes and provenance table, brought up to date first.
 * In an ensemble: the members done and this one's best so far, with this
 * one's threshold. */
static void
checkpoint (Run *run)
{
  CxrModel *model = run->model;
  size_t n_params = model->spec->n_floats;
  CxrModel view = *model;

  write_provenance (model, run);
  view.params = run->buf[BUF_BEST];
  if (run->members > 1) {
    memcpy (run->ckpt, model->params, run->member * n_params * sizeof (float));
    memcpy (run->ckpt + run->member * n_params, run->buf[BUF_BEST],
        n_params * sizeof (float));
    view.params = run->ckpt;
    view.n_members = run->member + 1;
  }
  view.threshold = run->best.threshold;
  cxr_model_update_id (&view);
  run->cb->on_checkpoint (&view, run->user);
}

/* Member run->member, trained as a single network would be: epochs, each
 * validated, the best epoch's weights kept. */
static gboolean
train_member (Run *run, GError **error)
{
  CxrModel *model = run->model;
  const CxrTrainConfig *cfg = run->cfg;
  size_t n_params = model->spec->n_floats;
  float *params = cxr_model_member (model, run->member);
  uint64_t seed = member_seed (cfg->seed, run->member);
  CxrSelection val = { run->ds, run->val_idx, run->n_val };
  CxrWeights one = { model, params, 1 };
  CxrLearner learner = { NULL, NULL, params, run->buf[BUF_GRADS],
    cfg->anchor ? cfg->anchor + run->member * n_params : NULL,
    cfg->anchor_strength
  };
  int since_best = 0;
  gboolean ok = FALSE;
  int64_t member_steps = 0;

  if (run->processes > 1) {
    CxrBatchShare share = { run->part, run->part_n, run->batch,
      cxr_dist_sum_doubles
    };
    learner.net = cxr_net_new_shared_training (model->spec, params,
        learner.grads, &share, cfg->precision, error);
  } else
    learner.net = cxr_net_new_training (model->spec, params, learner.grads,
        run->batch, cfg->precision, error);
  if (!learner.net)
    return FALSE;
  cxr_net_set_label_smoothing (learner.net, cfg->label_smoothing);
  learner.opt = cxr_optimizer_new (model->spec, cfg->optimizer,
      cfg->learning_rate, cfg->weight_decay);
  /* what a diverged run falls back to until an epoch has done better */
  memcpy (run->buf[BUF_BEST], params, n_params * sizeof (float));
  run->precision = cxr_net_precision (learner.net);
  run->best.threshold = 0.5f;

  for (int epoch = 1; epoch <= cfg->epochs && !run->stop; epoch++) {
    EpochTally e = { .epoch = epoch,.step = member_steps };
    CxrValidation v = { .loss = NAN,.accuracy = NAN,
      .accuracy_at_threshold = NAN,.auc = NAN,.sensitivity = NAN,
      .specificity = NAN,.threshold = 0.5f
    };
    gboolean is_best = TRUE;    /* without validation, the last is best */

    if (!train_epoch (run, &learner, seed, &e, error))
      goto out;
    member_steps = e.step;
    if (e.seen < (int64_t) run->steps_per_epoch * run->batch)
      break;                    /* stopped mid-epoch: nothing to validate */
    run->epochs_run[run->member] = epoch;

    if (run->n_val > 0) {
      if (!cxr_validate (&one, &val, cfg, &v, error)) {
        restore_best (run);
        goto out;
      }
      is_best = run->best_epoch[run->member] == 0
          || cxr_validation_is_better (&v, &run->best);
    }
    if (is_best) {
      memcpy (run->buf[BUF_BEST], params, n_params * sizeof (float));
      run->best = v;
      run->best_epoch[run->member] = epoch;
      run->valid_members = MAX (run->valid_members, run->member + 1);
      since_best = 0;
    } else
      since_best++;

    report_epoch (run, &e, &v, is_best);
    if (run->processes > 1)
      run->stop = cxr_dist_any (run->stop);
    if (run->cb->on_checkpoint)
      checkpoint (run);
    if (cfg->patience > 0 && run->n_val > 0 && since_best >= cfg->patience)
      break;                    /* early stopping; the next member starts */
  }

  /* with validation the best epoch's weights (those the member came with
   * if no epoch finished); without, the last ones, even from mid-epoch */
  if (run->n_val > 0)
    restore_best (run);
  else
    model->threshold = 0.5f;
  ok = TRUE;
out:
  cxr_net_free (learner.net);
  cxr_optimizer_free (learner.opt);
  return ok;
}

/* The ensemble as it stands once training ends or stops: the leading
 * members that hold trained (or resumed) weights, validated together for
 * the threshold and the figures. */
static void
finish_ensemble (Run *run)
{
  CxrModel *model = run->model;
  GError *error = NULL;
  CxrValidation v;
  CxrSelection val = { run->ds, run->val_idx, run->n_val };
  CxrWeights ensemble;

  cxr_model_set_members (model, MAX (run->valid_members, 1));
  if (run->n_val == 0) {
    model->threshold = 0.5f;
    return;
  }
  ensemble = (CxrWeights) {
  model, model->params, model->n_members};
  if (cxr_validate (&ensemble, &val, run->cfg, &v, &error)) {
    run->best = v;
    run->ensemble_validated = TRUE;
    model->threshold = v.threshold;
  } else
    g_clear_error (&error);     /* the members' own figures stand */
}

/* The out-of-distribution statistics of the trained model, from the
 * training images, the threshold from the validation images; a network
 * without pooled features goes without (and says so in its provenance). */
static void
fit_ood (Run *run)
{
  CxrModel *model = run->model;
  GError *error = NULL;
  char b[CXR_NUMBER_SIZE];

  if (cxr_fit_feature_stats (model, run->ds, run->train_idx, run->n_train,
          run->val_idx, run->n_val, run->cfg->ood_quantile, &error))
    cxr_provenance_set (model, "ood_fit", "%d training images, threshold "
        "the %s quantile of %d %s images' scores", run->n_train,
        cxr_number (b, CXR_NUMBER_FIGURE, run->cfg->ood_quantile),
        run->n_val ? run->n_val : run->n_train,
        run->n_val ? "validation" : "training");
  else {
    /* statistics the model came with describe other weights */
    cxr_feature_stats_free (model->ood);
    model->ood = NULL;
    cxr_provenance_set (model, "ood_fit", "none: %s", error->message);
    g_clear_error (&error);
  }
}

/* An ensemble trains its members one after the other, each as a single
 * network with its own streams, on the same split; new members start
 * afresh, each from its own seed. */
static void
add_members (Run *run)
{
  CxrModel *model = run->model;
  int had = model->n_members;

  run->members = MAX (run->cfg->members, model->n_members);
  run->valid_members = model->n_members;
  if (run->members > 1)
    run->ckpt = g_new (float, run->members * model->spec->n_floats);
  if (had >= run->members)
    return;
  cxr_model_set_members (model, run->members);
  for (int k = had; k < run->members; k++)
    cxr_net_spec_init_params (model->spec, cxr_model_member (model, k),
        member_seed (run->cfg->seed, k));
}

gboolean
cxr_train (CxrModel *model, const CxrDataset *ds, const CxrTrainConfig *cfg,
    const CxrTrainCallbacks *cb, void *user, GError **error)
{
  static const CxrTrainCallbacks no_callbacks = { 0 };
  CxrTrainConfig defaults;
  CxrModel *calibrated = NULL;  /* the model as it came, if calibrated */
  Run run = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
  if (!cfg) {
    cxr_train_config_init (&defaults);
    cfg = &defaults;
  }
  run.model = model;
  run.ds = ds;
  run.cfg = cfg;
  run.cb = cb ? cb : &no_callbacks;
  run.user = user;
  run.step_interval = run.cb->step_interval > 0 ? run.cb->step_interval : 10;
  run.members = 1;
  run.processes = cxr_dist_size ();
  if (!check_run (model, ds, cfg, error))
    return FALSE;

  /* a site's logit calibration fitted the old weights; training moves
   * them. Kept aside, for a run that fails before any epoch is done */
  if (model->logit_scale != 1.0f || model->logit_offset != 0.0f)
    calibrated = cxr_model_copy (model);
  cxr_model_clear_calibration (model);
  if (!plan_run (&run, error) || !allocate_run (&run, error))
    goto out;
  add_members (&run);
  run.fingerprint = cxr_dataset_fingerprint (ds);
  run.timer = g_timer_new ();

  for (int k = 0; k < run.members && !run.stop; k++) {
    run.member = k;
    if (!train_member (&run, error))
      goto out;
  }
  ok = TRUE;

out:
  if (calibrated && !ok) {
    gboolean any_epoch = FALSE;
    for (int k = 0; k < CXR_MAX_MEMBERS; k++)
      any_epoch |= run.best_epoch[k] > 0;
    if (!any_epoch)
      cxr_model_copy_calibration (model, calibrated);
  }
  cxr_model_free (calibrated);
  if (run.members > 1 && run.timer)
    finish_ensemble (&run);
  if (ok && cfg->ood_quantile > 0.0)
    fit_ood (&run);
  if (run.timer) {
    cxr_model_update_id (model);
    write_provenance (model, &run);
  }
  free_run (&run);
  return ok;
}
