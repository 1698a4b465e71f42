/* evaluate.c — the model over cached films: logits, pooled features,
 * validation figures (see evaluate.h). */
#include "evaluate.h"
#include "ensemble.h"
#include "answer.h"
#include "error.h"
#include "loss.h"
#include "dist.h"

#include <math.h>
#include <string.h>

#define VAL_BATCH 64            /* inference batch */

/* the batch n films are run in: VAL_BATCH, fewer for fewer films */
static int
batch_of (int n)
{
  return MAX (MIN (VAL_BATCH, n), 1);
}

/* The averaged logits (films->n x n_outputs) of the films under the
 * weights' networks, in fp32, normalised as the model says, no
 * augmentation. features (may be NULL): each film's pooled features,
 * n x n_members x dim. Batches [first, last) of VAL_BATCH films. */
static gboolean
forward_batches (const CxrWeights *w, const CxrSelection *films,
    int first, int last, float *out, float *features, GError **error)
{
  const CxrModel *model = w->model;
  const float *params = w->params;
  int n_members = w->n_members, n = films->n;
  const CxrDataset *ds = films->ds;
  const int *idx = films->idx;
  const CxrNetSpec *spec = model->spec;
  size_t px = (size_t) ds->side * ds->side;
  int vb = batch_of (n);
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
  for (int b = first * vb; b < MIN (last * vb, n); b += vb) {
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

/* The films' logits (and features) as forward_batches gives them, the
 * batches shared among the processes of the run and gathered, so that
 * every process holds what one process alone would have computed. */
static gboolean
forward_films (const CxrWeights *w, const CxrSelection *films, float *out,
    float *features, GError **error)
{
  int vb = batch_of (films->n), n_out = w->model->spec->n_outputs;
  int layer = cxr_model_feature_layer (w->model);
  size_t batches = (films->n + vb - 1) / vb, lo, hi, from, to, per_image;
  void *all;

  if (cxr_dist_size () == 1)
    return forward_batches (w, films, 0, (int) batches, out, features, error);
  cxr_dist_part (batches, cxr_dist_rank (), cxr_dist_size (), &lo, &hi);
  if (!forward_batches (w, films, (int) lo, (int) hi, out, features, error))
    return FALSE;
  from = MIN (lo * vb, (size_t) films->n);
  to = MIN (hi * vb, (size_t) films->n);
  all = cxr_dist_gather (out + from * n_out, (to - from) * n_out
      * sizeof (float), NULL);
  memcpy (out, all, (size_t) films->n * n_out * sizeof (float));
  g_free (all);
  if (features && layer >= 0) {
    per_image = (size_t) w->n_members * w->model->spec->layers[layer].out_c;
    all = cxr_dist_gather (features + from * per_image, (to - from)
        * per_image * sizeof (float), NULL);
    memcpy (features, all, (size_t) films->n * per_image * sizeof (float));
    g_free (all);
  }
  return TRUE;
}

gboolean
cxr_dataset_logits (const CxrModel *model, const CxrDataset *ds,
    const int *idx, int n, float *logits, GError **error)
{
  CxrWeights w = { model, model->params, model->n_members };
  CxrSelection films = { ds, idx, n };

  return forward_films (&w, &films, logits, NULL, error);
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
  CxrWeights w = { model, model->params, model->n_members };
  CxrSelection fit = { ds, fit_idx, n_fit }, score = { ds, scored, n_scored };

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
  if (!forward_films (&w, &fit, logits, features, error))
    goto out;
  stats = cxr_feature_stats_fit (features, n_fit, model->n_members, dim,
      error);
  if (!stats)
    goto out;
  if (scored != fit_idx && !forward_films (&w, &score, logits, features,
          error))
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

gboolean
cxr_validate (const CxrWeights *w, const CxrSelection *films,
    const CxrTrainConfig *cfg, CxrValidation *v, GError **error)
{
  const CxrModel *model = w->model;
  const CxrNetSpec *spec = model->spec;
  const CxrDataset *ds = films->ds;
  int n = films->n, n_out = spec->n_outputs, last = spec->n_classes - 1;
  CxrConfusion at_half, at_threshold;
  CxrBinaryMetrics m;
  double loss = 0.0;
  float *logits = g_new (float, (size_t) n * n_out);    /* n x n_out */
  /* n x n_classes: each film's probabilities */
  float *probabilities = g_new (float, (size_t) MAX (n, 1) * spec->n_classes);
  float *scores = g_new (float, MAX (n, 1));    /* n: p(last class) */
  guint8 *truth = g_new (guint8, MAX (n, 1));   /* n: is the last class */

  if (!forward_films (w, films, logits, NULL, error)) {
    g_free (logits);
    g_free (probabilities);
    g_free (scores);
    g_free (truth);
    return FALSE;
  }
  cxr_confusion_init (&at_half, spec->n_classes);
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t) i * n_out;
    float *p = probabilities + (size_t) i * spec->n_classes;
    int label = ds->labels[films->idx[i]];

    cxr_model_probabilities (model, z, p);
    scores[i] = p[last];
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

  /* last class against the rest, decided at the chosen threshold as
   * cxrclassify decides */
  cxr_confusion_init (&at_threshold, 2);
  for (int i = 0; i < n; i++)
    cxr_confusion_add (&at_threshold, truth[i], cxr_decide (model,
            probabilities + (size_t) i * spec->n_classes, v->threshold)
        == last);
  cxr_confusion_metrics (&at_threshold, &m);
  /* with more than two classes the threshold is not how classes are told
   * apart; argmax is */
  v->accuracy_at_threshold = spec->n_classes == 2 ? m.accuracy : v->accuracy;
  v->sensitivity = m.recall;
  v->specificity = m.specificity;
  g_free (probabilities);
  g_free (scores);
  g_free (truth);
  return TRUE;
}

gboolean
cxr_validation_is_better (const CxrValidation *v, const CxrValidation *best)
{
  if (v->loss != best->loss)
    return v->loss < best->loss;
  return !isnan (v->auc) && (isnan (best->auc) || v->auc > best->auc);
}
