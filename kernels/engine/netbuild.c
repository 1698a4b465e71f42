/* netbuild.c — building a net's steps: a oneDNN primitive for each layer
 * forward and, when training, backward, with a ReLU fused into the
 * convolution, batch-norm or dense layer it follows.
 *
 * Layouts are left to oneDNN (format_tag_any); a primitive that wants its
 * input in another layout than the one before it gives gets a reorder step
 * in front of it. Element-wise work that oneDNN 2.6 has no primitive for
 * (dropout, the ReLU gradient of a fused ReLU, batch-norm running
 * statistics) becomes a hand step, which netloops.c runs. */
#include "netbuilders.h"

#include <stdarg.h>
#include <string.h>

/* ---- small builders -------------------------------------------------- */

gboolean
net_new_memory (CxrNet *net, const dnnl_memory_desc_t *md, void *handle,
    dnnl_memory_t *mem, GError **error)
{
  TRY (dnnl_memory_create (mem, md, net->engine, handle));
  g_ptr_array_add (net->memories, *mem);
  if (handle == DNNL_MEMORY_ALLOCATE)
    memset (data_of (*mem), 0, dnnl_memory_desc_get_size (md));
  return TRUE;
}

/* a plain (row-major) f32 layout */
gboolean
net_plain_md (dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
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
  return net_plain_md (&md, ndims, dims, error)
      && net_new_memory (net, &md, handle, mem, error);
}

gboolean
net_new_primitive (CxrNet *net, dnnl_primitive_desc_t pd,
    dnnl_primitive_t *prim, GError **error)
{
  TRY (dnnl_primitive_create (prim, pd));
  g_ptr_array_add (net->primitives, *prim);
  return TRUE;
}

void
net_push_step (GArray *steps, dnnl_primitive_t prim, int n_args, ...)
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

void
net_push_hand_step (GArray *steps, StepKind kind, dnnl_memory_t a,
    dnnl_memory_t b,
    dnnl_memory_t c, int layer)
{
  Step s = { .kind = kind, .a = a, .b = b, .c = c, .layer = layer };
  g_array_append_val (steps, s);
}

/* `have` when its layout is `want`, else a new memory of layout `want` */
gboolean
net_memory_like (CxrNet *net, dnnl_memory_t have,
    const dnnl_memory_desc_t *want,
    dnnl_memory_t *out, GError **error)
{
  if (dnnl_memory_desc_equal (md_of (have), want)) {
    *out = have;
    return TRUE;
  }
  return net_new_memory (net, want, DNNL_MEMORY_ALLOCATE, out, error);
}

/* A reorder step from -> to (nothing when they are the same memory). */
gboolean
net_push_reorder (CxrNet *net, GArray *steps, dnnl_memory_t from,
    dnnl_memory_t to,
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
    net_push_step (steps, prim, 2, DNNL_ARG_FROM, from, DNNL_ARG_TO, to);
  return ok;
}

/* Memory for argument `what` of pd, fed from `have` by a reorder in front. */
gboolean
net_input_for (CxrNet *net, GArray *steps, dnnl_primitive_desc_t pd,
    dnnl_query_t what, dnnl_memory_t have, dnnl_memory_t *out, GError **error)
{
  return net_memory_like (net, have, dnnl_primitive_desc_query_md (pd, what, 0),
      out, error) && net_push_reorder (net, steps, have, *out, error);
}

const dnnl_memory_desc_t *
net_query (dnnl_primitive_desc_t pd, dnnl_query_t what)
{
  return dnnl_primitive_desc_query_md (pd, what, 0);
}

static gboolean
relu_attr (gboolean relu, dnnl_primitive_attr_t *attr, GError **error)
{
  dnnl_post_ops_t ops;
  TRY (dnnl_primitive_attr_create (attr));
  /* one scratchpad for the whole net (see share_scratchpad) */
  TRY (dnnl_primitive_attr_set_scratchpad_mode (*attr,
      dnnl_scratchpad_mode_user));
  if (relu) {
    TRY (dnnl_post_ops_create (&ops));
    TRY (dnnl_post_ops_append_eltwise (ops, 1.0f, dnnl_eltwise_relu, 0.f, 0.f));
    TRY (dnnl_primitive_attr_set_post_ops (*attr, ops));
    dnnl_post_ops_destroy (ops);
  }
  return TRUE;
}

gboolean
net_create_pd (CxrNet *net, const void *desc, gboolean relu,
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

void
net_dims4 (dnnl_dims_t d, int64_t a, int64_t b, int64_t c, int64_t e)
{
  d[0] = a;
  d[1] = b;
  d[2] = c;
  d[3] = e;
}

gboolean
net_any_md (dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
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
gboolean
net_load_now (CxrNet *net, const dnnl_memory_desc_t *plain_md,
    const float *data,
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
void
net_window_of (const CxrLayer *l, Window *w)
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
    if (!net_new_memory (net, md, net->scratchpad, &mem, error))
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
        || dnnl_primitive_get_primitive_desc (s->primitive,
            &pd) != dnnl_success)
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

  net_dims4 (in_d, net->batch, spec->in_c, spec->in_h, spec->in_w);
  if (!net_plain_memory (net, 4, in_d, DNNL_MEMORY_NONE, &net->input, error))
    return FALSE;

  for (int k = 0; k < spec->n_layers; k++) {
    const CxrLayer *l = &spec->layers[k];
    gboolean ok = TRUE;
    switch (l->type) {
      case CXR_LAYER_CONV:
        ok = net_build_conv_forward (net, k, params, error);
        break;
      case CXR_LAYER_MAXPOOL:
      case CXR_LAYER_AVGPOOL:
      case CXR_LAYER_GAP:
        ok = net_build_pool_forward (net, k, error);
        break;
      case CXR_LAYER_DENSE:
        ok = net_build_dense_forward (net, k, params, error);
        break;
      case CXR_LAYER_DROPOUT:
        ok = net_build_dropout_forward (net, k, error);
        break;
      case CXR_LAYER_FLATTEN:
        net->act[k] = net_previous_output (net, k);
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
    else if (!net_new_memory (net, md_of (net->act[k]), DNNL_MEMORY_ALLOCATE,
            &net->diff[k], error))
      return FALSE;
  }
  for (int k = spec->n_layers - 1; k >= 0; k--) {
    const CxrLayer *l = &spec->layers[k];
    gboolean ok = TRUE;
    switch (l->type) {
      case CXR_LAYER_CONV:
        ok = net_build_conv_backward (net, k, error);
        break;
      case CXR_LAYER_MAXPOOL:
      case CXR_LAYER_AVGPOOL:
      case CXR_LAYER_GAP:
        ok = net_build_pool_backward (net, k, error);
        break;
      case CXR_LAYER_DENSE:
        if (l->relu && !net->state[k].relu_done_by_dropout)
          net_push_hand_step (net->backward, STEP_RELU_BACKWARD, net->diff[k],
              net->act[k], NULL, k);
        ok = net_build_weighted_backward (net, k, net->diff[k], error);
        break;
      case CXR_LAYER_DROPOUT:
        if (net->state[k].drops && net_needs_input_gradient (net, k)) {
          /* one pass instead of two when a fused ReLU comes right before */
          gboolean relu = net_relu_before_dropout (net, k);
          net_push_hand_step (net->backward, STEP_DROPOUT_BACKWARD,
              net->diff[k],
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
