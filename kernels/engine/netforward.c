/* netforward.c — the forward step of each layer type: a oneDNN primitive
 * (convolution, pooling, inner product; batch-norm and a ReLU fused where
 * they follow), or a hand step for dropout (see netbuild.c). */
#include "netbuilders.h"

#include <string.h>

/* ---- forward builders, one per layer type ---------------------------- */

dnnl_memory_t
net_previous_output (CxrNet *net, int k)
{
  return k == 0 ? net->input : net->act[k - 1];
}

/* Weights of layer k as the primitive pd wants them. Training: a reorder
 * step from the live parameter block every step. Inference: loaded once,
 * with batch-norm folded in. */
static gboolean
build_weights (CxrNet *net, int k, dnnl_primitive_desc_t pd, int ndims,
    const dnnl_dims_t dims, const float *params, dnnl_memory_t *weights,
    dnnl_memory_t *bias, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  const dnnl_memory_desc_t *want = net_query (pd, dnnl_query_weights_md);
  dnnl_dims_t bias_dims = { l->units };
  const float *w = net_param (net, params, l, CXR_PARAM_WEIGHT);
  const float *b = net_param (net, params, l, CXR_PARAM_BIAS);

  if (net->training) {
    dnnl_memory_t user;
    if (!net_plain_memory (net, ndims, dims, (void *) w, &user, error)
        || !net_input_for (net, net->forward, pd, dnnl_query_weights_md, user,
            weights, error))
      return FALSE;
    *bias = NULL;
    return !b || net_plain_memory (net, 1, bias_dims, (void *) b, bias, error);
  }

  /* inference: batch-norm folded into a copy of the weights and bias */
  int64_t n = l->units, per_out = 1;
  for (int d = 1; d < ndims; d++)
    per_out *= dims[d];
  float *folded_w = g_new (float, n * per_out);
  float *folded_b = g_new0 (float, n);
  memcpy (folded_w, w, n * per_out * sizeof (float));
  if (b)
    memcpy (folded_b, b, n * sizeof (float));
  if (l->batch_norm)
    net_fold_batch_norm (n, per_out,
        net_param (net, params, l, CXR_PARAM_BN_SCALE),
        net_param (net, params, l, CXR_PARAM_BN_SHIFT),
        net_param (net, params, l, CXR_PARAM_BN_MEAN),
        net_param (net, params, l, CXR_PARAM_BN_VAR), folded_w, folded_b);
  dnnl_memory_desc_t plain;
  gboolean ok = dnnl_memory_desc_init_by_tag (&plain, ndims, dims, dnnl_f32,
      ndims == 4 ? dnnl_abcd : dnnl_ab) == dnnl_success
      && net_new_memory (net, want, DNNL_MEMORY_ALLOCATE, weights, error)
      && net_load_now (net, &plain, folded_w, *weights, error)
      && net_plain_memory (net, 1, bias_dims, DNNL_MEMORY_ALLOCATE, bias,
          error);
  if (ok)
    memcpy (data_of (*bias), folded_b, n * sizeof (float));
  g_free (folded_w);
  g_free (folded_b);
  return ok;
}

