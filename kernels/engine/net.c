/* net.c — the CNN on oneDNN: a net is made once per batch size (its steps
 * built by netbuild.c), then runs its list of steps forward and, when
 * training, the loss (loss.c) and a second list backward. Layer outputs and
 * dropout masks are read back from whatever layout oneDNN chose in plain
 * NCHW. */
#include "netprivate.h"
#include "loss.h"

#include <math.h>
#include <string.h>

gboolean
cxr_cpu_has_native_bf16 (void)
{
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa ();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

const char *
cxr_precision_name (CxrPrecision precision)
{
  switch (precision) {
    case CXR_PRECISION_FP32:
      return "fp32";
    case CXR_PRECISION_BF16:
      return "bf16";
    default:
      return "auto";
  }
}

static void
destroy_memory (gpointer mem)
{
  dnnl_memory_destroy (mem);
}

static void
destroy_primitive (gpointer prim)
{
  dnnl_primitive_destroy (prim);
}

/* share: a training net's part of a shared batch; NULL: the whole batch */
static CxrNet *
net_new (const CxrNetSpec *spec, float *params, float *grads, int batch,
    const CxrBatchShare *share, CxrPrecision precision, GError **error)
{
  gboolean training = grads != NULL;

  CxrNet *net;
  gboolean ok;

  if (batch < 1 || batch > 4096) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "batch size %d is not between 1 and 4096", batch);
    return NULL;
  }
  if (precision == CXR_PRECISION_AUTO) {
    /* bf16 where the CPU has it natively, unless oneDNN lacks a bf16
     * primitive for one of the layers (pooling one channel, say) */
    if (cxr_cpu_has_native_bf16 ()) {
      net = net_new (spec, params, grads, batch, share, CXR_PRECISION_BF16,
          NULL);
      if (net)
        return net;
    }
    precision = CXR_PRECISION_FP32;
  }
  net = g_new0 (CxrNet, 1);
  net->spec = spec;
  net->batch = batch;
  net->share = share ? *share : (CxrBatchShare) { 0, batch, batch, NULL };
  net->training = training;
  net->precision = precision;
  net->dt = precision == CXR_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
  net->params = params;
  net->grads = grads;
  net->forward = g_array_new (FALSE, FALSE, sizeof (Step));
  net->backward = g_array_new (FALSE, FALSE, sizeof (Step));
  net->memories = g_ptr_array_new_with_free_func (destroy_memory);
  net->primitives = g_ptr_array_new_with_free_func (destroy_primitive);
  ok = dnnl_engine_create (&net->engine, dnnl_cpu, 0) == dnnl_success;
  ok = ok && dnnl_stream_create (&net->stream, net->engine,
      dnnl_stream_default_flags) == dnnl_success;
  if (!ok)
    g_set_error (error, CXR_ERROR, CXR_ERROR_ENGINE,
        "oneDNN could not open the CPU engine");
  else
    ok = net_build (net, params, error);
  for (int k = 0; k < CXR_MAX_LAYERS; k++) {
    if (net->state[k].pd)
      dnnl_primitive_desc_destroy (net->state[k].pd);
    if (net->state[k].bn_pd)
      dnnl_primitive_desc_destroy (net->state[k].bn_pd);
    net->state[k].pd = net->state[k].bn_pd = NULL;
  }
  if (!ok) {
    if (precision == CXR_PRECISION_BF16 && error && *error)
      g_prefix_error (error, "bf16: ");
    cxr_net_free (net);
    return NULL;
  }
  return net;
}

CxrNet *
cxr_net_new_inference (const CxrNetSpec *spec, const float *params, int batch,
    CxrPrecision precision, GError **error)
{
  return net_new (spec, (float *) params, NULL, batch, NULL, precision, error);
}

CxrNet *
cxr_net_new_training (const CxrNetSpec *spec, float *params, float *grads,
    int batch, CxrPrecision precision, GError **error)
{
  g_return_val_if_fail (grads != NULL, NULL);
  return net_new (spec, params, grads, batch, NULL, precision, error);
}

CxrNet *
cxr_net_new_shared_training (const CxrNetSpec *spec, float *params,
    float *grads, const CxrBatchShare *share, CxrPrecision precision,
    GError **error)
{
  g_return_val_if_fail (grads != NULL && share->sum != NULL, NULL);
  g_return_val_if_fail (share->first >= 0 && share->batch >= 1
      && share->first + share->batch <= share->total, NULL);
  return net_new (spec, params, grads, share->batch, share, precision,
      error);
}

void
cxr_net_free (CxrNet *net)
{
  if (!net)
    return;
  g_array_free (net->forward, TRUE);
  g_array_free (net->backward, TRUE);
  g_ptr_array_free (net->primitives, TRUE);
  g_ptr_array_free (net->memories, TRUE);
  g_free (net->scratchpad);
  if (net->stream)
    dnnl_stream_destroy (net->stream);
  if (net->engine)
    dnnl_engine_destroy (net->engine);
  g_free (net);
}

