/* bare_dnnl — the seed network's forward pass written as bare oneDNN
 * primitives, the way oneDNN's own examples would: layouts chosen by the
 * primitives (format_tag_any), ReLU fused as a post-op, weights reordered
 * once, the input's reorder from plain NCHW fp32 counted in every pass.
 * What the engine's forward pass is measured against (bench_engine): the
 * same network with nothing of ours around it. The weights are constant,
 * not trained: speed only. */
#include "bare_dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_STEPS 16
#define CHECK(call) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) { \
      fprintf (stderr, "bare_dnnl: %s failed (%d)\n", #call, (int) s_); \
      exit (1); } } while (0)

struct _BareNet {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  int n;                        /* steps */
  dnnl_primitive_t prim[MAX_STEPS];
  dnnl_exec_arg_t args[MAX_STEPS][4];
  int n_args[MAX_STEPS];
  dnnl_memory_t owned[4 * MAX_STEPS];
  int n_owned;
  dnnl_memory_t input;          /* the caller's NCHW fp32 */
};

static dnnl_memory_t
memory (BareNet * b, const dnnl_memory_desc_t * md, void *handle)
{
  dnnl_memory_t m;

  CHECK (dnnl_memory_create (&m, md, b->engine, handle));
  b->owned[b->n_owned++] = m;
  return m;
}

static const dnnl_memory_desc_t *
query (const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
  return dnnl_primitive_desc_query_md (pd, what, 0);
}

static void
add_step (BareNet * b, dnnl_primitive_desc_t pd, int n_args,
    const dnnl_exec_arg_t * args)
{
  CHECK (dnnl_primitive_create (&b->prim[b->n], pd));
  for (int i = 0; i < n_args; i++)
    b->args[b->n][i] = args[i];
  b->n_args[b->n] = n_args;
  b->n++;
  CHECK (dnnl_primitive_desc_destroy (pd));
}

/* from, in its layout, reordered into a new memory of layout md: as a step
 * of every pass (run) or once, now */
static dnnl_memory_t
reordered (BareNet * b, dnnl_memory_t from, const dnnl_memory_desc_t * md,
    int run)
{
  const dnnl_memory_desc_t *from_md;
  dnnl_primitive_desc_t pd;
  dnnl_memory_t to;

  CHECK (dnnl_memory_get_memory_desc (from, &from_md));
  if (dnnl_memory_desc_equal (from_md, md))
    return from;
  to = memory (b, md, DNNL_MEMORY_ALLOCATE);
  CHECK (dnnl_reorder_primitive_desc_create (&pd, from_md, b->engine, md,
          b->engine, NULL));
  dnnl_exec_arg_t args[] = { {DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to} };
  if (run) {
    add_step (b, pd, 2, args);
  } else {
    dnnl_primitive_t r;
    CHECK (dnnl_primitive_create (&r, pd));
    CHECK (dnnl_primitive_execute (r, b->stream, 2, args));
    CHECK (dnnl_stream_wait (b->stream));
    CHECK (dnnl_primitive_destroy (r));
    CHECK (dnnl_primitive_desc_destroy (pd));
  }
  return to;
}

/* constant weights or bias of dims in plain layout tag, then in md */
static dnnl_memory_t
constant (BareNet * b, int ndims, const dnnl_dims_t dims,
    dnnl_format_tag_t tag, const dnnl_memory_desc_t * md)
{
  dnnl_memory_desc_t plain;
  dnnl_memory_t m;
  float *data;
  size_t n = 1;

  for (int i = 0; i < ndims; i++)
    n *= dims[i];
  CHECK (dnnl_memory_desc_init_by_tag (&plain, ndims, dims, dnnl_f32, tag));
  m = memory (b, &plain, DNNL_MEMORY_ALLOCATE);
  CHECK (dnnl_memory_get_data_handle (m, (void **) &data));
  for (size_t i = 0; i < n; i++)
    data[i] = (float) ((int) (i % 13) - 6) * 0.01f;
  return reordered (b, m, md, 0);
}

