/* netcheck — runs our engine on given weights and inputs and writes every
 * number PyTorch should agree with, for tests/reference/torch_reference.py.
 *
 *   netcheck seed|default|SPEC RANDOM_SEED INPUTS.safetensors OUTDIR
 *
 * INPUTS holds "input" [S, N, C, H, W] (S batches of N), "labels" [S, N] and
 * "weights" [S, N]. OUTDIR receives:
 *   model.safetensors   the starting weights (He init from RANDOM_SEED, then
 *                       biases and batch-norm statistics perturbed so that
 *                       every parameter matters)
 *   result.safetensors  on batch 0: "logits", "loss", "grad.NAME" for every
 *                       trainable parameter, "mask.LAYER" for dropout layers,
 *                       "running.NAME" (batch-norm statistics after the
 *                       step), and the same prefixed "bf16." for a bf16
 *                       (mixed precision) training step; "infer_fp32" / "infer_bf16" (inference logits
 *                       of the starting weights), "infer_single" (fp32,
 *                       batch 1, sample 0); "heatmap" [N, H, W] (each
 *                       sample's map, kernels/model/heatmap.h) and
 *                       "heatmap_negated" (the same with the last layer's
 *                       weights and bias negated); then for OPT in adam (AdamW,
 *                       lr 1e-4) and sgd (momentum 0.9, lr 1e-4), both with
 *                       weight decay 1e-2, a run over the S batches:
 *                       "OPT.loss" [S], "OPT.stepS.mask.LAYER",
 *                       "OPT.final.NAME" (weights after the run).
 */
#include "heatmap.h"
#include "model.h"
#include "net.h"
#include "optim.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "netcheck: %s: %s\n", what, error ? error->message : "");
  exit (1);
}

static void
add (CxrModelFile *f, const char *name, int ndim, const int64_t *shape,
    const float *data)
{
  if (!cxr_model_file_add (f, name, ndim, shape, data))
    die ("cannot add tensor", NULL);
}

static void
add_masks (CxrModelFile *out, CxrNet *net, const CxrNetSpec *spec,
    const char *prefix)
{
  for (int k = 0; k < spec->n_layers; k++) {
    const CxrLayer *l = &spec->layers[k];
    int64_t shape[4] = { cxr_net_batch (net), l->out_c, l->out_h, l->out_w };
    float *mask = g_new (float, shape[0] * shape[1] * shape[2] * shape[3]);
    if (cxr_net_dropout_mask (net, k, mask)) {
      char *name = g_strdup_printf ("%smask.%d", prefix, k);
      add (out, name, 4, shape, mask);
      g_free (name);
    }
    g_free (mask);
  }
}

