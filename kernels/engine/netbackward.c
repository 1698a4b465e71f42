/* netbackward.c — the backward steps of a training net: the gradients of
 * each weighted layer's input and parameters, and of pooling (see
 * netbuild.c). */
#include "netbuilders.h"

#include <string.h>

/* ---- backward builders ----------------------------------------------- */

/* Does any layer before k have parameters (so that diff[k - 1] is needed)? */
gboolean
net_needs_input_gradient (const CxrNet *net, int k)
{
  for (int j = 0; j < k; j++)
    if (net->spec->layers[j].n_params > 0)
      return TRUE;
  return FALSE;
}

static dnnl_memory_t
grad_memory_of (CxrNet *net, const CxrLayer *l, CxrParamKind kind, int ndims,
    const dnnl_dims_t dims, GError **error)
{
  dnnl_memory_t mem = NULL;
  const float *g = net_param (net, net->grads, l, kind);
  if (g)
    net_plain_memory (net, ndims, dims, (void *) g, &mem, error);
  return mem;
}

/* conv or dense: gradient of weights and bias, and of the input */
gboolean
net_build_weighted_backward (CxrNet *net, int k, dnnl_memory_t diff_dst,
    GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  gboolean conv = l->type == CXR_LAYER_CONV;
  dnnl_memory_desc_t dw_md, dsrc_md, ddst_md;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t dw, dw_user, db, dd, src, w, dsrc;
  dnnl_dims_t w_d, b_d = { l->units };
  int nd = net_query (st->pd, dnnl_query_weights_md)->ndims;
  Window win;

  net_window_of (l, &win);

  memcpy (w_d, net_query (st->pd, dnnl_query_weights_md)->dims, sizeof w_d);
  dw_user = grad_memory_of (net, l, CXR_PARAM_WEIGHT, nd, w_d, error);
  db = grad_memory_of (net, l, CXR_PARAM_BIAS, 1, b_d, error);
  if (!dw_user)
    return FALSE;
  if (!net_any_md (&dw_md, nd, w_d, dnnl_f32, error)
      || (!conv && !net_plain_md (&dw_md, nd, w_d, error))
      || !net_any_md (&ddst_md, md_of (diff_dst)->ndims, md_of (diff_dst)->dims,
          net->dt, error))
    return FALSE;

  /* weights gradient */
  if (conv) {
    dnnl_convolution_desc_t desc;
    dnnl_dims_t b_dims = { l->units };
    dnnl_memory_desc_t b_md;
    TRY (dnnl_memory_desc_init_by_tag (&b_md, 1, b_dims, dnnl_f32, dnnl_a));
    TRY (dnnl_convolution_backward_weights_desc_init (&desc,
            dnnl_convolution_direct, md_of (st->src), &dw_md,
            db ? &b_md : NULL, &ddst_md, win.strides, win.pad_l, win.pad_r));
    if (!net_create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  } else {
    dnnl_inner_product_desc_t desc;
    dnnl_dims_t b_dims = { l->units };
    dnnl_memory_desc_t b_md;
    TRY (dnnl_memory_desc_init_by_tag (&b_md, 1, b_dims, dnnl_f32, dnnl_a));
    TRY (dnnl_inner_product_backward_weights_desc_init (&desc,
            md_of (st->src), &dw_md, &b_md, &ddst_md));
    if (!net_create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  }
  gboolean ok = net_input_for (net, net->backward, pd, dnnl_query_src_md,
      st->src,
      &src, error)
      && net_input_for (net, net->backward, pd, dnnl_query_diff_dst_md,
          diff_dst,
      &dd, error)
      && net_memory_like (net, dw_user, net_query (pd,
          dnnl_query_diff_weights_md), &dw,
      error)
      && net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (!ok)
    return FALSE;
  net_push_step (net->backward, prim, 4, DNNL_ARG_SRC, src, DNNL_ARG_DIFF_DST,
      dd,
      DNNL_ARG_DIFF_WEIGHTS, dw, DNNL_ARG_DIFF_BIAS, db);
  if (!net_push_reorder (net, net->backward, dw, dw_user, error))
    return FALSE;

  /* input gradient */
  if (!net_needs_input_gradient (net, k))
    return TRUE;
  const dnnl_memory_desc_t *src_md = md_of (st->src);
  if (!net_any_md (&dsrc_md, src_md->ndims, src_md->dims, net->dt, error))
    return FALSE;
  if (conv) {
    dnnl_convolution_desc_t desc;
    dnnl_memory_desc_t w_any;
    if (!net_any_md (&w_any, nd, w_d, net->dt, error))
      return FALSE;
    TRY (dnnl_convolution_backward_data_desc_init (&desc,
            dnnl_convolution_direct, &dsrc_md, &w_any, &ddst_md, win.strides,
            win.pad_l, win.pad_r));
    if (!net_create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  } else {
    dnnl_inner_product_desc_t desc;
    dnnl_memory_desc_t w_any;
    if (!net_any_md (&w_any, nd, w_d, net->dt, error))
      return FALSE;
    TRY (dnnl_inner_product_backward_data_desc_init (&desc, &dsrc_md, &w_any,
            &ddst_md));
    if (!net_create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  }
  ok = net_input_for (net, net->backward, pd, dnnl_query_weights_md,
      st->weights,
      &w, error)
      && net_input_for (net, net->backward, pd, dnnl_query_diff_dst_md,
          diff_dst,
      &dd, error)
      && net_memory_like (net, net->diff[k - 1], net_query (pd,
          dnnl_query_diff_src_md),
      &dsrc, error)
      && net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (!ok)
    return FALSE;
  net_push_step (net->backward, prim, 3, DNNL_ARG_WEIGHTS, w,
      DNNL_ARG_DIFF_DST, dd,
      DNNL_ARG_DIFF_SRC, dsrc);
  return net_push_reorder (net, net->backward, dsrc, net->diff[k - 1], error);
}

gboolean
net_build_conv_backward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_memory_t diff = net->diff[k];

  if (l->batch_norm) {
    dnnl_batch_normalization_desc_t desc;
    gboolean shared = net->share.sum != NULL;
    unsigned flags = dnnl_use_scale | dnnl_use_shift
        | (l->relu ? dnnl_fuse_norm_relu : 0)
        | (shared ? dnnl_use_global_stats : 0);
    dnnl_dims_t c_d = { l->units };
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t scale, shift, dscale, dshift, dconv;

    TRY (dnnl_batch_normalization_backward_desc_init (&desc, dnnl_backward,
            md_of (diff), md_of (st->conv_dst), CXR_BN_EPSILON, flags));
    if (!net_create_pd (net, &desc, FALSE, st->bn_pd, &pd, error))
      return FALSE;
    gboolean ok = net_new_primitive (net, pd, &prim, error)
        && net_new_memory (net, net_query (pd, dnnl_query_diff_src_md),
        DNNL_MEMORY_ALLOCATE, &dconv, error)
        && net_plain_memory (net, 1, c_d,
        (void *) net_param (net, net->params, l, CXR_PARAM_BN_SCALE), &scale,
        error)
        && net_plain_memory (net, 1, c_d,
        (void *) net_param (net, net->params, l, CXR_PARAM_BN_SHIFT), &shift,
        error);
    dnnl_primitive_desc_destroy (pd);
    dscale = grad_memory_of (net, l, CXR_PARAM_BN_SCALE, 1, c_d, error);
    dshift = grad_memory_of (net, l, CXR_PARAM_BN_SHIFT, 1, c_d, error);
    if (!ok || !dscale || !dshift)
      return FALSE;
    net_push_step (net->backward, prim, 10, DNNL_ARG_SRC, st->conv_dst,
        DNNL_ARG_MEAN, st->mean, DNNL_ARG_VARIANCE, st->variance,
        DNNL_ARG_DIFF_DST, diff, DNNL_ARG_SCALE, scale, DNNL_ARG_SHIFT, shift,
        DNNL_ARG_WORKSPACE, st->bn_workspace, DNNL_ARG_DIFF_SRC, dconv,
        DNNL_ARG_DIFF_SCALE, dscale, DNNL_ARG_DIFF_SHIFT, dshift);
    /* over a shared batch: the terms through the statistics (netshared.c) */
    if (shared && !net_shared_view_ok (dconv)) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
          "layer %d: oneDNN keeps its gradient in a layout batch-norm over "
          "several processes cannot read", k + 1);
      return FALSE;
    }
    if (shared)
      net_push_hand_step (net->backward, STEP_BN_SHARED_BACKWARD, dconv,
          st->conv_dst, NULL, k);
    diff = dconv;
  } else if (l->relu && !st->relu_done_by_dropout) {
    net_push_hand_step (net->backward, STEP_RELU_BACKWARD, diff, net->act[k],
        NULL,
        k);
  }
  return net_build_weighted_backward (net, k, diff, error);
}

gboolean
net_build_pool_backward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_pooling_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  Window win;

  if (!net_needs_input_gradient (net, k))
    return TRUE;
  net_window_of (l, &win);
  TRY (dnnl_pooling_backward_desc_init (&desc, win.pool,
          md_of (net->diff[k - 1]), md_of (net->diff[k]), win.strides,
          win.kernel, win.pad_l, win.pad_r));
  if (!net_create_pd (net, &desc, FALSE, st->pd, &pd, error))
    return FALSE;
  gboolean ok = net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (ok)
    net_push_step (net->backward, prim, 3, DNNL_ARG_DIFF_DST, net->diff[k],
        DNNL_ARG_DIFF_SRC, net->diff[k - 1], DNNL_ARG_WORKSPACE, st->workspace);
  return ok;
}

