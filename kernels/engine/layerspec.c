/* layerspec.c — parse the layer spec, work out shapes and parameters. */
#include "layerspec.h"
#include "error.h"
#include "classes.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

static gboolean
parse_int (const char *s, int lo, int hi, int *out)
{
  char *end;
  long v = strtol (s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

/* Arguments of conv and pooling: a leading count, then kK sS pP same bn. */
static gboolean
parse_window_args (char **args, CxrLayer *l, gboolean is_conv)
{
  int i = 0;
  gboolean same = FALSE, stride_given = FALSE;

  if (is_conv) {
    if (!args[0] || !parse_int (args[0], 1, 65536, &l->units))
      return FALSE;
    l->kernel = 3;
    i = 1;
  } else {
    if (!args[0] || !parse_int (args[0], 1, 4096, &l->kernel))
      return FALSE;
    i = 1;
  }
  l->stride = 1;
  l->pad = 0;
  for (; args[i]; i++) {
    const char *a = args[i];
    if (is_conv && a[0] == 'k' && parse_int (a + 1, 1, 64, &l->kernel))
      continue;
    if (a[0] == 's' && parse_int (a + 1, 1, 64, &l->stride)) {
      stride_given = TRUE;
      continue;
    }
    if (a[0] == 'p' && parse_int (a + 1, 0, 64, &l->pad))
      continue;
    if (is_conv && strcmp (a, "same") == 0) {
      same = TRUE;
      continue;
    }
    if (is_conv && strcmp (a, "bn") == 0) {
      l->batch_norm = TRUE;
      continue;
    }
    return FALSE;
  }
  if (same)
    l->pad = l->kernel / 2;
  if (!is_conv && !stride_given)
    l->stride = l->kernel;
  return l->pad < l->kernel;
}

static void
add_param (CxrNetSpec *spec, int layer, CxrParamKind kind, int ndim,
    const int64_t *shape)
{
  static const char *suffix[] = { "weight", "bias", "bn_scale", "bn_shift",
    "bn_mean", "bn_var"
  };
  CxrParamInfo *p = &spec->params[spec->n_params++];

  g_snprintf (p->name, sizeof p->name, "layer%d.%s", layer, suffix[kind]);
  p->kind = kind;
  p->layer = layer;
  p->ndim = ndim;
  p->numel = 1;
  for (int d = 0; d < ndim; d++) {
    p->shape[d] = shape[d];
    p->numel *= shape[d];
  }
  p->offset = spec->n_floats;
  p->trainable = kind != CXR_PARAM_BN_MEAN && kind != CXR_PARAM_BN_VAR;
  p->decays = kind == CXR_PARAM_WEIGHT;
  /* keep every tensor 64-byte aligned inside the block */
  spec->n_floats += (p->numel + 15) / 16 * 16;
}

static void
add_layer_params (CxrNetSpec *spec, int index)
{
  CxrLayer *l = &spec->layers[index];
  int64_t f = l->units;

  l->first_param = spec->n_params;
  if (l->type == CXR_LAYER_CONV) {
    int64_t w[4] = { f, l->in_c, l->kernel, l->kernel };
    add_param (spec, index, CXR_PARAM_WEIGHT, 4, w);
    if (l->batch_norm) {
      add_param (spec, index, CXR_PARAM_BN_SCALE, 1, &f);
      add_param (spec, index, CXR_PARAM_BN_SHIFT, 1, &f);
      add_param (spec, index, CXR_PARAM_BN_MEAN, 1, &f);
      add_param (spec, index, CXR_PARAM_BN_VAR, 1, &f);
    } else {
      add_param (spec, index, CXR_PARAM_BIAS, 1, &f);
    }
  } else if (l->type == CXR_LAYER_DENSE) {
    int64_t w[2] = { f, (int64_t) l->in_c * l->in_h * l->in_w };
    add_param (spec, index, CXR_PARAM_WEIGHT, 2, w);
    add_param (spec, index, CXR_PARAM_BIAS, 1, &f);
  }
  l->n_params = spec->n_params - l->first_param;
}

static gboolean
fail (GError **error, const char *token, const char *why)
{
  g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
      "layer spec: '%s' %s", token, why);
  return FALSE;
}

/* One token into one layer (or a flag on the previous one). */
static gboolean
parse_token (CxrNetSpec *spec, const char *token, gboolean *ended, GError **error)
{
  char **parts = g_strsplit (token, ":", 2);
  char **args = g_strsplit (parts[1] ? parts[1] : "", ",", -1);
  const char *name = parts[0];
  CxrLayer *prev = spec->n_layers > 0 ? &spec->layers[spec->n_layers - 1] : NULL;
  CxrLayer l = { 0 };
  gboolean ok = TRUE, has_args = parts[1] != NULL;

  if (*ended) {
    ok = fail (error, token, "comes after the output layer");
  } else if (strcmp (name, "relu") == 0 && !has_args) {
    if (!prev || (prev->type != CXR_LAYER_CONV && prev->type != CXR_LAYER_DENSE)
        || prev->relu)
      ok = fail (error, token, "must follow a conv or dense layer");
    else
      prev->relu = TRUE;
    goto done;
  } else if ((strcmp (name, "sigmoid") == 0 || strcmp (name, "softmax") == 0)
      && !has_args) {
    if (!prev || prev->type != CXR_LAYER_DENSE || prev->relu)
      ok = fail (error, token, "must follow a dense layer without relu");
    spec->output = name[1] == 'i' ? CXR_OUTPUT_SIGMOID : CXR_OUTPUT_SOFTMAX;
    *ended = TRUE;
    goto done;
  } else if (strcmp (name, "conv") == 0) {
    l.type = CXR_LAYER_CONV;
    if (!parse_window_args (args, &l, TRUE))
      ok = fail (error, token, "is not conv:FILTERS[,kK][,sS][,pP|,same][,bn]");
  } else if (strcmp (name, "maxpool") == 0 || strcmp (name, "avgpool") == 0) {
    l.type = name[0] == 'm' ? CXR_LAYER_MAXPOOL : CXR_LAYER_AVGPOOL;
    if (!parse_window_args (args, &l, FALSE))
      ok = fail (error, token, "is not maxpool:K[,sS][,pP] with P < K");
  } else if (strcmp (name, "gap") == 0 && !has_args) {
    l.type = CXR_LAYER_GAP;
  } else if (strcmp (name, "flatten") == 0 && !has_args) {
    l.type = CXR_LAYER_FLATTEN;
  } else if (strcmp (name, "dropout") == 0 && args[0] && !args[1]) {
    char *end;
    l.type = CXR_LAYER_DROPOUT;
    l.dropout = (float) g_ascii_strtod (args[0], &end);     /* any locale */
    if (end == args[0] || *end || !(l.dropout >= 0.0f && l.dropout < 1.0f))
      ok = fail (error, token, "needs a probability in [0, 1)");
  } else if (strcmp (name, "dense") == 0 && args[0] && !args[1]) {
    l.type = CXR_LAYER_DENSE;
    if (!parse_int (args[0], 1, 65536, &l.units))
      ok = fail (error, token, "needs a number of outputs");
  } else {
    ok = fail (error, token, "is not a known layer (conv, relu, dropout, "
        "maxpool, avgpool, gap, flatten, dense, sigmoid, softmax)");
  }
  if (!ok)
    goto done;
  if (spec->n_layers == CXR_MAX_LAYERS) {
    ok = fail (error, token, "is one layer too many");
    goto done;
  }

  /* shapes */
  l.in_c = prev ? prev->out_c : spec->in_c;
  l.in_h = prev ? prev->out_h : spec->in_h;
  l.in_w = prev ? prev->out_w : spec->in_w;
  l.out_c = l.in_c;
  l.out_h = l.in_h;
  l.out_w = l.in_w;
  if (prev && prev->type == CXR_LAYER_DENSE && l.type != CXR_LAYER_DENSE
      && l.type != CXR_LAYER_DROPOUT) {
    ok = fail (error, token, "cannot follow a dense layer");
    goto done;
  }
  switch (l.type) {
    case CXR_LAYER_CONV:
    case CXR_LAYER_MAXPOOL:
    case CXR_LAYER_AVGPOOL:
      if (l.in_h + 2 * l.pad < l.kernel || l.in_w + 2 * l.pad < l.kernel) {
        ok = fail (error, token, "has a window larger than its input");
        goto done;
      }
      l.out_h = (l.in_h + 2 * l.pad - l.kernel) / l.stride + 1;
      l.out_w = (l.in_w + 2 * l.pad - l.kernel) / l.stride + 1;
      if (l.type == CXR_LAYER_CONV) {
        l.out_c = l.units;
        spec->flops += 2.0 * l.out_c * l.out_h * l.out_w * l.in_c * l.kernel
            * l.kernel;
      }
      break;
    case CXR_LAYER_GAP:
      l.out_h = l.out_w = 1;
      break;
    case CXR_LAYER_DENSE:
      l.out_c = l.units;
      l.out_h = l.out_w = 1;
      spec->flops += 2.0 * l.units * l.in_c * l.in_h * l.in_w;
      break;
    default:
      break;
  }
  /* each layer's output is allocated before any weight is read */
  if ((int64_t) l.out_c * l.out_h * l.out_w > CXR_MAX_ACTIVATION) {
    ok = fail (error, token, "has an output of more than 2^26 values");
    goto done;
  }
  spec->layers[spec->n_layers] = l;
  add_layer_params (spec, spec->n_layers);
  spec->n_layers++;

done:
  g_strfreev (parts);
  g_strfreev (args);
  return ok;
}

CxrNetSpec *
cxr_net_spec_parse (const char *text, int in_c, int in_h, int in_w,
    GError **error)
{
  CxrNetSpec *spec;
  char **tokens;
  gboolean ended = FALSE, ok = TRUE;

  if (!text || in_c < 1 || in_c > 4 || in_h < 1 || in_w < 1 || in_h > 4096
      || in_w > 4096) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "layer spec: input %dx%dx%d is not a usable image shape", in_c, in_h,
        in_w);
    return NULL;
  }
  spec = g_new0 (CxrNetSpec, 1);
  spec->text = g_strdup (text);
  spec->in_c = in_c;
  spec->in_h = in_h;
  spec->in_w = in_w;
  tokens = g_strsplit_set (text, " \t\n", -1);
  for (int i = 0; ok && tokens[i]; i++)
    if (tokens[i][0])
      ok = parse_token (spec, tokens[i], &ended, error);
  g_strfreev (tokens);
  if (ok && !ended)
    ok = fail (error, text, "does not end with sigmoid or softmax");
  if (ok) {
    CxrLayer *last = &spec->layers[spec->n_layers - 1];
    spec->n_outputs = last->units;
    if (spec->output == CXR_OUTPUT_SIGMOID && spec->n_outputs != 1)
      ok = fail (error, text, "ends in sigmoid, which needs dense:1 before it");
    if (spec->output == CXR_OUTPUT_SOFTMAX && spec->n_outputs < 2)
      ok = fail (error, text, "ends in softmax, which needs dense:2 or more");
    /* results, metrics and metas hold this many classes at most */
    if (ok && spec->output == CXR_OUTPUT_SOFTMAX
        && spec->n_outputs > CXR_MAX_CLASSES)
      ok = fail (error, text, "ends in softmax over more classes than the "
          "16 supported");
    spec->n_classes = spec->output == CXR_OUTPUT_SIGMOID ? 2 : spec->n_outputs;
  }
  if (ok && spec->n_floats > (size_t) 1 << 30)
    ok = fail (error, text, "has more than 2^30 parameters");
  if (!ok) {
    cxr_net_spec_free (spec);
    return NULL;
  }
  return spec;
}