static dnnl_memory_desc_t
any (int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt)
{
  dnnl_memory_desc_t md;

  CHECK (dnnl_memory_desc_init_by_tag (&md, ndims, dims, dt,
          dnnl_format_tag_any));
  return md;
}

static dnnl_primitive_attr_t
relu_attr (void)
{
  dnnl_primitive_attr_t attr;
  dnnl_post_ops_t ops;

  CHECK (dnnl_primitive_attr_create (&attr));
  CHECK (dnnl_post_ops_create (&ops));
  CHECK (dnnl_post_ops_append_eltwise (ops, 1.0f, dnnl_eltwise_relu, 0, 0));
  CHECK (dnnl_primitive_attr_set_post_ops (attr, ops));
  CHECK (dnnl_post_ops_destroy (ops));
  return attr;
}

/* conv 3x3 valid + ReLU, from src (c x h x w) to units channels */
static dnnl_memory_t
conv (BareNet * b, dnnl_memory_t src, int batch, int c, int h, int w,
    int units, dnnl_data_type_t dt)
{
  dnnl_dims_t sd = { batch, c, h, w }, wd = { units, c, 3, 3 }, bd = { units };
  dnnl_dims_t dd = { batch, units, h - 2, w - 2 };
  dnnl_dims_t one = { 1, 1 }, zero = { 0, 0 };
  dnnl_memory_desc_t s = any (4, sd, dt), wt = any (4, wd, dt),
      d = any (4, dd, dt), bias;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_attr_t attr = relu_attr ();

  CHECK (dnnl_memory_desc_init_by_tag (&bias, 1, bd, dnnl_f32, dnnl_a));
  CHECK (dnnl_convolution_forward_desc_init (&desc, dnnl_forward_inference,
          dnnl_convolution_direct, &s, &wt, &bias, &d, one, zero, zero));
  CHECK (dnnl_primitive_desc_create (&pd, &desc, attr, b->engine, NULL));
  CHECK (dnnl_primitive_attr_destroy (attr));
  dnnl_memory_t in = reordered (b, src, query (pd, dnnl_query_src_md), 1);
  dnnl_memory_t weights = constant (b, 4, wd, dnnl_oihw,
      query (pd, dnnl_query_weights_md));
  dnnl_memory_t biases = constant (b, 1, bd, dnnl_a, &bias);
  dnnl_memory_t out = memory (b, query (pd, dnnl_query_dst_md),
      DNNL_MEMORY_ALLOCATE);
  dnnl_exec_arg_t args[] = { {DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, weights},
  {DNNL_ARG_BIAS, biases}, {DNNL_ARG_DST, out}
  };
  add_step (b, pd, 4, args);
  return out;
}

/* 2x2 max pooling of src (c x h x w), in its layout */
static dnnl_memory_t
pool (BareNet * b, dnnl_memory_t src, int batch, int c, int h, int w,
    dnnl_data_type_t dt)
{
  dnnl_dims_t dd = { batch, c, h / 2, w / 2 };
  dnnl_dims_t two = { 2, 2 }, zero = { 0, 0 };
  const dnnl_memory_desc_t *s;
  dnnl_memory_desc_t d = any (4, dd, dt);
  dnnl_pooling_desc_t desc;
  dnnl_primitive_desc_t pd;

  CHECK (dnnl_memory_get_memory_desc (src, &s));
  CHECK (dnnl_pooling_forward_desc_init (&desc, dnnl_forward_inference,
          dnnl_pooling_max, s, &d, two, two, zero, zero));
  CHECK (dnnl_primitive_desc_create (&pd, &desc, NULL, b->engine, NULL));
  dnnl_memory_t out = memory (b, query (pd, dnnl_query_dst_md),
      DNNL_MEMORY_ALLOCATE);
  dnnl_exec_arg_t args[] = { {DNNL_ARG_SRC, src}, {DNNL_ARG_DST, out} };
  add_step (b, pd, 2, args);
  return out;
}