int
cxr_net_batch (const CxrNet *net)
{
  return net->batch;
}

const CxrNetSpec *
cxr_net_spec (const CxrNet *net)
{
  return net->spec;
}

CxrPrecision
cxr_net_precision (const CxrNet *net)
{
  return net->precision;
}

const char *
cxr_net_implementation (const CxrNet *net)
{
  return net->implementation;
}

/* ---- running ---------------------------------------------------------- */

/* A failed step ends the pass and is kept for check_failure: what follows
 * it would compute on garbage. */
static void
run_steps (CxrNet *net, GArray *steps)
{
  for (guint i = 0; i < steps->len && net->failure == dnnl_success; i++) {
    const Step *s = &g_array_index (steps, Step, i);
    if (s->kind == STEP_PRIMITIVE) {
      dnnl_status_t status = dnnl_primitive_execute (s->primitive,
          net->stream, s->n_args, s->args);
      if (status != dnnl_success) {
        net->failure = status;
        net->failed_step = i;
      }
    } else
      net_run_hand_step (net, s);
  }
  dnnl_stream_wait (net->stream);
}

/* FALSE, with the error, if a step failed since the last check; then
 * forgets it */
static gboolean
check_failure (CxrNet *net, GError **error)
{
  dnnl_status_t failure = net->failure;

  net->failure = dnnl_success;
  if (failure == dnnl_success)
    return TRUE;
  g_set_error (error, CXR_ERROR, CXR_ERROR_ENGINE,
      "oneDNN failed in step %u of a pass through the network (%s)",
      net->failed_step, dnnl_status2str (failure));
  return FALSE;
}

void
cxr_net_inject_failure (CxrNet *net)
{
  net->failure = dnnl_runtime_error;
  net->failed_step = 0;
}

gboolean
cxr_net_forward (CxrNet *net, const float *input, float *logits,
    uint64_t dropout_seed, GError **error)
{
  dnnl_memory_t out = net->act[net->spec->n_layers - 1];

  net->dropout_seed = dropout_seed;
  dnnl_memory_set_data_handle (net->input, (void *) input);
  run_steps (net, net->forward);
  if (logits)
    memcpy (logits, data_of (out),
        sizeof (float) * net->batch * net->spec->n_outputs);
  return check_failure (net, error);
}

/* the reorder of layer k's output into plain f32 over caller storage: NCHW,
 * or N x C where the layer's output is kept as rows (dense) */
static gboolean
make_output_reorder (CxrNet *net, int k, GError **error)
{
  const dnnl_memory_desc_t *md = md_of (net->act[k]);
  dnnl_primitive_desc_t pd;
  gboolean ok;

  if (!net_plain_memory (net, md->ndims, md->dims, DNNL_MEMORY_NONE,
          &net->out_plain[k], error))
    return FALSE;
  TRY (dnnl_reorder_primitive_desc_create (&pd, md, net->engine,
          md_of (net->out_plain[k]), net->engine, NULL));
  ok = net_new_primitive (net, pd, &net->out_reorder[k], error);
  dnnl_primitive_desc_destroy (pd);
  return ok;
}

gboolean
cxr_net_layer_output (CxrNet *net, int layer, float *out, GError **error)
{
  dnnl_exec_arg_t args[2];
  dnnl_status_t status;

  if (layer < 0 || layer >= net->spec->n_layers) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the network has no layer %d", layer);
    return FALSE;
  }
  if (!net->out_reorder[layer] && !make_output_reorder (net, layer, error))
    return FALSE;
  dnnl_memory_set_data_handle (net->out_plain[layer], out);
  args[0] = (dnnl_exec_arg_t) { DNNL_ARG_FROM, net->act[layer] };
  args[1] = (dnnl_exec_arg_t) { DNNL_ARG_TO, net->out_plain[layer] };
  status = dnnl_primitive_execute (net->out_reorder[layer], net->stream, 2,
      args);
  dnnl_stream_wait (net->stream);
  if (status != dnnl_success) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_ENGINE,
        "oneDNN could not read layer %d's output (%s)", layer,
        dnnl_status2str (status));
    return FALSE;
  }
  return TRUE;
}

