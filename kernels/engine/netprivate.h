/* netprivate.h — what net.c, netbuild.c, netloops.c and bnfold.c share; not
 * installed, and included by nothing else.
 *
 * A net is two lists of steps, forward and (when training) backward, built
 * once (netbuild.c) and run in order (net.c). Every layer k leaves its output
 * in act[k]; when training, diff[k] holds the loss gradient for it, in the
 * same layout. A step is a oneDNN primitive or a hand step: element-wise
 * work that oneDNN 2.6 has no primitive for, run as a plain loop
 * (netloops.c). */
#pragma once
#include "net.h"
#include "error.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

typedef enum {
  STEP_PRIMITIVE,
  STEP_DROPOUT_FORWARD,         /* b = a * mask (mask drawn from a hash;
                                 * b may be a) */
  STEP_DROPOUT_BACKWARD,        /* b = a * the same mask drawn again, and
                                 * the ReLU gradient of the layer before
                                 * when c is its output; in place (b = a),
                                 * c is the masked output and its sign
                                 * gives both */
  STEP_RELU_BACKWARD,           /* a = b > 0 ? a : 0 (b: the ReLU output) */
  STEP_BN_RUNNING,              /* running stats of layer from batch mean a, var b */
  STEP_BN_SHARED_STATS,         /* a shared batch's mean b and variance c
                                 * from this part's pre-norm output a,
                                 * summed over the processes */
  STEP_BN_SHARED_BACKWARD,      /* a: the gradient of the pre-norm output
                                 * as batch-norm backward with the
                                 * statistics held constant gives it; b:
                                 * that output: the terms through the
                                 * shared statistics added to a */
} StepKind;

#define MAX_ARGS 12

typedef struct {
  StepKind kind;
  dnnl_primitive_t primitive;
  int n_args;
  dnnl_exec_arg_t args[MAX_ARGS];
  dnnl_memory_t a, b, c;
  int layer;
} Step;

/* What the backward pass needs to remember of each layer's forward build. */
typedef struct {
  dnnl_primitive_desc_t pd, bn_pd;
  dnnl_memory_t src;            /* input as the forward primitive read it */
  dnnl_memory_t weights;        /* in the primitive's layout */
  dnnl_memory_t conv_dst;       /* before batch-norm */
  dnnl_memory_t mean, variance, workspace, bn_workspace;
  gboolean drops;               /* dropout: this net drops elements (training
                                 * at a rate above 0) */
  gboolean relu_done_by_dropout;        /* its ReLU gradient is applied by the
                                         * dropout layer after it */
} LayerState;

struct CxrNet {
  const CxrNetSpec *spec;
  int batch;
  gboolean training;
  CxrPrecision precision;
  dnnl_data_type_t dt;          /* of activations and weights */
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  GArray *forward, *backward;   /* of Step */
  GPtrArray *memories, *primitives;     /* owned */
  dnnl_memory_t input;          /* NCHW f32, handle set per call */
  dnnl_memory_t act[CXR_MAX_LAYERS], diff[CXR_MAX_LAYERS];
  LayerState state[CXR_MAX_LAYERS];
  float *params, *grads;        /* training: bound blocks */
  void *scratchpad;             /* shared by all primitives, which run one
                                 * after the other */
  uint64_t dropout_seed;        /* of the step being run */
  CxrBatchShare share;          /* the whole batch this one is part of
                                 * (alone: all of it, no sum) */
  float label_smoothing;        /* training: of the loss's targets */
  dnnl_status_t failure;        /* the first failed step's, until checked */
  guint failed_step;
  char implementation[128];
  /* cxr_net_layer_output: per layer, made on first use (owned above) */
  dnnl_primitive_t out_reorder[CXR_MAX_LAYERS];
  dnnl_memory_t out_plain[CXR_MAX_LAYERS];
};

/* In a builder that returns a gboolean and takes GError **error: return
 * FALSE with the error when a oneDNN call fails. */
