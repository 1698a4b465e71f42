/* trainer.c — the training loop: an image cache, a patient-wise split, then
 * epochs of shuffled, augmented mini-batches with validation after each.
 *
 * Reads top to bottom: the cache, the split, the pieces of one step
 * (weights, input, the step itself, schedule, validation), then cxr_train
 * itself. */
#include "trainer.h"
#include "config.h"
#include "error.h"
#include "loss.h"
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define VAL_BATCH 64            /* inference batch for validation */

/* ----------------------------------------------------------------------------
 * the image cache */

CxrDataset *
cxr_dataset_new (int side)
{
  CxrDataset *ds;

  g_return_val_if_fail (side > 0 && side <= 4096, NULL);
  ds = g_new0 (CxrDataset, 1);
  ds->side = side;
  return ds;
}

void
cxr_dataset_free (CxrDataset *ds)
{
  if (!ds)
    return;
  for (int i = 0; i < ds->n; i++)
    g_free (ds->patients[i]);
  g_free (ds->patients);
  g_free (ds->labels);
  g_free (ds->pixels);
  g_free (ds);
}

/* image i's slot from image01, in the cache's 16 bits */
static void
store (CxrDataset *ds, int i, const float *image01, int label,
    const char *patient)
{
  size_t px = (size_t) ds->side * ds->side;
  guint16 *dst = ds->pixels + i * px;

  for (size_t j = 0; j < px; j++) {
    float v = image01[j];
    /* !(v > 0) also sends NaN to 0 */
    v = !(v > 0.0f) ? 0.0f : v > 1.0f ? 1.0f : v;
    dst[j] = (guint16) (v * 65535.0f + 0.5f);
  }
  ds->labels[i] = label;
  ds->patients[i] = g_strdup (patient);
  ds->counts[label]++;
}

gboolean
cxr_dataset_add (CxrDataset *ds, const float *image01, int label,
    const char *patient)
{
  size_t px;

  g_return_val_if_fail (ds != NULL && image01 != NULL, FALSE);
  if (label < 0 || label >= CXR_MAX_CLASSES)
    return FALSE;

  px = (size_t) ds->side * ds->side;
  if (ds->n == ds->capacity) {
    /* doubling keeps the copying linear in the number of images; what
     * cannot grow leaves the set as it was */
    int capacity = ds->capacity ? 2 * ds->capacity : 64;
    guint16 *pixels;
    int *labels;
    char **patients;

    if (ds->capacity > G_MAXINT / 2)
      return FALSE;
    if (!(pixels = g_try_renew (guint16, ds->pixels, capacity * px)))
      return FALSE;
    ds->pixels = pixels;
    if (!(labels = g_try_renew (int, ds->labels, capacity)))
      return FALSE;
    ds->labels = labels;
    if (!(patients = g_try_renew (char *, ds->patients, capacity)))
      return FALSE;
    ds->patients = patients;
    ds->capacity = capacity;
  }
  store (ds, ds->n, image01, label, patient);
  ds->n++;
  return TRUE;
}

void
cxr_dataset_set (CxrDataset *ds, int i, const float *image01, int label,
    const char *patient)
{
  g_return_if_fail (ds != NULL && i >= 0 && i < ds->n);
  g_return_if_fail (label >= 0 && label < CXR_MAX_CLASSES);
  ds->counts[ds->labels[i]]--;
  g_free (ds->patients[i]);
  store (ds, i, image01, label, patient);
}

void
cxr_dataset_get (const CxrDataset *ds, int i, float *image01)
{
  size_t px = (size_t) ds->side * ds->side;
  const guint16 *src = ds->pixels + i * px;

  for (size_t j = 0; j < px; j++)
    image01[j] = src[j] * (1.0f / 65535.0f);
}

char *
cxr_dataset_fingerprint (const CxrDataset *ds)
{
  guint64 h = 0xcbf29ce484222325ull;
  size_t n_px = (size_t) ds->n * ds->side * ds->side;

  /* byte by byte, little-endian, so every machine gets the same digits */
#define FNV_BYTE(b) (h = (h ^ (guint8) (b)) * 0x100000001b3ull)
  for (int k = 0; k < 4; k++)
    FNV_BYTE ((guint32) ds->side >> (8 * k));
  for (size_t i = 0; i < n_px; i++) {
    FNV_BYTE (ds->pixels[i]);
    FNV_BYTE (ds->pixels[i] >> 8);
  }
  for (int i = 0; i < ds->n; i++)
    FNV_BYTE (ds->labels[i]);
#undef FNV_BYTE
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);
}

/* ----------------------------------------------------------------------------
 * seeds: one run seed gives independent streams for each random decision */

enum {
  STREAM_SPLIT = 1,
  STREAM_SHUFFLE,
  STREAM_AUGMENT,
  STREAM_DROPOUT,
  STREAM_MEMBER,
  STREAM_FOLDS,
};

static uint64_t
stream_seed (uint64_t seed, uint64_t stream, uint64_t counter)
{
  CxrRng r;

  cxr_rng_init (&r, seed);
  cxr_rng_init (&r, cxr_rng_next (&r) ^ stream);
  cxr_rng_init (&r, cxr_rng_next (&r) ^ counter);
  return cxr_rng_next (&r);
}

