/* netbuild.c — building a net's steps: a oneDNN primitive for each layer
 * forward and, when training, backward, with a ReLU fused into the
 * convolution, batch-norm or dense layer it follows.
 *
 * Layouts are left to oneDNN (format_tag_any); a primitive that wants its
 * input in another layout than the one before it gives gets a reorder step
 * in front of it. Element-wise work that oneDNN 2.6 has no primitive for
 * (dropout, the ReLU gradient of a fused ReLU, batch-norm running
 * statistics) becomes a hand step, which netloops.c runs. */
#include "netprivate.h"

#include <stdarg.h>
#include <string.h>

/* ---- small builders -------------------------------------------------- */

static gboolean
new_memory (CxrNet *net, const dnnl_memory_desc_t *md, void *handle,
    dnnl_memory_t *mem, GError **error)
{
  TRY (dnnl_memory_create (mem, md, net->engine, handle));
  g_ptr_array_add (net->memories, *mem);
  if (handle == DNNL_MEMORY_ALLOCATE)
    memset (data_of (*mem), 0, dnnl_memory_desc_get_size (md));
  return TRUE;
}

/* a plain (row-major) f32 layout */
static gboolean
plain_md (dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
    GError **error)
{
  static const dnnl_format_tag_t tags[] = { dnnl_format_tag_undef, dnnl_a,
    dnnl_ab, dnnl_abc, dnnl_abcd
  };
  TRY (dnnl_memory_desc_init_by_tag (md, ndims, dims, dnnl_f32, tags[ndims]));
  return TRUE;
}

gboolean
net_plain_memory (CxrNet *net, int ndims, const dnnl_dims_t dims, void *handle,
    dnnl_memory_t *mem, GError **error)
{
  dnnl_memory_desc_t md;
  return plain_md (&md, ndims, dims, error)
      && new_memory (net, &md, handle, mem, error);
}

gboolean
net_new_primitive (CxrNet *net, dnnl_primitive_desc_t pd,
    dnnl_primitive_t *prim, GError **error)
{
  TRY (dnnl_primitive_create (prim, pd));
  g_ptr_array_add (net->primitives, *prim);
  return TRUE;
}

static void
push_step (GArray *steps, dnnl_primitive_t prim, int n_args, ...)
{
  Step s = { .kind = STEP_PRIMITIVE, .primitive = prim, .n_args = 0 };
  va_list ap;

  va_start (ap, n_args);
  for (int i = 0; i < n_args; i++) {
    int arg = va_arg (ap, int);
    dnnl_memory_t mem = va_arg (ap, dnnl_memory_t);
    if (!mem)
      continue;                 /* optional argument not used */
    s.args[s.n_args].arg = arg;
    s.args[s.n_args].memory = mem;
    s.n_args++;
  }
  va_end (ap);
  g_array_append_val (steps, s);
}

static void
push_hand_step (GArray *steps, StepKind kind, dnnl_memory_t a, dnnl_memory_t b,
    dnnl_memory_t c, int layer)
{
  Step s = { .kind = kind, .a = a, .b = b, .c = c, .layer = layer };
  g_array_append_val (steps, s);
}

/* `have` when its layout is `want`, else a new memory of layout `want` */
static gboolean
memory_like (CxrNet *net, dnnl_memory_t have, const dnnl_memory_desc_t *want,
    dnnl_memory_t *out, GError **error)
{
  if (dnnl_memory_desc_equal (md_of (have), want)) {
    *out = have;
    return TRUE;
  }
  return new_memory (net, want, DNNL_MEMORY_ALLOCATE, out, error);
}

/* A reorder step from -> to (nothing when they are the same memory). */
static gboolean
push_reorder (CxrNet *net, GArray *steps, dnnl_memory_t from, dnnl_memory_t to,
    GError **error)
{
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;

  if (from == to)
    return TRUE;
  TRY (dnnl_reorder_primitive_desc_create (&pd, md_of (from), net->engine,
          md_of (to), net->engine, NULL));
  gboolean ok = net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (ok)
    push_step (steps, prim, 2, DNNL_ARG_FROM, from, DNNL_ARG_TO, to);
  return ok;
}