#define TRY(call) G_STMT_START { \
    dnnl_status_t status_ = (call); \
    if (status_ != dnnl_success) { \
      g_set_error (error, CXR_ERROR, CXR_ERROR_ENGINE, \
          "oneDNN could not set up the network (%s: %s)", \
          #call, dnnl_status2str (status_)); \
      return FALSE; \
    } \
  } G_STMT_END

static inline const dnnl_memory_desc_t *
md_of (dnnl_memory_t mem)
{
  const dnnl_memory_desc_t *md;
  dnnl_memory_get_memory_desc (mem, &md);
  return md;
}

static inline void *
data_of (dnnl_memory_t mem)
{
  void *p;
  dnnl_memory_get_data_handle (mem, &p);
  return p;
}

/* elements in a memory (f32 or bf16), padding of blocked layouts included */
static inline size_t
n_elements_of (dnnl_memory_t mem)
{
  const dnnl_memory_desc_t *md = md_of (mem);
  return dnnl_memory_desc_get_size (md) / (md->data_type == dnnl_bf16 ? 2 : 4);
}

/* netbuild.c */

/* Builds the steps of net, which net.c has made and given an engine.
 * params: the weights to load (inference) or bind (training). */
gboolean net_build (CxrNet *net, float *params, GError **error);
/* A plain (row-major) f32 memory over caller storage, owned by the net. */
gboolean net_plain_memory (CxrNet *net, int ndims, const dnnl_dims_t dims,
    void *handle, dnnl_memory_t *mem, GError **error);
/* A primitive owned by the net. */
gboolean net_new_primitive (CxrNet *net, dnnl_primitive_desc_t pd,
    dnnl_primitive_t *prim, GError **error);
/* The parameter of that kind of layer l in block (params or grads), or NULL
 * if l has none. */
const float *net_param (const CxrNet *net, const float *block,
    const CxrLayer *l, CxrParamKind kind);

/* netloops.c */

/* A 32-bit integer hash (lowbias32): the dropout draw of element i is
 * hash(seed + i), the same whatever the thread count, and vectorisable. */
static inline uint32_t
hash32 (uint32_t x)
{
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* Element i of a dropout layer is kept when hash(seed + i * golden ratio)
 * reaches the threshold. The backward pass draws it again instead of
 * reading a stored mask: a few integer operations per element against a
 * byte written and read back over the largest activations. */
static inline int32_t
dropout_keeps (uint32_t seed, uint32_t threshold, uint32_t i)
{
  /* signed: an int converts to float in vector registers, an unsigned
   * does not before AVX-512 */
  return hash32 (seed + i * 0x9E3779B9u) >= threshold;
}

/* bf16 is the top half of a float: widen by shifting, narrow by rounding
 * to nearest even */
static inline float
bf16_to_float (uint16_t b)
{
  union { uint32_t u; float f; } v = { .u = (uint32_t) b << 16 };
  return v.f;
}

static inline uint16_t
float_to_bf16 (float f)
{
  union { float f; uint32_t u; } v = { .f = f };
  return (uint16_t) ((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

/* Runs a step that is not a oneDNN primitive. */
void net_run_hand_step (CxrNet *net, const Step *s);

/* The seed and threshold of dropout layer `layer` in the current step:
 * element i is kept when dropout_keeps (seed, threshold, i). */
void net_dropout_draw (const CxrNet *net, int layer, uint32_t *seed,
    uint32_t *threshold);

/* netshared.c: batch-norm over a batch several processes share; the
 * layouts of activations it can read */
gboolean net_shared_view_ok (dnnl_memory_t mem);
void net_bn_shared_stats (CxrNet *net, const Step *s);
void net_bn_shared_backward (CxrNet *net, const Step *s);

/* bnfold.c */

/* Folds inference batch-norm into the weights w (n_out rows of per_out) and
 * the bias (n_out) of the layer it follows, in place. */
void net_fold_batch_norm (int64_t n_out, int64_t per_out, const float *scale,
    const float *shift, const float *mean, const float *var, float *w,
    float *bias);