static void
shuffle (int *a, int n, CxrRng *rng)
{
  for (int i = n - 1; i > 0; i--) {
    int j = (int) cxr_rng_below (rng, (uint32_t) i + 1), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* ----------------------------------------------------------------------------
 * the patient-wise split */

typedef struct {
  const char *name;             /* NULL: an image with no known patient */
  int first;                    /* its first image, for a stable order */
  int size;
  int label;                    /* the class of most of its images */
  int counts[CXR_MAX_CLASSES];
} Group;

/* named patients by name, so that the split does not depend on the order
 * images arrived in; unnamed images after them, in order */
static int
group_order (const void *a, const void *b)
{
  const Group *x = a, *y = b;

  if (x->name && y->name)
    return strcmp (x->name, y->name);
  if (x->name || y->name)
    return x->name ? -1 : 1;
  return (x->first > y->first) - (x->first < y->first);
}

/* Images into patients: fills groups (at least ds->n of them) in
 * group_order and group_of (ds->n: each image's patient); returns how many
 * patients there are. */
static int
group_patients (const CxrDataset *ds, Group *groups, int *group_of)
{
  GHashTable *by_name = g_hash_table_new (g_str_hash, g_str_equal);
  int n_groups = 0;
  int *remap = g_new0 (int, MAX (ds->n, 1));    /* old number -> sorted */

  for (int i = 0; i < ds->n; i++) {
    const char *name = ds->patients[i];
    gpointer found;
    int g;

    if (name && g_hash_table_lookup_extended (by_name, name, NULL, &found))
      g = GPOINTER_TO_INT (found);
    else {
      g = n_groups++;
      groups[g].name = name;
      groups[g].first = i;
      if (name)
        g_hash_table_insert (by_name, (gpointer) name, GINT_TO_POINTER (g));
    }
    groups[g].size++;
    groups[g].counts[ds->labels[i]]++;
    group_of[i] = g;
  }
  for (int g = 0; g < n_groups; g++) {
    groups[g].label = 0;
    for (int c = 1; c < CXR_MAX_CLASSES; c++)
      if (groups[g].counts[c] > groups[g].counts[groups[g].label])
        groups[g].label = c;
  }

  /* sort the patients, then renumber the images' groups to match; a
   * group's first image identifies it */
  qsort (groups, n_groups, sizeof (Group), group_order);
  for (int g = 0; g < n_groups; g++)
    remap[group_of[groups[g].first]] = g;
  for (int i = 0; i < ds->n; i++)
    group_of[i] = remap[group_of[i]];
  g_hash_table_unref (by_name);
  g_free (remap);
  return n_groups;
}

void
cxr_dataset_split (const CxrDataset *ds, double validation_fraction,
    uint64_t seed, int **train_idx, int *n_train, int **val_idx, int *n_val)
{
  int n = MAX (ds->n, 1);
  Group *groups = g_new0 (Group, n);    /* n_groups (<= n) patients */
  int *work = g_new0 (int, 3 * n);
  int *group_of = work;         /* n: each image's patient */
  int *pick = work + n;         /* n_groups: one class's patients, shuffled */
  int *in_val = work + 2 * n;   /* n_groups: 1 if in validation */
  int n_groups = group_patients (ds, groups, group_of);

  /* per class, whole patients in a seeded order, each taken when it brings
   * the class's validation count closer to its target */
  if (validation_fraction > 0.0) {
    for (int c = 0; c < CXR_MAX_CLASSES; c++) {
      int n_pick = 0, images = 0, taken = 0;
      double target;
      CxrRng rng;

      for (int g = 0; g < n_groups; g++)
        if (groups[g].label == c) {
          pick[n_pick++] = g;
          images += groups[g].size;
        }
      if (!n_pick)
        continue;
      target = validation_fraction * images;
      cxr_rng_init (&rng, stream_seed (seed, STREAM_SPLIT, c));
      shuffle (pick, n_pick, &rng);
      for (int k = 0; k < n_pick; k++) {
        int size = groups[pick[k]].size;
        if (fabs (taken + size - target) < fabs (taken - target)) {
          in_val[pick[k]] = 1;
          taken += size;
        }
      }
    }
  }

  /* indices, ascending */
  *train_idx = g_new (int, n);
  *val_idx = g_new (int, n);
  *n_train = *n_val = 0;
  for (int i = 0; i < ds->n; i++) {
    if (in_val[group_of[i]])
      (*val_idx)[(*n_val)++] = i;
    else
      (*train_idx)[(*n_train)++] = i;
  }

  g_free (groups);
  g_free (work);
}

int
cxr_dataset_folds (const CxrDataset *ds, int k, uint64_t seed, int *fold)
{
  g_return_val_if_fail (k >= 2 && k <= CXR_MAX_FOLDS, 0);

  int n = MAX (ds->n, 1), fewest = G_MAXINT;
  Group *groups = g_new0 (Group, n);
  int *group_of = g_new0 (int, n);
  int *pick = g_new0 (int, n);
  int *group_fold = g_new0 (int, n);
  int n_groups = group_patients (ds, groups, group_of);

  /* per class, whole patients in a seeded order, each to the fold that has
   * the fewest images of that class so far */
  for (int c = 0; c < CXR_MAX_CLASSES; c++) {
    int n_pick = 0, images[CXR_MAX_FOLDS] = { 0 }, patients[CXR_MAX_FOLDS] =
        { 0 };
    CxrRng rng;

    for (int g = 0; g < n_groups; g++)
      if (groups[g].label == c)
        pick[n_pick++] = g;
    if (!n_pick)
      continue;
    cxr_rng_init (&rng, stream_seed (seed, STREAM_FOLDS, c));
    shuffle (pick, n_pick, &rng);
    for (int j = 0; j < n_pick; j++) {
      int f = 0;
      for (int i = 1; i < k; i++)
        if (images[i] < images[f])
          f = i;
      group_fold[pick[j]] = f;
      images[f] += groups[pick[j]].size;
      patients[f]++;
    }
    for (int i = 0; i < k; i++)
      fewest = MIN (fewest, patients[i]);
  }
  for (int i = 0; i < ds->n; i++)
    fold[i] = group_fold[group_of[i]];

  g_free (groups);
  g_free (group_of);
  g_free (pick);
  g_free (group_fold);
  return fewest == G_MAXINT ? 0 : fewest;
}

CxrDataset *
cxr_dataset_subset (const CxrDataset *ds, const int *idx, int n)
{
  CxrDataset *sub = cxr_dataset_new (ds->side);
  size_t px = (size_t) ds->side * ds->side;

  sub->capacity = MAX (n, 1);
  sub->pixels = g_new (guint16, sub->capacity * px);
  sub->labels = g_new (int, sub->capacity);
  sub->patients = g_new (char *, sub->capacity);
  for (int j = 0; j < n; j++) {
    memcpy (sub->pixels + j * px, ds->pixels + idx[j] * px,
        px * sizeof (guint16));
    sub->labels[j] = ds->labels[idx[j]];
    sub->patients[j] = g_strdup (ds->patients[idx[j]]);
    sub->counts[sub->labels[j]]++;
  }
  sub->n = n;
  return sub;
}

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

/* learning rate of a step (from 0): linear warm-up to the peak, then half a
 * cosine down to 0 at the last step */
static float
learning_rate_at (const CxrTrainConfig *cfg, int64_t step, int64_t total,
    int64_t warmup)
{
  double t;

  if (cfg->schedule == CXR_SCHEDULE_NONE)
    return cfg->learning_rate;
  if (step < warmup)
    return cfg->learning_rate * (float) (step + 1) / (float) warmup;
  t = (double) (step - warmup) / (double) MAX (total - warmup, 1);
  return (float) (cfg->learning_rate * 0.5 * (1.0 + cos (G_PI * t)));
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
cxr_train_step (CxrNet *net, CxrOptimizer *opt, float *params, float *grads,
    const float *input, const int *labels, const float *weights,
    uint64_t dropout_seed, const float *anchor, float anchor_strength,
    float *logits, const char **why, GError **error)
{
  const CxrNetSpec *spec = opt->spec;
  GError *engine_error = NULL;
  float loss;

  loss = cxr_net_forward_backward (net, input, labels, weights, dropout_seed,
      logits, &engine_error);
  if (engine_error) {
    g_propagate_error (error, engine_error);
    return NAN;
  }
  if (anchor)
    pull_to_anchor (spec, params, anchor, anchor_strength, grads);
  if (isfinite (loss))
    cxr_optimizer_step (opt, params, grads);
  /* the weights are checked too: a finite loss can come with an infinite
   * gradient, and a NaN weight can hide behind a ReLU, which turns NaN into
   * 0; a pass over the weights costs nothing next to a step */
  if (isfinite (loss) && all_finite (params, spec->n_floats))
    return loss;
  *why = isnan (loss) ? "loss is NaN" : isinf (loss) ? "loss is infinite" :
      "a weight is not finite";
  return NAN;
}

typedef struct {
  double loss, accuracy, accuracy_at_threshold, auc;
  double sensitivity, specificity;
  float threshold;
  float threshold_best_j;       /* Youden's best, whatever the rule */
} Validation;

/* The averaged logits (n x n_outputs) of images idx[0 .. n) (all when idx
 * is NULL) under n_members networks (params: one after the other), in
 * fp32, normalised as the model says, no augmentation. features (may be
 * NULL): each image's pooled features, n x n_members x dim. */
static gboolean
forward_images (const CxrModel *model, const float *params, int n_members,
    const CxrDataset *ds, const int *idx, int n, float *out, float *features,
    GError **error)
{
  const CxrNetSpec *spec = model->spec;
  size_t px = (size_t) ds->side * ds->side;
  int vb = MAX (MIN (VAL_BATCH, n), 1);
  float *input = g_try_new (float, vb * px);    /* vb x 1 x side x side */
  float *logits = g_new (float, vb * spec->n_outputs);  /* vb x n_out */
  int layer = cxr_model_feature_layer (model);
  size_t per_image = features && layer >= 0 ?
      (size_t) n_members * spec->layers[layer].out_c : 0;
  float *batch_features = per_image ? g_new (float, vb * per_image) : NULL;
  CxrNet *nets[CXR_MAX_MEMBERS] = { NULL };
  gboolean ok = FALSE;

  if (!input) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "cannot allocate a batch of %d images", vb);
    goto out;
  }
  if (features && !per_image) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "the network has no pooled features");
    goto out;
  }
  for (int k = 0; k < n_members; k++) {
    nets[k] = cxr_net_new_inference (spec, params + k * spec->n_floats, vb,
        CXR_PRECISION_FP32, error);
    if (!nets[k])
      goto out;
  }
  for (int b = 0; b < n; b += vb) {
    int count = MIN (vb, n - b);

    for (int j = 0; j < count; j++) {
      cxr_dataset_get (ds, idx ? idx[b + j] : b + j, input + j * px);
      cxr_normalize (input + j * px, ds->side, ds->side, &model->norm);
    }
    /* the last batch is padded with zeros; their logits are ignored */
    memset (input + count * px, 0, (vb - count) * px * sizeof (float));
    /* the model's own members take their offsets; others (one network
     * being trained) see the film as it is */
    if (!(params == model->params && n_members == model->n_members ?
            cxr_model_forward (model, nets, n_members, input, logits, error) :
            cxr_net_forward_mean (nets, n_members, input, logits, error)))
      goto out;
    memcpy (out + (size_t) b * spec->n_outputs, logits,
        (size_t) count * spec->n_outputs * sizeof (float));
    if (features) {
      if (!cxr_model_features (model, nets, n_members, batch_features, error))
        goto out;
      memcpy (features + (size_t) b * per_image, batch_features,
          count * per_image * sizeof (float));
    }
  }
  ok = TRUE;