/* Memory for argument `what` of pd, fed from `have` by a reorder in front. */
static gboolean
input_for (CxrNet *net, GArray *steps, dnnl_primitive_desc_t pd,
    dnnl_query_t what, dnnl_memory_t have, dnnl_memory_t *out, GError **error)
{
  return memory_like (net, have, dnnl_primitive_desc_query_md (pd, what, 0),
      out, error) && push_reorder (net, steps, have, *out, error);
}

static const dnnl_memory_desc_t *
query (dnnl_primitive_desc_t pd, dnnl_query_t what)
{
  return dnnl_primitive_desc_query_md (pd, what, 0);
}

static gboolean
relu_attr (gboolean relu, dnnl_primitive_attr_t *attr, GError **error)
{
  dnnl_post_ops_t ops;
  TRY (dnnl_primitive_attr_create (attr));
  /* one scratchpad for the whole net (see share_scratchpad) */
  TRY (dnnl_primitive_attr_set_scratchpad_mode (*attr, dnnl_scratchpad_mode_user));
  if (relu) {
    TRY (dnnl_post_ops_create (&ops));
    TRY (dnnl_post_ops_append_eltwise (ops, 1.0f, dnnl_eltwise_relu, 0.f, 0.f));
    TRY (dnnl_primitive_attr_set_post_ops (*attr, ops));
    dnnl_post_ops_destroy (ops);
  }
  return TRUE;
}

static gboolean
create_pd (CxrNet *net, const void *desc, gboolean relu,
    dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd, GError **error)
{
  dnnl_primitive_attr_t attr;
  dnnl_status_t s;

  if (!relu_attr (relu, &attr, error))
    return FALSE;
  s = dnnl_primitive_desc_create (pd, desc, attr, net->engine, hint);
  dnnl_primitive_attr_destroy (attr);
  if (s != dnnl_success) {
    /* every oneDNN operation descriptor starts with its primitive kind */
    g_set_error (error, CXR_ERROR, CXR_ERROR_ENGINE,
        "oneDNN has no %s primitive for a layer of this network (%s)",
        dnnl_prim_kind2str (*(const dnnl_primitive_kind_t *) desc),
        dnnl_status2str (s));
    return FALSE;
  }
  return TRUE;
}

static void
dims4 (dnnl_dims_t d, int64_t a, int64_t b, int64_t c, int64_t e)
{
  d[0] = a;
  d[1] = b;
  d[2] = c;
  d[3] = e;
}

static gboolean
any_md (dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
    dnnl_data_type_t dt, GError **error)
{
  TRY (dnnl_memory_desc_init_by_tag (md, ndims, dims, dt, dnnl_format_tag_any));
  return TRUE;
}


const float *
net_param (const CxrNet *net, const float *block, const CxrLayer *l,
    CxrParamKind kind)
{
  for (int i = l->first_param; i < l->first_param + l->n_params; i++)
    if (net->spec->params[i].kind == kind)
      return block + net->spec->params[i].offset;
  return NULL;
}

/* Run the reorder from a temporary plain buffer into `to` right now: weights
 * of inference nets, copied once. */
static gboolean
load_now (CxrNet *net, const dnnl_memory_desc_t *plain_md, const float *data,
    dnnl_memory_t to, GError **error)
{
  dnnl_memory_t from;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_exec_arg_t args[2];

  TRY (dnnl_memory_create (&from, plain_md, net->engine, (void *) data));
  TRY (dnnl_reorder_primitive_desc_create (&pd, plain_md, net->engine,
          md_of (to), net->engine, NULL));
  TRY (dnnl_primitive_create (&prim, pd));
  args[0] = (dnnl_exec_arg_t) { DNNL_ARG_FROM, from };
  args[1] = (dnnl_exec_arg_t) { DNNL_ARG_TO, to };
  TRY (dnnl_primitive_execute (prim, net->stream, 2, args));
  TRY (dnnl_stream_wait (net->stream));
  dnnl_primitive_destroy (prim);
  dnnl_primitive_desc_destroy (pd);
  dnnl_memory_destroy (from);
  return TRUE;
}

/* Geometry of a convolution or pooling window, as oneDNN's descriptors take
 * it. The right padding is what the output size actually uses. */
typedef struct {
  dnnl_dims_t strides, kernel, pad_l, pad_r;
  dnnl_alg_kind_t pool;
} Window;