/* fully connected (+ ReLU) from src (ndims 4: c x h x w, or 2: c) */
static dnnl_memory_t
dense (BareNet * b, dnnl_memory_t src, int batch, int ndims,
    const dnnl_dims_t in, int units, int relu, dnnl_data_type_t dt,
    dnnl_data_type_t out_dt)
{
  dnnl_dims_t sd = { batch, in[0], in[1], in[2] };
  dnnl_dims_t wd = { units, in[0], in[1], in[2] }, bd = { units };
  dnnl_dims_t dd = { batch, units };
  dnnl_memory_desc_t s = any (ndims, sd, dt), wt = any (ndims, wd, dt),
      d = any (2, dd, out_dt), bias;
  dnnl_inner_product_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_attr_t attr = relu ? relu_attr () : NULL;

  CHECK (dnnl_memory_desc_init_by_tag (&bias, 1, bd, dnnl_f32, dnnl_a));
  CHECK (dnnl_inner_product_forward_desc_init (&desc, dnnl_forward_inference,
          &s, &wt, &bias, &d));
  CHECK (dnnl_primitive_desc_create (&pd, &desc, attr, b->engine, NULL));
  if (attr)
    CHECK (dnnl_primitive_attr_destroy (attr));
  dnnl_memory_t input = reordered (b, src, query (pd, dnnl_query_src_md), 1);
  dnnl_memory_t weights = constant (b, ndims, wd, ndims == 4 ? dnnl_oihw :
      dnnl_oi, query (pd, dnnl_query_weights_md));
  dnnl_memory_t biases = constant (b, 1, bd, dnnl_a, &bias);
  dnnl_memory_t out = memory (b, query (pd, dnnl_query_dst_md),
      DNNL_MEMORY_ALLOCATE);
  dnnl_exec_arg_t args[] = { {DNNL_ARG_SRC, input},
  {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, biases}, {DNNL_ARG_DST, out}
  };
  add_step (b, pd, 4, args);
  return out;
}

BareNet *
bare_seed_new (int batch, int bf16, float *input)
{
  BareNet *b = calloc (1, sizeof *b);
  dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_dims_t id = { batch, 1, 124, 124 };
  dnnl_memory_desc_t plain;
  dnnl_memory_t x;

  CHECK (dnnl_engine_create (&b->engine, dnnl_cpu, 0));
  CHECK (dnnl_stream_create (&b->stream, b->engine,
          dnnl_stream_default_flags));
  CHECK (dnnl_memory_desc_init_by_tag (&plain, 4, id, dnnl_f32, dnnl_nchw));
  b->input = x = memory (b, &plain, input);
  /* conv:32 relu maxpool:2 conv:64 relu maxpool:2 conv:128 relu
   * maxpool:2 flatten dense:128 relu dense:1 (dropout: none at inference) */
  x = pool (b, conv (b, x, batch, 1, 124, 124, 32, dt), batch, 32, 122, 122,
      dt);
  x = pool (b, conv (b, x, batch, 32, 61, 61, 64, dt), batch, 64, 59, 59, dt);
  x = pool (b, conv (b, x, batch, 64, 29, 29, 128, dt), batch, 128, 27, 27,
      dt);
  dnnl_dims_t flat = { 128, 13, 13 }, hidden = { 128, 0, 0 };
  x = dense (b, x, batch, 4, flat, 128, 1, dt, dt);
  dense (b, x, batch, 2, hidden, 1, 0, dt, dnnl_f32);
  return b;
}

void
bare_seed_forward (BareNet * b)
{
  for (int i = 0; i < b->n; i++)
    CHECK (dnnl_primitive_execute (b->prim[i], b->stream, b->n_args[i],
            b->args[i]));
  CHECK (dnnl_stream_wait (b->stream));
}

void
bare_seed_free (BareNet * b)
{
  for (int i = 0; i < b->n; i++)
    dnnl_primitive_destroy (b->prim[i]);
  for (int i = 0; i < b->n_owned; i++)
    dnnl_memory_destroy (b->owned[i]);
  dnnl_stream_destroy (b->stream);
  dnnl_engine_destroy (b->engine);
  free (b);
}