out:
  for (int k = 0; k < n_members; k++)
    cxr_net_free (nets[k]);
  g_free (input);
  g_free (logits);
  g_free (batch_features);
  return ok;
}

gboolean
cxr_dataset_logits (const CxrModel *model, const CxrDataset *ds,
    const int *idx, int n, float *logits, GError **error)
{
  return forward_images (model, model->params, model->n_members, ds, idx, n,
      logits, NULL, error);
}

gboolean
cxr_fit_feature_stats (CxrModel *model, const CxrDataset *ds,
    const int *fit_idx, int n_fit, const int *threshold_idx, int n_threshold,
    double quantile, GError **error)
{
  int layer = cxr_model_feature_layer (model);
  int dim = layer >= 0 ? model->spec->layers[layer].out_c : 0;
  int n_out = model->spec->n_outputs;
  size_t per_image = (size_t) model->n_members * dim;
  CxrFeatureStats *stats = NULL;
  float *features = NULL, *logits = NULL, *scores = NULL;
  gboolean ok = FALSE;
  int n_scored = n_threshold > 0 ? n_threshold : n_fit;
  const int *scored = n_threshold > 0 ? threshold_idx : fit_idx;

  if (layer < 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "the network has no global-average-pool layer to take features from");
    return FALSE;
  }
  features = g_try_new (float, (gsize) MAX (n_fit, n_scored) * per_image);
  logits = g_new (float, (gsize) MAX (n_fit, n_scored) * n_out);
  if (!features) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "cannot hold the features of %d images", MAX (n_fit, n_scored));
    goto out;
  }
  if (!forward_images (model, model->params, model->n_members, ds, fit_idx,
          n_fit, logits, features, error))
    goto out;
  stats = cxr_feature_stats_fit (features, n_fit, model->n_members, dim,
      error);
  if (!stats)
    goto out;
  if (scored != fit_idx && !forward_images (model, model->params,
          model->n_members, ds, scored, n_scored, logits, features, error))
    goto out;
  scores = g_new (float, n_scored);
  for (int i = 0; i < n_scored; i++)
    scores[i] = cxr_feature_score (stats, features + i * per_image);
  /* through the checks a file's statistics get, so what is saved loads */
  CxrFeatureStats *checked = cxr_feature_stats_new (stats->n_members, dim,
      stats->mean, stats->precision,
      cxr_score_quantile (scores, n_scored, quantile), error);
  if (!checked)
    goto out;
  cxr_feature_stats_free (model->ood);
  model->ood = checked;
  ok = TRUE;