void
cxr_net_spec_free (CxrNetSpec *spec)
{
  if (!spec)
    return;
  g_free (spec->text);
  g_free (spec);
}

int64_t
cxr_net_spec_count_trainable (const CxrNetSpec *spec)
{
  int64_t n = 0;
  for (int i = 0; i < spec->n_params; i++)
    if (spec->params[i].trainable)
      n += spec->params[i].numel;
  return n;
}

void
cxr_net_spec_init_params (const CxrNetSpec *spec, float *params, uint64_t seed)
{
  CxrRng rng;

  cxr_rng_init (&rng, seed);
  memset (params, 0, spec->n_floats * sizeof (float));
  for (int i = 0; i < spec->n_params; i++) {
    const CxrParamInfo *p = &spec->params[i];
    float *v = params + p->offset;
    if (p->kind == CXR_PARAM_WEIGHT) {
      /* He: std = sqrt(2 / fan_in) before a ReLU, sqrt(1 / fan_in) without */
      int64_t fan_in = p->numel / p->shape[0];
      gboolean relu = spec->layers[p->layer].relu
          || spec->layers[p->layer].batch_norm;
      float std = sqrtf ((relu ? 2.0f : 1.0f) / (float) fan_in);
      for (int64_t j = 0; j < p->numel; j++)
        v[j] = std * cxr_rng_normal (&rng);
    } else if (p->kind == CXR_PARAM_BN_SCALE || p->kind == CXR_PARAM_BN_VAR) {
      for (int64_t j = 0; j < p->numel; j++)
        v[j] = 1.0f;
    }
  }
}
