/* online.c — the online trainer: a ring of the newest frames and one step
 * on a random mini-batch of it every batch-size new frames. */
#include "online.h"
#include "provenance.h"
#include "config.h"
#include "error.h"
#include "loss.h"

#include <math.h>
#include <string.h>

struct CxrOnlineTrainer {
  CxrModel *model;
  CxrTrainConfig cfg;
  CxrNet *net;
  CxrOptimizer *opt;
  CxrDataset *ring;             /* the replay buffer */
  int capacity;                 /* frames it holds at most */
  int head;                     /* where the next frame goes once full */
  int fresh;                    /* frames added since the last step */
  int *pick;                    /* capacity: indices to draw a batch from */
  int *labels;                  /* batch */
  float *block;                 /* the float buffers below, in one piece */
  float *grads;                 /* n_floats, bound to the net */
  float *good;                  /* n_floats: the weights before the step */
  float *input;                 /* batch x 1 x side x side, normalised */
  float *scratch;               /* side x side */
  float *weights;               /* batch: loss weight of each sample */
  float *logits;                /* batch x n_outputs */
  CxrRng rng;
  GTimer *timer;
  guint64 steps;
  double loss_sum;              /* since the last reset */
  gint64 correct, seen;
};

void
cxr_online_free (CxrOnlineTrainer *t)
{
  if (!t)
    return;
  if (t->net)
    cxr_net_free (t->net);
  cxr_optimizer_free (t->opt);
  cxr_dataset_free (t->ring);
  g_free (t->pick);
  g_free (t->labels);
  g_free (t->block);
  if (t->timer)
    g_timer_destroy (t->timer);
  g_free (t);
}

CxrOnlineTrainer *
cxr_online_new (CxrModel *model, const CxrTrainConfig *cfg, int replay_size,
    GError **error)
{
  const CxrNetSpec *spec = model->spec;
  size_t n = spec->n_floats, px = (size_t) spec->in_h * spec->in_w;
  CxrOnlineTrainer *t;
  int batch = cfg->batch_size;

  if (model->n_members != 1 || cfg->members > 1) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "it updates a single network, and cannot train an ensemble "
        "(members=%d, the model has %d)", cfg->members, model->n_members);
    return NULL;
  }
  if (batch < 2 || spec->in_c != 1 || spec->in_h != spec->in_w) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "it needs a batch size of at least 2 (batch-norm needs two frames "
        "for a variance) and a network with one square grey input");
    return NULL;
  }
  t = g_new0 (CxrOnlineTrainer, 1);
  t->model = model;
  t->cfg = *cfg;
  t->capacity = MAX (replay_size, batch);
  t->ring = cxr_dataset_new (spec->in_h);
  t->pick = g_new (int, t->capacity);
  t->labels = g_new (int, batch);
  t->block = g_try_new (float, 2 * n + batch * px + px + batch
      + batch * spec->n_outputs);
  if (!t->block) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "cannot allocate the buffers of a batch of %d frames", batch);
    cxr_online_free (t);
    return NULL;
  }
  t->grads = t->block;
  t->good = t->grads + n;
  t->input = t->good + n;
  t->scratch = t->input + batch * px;
  t->weights = t->scratch + px;
  t->logits = t->weights + batch;
  t->net = cxr_net_new_training (spec, model->params, t->grads, batch,
      cfg->precision, error);
  if (!t->net) {
    cxr_online_free (t);
    return NULL;
  }
  cxr_net_set_label_smoothing (t->net, cfg->label_smoothing);
  t->opt = cxr_optimizer_new (spec, cfg->optimizer, cfg->learning_rate,
      cfg->weight_decay);
  cxr_rng_init (&t->rng, cfg->seed);
  t->timer = g_timer_new ();
  cxr_feature_stats_free (model->ood);
  model->ood = NULL;
  return t;
}

int
cxr_online_batch (const CxrOnlineTrainer *t)
{
  return t->cfg.batch_size;
}