/* the heatmap of each of n samples, fp32 at batch 1 */
static void
add_heatmaps (CxrModelFile *out, const CxrNetSpec *spec, const float *params,
    const float *input, int n, const char *name)
{
  const CxrLayer *f = &spec->layers[cxr_heatmap_layer (spec)];
  size_t places = (size_t) f->out_h * f->out_w;
  size_t pixels = (size_t) spec->in_c * spec->in_h * spec->in_w;
  float *maps = g_new (float, n * places);
  float *logits = g_new (float, spec->n_outputs);
  int64_t shape[3] = { n, f->out_h, f->out_w };
  GError *error = NULL;
  CxrNet *net = cxr_net_new_inference (spec, params, 1, CXR_PRECISION_FP32,
      &error);

  if (!net)
    die ("heatmap net", error);
  for (int i = 0; i < n; i++) {
    g_assert_true (cxr_net_forward (net, input + i * pixels, logits, 0,
            NULL));
    if (!cxr_heatmap (net, params, maps + i * places, &error))
      die ("heatmap", error);
  }
  add (out, name, 3, shape, maps);
  cxr_net_free (net);
  g_free (logits);
  g_free (maps);
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };
  const char *spec_text;
  CxrModelFile *in, *out;
  CxrTensor *x, *y, *w;
  CxrModel *model;
  CxrRng rng;

  if (argc != 5) {
    fprintf (stderr, "usage: netcheck seed|default|SPEC RANDOM_SEED "
        "INPUTS.safetensors OUTDIR\n");
    return 2;
  }
  spec_text = strcmp (argv[1], "seed") == 0 ? CXR_SPEC_SEED
      : strcmp (argv[1], "default") == 0 ? CXR_SPEC_DEFAULT : argv[1];
  in = cxr_model_file_read (argv[3], &error);
  if (!in)
    die ("inputs", error);
  x = cxr_model_file_find (in, "input");
  y = cxr_model_file_find (in, "labels");
  w = cxr_model_file_find (in, "weights");
  if (!x || !y || !w || x->ndim != 5 || y->ndim != 2)
    die ("inputs need input [S,N,C,H,W], labels [S,N], weights [S,N]", NULL);
  int steps = x->shape[0], batch = x->shape[1];
  size_t sample = x->shape[2] * x->shape[3] * x->shape[4];

  model = cxr_model_new (spec_text, x->shape[2], x->shape[3], x->shape[4],
      classes, strtoull (argv[2], NULL, 10), &error);
  if (!model)
    die ("model", error);
  const CxrNetSpec *spec = model->spec;
  cxr_rng_init (&rng, 7);
  for (int i = 0; i < spec->n_params; i++) {
    const CxrParamInfo *p = &spec->params[i];
    float *v = model->params + p->offset;
    for (int64_t j = 0; j < p->numel; j++) {
      if (p->kind == CXR_PARAM_BIAS || p->kind == CXR_PARAM_BN_SHIFT
          || p->kind == CXR_PARAM_BN_MEAN)
        v[j] = 0.1f * cxr_rng_normal (&rng);
      else if (p->kind == CXR_PARAM_BN_SCALE || p->kind == CXR_PARAM_BN_VAR)
        v[j] = cxr_rng_range (&rng, 0.5f, 1.5f);
    }
  }
  char *path = g_build_filename (argv[4], "model.safetensors", NULL);
  if (!cxr_model_save (model, path, &error))
    die ("save", error);
  g_free (path);

  int labels[4096];
  float *start = g_memdup2 (model->params, spec->n_floats * sizeof (float));
  float *grads = g_new0 (float, spec->n_floats);
  float *logits = g_new (float, batch * spec->n_outputs);
  int64_t logit_shape[2] = { batch, spec->n_outputs }, one = 1;
  out = cxr_model_file_new ();

  /* one training step in each precision: outputs, loss, gradients */
  for (int i = 0; i < batch; i++)
    labels[i] = (int) y->data[i];
  for (int prec = CXR_PRECISION_FP32; prec <= CXR_PRECISION_BF16; prec++) {
    const char *pre = prec == CXR_PRECISION_FP32 ? "" : "bf16.";
    char *name;
    memcpy (model->params, start, spec->n_floats * sizeof (float));
    CxrNet *net = cxr_net_new_training (spec, model->params, grads, batch,
        prec, &error);
    if (!net && prec == CXR_PRECISION_BF16 && !cxr_cpu_has_native_bf16 ()) {
      /* oneDNN has no bf16 for this CPU at all (AVX2): nothing to compare */
      fprintf (stderr, "netcheck: no bf16 on this CPU (%s): bf16 training "
          "not checked\n", error->message);
      g_clear_error (&error);
      break;
    }
    if (!net)
      die ("training net", error);
    float loss = cxr_net_forward_backward (net, x->data, labels, w->data, 1,
        logits, NULL);
    add (out, name = g_strconcat (pre, "logits", NULL), 2, logit_shape, logits);
    g_free (name);
    add (out, name = g_strconcat (pre, "loss", NULL), 1, &one, &loss);
    g_free (name);
    for (int i = 0; i < spec->n_params; i++) {
      const CxrParamInfo *p = &spec->params[i];
      name = g_strdup_printf ("%s%s.%s", pre, p->trainable ? "grad" : "running",
          p->name);
      add (out, name, p->ndim, p->shape,
          (p->trainable ? grads : model->params) + p->offset);
      g_free (name);
    }
    add_masks (out, net, spec, pre);
    fprintf (stderr, "netcheck: %s training runs %s\n",
        cxr_precision_name (cxr_net_precision (net)),
        cxr_net_implementation (net));
    cxr_net_free (net);
  }

  /* inference from the starting weights */
  CxrNet *net;
  for (int prec = CXR_PRECISION_FP32; prec <= CXR_PRECISION_BF16; prec++) {
    net = cxr_net_new_inference (spec, start, batch, prec, &error);
    if (!net && prec == CXR_PRECISION_BF16 && !cxr_cpu_has_native_bf16 ()) {
      fprintf (stderr, "netcheck: no bf16 on this CPU (%s): bf16 inference "
          "not checked\n", error->message);
      g_clear_error (&error);
      break;
    }
    if (!net)
      die ("inference net", error);
    g_assert_true (cxr_net_forward (net, x->data, logits, 0, NULL));
    add (out, prec == CXR_PRECISION_FP32 ? "infer_fp32" : "infer_bf16", 2,
        logit_shape, logits);
    fprintf (stderr, "netcheck: %s inference runs %s\n",
        cxr_precision_name (prec), cxr_net_implementation (net));
    cxr_net_free (net);
  }
  net = cxr_net_new_inference (spec, start, 1, CXR_PRECISION_FP32, &error);
  if (!net)
    die ("inference net", error);
  g_assert_true (cxr_net_forward (net, x->data, logits, 0, NULL));
  int64_t single_shape[2] = { 1, spec->n_outputs };
  add (out, "infer_single", 2, single_shape, logits);

  cxr_net_free (net);
  if (cxr_heatmap_layer (spec) >= 0) {
    add_heatmaps (out, spec, start, x->data, batch, "heatmap");
    /* the last layer negated: the other class's evidence, where a random
     * network's positive class may have none */
    float *negated = g_memdup2 (start, spec->n_floats * sizeof (float));
    const CxrLayer *last = &spec->layers[spec->n_layers - 1];
    for (int i = last->first_param; i < last->first_param + last->n_params;
        i++)
      for (int64_t j = 0; j < spec->params[i].numel; j++)
        negated[spec->params[i].offset + j] *= -1.0f;
    add_heatmaps (out, spec, negated, x->data, batch, "heatmap_negated");
    g_free (negated);
  }

  /* short runs with each optimiser */
  float *losses = g_new (float, steps);
  for (int kind = CXR_OPTIMIZER_ADAM; kind <= CXR_OPTIMIZER_SGD; kind++) {
    const char *opt_name = kind == CXR_OPTIMIZER_ADAM ? "adam" : "sgd";
    memcpy (model->params, start, spec->n_floats * sizeof (float));
    net = cxr_net_new_training (spec, model->params, grads, batch,
        CXR_PRECISION_FP32, &error);
    if (!net)
      die ("training net", error);
    CxrOptimizer *opt = cxr_optimizer_new (spec, kind,
        1e-4f, 1e-2f);
    for (int s = 0; s < steps; s++) {
      for (int i = 0; i < batch; i++)
        labels[i] = (int) y->data[s * batch + i];
      losses[s] = cxr_net_forward_backward (net, x->data + s * batch * sample,
          labels, w->data + s * batch, 100 + s, NULL, NULL);
      cxr_optimizer_step (opt, model->params, grads);
      char *prefix = g_strdup_printf ("%s.step%d.", opt_name, s);
      add_masks (out, net, spec, prefix);
      g_free (prefix);
    }
    int64_t steps_shape = steps;
    char *name = g_strdup_printf ("%s.loss", opt_name);
    add (out, name, 1, &steps_shape, losses);
    g_free (name);
    for (int i = 0; i < spec->n_params; i++) {
      const CxrParamInfo *p = &spec->params[i];
      name = g_strdup_printf ("%s.final.%s", opt_name, p->name);
      add (out, name, p->ndim, p->shape, model->params + p->offset);
      g_free (name);
    }
    cxr_optimizer_free (opt);
    cxr_net_free (net);
  }
  path = g_build_filename (argv[4], "result.safetensors", NULL);
  if (!cxr_model_file_write (out, path, &error))
    die ("result", error);
  g_free (path);
  cxr_model_file_free (out);
  cxr_model_file_free (in);
  cxr_model_free (model);
  g_free (start);
  g_free (grads);
  g_free (logits);
  g_free (losses);
  return 0;
}