out:
  cxr_feature_stats_free (stats);
  g_free (features);
  g_free (logits);
  g_free (scores);
  return ok;
}

/* Scores the validation images with n_members networks (params: one after
 * the other; their logits averaged, as cxrclassify does), in fp32, no
 * augmentation. The threshold is chosen on these same images, so the
 * figures at the threshold are a little optimistic; AUC does not depend on
 * it. */
static gboolean
validate (const CxrModel *model, const float *params, int n_members,
    const CxrDataset *ds, const int *idx, int n, const CxrTrainConfig *cfg,
    float *scores, guint8 *truth, Validation *v, GError **error)
{
  const CxrNetSpec *spec = model->spec;
  int n_out = spec->n_outputs, last = spec->n_classes - 1;
  CxrConfusion at_half, at_threshold;
  CxrBinaryMetrics m;
  float probabilities[CXR_MAX_CLASSES];
  double loss = 0.0;
  /* n x n_out; scores, truth: n (probability of the last class; is it the
   * last class) */
  float *logits = g_new (float, (size_t) n * n_out);

  if (!forward_images (model, params, n_members, ds, idx, n, logits, NULL,
          error)) {
    g_free (logits);
    return FALSE;
  }
  cxr_confusion_init (&at_half, spec->n_classes);
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t) i * n_out;
    int label = ds->labels[idx[i]];

    cxr_model_probabilities (model, z, probabilities);
    scores[i] = probabilities[last];
    truth[i] = label == last;
    loss += cxr_cross_entropy (spec, z, label);
    cxr_confusion_add (&at_half, label, cxr_predicted_class (spec, z));
  }
  g_free (logits);

  cxr_confusion_metrics (&at_half, &m);
  v->loss = loss / n;
  v->accuracy = m.accuracy;
  v->auc = cxr_roc_auc (scores, truth, n);
  v->threshold = cfg->threshold_method == CXR_THRESHOLD_SENSITIVITY ?
      cxr_threshold_for_sensitivity (scores, truth, n, cfg->target_sensitivity)
      : cxr_threshold_youden_within (scores, truth, n,
      cfg->threshold_tolerance, NULL);
  v->threshold_best_j = cxr_threshold_youden_within (scores, truth, n, 0.0,
      NULL);

  /* last class against the rest at the chosen threshold */
  cxr_confusion_init (&at_threshold, 2);
  for (int i = 0; i < n; i++)
    cxr_confusion_add (&at_threshold, truth[i], scores[i] >= v->threshold);
  cxr_confusion_metrics (&at_threshold, &m);
  /* with more than two classes the threshold is not how classes are told
   * apart; argmax is */
  v->accuracy_at_threshold = spec->n_classes == 2 ? m.accuracy : v->accuracy;
  v->sensitivity = m.recall;
  v->specificity = m.specificity;
  return TRUE;
}