gboolean
net_build_conv_forward (CxrNet *net, int k, const float *params, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  gboolean bn_train = net->training && l->batch_norm;
  gboolean has_bias = !bn_train;
  dnnl_dims_t src_d, w_d, dst_d, bias_d = { l->units };
  dnnl_memory_desc_t src_md, w_md, dst_md, bias_md;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_t prim;
  dnnl_memory_t bias, dst;
  Window win;

  net_window_of (l, &win);

  net_dims4 (src_d, net->batch, l->in_c, l->in_h, l->in_w);
  net_dims4 (w_d, l->units, l->in_c, l->kernel, l->kernel);
  net_dims4 (dst_d, net->batch, l->units, l->out_h, l->out_w);
  if (!net_any_md (&src_md, 4, src_d, net->dt, error)
      || !net_any_md (&w_md, 4, w_d, net->dt, error)
      || !net_any_md (&dst_md, 4, dst_d, net->dt, error))
    return FALSE;
  TRY (dnnl_memory_desc_init_by_tag (&bias_md, 1, bias_d, dnnl_f32, dnnl_a));
  TRY (dnnl_convolution_forward_desc_init (&desc,
          net->training ? dnnl_forward_training : dnnl_forward_inference,
          dnnl_convolution_direct, &src_md, &w_md, has_bias ? &bias_md : NULL,
          &dst_md, win.strides, win.pad_l, win.pad_r));
  if (!net_create_pd (net, &desc, l->relu && !bn_train, NULL, &st->pd, error))
    return FALSE;
  if (!net->implementation[0]) {
    const char *impl = "";
    dnnl_primitive_desc_query (st->pd, dnnl_query_impl_info_str, 0, &impl);
    g_strlcpy (net->implementation, impl, sizeof net->implementation);
  }
  if (!net_input_for (net, net->forward, st->pd, dnnl_query_src_md,
          net_previous_output (net, k), &st->src, error)
      || !build_weights (net, k, st->pd, 4, w_d, params, &st->weights, &bias,
          error)
      || !net_new_memory (net, net_query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  net_push_step (net->forward, prim, 4, DNNL_ARG_SRC, st->src, DNNL_ARG_WEIGHTS,
      st->weights, DNNL_ARG_BIAS, bias, DNNL_ARG_DST, dst);
  net->act[k] = dst;
  if (!bn_train)
    return TRUE;

  /* training batch-norm, with the ReLU fused into it; over a shared
   * batch, with the whole batch's statistics (netshared.c) */
  dnnl_batch_normalization_desc_t bn;
  gboolean shared = net->share.sum != NULL;
  unsigned flags = dnnl_use_scale | dnnl_use_shift
      | (l->relu ? dnnl_fuse_norm_relu : 0)
      | (shared ? dnnl_use_global_stats : 0);
  dnnl_memory_t scale, shift, out;
  st->conv_dst = dst;
  TRY (dnnl_batch_normalization_forward_desc_init (&bn, dnnl_forward_training,
          md_of (dst), CXR_BN_EPSILON, flags));
  if (!net_create_pd (net, &bn, FALSE, NULL, &st->bn_pd, error)
      || !net_new_memory (net, net_query (st->bn_pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &out, error)
      || !net_plain_memory (net, 1, bias_d, DNNL_MEMORY_ALLOCATE, &st->mean,
          error)
      || !net_plain_memory (net, 1, bias_d, DNNL_MEMORY_ALLOCATE,
          &st->variance, error)
      || !net_plain_memory (net, 1, bias_d,
          (void *) net_param (net, params, l, CXR_PARAM_BN_SCALE), &scale,
          error)
      || !net_plain_memory (net, 1, bias_d,
          (void *) net_param (net, params, l, CXR_PARAM_BN_SHIFT), &shift,
          error))
    return FALSE;
  st->bn_workspace = NULL;
  if (l->relu && !net_new_memory (net, net_query (st->bn_pd,
      dnnl_query_workspace_md),
          DNNL_MEMORY_ALLOCATE, &st->bn_workspace, error))
    return FALSE;
  if (!net_new_primitive (net, st->bn_pd, &prim, error))
    return FALSE;
  if (shared && !net_shared_view_ok (dst)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "layer %d: oneDNN keeps its output in a layout batch-norm over "
        "several processes cannot read", k + 1);
    return FALSE;
  }
  if (shared)
    net_push_hand_step (net->forward, STEP_BN_SHARED_STATS, dst, st->mean,
        st->variance, k);
  net_push_step (net->forward, prim, 7, DNNL_ARG_SRC, dst, DNNL_ARG_DST, out,
      DNNL_ARG_MEAN, st->mean, DNNL_ARG_VARIANCE, st->variance,
      DNNL_ARG_SCALE, scale, DNNL_ARG_SHIFT, shift,
      DNNL_ARG_WORKSPACE, st->bn_workspace);
  net_push_hand_step (net->forward, STEP_BN_RUNNING, st->mean, st->variance,
      NULL,
      k);
  net->act[k] = out;
  return TRUE;
}

gboolean
net_build_pool_forward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_dims_t dst_d;
  dnnl_memory_desc_t dst_md;
  dnnl_pooling_desc_t desc;
  dnnl_primitive_t prim;
  dnnl_memory_t src = net_previous_output (net, k), dst;
  Window win;

  net_window_of (l, &win);
  net_dims4 (dst_d, net->batch, l->out_c, l->out_h, l->out_w);
  if (!net_any_md (&dst_md, 4, dst_d, net->dt, error))
    return FALSE;
  TRY (dnnl_pooling_forward_desc_init (&desc,
          net->training ? dnnl_forward_training : dnnl_forward_inference,
          win.pool, md_of (src), &dst_md, win.strides, win.kernel, win.pad_l,
          win.pad_r));
  if (!net_create_pd (net, &desc, FALSE, NULL, &st->pd, error)
      || !net_new_memory (net, net_query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  st->workspace = NULL;
  if (net->training && win.pool == dnnl_pooling_max
      && !net_new_memory (net, net_query (st->pd, dnnl_query_workspace_md),
          DNNL_MEMORY_ALLOCATE, &st->workspace, error))
    return FALSE;
  net_push_step (net->forward, prim, 3, DNNL_ARG_SRC, src, DNNL_ARG_DST, dst,
      DNNL_ARG_WORKSPACE, st->workspace);
  net->act[k] = dst;
  return TRUE;
}

gboolean
net_build_dense_forward (CxrNet *net, int k, const float *params,
    GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  gboolean last = k == net->spec->n_layers - 1;
  /* after another dense layer the input is already [batch, features] */
  gboolean flat = md_of (net_previous_output (net, k))->ndims == 2;
  int nd = flat ? 2 : 4;
  dnnl_dims_t src_d, w_d, dst_d = { net->batch, l->units },
      bias_d = { l->units };
  dnnl_memory_desc_t src_md, w_md, dst_md, bias_md;
  dnnl_inner_product_desc_t desc;
  dnnl_primitive_t prim;
  dnnl_memory_t bias, dst;

  if (flat) {
    src_d[0] = net->batch;
    src_d[1] = l->in_c;
    w_d[0] = l->units;
    w_d[1] = l->in_c;
  } else {
    net_dims4 (src_d, net->batch, l->in_c, l->in_h, l->in_w);
    net_dims4 (w_d, l->units, l->in_c, l->in_h, l->in_w);
  }
  if (!net_any_md (&src_md, nd, src_d, net->dt, error)
      || !net_any_md (&w_md, nd, w_d, net->dt, error))
    return FALSE;
  /* training reads the weights from the parameter block every step: take
   * them as they lie there, which gemm-based inner products handle well,
   * rather than reorder megabytes twice a step */
  if (net->training)
    TRY (dnnl_memory_desc_init_by_tag (&w_md, nd, w_d, net->dt,
            nd == 4 ? dnnl_abcd : dnnl_ab));
  TRY (dnnl_memory_desc_init_by_tag (&dst_md, 2, dst_d,
          last ? dnnl_f32 : net->dt, dnnl_ab));
  TRY (dnnl_memory_desc_init_by_tag (&bias_md, 1, bias_d, dnnl_f32, dnnl_a));
  TRY (dnnl_inner_product_forward_desc_init (&desc,
          net->training ? dnnl_forward_training : dnnl_forward_inference,
          &src_md, &w_md, &bias_md, &dst_md));
  if (!net_create_pd (net, &desc, l->relu, NULL, &st->pd, error)
      || !net_input_for (net, net->forward, st->pd, dnnl_query_src_md,
          net_previous_output (net, k), &st->src, error)
      || !build_weights (net, k, st->pd, nd, w_d, params, &st->weights, &bias,
          error)
      || !net_new_memory (net, net_query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  net_push_step (net->forward, prim, 4, DNNL_ARG_SRC, st->src, DNNL_ARG_WEIGHTS,
      st->weights, DNNL_ARG_BIAS, bias, DNNL_ARG_DST, dst);
  net->act[k] = dst;
  return TRUE;
}

/* dropout layer k comes right after a layer with a fused ReLU and no
 * batch-norm, whose output is then the ReLU's */
gboolean
net_relu_before_dropout (const CxrNet *net, int k)
{
  const CxrLayer *prev = &net->spec->layers[k - 1];

  return prev->relu && !prev->batch_norm;
}

gboolean
net_build_dropout_forward (CxrNet *net, int k, GError **error)
{
  dnnl_memory_t src = net_previous_output (net, k);
  LayerState *st = &net->state[k];

  if (!net->training || net->spec->layers[k].dropout == 0.0f) {
    net->act[k] = src;          /* identity at inference */
    return TRUE;
  }
  st->drops = TRUE;
  /* Right after a fused ReLU (no batch-norm) the mask is applied in place:
   * nothing needs the ReLU's output but its gradient, which the dropout
   * backward pass reads off the sign of what is left. One activation fewer,
   * and no fresh memory to write. Its gradient is then shared too. */
  if (k > 0 && net_relu_before_dropout (net, k)) {
    net->act[k] = src;
    net_push_hand_step (net->forward, STEP_DROPOUT_FORWARD, src, src, NULL, k);
    return TRUE;
  }
  if (!net_new_memory (net, md_of (src), DNNL_MEMORY_ALLOCATE, &net->act[k],
      error))
    return FALSE;
  net_push_hand_step (net->forward, STEP_DROPOUT_FORWARD, src, net->act[k],
      NULL,
      k);
  return TRUE;
}