static void
window_of (const CxrLayer *l, Window *w)
{
  gboolean global = l->type == CXR_LAYER_GAP;
  int kh = global ? l->in_h : l->kernel, kw = global ? l->in_w : l->kernel;
  int stride = global ? 1 : l->stride, pad = global ? 0 : l->pad;

  w->strides[0] = w->strides[1] = stride;
  w->kernel[0] = kh;
  w->kernel[1] = kw;
  w->pad_l[0] = w->pad_l[1] = pad;
  w->pad_r[0] = (l->out_h - 1) * stride + kh - l->in_h - pad;
  w->pad_r[1] = (l->out_w - 1) * stride + kw - l->in_w - pad;
  w->pool = l->type == CXR_LAYER_MAXPOOL ? dnnl_pooling_max
      : dnnl_pooling_avg_exclude_padding;
}

/* ---- forward builders, one per layer type ---------------------------- */

static dnnl_memory_t
previous_output (CxrNet *net, int k)
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
  const dnnl_memory_desc_t *want = query (pd, dnnl_query_weights_md);
  dnnl_dims_t bias_dims = { l->units };
  const float *w = net_param (net, params, l, CXR_PARAM_WEIGHT);
  const float *b = net_param (net, params, l, CXR_PARAM_BIAS);

  if (net->training) {
    dnnl_memory_t user;
    if (!net_plain_memory (net, ndims, dims, (void *) w, &user, error)
        || !input_for (net, net->forward, pd, dnnl_query_weights_md, user,
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
      && new_memory (net, want, DNNL_MEMORY_ALLOCATE, weights, error)
      && load_now (net, &plain, folded_w, *weights, error)
      && net_plain_memory (net, 1, bias_dims, DNNL_MEMORY_ALLOCATE, bias,
          error);
  if (ok)
    memcpy (data_of (*bias), folded_b, n * sizeof (float));
  g_free (folded_w);
  g_free (folded_b);
  return ok;
}

static gboolean
build_conv_forward (CxrNet *net, int k, const float *params, GError **error)
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

  window_of (l, &win);

  dims4 (src_d, net->batch, l->in_c, l->in_h, l->in_w);
  dims4 (w_d, l->units, l->in_c, l->kernel, l->kernel);
  dims4 (dst_d, net->batch, l->units, l->out_h, l->out_w);
  if (!any_md (&src_md, 4, src_d, net->dt, error)
      || !any_md (&w_md, 4, w_d, net->dt, error)
      || !any_md (&dst_md, 4, dst_d, net->dt, error))
    return FALSE;
  TRY (dnnl_memory_desc_init_by_tag (&bias_md, 1, bias_d, dnnl_f32, dnnl_a));
  TRY (dnnl_convolution_forward_desc_init (&desc,
          net->training ? dnnl_forward_training : dnnl_forward_inference,
          dnnl_convolution_direct, &src_md, &w_md, has_bias ? &bias_md : NULL,
          &dst_md, win.strides, win.pad_l, win.pad_r));
  if (!create_pd (net, &desc, l->relu && !bn_train, NULL, &st->pd, error))
    return FALSE;
  if (!net->implementation[0]) {
    const char *impl = "";
    dnnl_primitive_desc_query (st->pd, dnnl_query_impl_info_str, 0, &impl);
    g_strlcpy (net->implementation, impl, sizeof net->implementation);
  }
  if (!input_for (net, net->forward, st->pd, dnnl_query_src_md,
          previous_output (net, k), &st->src, error)
      || !build_weights (net, k, st->pd, 4, w_d, params, &st->weights, &bias,
          error)
      || !new_memory (net, query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  push_step (net->forward, prim, 4, DNNL_ARG_SRC, st->src, DNNL_ARG_WEIGHTS,
      st->weights, DNNL_ARG_BIAS, bias, DNNL_ARG_DST, dst);
  net->act[k] = dst;
  if (!bn_train)
    return TRUE;

  /* training batch-norm, with the ReLU fused into it */
  dnnl_batch_normalization_desc_t bn;
  unsigned flags = dnnl_use_scale | dnnl_use_shift
      | (l->relu ? dnnl_fuse_norm_relu : 0);
  dnnl_memory_t scale, shift, out;
  st->conv_dst = dst;
  TRY (dnnl_batch_normalization_forward_desc_init (&bn, dnnl_forward_training,
          md_of (dst), CXR_BN_EPSILON, flags));
  if (!create_pd (net, &bn, FALSE, NULL, &st->bn_pd, error)
      || !new_memory (net, query (st->bn_pd, dnnl_query_dst_md),
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
  if (l->relu && !new_memory (net, query (st->bn_pd, dnnl_query_workspace_md),
          DNNL_MEMORY_ALLOCATE, &st->bn_workspace, error))
    return FALSE;
  if (!net_new_primitive (net, st->bn_pd, &prim, error))
    return FALSE;
  push_step (net->forward, prim, 7, DNNL_ARG_SRC, dst, DNNL_ARG_DST, out,
      DNNL_ARG_MEAN, st->mean, DNNL_ARG_VARIANCE, st->variance,
      DNNL_ARG_SCALE, scale, DNNL_ARG_SHIFT, shift,
      DNNL_ARG_WORKSPACE, st->bn_workspace);
  push_hand_step (net->forward, STEP_BN_RUNNING, st->mean, st->variance, NULL,
      k);
  net->act[k] = out;
  return TRUE;
}

static gboolean
build_pool_forward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_dims_t dst_d;
  dnnl_memory_desc_t dst_md;
  dnnl_pooling_desc_t desc;
  dnnl_primitive_t prim;
  dnnl_memory_t src = previous_output (net, k), dst;
  Window win;

  window_of (l, &win);
  dims4 (dst_d, net->batch, l->out_c, l->out_h, l->out_w);
  if (!any_md (&dst_md, 4, dst_d, net->dt, error))
    return FALSE;
  TRY (dnnl_pooling_forward_desc_init (&desc,
          net->training ? dnnl_forward_training : dnnl_forward_inference,
          win.pool, md_of (src), &dst_md, win.strides, win.kernel, win.pad_l,
          win.pad_r));
  if (!create_pd (net, &desc, FALSE, NULL, &st->pd, error)
      || !new_memory (net, query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  st->workspace = NULL;
  if (net->training && win.pool == dnnl_pooling_max
      && !new_memory (net, query (st->pd, dnnl_query_workspace_md),
          DNNL_MEMORY_ALLOCATE, &st->workspace, error))
    return FALSE;
  push_step (net->forward, prim, 3, DNNL_ARG_SRC, src, DNNL_ARG_DST, dst,
      DNNL_ARG_WORKSPACE, st->workspace);
  net->act[k] = dst;
  return TRUE;
}

static gboolean
build_dense_forward (CxrNet *net, int k, const float *params, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  gboolean last = k == net->spec->n_layers - 1;
  /* after another dense layer the input is already [batch, features] */
  gboolean flat = md_of (previous_output (net, k))->ndims == 2;
  int nd = flat ? 2 : 4;
  dnnl_dims_t src_d, w_d, dst_d = { net->batch, l->units }, bias_d = { l->units };
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
    dims4 (src_d, net->batch, l->in_c, l->in_h, l->in_w);
    dims4 (w_d, l->units, l->in_c, l->in_h, l->in_w);
  }
  if (!any_md (&src_md, nd, src_d, net->dt, error)
      || !any_md (&w_md, nd, w_d, net->dt, error))
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
  if (!create_pd (net, &desc, l->relu, NULL, &st->pd, error)
      || !input_for (net, net->forward, st->pd, dnnl_query_src_md,
          previous_output (net, k), &st->src, error)
      || !build_weights (net, k, st->pd, nd, w_d, params, &st->weights, &bias,
          error)
      || !new_memory (net, query (st->pd, dnnl_query_dst_md),
          DNNL_MEMORY_ALLOCATE, &dst, error)
      || !net_new_primitive (net, st->pd, &prim, error))
    return FALSE;
  push_step (net->forward, prim, 4, DNNL_ARG_SRC, st->src, DNNL_ARG_WEIGHTS,
      st->weights, DNNL_ARG_BIAS, bias, DNNL_ARG_DST, dst);
  net->act[k] = dst;
  return TRUE;
}

/* dropout layer k comes right after a layer with a fused ReLU and no
 * batch-norm, whose output is then the ReLU's */
static gboolean
relu_before_dropout (const CxrNet *net, int k)
{
  const CxrLayer *prev = &net->spec->layers[k - 1];

  return prev->relu && !prev->batch_norm;
}

static gboolean
build_dropout_forward (CxrNet *net, int k, GError **error)
{
  dnnl_memory_t src = previous_output (net, k);
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
  if (k > 0 && relu_before_dropout (net, k)) {
    net->act[k] = src;
    push_hand_step (net->forward, STEP_DROPOUT_FORWARD, src, src, NULL, k);
    return TRUE;
  }
  if (!new_memory (net, md_of (src), DNNL_MEMORY_ALLOCATE, &net->act[k], error))
    return FALSE;
  push_hand_step (net->forward, STEP_DROPOUT_FORWARD, src, net->act[k], NULL,
      k);
  return TRUE;
}

/* ---- backward builders ----------------------------------------------- */

/* Does any layer before k have parameters (so that diff[k - 1] is needed)? */
static gboolean
needs_input_gradient (const CxrNet *net, int k)
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
static gboolean
build_weighted_backward (CxrNet *net, int k, dnnl_memory_t diff_dst,
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
  int nd = query (st->pd, dnnl_query_weights_md)->ndims;
  Window win;

  window_of (l, &win);

  memcpy (w_d, query (st->pd, dnnl_query_weights_md)->dims, sizeof w_d);
  dw_user = grad_memory_of (net, l, CXR_PARAM_WEIGHT, nd, w_d, error);
  db = grad_memory_of (net, l, CXR_PARAM_BIAS, 1, b_d, error);
  if (!dw_user)
    return FALSE;
  if (!any_md (&dw_md, nd, w_d, dnnl_f32, error)
      || (!conv && !plain_md (&dw_md, nd, w_d, error))
      || !any_md (&ddst_md, md_of (diff_dst)->ndims, md_of (diff_dst)->dims,
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
    if (!create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  } else {
    dnnl_inner_product_desc_t desc;
    dnnl_dims_t b_dims = { l->units };
    dnnl_memory_desc_t b_md;
    TRY (dnnl_memory_desc_init_by_tag (&b_md, 1, b_dims, dnnl_f32, dnnl_a));
    TRY (dnnl_inner_product_backward_weights_desc_init (&desc,
            md_of (st->src), &dw_md, &b_md, &ddst_md));
    if (!create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  }
  gboolean ok = input_for (net, net->backward, pd, dnnl_query_src_md, st->src,
      &src, error)
      && input_for (net, net->backward, pd, dnnl_query_diff_dst_md, diff_dst,
      &dd, error)
      && memory_like (net, dw_user, query (pd, dnnl_query_diff_weights_md), &dw,
      error)
      && net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (!ok)
    return FALSE;
  push_step (net->backward, prim, 4, DNNL_ARG_SRC, src, DNNL_ARG_DIFF_DST, dd,
      DNNL_ARG_DIFF_WEIGHTS, dw, DNNL_ARG_DIFF_BIAS, db);
  if (!push_reorder (net, net->backward, dw, dw_user, error))
    return FALSE;

  /* input gradient */
  if (!needs_input_gradient (net, k))
    return TRUE;
  const dnnl_memory_desc_t *src_md = md_of (st->src);
  if (!any_md (&dsrc_md, src_md->ndims, src_md->dims, net->dt, error))
    return FALSE;
  if (conv) {
    dnnl_convolution_desc_t desc;
    dnnl_memory_desc_t w_any;
    if (!any_md (&w_any, nd, w_d, net->dt, error))
      return FALSE;
    TRY (dnnl_convolution_backward_data_desc_init (&desc,
            dnnl_convolution_direct, &dsrc_md, &w_any, &ddst_md, win.strides,
            win.pad_l, win.pad_r));
    if (!create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  } else {
    dnnl_inner_product_desc_t desc;
    dnnl_memory_desc_t w_any;
    if (!any_md (&w_any, nd, w_d, net->dt, error))
      return FALSE;
    TRY (dnnl_inner_product_backward_data_desc_init (&desc, &dsrc_md, &w_any,
            &ddst_md));
    if (!create_pd (net, &desc, FALSE, st->pd, &pd, error))
      return FALSE;
  }
  ok = input_for (net, net->backward, pd, dnnl_query_weights_md, st->weights,
      &w, error)
      && input_for (net, net->backward, pd, dnnl_query_diff_dst_md, diff_dst,
      &dd, error)
      && memory_like (net, net->diff[k - 1], query (pd, dnnl_query_diff_src_md),
      &dsrc, error)
      && net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (!ok)
    return FALSE;
  push_step (net->backward, prim, 3, DNNL_ARG_WEIGHTS, w, DNNL_ARG_DIFF_DST, dd,
      DNNL_ARG_DIFF_SRC, dsrc);
  return push_reorder (net, net->backward, dsrc, net->diff[k - 1], error);
}

static gboolean
build_conv_backward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_memory_t diff = net->diff[k];

  if (l->batch_norm) {
    dnnl_batch_normalization_desc_t desc;
    unsigned flags = dnnl_use_scale | dnnl_use_shift
        | (l->relu ? dnnl_fuse_norm_relu : 0);
    dnnl_dims_t c_d = { l->units };
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t scale, shift, dscale, dshift, dconv;

    TRY (dnnl_batch_normalization_backward_desc_init (&desc, dnnl_backward,
            md_of (diff), md_of (st->conv_dst), CXR_BN_EPSILON, flags));
    if (!create_pd (net, &desc, FALSE, st->bn_pd, &pd, error))
      return FALSE;
    gboolean ok = net_new_primitive (net, pd, &prim, error)
        && new_memory (net, query (pd, dnnl_query_diff_src_md),
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
    push_step (net->backward, prim, 10, DNNL_ARG_SRC, st->conv_dst,
        DNNL_ARG_MEAN, st->mean, DNNL_ARG_VARIANCE, st->variance,
        DNNL_ARG_DIFF_DST, diff, DNNL_ARG_SCALE, scale, DNNL_ARG_SHIFT, shift,
        DNNL_ARG_WORKSPACE, st->bn_workspace, DNNL_ARG_DIFF_SRC, dconv,
        DNNL_ARG_DIFF_SCALE, dscale, DNNL_ARG_DIFF_SHIFT, dshift);
    diff = dconv;
  } else if (l->relu && !st->relu_done_by_dropout) {
    push_hand_step (net->backward, STEP_RELU_BACKWARD, diff, net->act[k], NULL,
        k);
  }
  return build_weighted_backward (net, k, diff, error);
}

static gboolean
build_pool_backward (CxrNet *net, int k, GError **error)
{
  const CxrLayer *l = &net->spec->layers[k];
  LayerState *st = &net->state[k];
  dnnl_pooling_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  Window win;

  if (!needs_input_gradient (net, k))
    return TRUE;
  window_of (l, &win);
  TRY (dnnl_pooling_backward_desc_init (&desc, win.pool,
          md_of (net->diff[k - 1]), md_of (net->diff[k]), win.strides,
          win.kernel, win.pad_l, win.pad_r));
  if (!create_pd (net, &desc, FALSE, st->pd, &pd, error))
    return FALSE;
  gboolean ok = net_new_primitive (net, pd, &prim, error);
  dnnl_primitive_desc_destroy (pd);
  if (ok)
    push_step (net->backward, prim, 3, DNNL_ARG_DIFF_DST, net->diff[k],
        DNNL_ARG_DIFF_SRC, net->diff[k - 1], DNNL_ARG_WORKSPACE, st->workspace);
  return ok;
}

/* ---- building the whole net ------------------------------------------ */

/* Give every primitive that needs scratch memory the same buffer, rather
 * than letting each allocate (and page-fault) its own on every call. */
static gboolean
share_scratchpad (CxrNet *net, GArray *steps, GError **error)
{
  for (guint i = 0; i < steps->len; i++) {
    Step *s = &g_array_index (steps, Step, i);
    const_dnnl_primitive_desc_t pd;
    const dnnl_memory_desc_t *md;
    dnnl_memory_t mem;
    if (s->kind != STEP_PRIMITIVE)
      continue;
    TRY (dnnl_primitive_get_primitive_desc (s->primitive, &pd));
    md = dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
    if (!md || dnnl_memory_desc_get_size (md) == 0)
      continue;
    if (!new_memory (net, md, net->scratchpad, &mem, error))
      return FALSE;
    s->args[s->n_args].arg = DNNL_ARG_SCRATCHPAD;
    s->args[s->n_args].memory = mem;
    s->n_args++;
  }
  return TRUE;
}

static size_t
scratchpad_size (GArray *steps)
{
  size_t size = 0;
  for (guint i = 0; i < steps->len; i++) {
    Step *s = &g_array_index (steps, Step, i);
    const_dnnl_primitive_desc_t pd;
    const dnnl_memory_desc_t *md;
    if (s->kind != STEP_PRIMITIVE
        || dnnl_primitive_get_primitive_desc (s->primitive, &pd) != dnnl_success)
      continue;
    md = dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
    if (md)
      size = MAX (size, dnnl_memory_desc_get_size (md));
  }
  return size;
}

static gboolean
build_scratchpad (CxrNet *net, GError **error)
{
  size_t size = MAX (scratchpad_size (net->forward),
      scratchpad_size (net->backward));
  net->scratchpad = g_malloc0 (MAX (size, 64));
  return share_scratchpad (net, net->forward, error)
      && share_scratchpad (net, net->backward, error);
}

gboolean
net_build (CxrNet *net, float *params, GError **error)
{
  const CxrNetSpec *spec = net->spec;
  dnnl_dims_t in_d;

  dims4 (in_d, net->batch, spec->in_c, spec->in_h, spec->in_w);
  if (!net_plain_memory (net, 4, in_d, DNNL_MEMORY_NONE, &net->input, error))
    return FALSE;

  for (int k = 0; k < spec->n_layers; k++) {
    const CxrLayer *l = &spec->layers[k];
    gboolean ok = TRUE;
    switch (l->type) {
      case CXR_LAYER_CONV:
        ok = build_conv_forward (net, k, params, error);
        break;
      case CXR_LAYER_MAXPOOL:
      case CXR_LAYER_AVGPOOL:
      case CXR_LAYER_GAP:
        ok = build_pool_forward (net, k, error);
        break;
      case CXR_LAYER_DENSE:
        ok = build_dense_forward (net, k, params, error);
        break;
      case CXR_LAYER_DROPOUT:
        ok = build_dropout_forward (net, k, error);
        break;
      case CXR_LAYER_FLATTEN:
        net->act[k] = previous_output (net, k);
        break;
    }
    if (!ok)
      return FALSE;
  }
  if (!net->training)
    return build_scratchpad (net, error);

  /* gradients have the layout of what they are the gradient of; layers that
   * pass their input through share it */
  for (int k = 0; k < spec->n_layers; k++) {
    if (k > 0 && net->act[k] == net->act[k - 1])
      net->diff[k] = net->diff[k - 1];
    else if (!new_memory (net, md_of (net->act[k]), DNNL_MEMORY_ALLOCATE,
            &net->diff[k], error))
      return FALSE;
  }
  for (int k = spec->n_layers - 1; k >= 0; k--) {
    const CxrLayer *l = &spec->layers[k];
    gboolean ok = TRUE;
    switch (l->type) {
      case CXR_LAYER_CONV:
        ok = build_conv_backward (net, k, error);
        break;
      case CXR_LAYER_MAXPOOL:
      case CXR_LAYER_AVGPOOL:
      case CXR_LAYER_GAP:
        ok = build_pool_backward (net, k, error);
        break;
      case CXR_LAYER_DENSE:
        if (l->relu && !net->state[k].relu_done_by_dropout)
          push_hand_step (net->backward, STEP_RELU_BACKWARD, net->diff[k],
              net->act[k], NULL, k);
        ok = build_weighted_backward (net, k, net->diff[k], error);
        break;
      case CXR_LAYER_DROPOUT:
        if (net->state[k].drops && needs_input_gradient (net, k)) {
          /* one pass instead of two when a fused ReLU comes right before */
          gboolean relu = relu_before_dropout (net, k);
          push_hand_step (net->backward, STEP_DROPOUT_BACKWARD, net->diff[k],
              net->diff[k - 1], relu ? net->act[k - 1] : NULL, k);
          net->state[k - 1].relu_done_by_dropout = relu;
        }
        break;
      case CXR_LAYER_FLATTEN:
        break;
    }
    if (!ok)
      return FALSE;
  }
  return build_scratchpad (net, error);
}