/* better by validation loss: it rewards calibrated probabilities as well
 * as ranking, while AUC saturates near 1 and moves between epochs by less
 * than one image's worth, which made the pick (and the threshold chosen
 * with it) a coin toss; ties by AUC */
static gboolean
is_better (const Validation *v, const Validation *best)
{
  if (v->loss != best->loss)
    return v->loss < best->loss;
  return !isnan (v->auc) && (isnan (best->auc) || v->auc > best->auc);
}

static void
set_provenance (CxrModel *model, const char *key, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
set_provenance (CxrModel *model, const char *key, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_hash_table_replace (model->provenance, g_strdup (key),
      g_strdup_vprintf (format, args));
  va_end (args);
}

/* numbers in the C locale, whatever locale the program runs in */
static const char *
number (char *buf, double x)
{
  return g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, "%.6g", x);
}

/* what a run knows about itself, for the model's provenance */
typedef struct {
  const CxrTrainConfig *cfg;
  int members, member;          /* in the ensemble; the last one started */
  int epochs_run[CXR_MAX_MEMBERS], best_epoch[CXR_MAX_MEMBERS];  /* each */
  int valid_members;            /* leading members with usable weights */
  gboolean ensemble_validated;
  int n_train, n_val, batch;
  Validation best;
  CxrPrecision precision;
  GTimer *timer;
  char *fingerprint;
} Run;

static void
write_provenance (CxrModel *model, const Run *run)
{
  static const char *val_keys[] = { "val_auc", "val_accuracy",
    "val_sensitivity", "val_specificity", "val_threshold_best_j", NULL
  };
  const CxrTrainConfig *cfg = run->cfg;
  const CxrAugmentParams *a = &cfg->augment;
  char b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE],
      b3[G_ASCII_DTOSTR_BUF_SIZE], b4[G_ASCII_DTOSTR_BUF_SIZE];
  GString *epochs = g_string_new (NULL), *bests = g_string_new (NULL);

  /* one figure per member, in member order: a plain number for one */
  for (int k = 0; k < model->n_members; k++) {
    g_string_append_printf (epochs, "%s%d", k ? "," : "", run->epochs_run[k]);
    g_string_append_printf (bests, "%s%d", k ? "," : "", run->best_epoch[k]);
  }
  set_provenance (model, "epochs_run", "%s", epochs->str);
  set_provenance (model, "best_epoch", "%s", bests->str);
  g_string_free (epochs, TRUE);
  g_string_free (bests, TRUE);
  set_provenance (model, "seed", "%" G_GUINT64_FORMAT, cfg->seed);
  set_provenance (model, "train_images", "%d", run->n_train);
  set_provenance (model, "val_images", "%d", run->n_val);
  if (run->n_val > 0 && (run->best_epoch[run->member] > 0
          || run->ensemble_validated)) {
    set_provenance (model, "val_auc", "%s", number (b1, run->best.auc));
    /* at the model's threshold, which is how it will be used */
    set_provenance (model, "val_accuracy", "%s",
        number (b1, run->best.accuracy_at_threshold));
    set_provenance (model, "val_sensitivity", "%s",
        number (b1, run->best.sensitivity));
    set_provenance (model, "val_specificity", "%s",
        number (b1, run->best.specificity));
    /* for comparing threshold rules without training again */
    set_provenance (model, "val_threshold_best_j", "%s",
        number (b1, run->best.threshold_best_j));
  } else {
    /* a resumed model's old figures would describe other weights */
    for (int i = 0; val_keys[i]; i++)
      g_hash_table_remove (model->provenance, val_keys[i]);
  }
  if (cfg->threshold_method == CXR_THRESHOLD_SENSITIVITY)
    set_provenance (model, "threshold_method", "sensitivity:%s",
        number (b1, cfg->target_sensitivity));
  else if (cfg->threshold_tolerance > 0)
    set_provenance (model, "threshold_method", "youden-within:%s",
        number (b1, cfg->threshold_tolerance));
  else
    set_provenance (model, "threshold_method", "youden");
  set_provenance (model, "learning_rate", "%s",
      number (b1, cfg->learning_rate));
  set_provenance (model, "batch_size", "%d", run->batch);
  set_provenance (model, "augment", "rotation=%s shift=%s zoom=%s aspect=%s",
      number (b1, a->rotation_deg), number (b2, a->shift_frac),
      number (b3, a->zoom_frac), number (b4, a->aspect));
  if (a->gamma_frac > 0 || a->contrast_frac > 0 || a->brightness > 0)
    set_provenance (model, "augment_intensity", "gamma=%s contrast=%s "
        "brightness=%s", number (b1, a->gamma_frac),
        number (b2, a->contrast_frac), number (b3, a->brightness));
  else
    g_hash_table_remove (model->provenance, "augment_intensity");
  if (a->sharpness > 0)
    set_provenance (model, "augment_sharpness", "%s",
        number (b1, a->sharpness));
  else
    g_hash_table_remove (model->provenance, "augment_sharpness");
  if (cfg->label_smoothing > 0)
    set_provenance (model, "label_smoothing", "%s",
        number (b1, cfg->label_smoothing));
  else
    g_hash_table_remove (model->provenance, "label_smoothing");
  set_provenance (model, "class_weighting", "%s",
      cfg->class_weighting == CXR_CLASS_WEIGHTING_BALANCED ? "balanced" :
      "none");
  set_provenance (model, "precision", "%s",
      cxr_precision_name (run->precision));
  set_provenance (model, "train_seconds", "%s",
      number (b1, g_timer_elapsed (run->timer, NULL)));
  set_provenance (model, "software", "%s", CXR_SOFTWARE);
  set_provenance (model, "data_fingerprint", "%s", run->fingerprint);
}