gboolean
cxr_net_forward_mean (CxrNet *const *nets, int n_nets, const float *input,
    float *logits, GError **error)
{
  size_t n = (size_t) nets[0]->batch * nets[0]->spec->n_outputs;

  if (!cxr_net_forward (nets[0], input, logits, 0, error))
    return FALSE;
  if (n_nets == 1)
    return TRUE;
  for (int k = 1; k < n_nets; k++) {
    const float *z;

    if (!cxr_net_forward (nets[k], input, NULL, 0, error))
      return FALSE;
    z = data_of (nets[k]->act[nets[k]->spec->n_layers - 1]);
    for (size_t i = 0; i < n; i++)
      logits[i] += z[i];
  }
  for (size_t i = 0; i < n; i++)
    logits[i] /= n_nets;
  return TRUE;
}

void
cxr_net_set_label_smoothing (CxrNet *net, float epsilon)
{
  g_return_if_fail (net->training && epsilon >= 0.0f && epsilon < 1.0f);
  net->label_smoothing = epsilon;
}

float
cxr_net_forward_backward (CxrNet *net, const float *input, const int *labels,
    const float *sample_weights, uint64_t dropout_seed, float *logits,
    GError **error)
{
  int last = net->spec->n_layers - 1;
  double loss;

  g_return_val_if_fail (net->training, NAN);
  if (!cxr_net_forward (net, input, logits, dropout_seed, error))
    return NAN;
  loss = cxr_loss_and_gradient (net->spec, data_of (net->act[last]), labels,
      sample_weights, net->label_smoothing, net->batch,
      data_of (net->diff[last]));
  if (net->share.total != net->batch) {
    /* the whole batch's mean loss: divided by its size, not this part's */
    float *dz = data_of (net->diff[last]);
    double part = (double) net->batch / net->share.total;
    for (int64_t i = 0; i < (int64_t) net->batch * net->spec->n_outputs; i++)
      dz[i] = (float) (dz[i] * part);
    loss *= part;
  }
  run_steps (net, net->backward);
  if (!check_failure (net, error))
    return NAN;
  return (float) loss;
}

gboolean
cxr_net_dropout_mask (CxrNet *net, int layer, float *mask)
{
  const CxrLayer *l;
  dnnl_memory_desc_t md;
  dnnl_memory_t from, to;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_exec_arg_t args[2];
  gboolean ok;

  if (layer < 0 || layer >= net->spec->n_layers || !net->state[layer].drops)
    return FALSE;
  /* the mask is drawn in the activation's layout: reorder it to NCHW */
  l = &net->spec->layers[layer];
  dnnl_dims_t d = { net->batch, l->out_c, l->out_h, l->out_w };
  if (dnnl_memory_desc_init_by_tag (&md, 4, d, dnnl_f32, dnnl_abcd)
      != dnnl_success
      || dnnl_memory_create (&to, &md, net->engine, mask) != dnnl_success)
    return FALSE;
  dnnl_memory_desc_t f32_md = *md_of (net->act[layer]);
  f32_md.data_type = dnnl_f32;  /* same layout, in floats */
  ok = dnnl_memory_create (&from, &f32_md, net->engine, DNNL_MEMORY_ALLOCATE)
      == dnnl_success;
  if (ok) {
    float *f = data_of (from), scale = 1.0f / (1.0f - l->dropout);
    size_t n = n_elements_of (from);
    uint32_t seed, threshold;
    net_dropout_draw (net, layer, &seed, &threshold);
    for (size_t i = 0; i < n; i++)
      f[i] = dropout_keeps (seed, threshold, (uint32_t) i) ? scale : 0.0f;
    ok = dnnl_reorder_primitive_desc_create (&pd, md_of (from), net->engine,
        &md, net->engine, NULL) == dnnl_success;
    if (ok) {
      ok = dnnl_primitive_create (&prim, pd) == dnnl_success;
      dnnl_primitive_desc_destroy (pd);
    }
    if (ok) {
      args[0] = (dnnl_exec_arg_t) { DNNL_ARG_FROM, from };
      args[1] = (dnnl_exec_arg_t) { DNNL_ARG_TO, to };
      ok = dnnl_primitive_execute (prim, net->stream, 2, args) == dnnl_success;
      dnnl_stream_wait (net->stream);
      dnnl_primitive_destroy (prim);
    }
    dnnl_memory_destroy (from);
  }
  dnnl_memory_destroy (to);
  return ok;
}

void
cxr_logits_to_probabilities (const CxrNetSpec *spec, const float *logits,
    float *probabilities)
{
  if (spec->output == CXR_OUTPUT_SIGMOID) {
    probabilities[1] = 1.0f / (1.0f + expf (-logits[0]));
    probabilities[0] = 1.0f - probabilities[1];
    return;
  }
  float m = logits[0], sum = 0.0f;
  for (int j = 1; j < spec->n_outputs; j++)
    m = fmaxf (m, logits[j]);
  for (int j = 0; j < spec->n_outputs; j++)
    sum += (probabilities[j] = expf (logits[j] - m));
  for (int j = 0; j < spec->n_outputs; j++)
    probabilities[j] /= sum;
}