/* One optimiser step on batch distinct frames drawn from the ring. */
static gboolean
step (CxrOnlineTrainer *t, GError **error)
{
  CxrModel *model = t->model;
  const CxrNetSpec *spec = model->spec;
  int batch = t->cfg.batch_size, count = t->ring->n;
  size_t px = (size_t) spec->in_h * spec->in_w;
  float class_weight[CXR_MAX_CLASSES];
  const char *why = NULL;
  CxrLearner learner;
  CxrBatch batch_of;
  double loss;

  /* balanced over what the buffer holds now */
  cxr_class_weights (t->cfg.class_weighting, t->ring->counts, count,
      spec->n_classes, class_weight);
  /* a partial Fisher-Yates shuffle */
  for (int i = 0; i < count; i++)
    t->pick[i] = i;
  for (int j = 0; j < batch; j++) {
    int k = j + (int) cxr_rng_below (&t->rng, (uint32_t) (count - j));
    int slot = t->pick[k];

    t->pick[k] = t->pick[j];
    t->pick[j] = slot;
    cxr_training_input (t->ring, slot, &t->cfg.augment, &model->norm,
        &t->rng, t->scratch, t->input + j * px);
    t->labels[j] = t->ring->labels[slot];
    t->weights[j] = class_weight[t->labels[j]];
  }

  memcpy (t->good, model->params, spec->n_floats * sizeof (float));
  learner = (CxrLearner) {
  t->net, t->opt, model->params, t->grads, NULL, 0.0f};
  batch_of = (CxrBatch) {
  t->input, t->labels, t->weights, cxr_rng_next (&t->rng), FALSE};
  loss = cxr_train_step (&learner, &batch_of, t->logits, &why, error);
  if (!isfinite (loss)) {
    memcpy (model->params, t->good, spec->n_floats * sizeof (float));
    cxr_model_update_id (model);
    if (why)
      g_set_error (error, CXR_ERROR, CXR_ERROR_DIVERGED,
          "training diverged at online step %" G_GUINT64_FORMAT " (%s); the "
          "weights before it are kept. Lower the learning rate",
          t->steps + 1, why);
    return FALSE;
  }
  t->steps++;
  t->loss_sum += loss;
  for (int j = 0; j < batch; j++)
    t->correct += cxr_predicted_class (spec,
        t->logits + j * spec->n_outputs) == t->labels[j];
  t->seen += batch;
  return TRUE;
}

gboolean
cxr_online_add (CxrOnlineTrainer *t, const float *image01, int label,
    gboolean *stepped, GError **error)
{
  *stepped = FALSE;
  if (label < 0 || label >= t->model->spec->n_classes) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "class %d is not one of the model's %d", label,
        t->model->spec->n_classes);
    return FALSE;
  }
  if (t->ring->n < t->capacity) {
    if (!cxr_dataset_add (t->ring, image01, label, NULL)) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
          "cannot grow the replay buffer to %d frames", t->ring->n + 1);
      return FALSE;
    }
  } else {
    cxr_dataset_set (t->ring, t->head, image01, label, NULL);
    t->head = (t->head + 1) % t->capacity;
  }
  if (++t->fresh < t->cfg.batch_size)
    return TRUE;
  t->fresh = 0;
  *stepped = TRUE;
  return step (t, error);
}

void
cxr_online_report (CxrOnlineTrainer *t, guint64 interval, CxrStepReport *r)
{
  double elapsed = g_timer_elapsed (t->timer, NULL);

  memset (r, 0, sizeof *r);
  r->member = r->members = 1;
  r->step = (int) t->steps;
  r->loss = t->seen ? t->loss_sum * t->cfg.batch_size / t->seen : NAN;
  r->accuracy = t->seen ? (double) t->correct / t->seen : NAN;
  r->learning_rate = t->cfg.learning_rate;
  r->images_per_second = t->steps * t->cfg.batch_size / MAX (elapsed, 1e-9);
  r->eta_seconds = -1.0;
  if (interval > 0 && t->steps % interval == 0)
    t->loss_sum = t->correct = t->seen = 0;
}

guint64
cxr_online_steps (const CxrOnlineTrainer *t)
{
  return t->steps;
}

void
cxr_online_update_model (CxrOnlineTrainer *t)
{
  CxrModel *m = t->model;

  /* figures of an earlier epoch run would describe other weights */
  cxr_provenance_weights_changed (m, TRUE);
  cxr_provenance_set (m, "training", "online");
  cxr_provenance_set (m, "online_steps", "%" G_GUINT64_FORMAT, t->steps);
  cxr_provenance_set_figure (m, "learning_rate", t->cfg.learning_rate);
  cxr_provenance_set (m, "batch_size", "%d", t->cfg.batch_size);
  cxr_provenance_set (m, "replay_size", "%d", t->capacity);
  cxr_provenance_set (m, "seed", "%" G_GUINT64_FORMAT, t->cfg.seed);
  cxr_provenance_set (m, "precision", "%s",
      cxr_precision_name (cxr_net_precision (t->net)));
  cxr_provenance_set (m, "software", "%s", CXR_SOFTWARE);
  cxr_model_update_id (m);
}
