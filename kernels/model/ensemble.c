/* ensemble.c — the model's networks run as one: the mean logits of its
 * members, each seeing the film at its own offset; the heatmap; the pooled
 * features; the probabilities (see ensemble.h). */
#include "ensemble.h"
#include "augment.h"
#include "error.h"
#include "heatmap.h"

#include <math.h>
#include <omp.h>
#include <string.h>

void
cxr_model_probabilities (const CxrModel *m, const float *logits,
    float *probabilities)
{
  int n = m->spec->n_outputs;
  float *z = g_newa (float, n);

  for (int j = 0; j < n; j++)
    z[j] = m->logit_scale * logits[j];
  if (m->spec->output == CXR_OUTPUT_SIGMOID)
    z[0] += m->logit_offset;
  cxr_logits_to_probabilities (m->spec, z, probabilities);
}

/* member k's logits into its place in z (its input moved by its offset
 * into its place in moved, when the model has offsets); the error, or NULL */
static GError *
member_forward (const CxrModel *m, CxrNet *net, int k, const float *input,
    float *moved, float *z)
{
  const CxrNetSpec *spec = m->spec;
  int batch = cxr_net_batch (net), w = spec->in_w, h = spec->in_h;
  size_t px = (size_t) spec->in_c * w * h;
  float *in = moved + (size_t) k * batch * px;
  GError *error = NULL;

  if (cxr_model_has_member_offsets (m))
    for (size_t i = 0; i < (size_t) batch * spec->in_c; i++)
      cxr_shift (input + i * w * h, in + i * w * h, w, h,
          m->member_offset[k][0], m->member_offset[k][1]);
  else
    in = NULL;
  cxr_net_forward (net, in ? in : input,
      z + (size_t) k * batch * spec->n_outputs, 0, &error);
  return error;
}

gboolean
cxr_model_forward (const CxrModel *m, CxrNet *const *nets, int n,
    const float *input, float *logits, GError **error)
{
  const CxrNetSpec *spec = m->spec;
  int batch = cxr_net_batch (nets[0]), w = spec->in_w, h = spec->in_h;
  size_t px = (size_t) spec->in_c * w * h, n_out = spec->n_outputs;
  float *moved, *z;
  gboolean ok = TRUE;

  /* side by side at batch 1 only: larger batches share all threads well */
  int teams = batch == 1 ? MIN (n, omp_get_max_threads ()) : 1;
  gboolean offsets = cxr_model_has_member_offsets (m);
  GError *errors[CXR_MAX_MEMBERS] = { NULL };

  g_return_val_if_fail (n >= 1 && n <= CXR_MAX_MEMBERS, FALSE);
  moved = g_new (float, offsets ? (size_t) n * batch * px : 1);
  z = g_new (float, (size_t) n * batch * n_out);
  /* the members side by side, each on a thread of its own (oneDNN runs a
   * primitive on one thread inside a parallel region): at batch 1 a
   * network's primitives are too small to share well between threads
   * (and wait on whatever else runs, a decoder, at each of them).
   * One member, or one thread: no parallel region at all (inside even an
   * inactive one oneDNN runs far slower) */
  if (teams > 1) {
#pragma omp parallel for num_threads (teams) schedule (static)
    for (int k = 0; k < n; k++)
      errors[k] = member_forward (m, nets[k], k, input, moved, z);
  } else {
    for (int k = 0; k < n; k++)
      errors[k] = member_forward (m, nets[k], k, input, moved, z);
  }
  /* the mean in member order, whatever thread ran which */
  memset (logits, 0, batch * n_out * sizeof (float));
  for (int k = 0; k < n; k++) {
    if (errors[k] && ok) {
      g_propagate_error (error, errors[k]);
      ok = FALSE;
    } else
      g_clear_error (&errors[k]);
    /* as the members were always averaged: with offsets each member's
     * share added, without them the sum divided at the end */
    for (size_t i = 0; i < batch * n_out; i++)
      logits[i] += offsets ? z[(size_t) k * batch * n_out + i] / n
          : z[(size_t) k * batch * n_out + i];
  }
  for (size_t i = 0; !offsets && i < batch * n_out; i++)
    logits[i] /= n;
  g_free (moved);
  g_free (z);
  return ok;
}

gboolean
cxr_model_heatmap (const CxrModel *m, CxrNet *const *nets, int n,
    const float *input, int refine, float *map, GError **error)
{
  const CxrNetSpec *spec = m->spec;
  int layer = cxr_heatmap_layer (spec), w = spec->in_w, h = spec->in_h;
  int gw, gh, fw;
  size_t px = (size_t) spec->in_c * w * h, fine;
  float *moved, *one, *member, *logits;
  gboolean ok = TRUE;

  if (layer < 0 || refine < 1) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED, layer < 0 ?
        "the network's head has no feature grid a heatmap can be taken at" :
        "a heatmap is refined at least once");
    return FALSE;
  }
  gw = spec->layers[layer].out_w;
  gh = spec->layers[layer].out_h;
  fw = gw * refine;
  fine = (size_t) fw * gh * refine;
  moved = g_new (float, px);
  one = g_new (float, (size_t) gw * gh);
  member = g_new (float, fine);
  logits = g_new (float, spec->n_outputs);
  memset (map, 0, fine * sizeof (float));
  for (int k = 0; k < n && ok; k++) {
    /* refine x refine passes, the film moved by fractions of a cell
     * around its place, each filling the fine cells at its offset */
    for (int s = 0; ok && s < refine * refine; s++) {
      int sx = s % refine, sy = s / refine;
      float dx = (sx - (refine - 1) / 2.0f) * w / (float) fw;
      float dy = (sy - (refine - 1) / 2.0f) * h / (float) (gh * refine);
      for (int c = 0; c < spec->in_c; c++)
        cxr_shift (input + (size_t) c * w * h, moved + (size_t) c * w * h,
            w, h, m->member_offset[k][0] - dx, m->member_offset[k][1] - dy);
      ok = cxr_net_forward (nets[k], moved, logits, 0, error)
          && cxr_heatmap_raw (nets[k], cxr_model_member (m, k), one, error);
      for (int y = 0; ok && y < gh; y++)
        for (int x = 0; x < gw; x++)
          member[(size_t) (y * refine + sy) * fw + x * refine + sx] =
              one[y * gw + x];
    }
    if (!ok)
      break;
    /* each member's map on its own scale, then their mean */
    cxr_heatmap_unit (member, fine);
    for (size_t p = 0; ok && p < fine; p++)
      map[p] += member[p] / n;
  }
  g_free (moved);
  g_free (one);
  g_free (member);
  g_free (logits);
  return ok;
}


gboolean
cxr_model_features (const CxrModel *m, CxrNet *const *nets, int n,
    float *features, GError **error)
{
  int layer = cxr_model_feature_layer (m), batch = cxr_net_batch (nets[0]);
  int dim = layer >= 0 ? m->spec->layers[layer].out_c : 0;
  float *one;

  if (layer < 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "the network has no global-average-pool layer, so no pooled "
        "features");
    return FALSE;
  }
  one = g_new (float, (gsize) batch * dim);
  for (int k = 0; k < n; k++) {
    if (!cxr_net_layer_output (nets[k], layer, one, error)) {
      g_free (one);
      return FALSE;
    }
    for (int i = 0; i < batch; i++)
      memcpy (features + ((gsize) i * n + k) * dim, one + (gsize) i * dim,
          sizeof (float) * dim);
  }
  g_free (one);
  return TRUE;
}
