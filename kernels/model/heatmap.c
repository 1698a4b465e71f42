/* heatmap.c — Grad-CAM, and CAM as its special case (see heatmap.h). */
#include "heatmap.h"
#include "error.h"

#include <string.h>

static gboolean
has_grid (const CxrLayer *l)
{
  return (l->type == CXR_LAYER_CONV || l->type == CXR_LAYER_MAXPOOL
      || l->type == CXR_LAYER_AVGPOOL) && l->out_h * l->out_w > 1;
}

int
cxr_heatmap_layer (const CxrNetSpec *spec)
{
  int k = spec->n_layers - 1;

  while (k >= 0 && !has_grid (&spec->layers[k]))
    k--;
  if (k < 0)
    return -1;
  for (int j = k + 1; j < spec->n_layers; j++) {
    CxrLayerType t = spec->layers[j].type;
    if (t != CXR_LAYER_DENSE && t != CXR_LAYER_DROPOUT
        && t != CXR_LAYER_FLATTEN && t != CXR_LAYER_GAP)
      return -1;
  }
  return k;
}

static const float *
weight_of (const CxrNetSpec *spec, const float *params, int layer)
{
  const CxrLayer *l = &spec->layers[layer];

  for (int i = l->first_param; i < l->first_param + l->n_params; i++)
    if (spec->params[i].kind == CXR_PARAM_WEIGHT)
      return params + spec->params[i].offset;
  return NULL;
}

static size_t
output_size (const CxrLayer *l)
{
  return (size_t) l->out_c * l->out_h * l->out_w;
}

/* The gradient of the positive logit with respect to the feature layer's
 * output (its out_c x out_h x out_w values), back through the head. */
static float *
head_gradient (CxrNet *net, const float *params, int feature,
    GError **error)
{
  const CxrNetSpec *spec = cxr_net_spec (net);
  const CxrLayer *last = &spec->layers[spec->n_layers - 1];
  float *g = g_new0 (float, output_size (last));

  g[spec->n_outputs - 1] = 1.0f;
  for (int k = spec->n_layers - 1; k > feature; k--) {
    const CxrLayer *l = &spec->layers[k];
    size_t n_in = (size_t) l->in_c * l->in_h * l->in_w, n_out =
        output_size (l);
    float *in = NULL;

    if (l->type == CXR_LAYER_DENSE) {
      const float *w = weight_of (spec, params, k);
      if (l->relu) {
        /* the ReLU's gradient: 1 where the output is positive */
        float *out = g_new (float, n_out);
        if (!cxr_net_layer_output (net, k, out, error)) {
          g_free (out);
          g_free (g);
          return NULL;
        }
        for (size_t i = 0; i < n_out; i++)
          if (out[i] <= 0.0f)
            g[i] = 0.0f;
        g_free (out);
      }
      in = g_new0 (float, n_in);
      for (size_t i = 0; i < n_out; i++)
        for (size_t j = 0; g[i] != 0.0f && j < n_in; j++)
          in[j] += w[i * n_in + j] * g[i];
    } else if (l->type == CXR_LAYER_GAP) {
      size_t places = (size_t) l->in_h * l->in_w;
      in = g_new (float, n_in);
      for (size_t c = 0; c < (size_t) l->in_c; c++)
        for (size_t p = 0; p < places; p++)
          in[c * places + p] = g[c] / places;
    }
    /* dropout and flatten pass the gradient as it is */
    if (in) {
      g_free (g);
      g = in;
    }
  }
  return g;
}

void
cxr_heatmap_unit (float *map, size_t n)
{
  float top = 0.0f;

  for (size_t p = 0; p < n; p++) {
    map[p] = map[p] > 0.0f ? map[p] : 0.0f;
    top = map[p] > top ? map[p] : top;
  }
  for (size_t p = 0; top > 0.0f && p < n; p++)
    map[p] /= top;
}

gboolean
cxr_heatmap (CxrNet *net, const float *params, float *map, GError **error)
{
  const CxrNetSpec *spec = cxr_net_spec (net);
  int feature = cxr_heatmap_layer (spec);

  if (!cxr_heatmap_raw (net, params, map, error))
    return FALSE;
  cxr_heatmap_unit (map, (size_t) spec->layers[feature].out_h
      * spec->layers[feature].out_w);
  return TRUE;
}

gboolean
cxr_heatmap_raw (CxrNet *net, const float *params, float *map,
    GError **error)
{
  const CxrNetSpec *spec = cxr_net_spec (net);
  int feature = cxr_heatmap_layer (spec);
  const CxrLayer *f;
  size_t places;
  float *a, *g;

  if (feature < 0 || cxr_net_batch (net) != 1
      || cxr_net_precision (net) != CXR_PRECISION_FP32) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED, feature < 0 ?
        "the network's head has no feature grid a heatmap can be taken at" :
        "heatmaps are computed by an fp32 network at batch 1");
    return FALSE;
  }
  f = &spec->layers[feature];
  places = (size_t) f->out_h * f->out_w;
  a = g_new (float, output_size (f));
  if (!cxr_net_layer_output (net, feature, a, error)
      || !(g = head_gradient (net, params, feature, error))) {
    g_free (a);
    return FALSE;
  }
  memset (map, 0, places * sizeof (float));
  for (size_t c = 0; c < (size_t) f->out_c; c++) {
    double alpha = 0.0;
    for (size_t p = 0; p < places; p++)
      alpha += g[c * places + p];
    alpha /= places;
    for (size_t p = 0; p < places; p++)
      map[p] += (float) (alpha * a[c * places + p]);
  }
  g_free (a);
  g_free (g);
  return TRUE;
}