/* ----------------------------------------------------------------------------
 * the loop */

/* after divergence or a failure: the best weights so far (or those the
 * member came with), so that the model is still usable */
static void
restore_best (CxrModel *model, const float *best, const Run *run)
{
  memcpy (cxr_model_member (model, run->member), best,
      model->spec->n_floats * sizeof (float));
  if (run->best_epoch[run->member] > 0)
    model->threshold = run->best.threshold;
}

/* The ensemble as it stands once training ends or stops: the leading
 * members that hold trained (or resumed) weights, validated together for
 * the threshold and the figures. */
static void
finish_ensemble (CxrModel *model, Run *run, const CxrDataset *ds,
    const int *val_idx, float *scores, guint8 *truth)
{
  GError *error = NULL;
  Validation v;

  cxr_model_set_members (model, MAX (run->valid_members, 1));
  if (run->n_val == 0) {
    model->threshold = 0.5f;
    return;
  }
  if (validate (model, model->params, model->n_members, ds, val_idx,
          run->n_val, run->cfg, scores, truth, &v, &error)) {
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
fit_ood (CxrModel *model, const Run *run, const CxrDataset *ds,
    const int *train_idx, const int *val_idx)
{
  GError *error = NULL;
  char b[G_ASCII_DTOSTR_BUF_SIZE];

  if (cxr_fit_feature_stats (model, ds, train_idx, run->n_train, val_idx,
          run->n_val, run->cfg->ood_quantile, &error))
    set_provenance (model, "ood_fit", "%d training images, threshold the "
        "%s quantile of %d %s images' scores", run->n_train,
        number (b, run->cfg->ood_quantile), run->n_val ? run->n_val :
        run->n_train, run->n_val ? "validation" : "training");
  else {
    /* statistics the model came with describe other weights */
    cxr_feature_stats_free (model->ood);
    model->ood = NULL;
    set_provenance (model, "ood_fit", "none: %s", error->message);
    g_clear_error (&error);
  }
}

/* member k's streams; member 0's are the seed's own, so that a single
 * network trains exactly as it always has */
static uint64_t
member_seed (uint64_t seed, int k)
{
  return k == 0 ? seed : stream_seed (seed, STREAM_MEMBER, k);
}

gboolean
cxr_train (CxrModel *model, const CxrDataset *ds, const CxrTrainConfig *cfg,
    const CxrTrainCallbacks *cb, void *user, GError **error)
{
  static const CxrTrainCallbacks no_callbacks = { 0 };
  const CxrNetSpec *spec;
  CxrTrainConfig defaults;
  Run run = { 0 };
  int *train_idx = NULL, *val_idx = NULL;
  int batch, steps_per_epoch, n_out, step_interval, since_best = 0;
  int members = 1;
  int64_t total_steps, warmup, global_step = 0, done_steps = 0;
  size_t px, n_params;
  float class_weight[CXR_MAX_CLASSES];
  float *block = NULL, *input, *scratch, *weights, *logits, *grads, *best;
  float *scores, *ckpt = NULL;
  int *order = NULL, *labels = NULL;
  guint8 *truth = NULL;
  CxrNet *net = NULL;
  CxrOptimizer *opt = NULL;
  CxrModel *calibrated = NULL;  /* the model as it came, if calibrated */
  gboolean ok = FALSE, stop = FALSE, stop_member = FALSE;

  g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
  if (!cfg) {
    cxr_train_config_init (&defaults);
    cfg = &defaults;
  }
  if (!cb)
    cb = &no_callbacks;
  step_interval = cb->step_interval > 0 ? cb->step_interval : 10;
  spec = model->spec;
  px = (size_t) ds->side * ds->side;
  n_out = spec->n_outputs;
  n_params = spec->n_floats;

  /* what cannot work is refused before any weight moves */
  if (spec->in_c != 1 || spec->in_h != ds->side || spec->in_w != ds->side) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the images are cached at 1x%dx%d but the model takes %dx%dx%d",
        ds->side, ds->side, spec->in_c, spec->in_h, spec->in_w);
    return FALSE;
  }
  if (cfg->epochs < 1 || cfg->batch_size < 1 || !(cfg->learning_rate > 0.0f)
      || cfg->members < 1 || cfg->members > CXR_MAX_MEMBERS
      || !(cfg->threshold_tolerance >= 0.0 && cfg->threshold_tolerance < 1.0)
      || !(cfg->validation_fraction >= 0.0 && cfg->validation_fraction < 1.0)
      || !(cfg->ood_quantile >= 0.0 && cfg->ood_quantile <= 1.0)
      || (cfg->anchor && cfg->members > model->n_members)
      || !isfinite (model->norm.mean) || !isfinite (model->norm.std)
      || model->norm.std == 0.0f) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "training needs epochs >= 1, batch size >= 1, a learning rate > 0, "
        "a validation fraction in [0, 1), 1 to %d members (with anchor "
        "weights, no more than the model has), a threshold tolerance in "
        "[0, 1), an out-of-distribution quantile in [0, 1] and a usable "
        "normalisation", CXR_MAX_MEMBERS);
    return FALSE;
  }
  for (int i = 0; i < ds->n; i++)
    if (ds->labels[i] >= spec->n_classes) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "image %d has class %d but the model has %d classes", i,
          ds->labels[i], spec->n_classes);
      return FALSE;
    }

  /* a site's logit calibration fitted the old weights; training moves
   * them. Kept aside, for a run that fails before any epoch is done */
  if (model->logit_scale != 1.0f || model->logit_offset != 0.0f)
    calibrated = cxr_model_copy (model);
  cxr_model_clear_calibration (model);
  cxr_dataset_split (ds, cfg->validation_fraction, cfg->seed, &train_idx,
      &run.n_train, &val_idx, &run.n_val);
  /* batch-norm needs two images in a batch to have a variance */
  if (run.n_train < 2) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "%d training images after the validation split; at least 2 are "
        "needed", run.n_train);
    goto out;
  }
  batch = run.batch = MIN (cfg->batch_size, run.n_train);
  /* the last partial batch is dropped; the shuffle differs every epoch, so
   * every image still takes part */
  steps_per_epoch = run.n_train / batch;
  total_steps = (int64_t) cfg->epochs * steps_per_epoch;
  /* a short run still decays: warm-up takes at most half of it */
  warmup = MIN ((int64_t) cfg->warmup_epochs * steps_per_epoch,
      total_steps / 2);
  warmup = MAX (warmup, 1);

  /* balanced: each class weighs in as if the classes were equal in number,
   * counted on the training side */
  {
    int counts[CXR_MAX_CLASSES] = { 0 };
    for (int i = 0; i < run.n_train; i++)
      counts[ds->labels[train_idx[i]]]++;
    cxr_class_weights (cfg->class_weighting, counts, run.n_train,
        spec->n_classes, class_weight);
  }

  /* one allocation carved into every float buffer of the run */
  {
    size_t n_floats = 2 * batch * px + batch + batch * n_out + 2 * n_params
        + MAX (run.n_val, 1);
    block = g_try_new (float, n_floats);
    if (!block) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
          "cannot allocate %zu MB for training", n_floats * 4 >> 20);
      goto out;
    }
    input = block;              /* batch x 1 x side x side, normalised, NCHW */
    scratch = input + batch * px;       /* batch x side x side, in [0, 1] */
    weights = scratch + batch * px;     /* batch: each sample's loss weight */
    logits = weights + batch;   /* batch x n_out */
    grads = logits + batch * n_out;     /* n_params, bound to the net */
    best = grads + n_params;    /* n_params: the best (or start) weights */
    scores = best + n_params;   /* n_val: p(last class) */
  }
  order = g_new (int, run.n_train);     /* n_train: this epoch's order */
  labels = g_new (int, batch);  /* batch: class index */
  truth = g_new (guint8, MAX (run.n_val, 1));   /* n_val: is the last class */

  /* an ensemble trains its members one after the other, each as a single
   * network with its own streams, on the same split */
  members = MAX (cfg->members, model->n_members);
  run.valid_members = model->n_members;
  if (model->n_members < members) {
    int had = model->n_members;

    /* new members start afresh, each from its own seed */
    cxr_model_set_members (model, members);
    for (int k = had; k < members; k++)
      cxr_net_spec_init_params (spec, cxr_model_member (model, k),
          member_seed (cfg->seed, k));
  }
  if (members > 1)
    ckpt = g_new (float, members * n_params);
  run.cfg = cfg;
  run.members = members;
  run.fingerprint = cxr_dataset_fingerprint (ds);
  run.timer = g_timer_new ();

  for (int k = 0; k < members && !stop; k++) {
    float *params = cxr_model_member (model, k);
    uint64_t seed = member_seed (cfg->seed, k);

    run.member = k;
    net = cxr_net_new_training (spec, params, grads, batch, cfg->precision,
        error);
    if (!net)
      goto out;
    cxr_net_set_label_smoothing (net, cfg->label_smoothing);
    opt = cxr_optimizer_new (spec, cfg->optimizer, cfg->learning_rate,
        cfg->weight_decay);
    /* what a diverged run falls back to until an epoch has done better */
    memcpy (best, params, n_params * sizeof (float));
    run.precision = cxr_net_precision (net);
    run.best.threshold = 0.5f;
    since_best = 0;
    global_step = 0;
    stop_member = FALSE;

    for (int epoch = 1; epoch <= cfg->epochs && !stop && !stop_member;
        epoch++) {
      double loss_sum = 0.0;
      int64_t correct = 0, seen = 0;
      CxrEpochReport er = { 0 };
      Validation v = { .loss = NAN, .accuracy = NAN,
        .accuracy_at_threshold = NAN, .auc = NAN, .sensitivity = NAN,
        .specificity = NAN, .threshold = 0.5f
      };
      CxrRng rng;

      /* this epoch's order depends on the seed and the epoch alone */
      memcpy (order, train_idx, run.n_train * sizeof (int));
      cxr_rng_init (&rng, stream_seed (seed, STREAM_SHUFFLE, epoch));
      shuffle (order, run.n_train, &rng);

      for (int step = 0; step < steps_per_epoch && !stop; step++) {
        const int *chosen = order + step * batch;
        const char *why = NULL;
        double loss;

        /* each image's augmentation draws from its own stream (epoch,
         * image), so threads can share the batch and still agree with one
         * thread */
#pragma omp parallel for schedule(static)
        for (int j = 0; j < batch; j++) {
          CxrRng arng;
          cxr_rng_init (&arng, stream_seed (seed, STREAM_AUGMENT,
                  ((uint64_t) epoch << 32) | (uint32_t) chosen[j]));
          cxr_training_input (ds, chosen[j], &cfg->augment, &model->norm,
              &arng, scratch + j * px, input + j * px);
        }
        for (int j = 0; j < batch; j++) {
          labels[j] = ds->labels[chosen[j]];
          weights[j] = class_weight[labels[j]];
        }

        opt->learning_rate = learning_rate_at (cfg, global_step, total_steps,
            warmup);
        loss = cxr_train_step (net, opt, params, grads, input, labels,
            weights, stream_seed (seed, STREAM_DROPOUT, global_step),
            cfg->anchor ? cfg->anchor + k * n_params : NULL,
            cfg->anchor_strength, logits, &why, error);
        if (!isfinite (loss)) {
          restore_best (model, best, &run);
          if (why)
            g_set_error (error, CXR_ERROR, CXR_ERROR_DIVERGED,
                "training diverged at epoch %d step %d%s (%s); the last good "
                "model is kept. Lower the learning rate", epoch, step + 1,
                members > 1 ? " of an ensemble member" : "", why);
          goto out;
        }
        global_step++;
        done_steps++;

        loss_sum += loss;
        for (int j = 0; j < batch; j++)
          correct += cxr_predicted_class (spec, logits + j * n_out)
              == labels[j];
        seen += batch;

        if (cb->on_step && ((step + 1) % step_interval == 0
                || step + 1 == steps_per_epoch)) {
          double elapsed = g_timer_elapsed (run.timer, NULL);
          CxrStepReport sr = {
            .epoch = epoch,.epochs = cfg->epochs,
            .step = step + 1,.steps_per_epoch = steps_per_epoch,
            .loss = loss_sum / (step + 1),
            .accuracy = (double) correct / seen,
            .learning_rate = opt->learning_rate,
            .member = run.member + 1,.members = members,
            .images_per_second = done_steps * batch / MAX (elapsed, 1e-9),
            .eta_seconds = elapsed / done_steps
                * (members * total_steps - done_steps),
          };
          stop = !cb->on_step (&sr, user);
        }
      }
      if (seen < (int64_t) steps_per_epoch * batch)
        break;                  /* stopped mid-epoch: nothing to validate */
      run.epochs_run[run.member] = epoch;

      if (run.n_val > 0) {
        if (!validate (model, params, 1, ds, val_idx, run.n_val, cfg,
                scores, truth, &v, error)) {
          restore_best (model, best, &run);
          goto out;
        }
        er.is_best = run.best_epoch[run.member] == 0
            || is_better (&v, &run.best);
      } else
        er.is_best = TRUE;      /* without validation, the last is the best */

      if (er.is_best) {
        memcpy (best, params, n_params * sizeof (float));
        run.best = v;
        run.best_epoch[run.member] = epoch;
        run.valid_members = MAX (run.valid_members, run.member + 1);
        since_best = 0;
      } else
        since_best++;

      er.epoch = epoch;
      er.epochs = cfg->epochs;
      er.member = run.member + 1;
      er.members = members;
      er.train_loss = loss_sum / steps_per_epoch;
      er.train_accuracy = (double) correct / seen;
      er.n_val = run.n_val;
      er.val_loss = v.loss;
      er.val_accuracy = v.accuracy;
      er.val_accuracy_at_threshold = v.accuracy_at_threshold;
      er.val_auc = v.auc;
      er.val_sensitivity = v.sensitivity;
      er.val_specificity = v.specificity;
      er.threshold = v.threshold;
      er.elapsed_seconds = g_timer_elapsed (run.timer, NULL);
      if (cb->on_epoch && !cb->on_epoch (&er, user))
        stop = TRUE;

      if (cb->on_checkpoint) {
        /* a view of the model with the best weights; it shares the spec,
         * classes and provenance table, brought up to date first. In an
         * ensemble: the members done and this one's best so far, with this
         * one's threshold */
        CxrModel view = *model;
        write_provenance (model, &run);
        view.params = best;
        if (members > 1) {
          memcpy (ckpt, model->params, run.member * n_params * sizeof (float));
          memcpy (ckpt + run.member * n_params, best,
              n_params * sizeof (float));
          view.params = ckpt;
          view.n_members = run.member + 1;
        }
        view.threshold = run.best.threshold;
        cxr_model_update_id (&view);
        cb->on_checkpoint (&view, user);
      }

      if (cfg->patience > 0 && run.n_val > 0 && since_best >= cfg->patience)
        stop_member = TRUE;     /* early stopping; the next member starts */
    }

    /* with validation the best epoch's weights (those the member came with
     * if no epoch finished); without, the last ones, even from mid-epoch */
    if (run.n_val > 0)
      restore_best (model, best, &run);
    else
      model->threshold = 0.5f;
    cxr_net_free (net);
    net = NULL;
    cxr_optimizer_free (opt);
    opt = NULL;
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
  if (members > 1 && run.timer)
    finish_ensemble (model, &run, ds, val_idx, scores,
        truth);
  if (ok && cfg->ood_quantile > 0.0)
    fit_ood (model, &run, ds, train_idx, val_idx);
  if (run.timer) {
    cxr_model_update_id (model);
    write_provenance (model, &run);
    g_timer_destroy (run.timer);
  }
  g_free (run.fingerprint);
  cxr_optimizer_free (opt);
  if (net)
    cxr_net_free (net);
  g_free (truth);
  g_free (labels);
  g_free (order);
  g_free (ckpt);
  g_free (block);
  g_free (train_idx);
  g_free (val_idx);
  return ok;
}
