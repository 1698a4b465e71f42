/* netloops.c — the hand steps: element-wise work that oneDNN 2.6 has no
 * primitive for (dropout forward and backward, the ReLU gradient of a fused
 * ReLU, batch-norm running statistics) as plain loops over whole
 * activations. The loops do not care about layout because all their
 * operands share one; bf16 activations are widened to float and rounded
 * back. */
#include "clones.h"
#include "netprivate.h"

#include <math.h>
#include <omp.h>

/* this thread's share [lo, hi) of n elements, in cache-line multiples */
static void
thread_range (int64_t n, int64_t *lo, int64_t *hi)
{
  int64_t t = omp_get_thread_num (), nt = omp_get_num_threads ();
  int64_t per = (n + nt - 1) / nt;
  per = (per + 15) / 16 * 16;
  *lo = MIN (n, t * per);
  *hi = MIN (n, *lo + per);
}

/* x and y may be the same array (the mask applied in place, netbuild.c):
 * element i is read before it is written, so they are not restrict */
VECTOR_CLONES static void
dropout_forward_range (const float *x, float *y, int64_t lo, int64_t hi,
    uint32_t seed, uint32_t threshold, float scale)
{
  /* branch-free, so that the compiler vectorises it */
  for (int64_t i = lo; i < hi; i++)
    y[i] = x[i] * (scale * dropout_keeps (seed, threshold, (uint32_t) i));
}

VECTOR_CLONES static void
dropout_backward_range (const float *restrict dy, float *restrict dx,
    const float *restrict relu_out, int64_t lo, int64_t hi, uint32_t seed,
    uint32_t threshold, float scale)
{
  if (relu_out) {
    for (int64_t i = lo; i < hi; i++)
      dx[i] = dy[i] * (scale * (dropout_keeps (seed, threshold, (uint32_t) i)
              & (relu_out[i] > 0.0f)));
  } else {
    for (int64_t i = lo; i < hi; i++)
      dx[i] = dy[i] * (scale * dropout_keeps (seed, threshold, (uint32_t) i));
  }
}

/* In place over a fused ReLU's output (netbuild.c), what is left after
 * the mask is > 0 exactly where the element was kept and the ReLU passed
 * it, so its sign gives both gradients. */
VECTOR_CLONES static void
dropout_backward_in_place (float *restrict d, const float *restrict y,
    int64_t lo, int64_t hi, float scale)
{
  for (int64_t i = lo; i < hi; i++) {
    int32_t passed = y[i] > 0.0f;
    d[i] = d[i] * (scale * passed);
  }
}

VECTOR_CLONES static void
relu_backward_range (float *restrict d, const float *restrict y, int64_t lo,
    int64_t hi)
{
  for (int64_t i = lo; i < hi; i++)
    d[i] = y[i] > 0.0f ? d[i] : 0.0f;
}

VECTOR_CLONES static void
dropout_forward_range_bf16 (const uint16_t *x, uint16_t *y, int64_t lo,
    int64_t hi, uint32_t seed, uint32_t threshold, float scale)
{
  for (int64_t i = lo; i < hi; i++)
    y[i] = float_to_bf16 (bf16_to_float (x[i])
        * (scale * dropout_keeps (seed, threshold, (uint32_t) i)));
}

VECTOR_CLONES static void
dropout_backward_range_bf16 (const uint16_t *restrict dy, uint16_t *restrict dx,
    const int16_t *restrict relu_out, int64_t lo, int64_t hi, uint32_t seed,
    uint32_t threshold, float scale)
{
  /* a bf16 is > 0 exactly when its bits, read as int16, are > 0; two loops,
   * as a test inside one keeps the compiler from vectorising it */
  if (relu_out) {
    for (int64_t i = lo; i < hi; i++)
      dx[i] = float_to_bf16 (bf16_to_float (dy[i])
          * (scale * (dropout_keeps (seed, threshold, (uint32_t) i)
                  & (relu_out[i] > 0))));
  } else {
    for (int64_t i = lo; i < hi; i++)
      dx[i] = float_to_bf16 (bf16_to_float (dy[i])
          * (scale * dropout_keeps (seed, threshold, (uint32_t) i)));
  }
}

VECTOR_CLONES static void
dropout_backward_in_place_bf16 (uint16_t *restrict d,
    const int16_t *restrict y, int64_t lo, int64_t hi, float scale)
{
  for (int64_t i = lo; i < hi; i++) {
    int32_t passed = y[i] > 0;  /* an int32, or it does not vectorise */
    d[i] = float_to_bf16 (bf16_to_float (d[i]) * (scale * passed));
  }
}

VECTOR_CLONES static void
relu_backward_range_bf16 (uint16_t *restrict d, const int16_t *restrict y,
    int64_t lo, int64_t hi)
{
  for (int64_t i = lo; i < hi; i++)
    d[i] = y[i] > 0 ? d[i] : 0;
}

void
net_dropout_draw (const CxrNet *net, int layer, uint32_t *seed,
    uint32_t *threshold)
{
  *threshold = (uint32_t) fmin (4294967295.0,
      ldexp (net->spec->layers[layer].dropout, 32));
  /* element i of this part of a shared batch is element i + first of the
   * whole batch (the batch is the outermost dimension of every layout, a
   * sample's elements padding included), and dropout_keeps hashes
   * seed + i K: the shift goes into the seed */
  uint32_t first = (uint32_t) (net->share.first
      * (n_elements_of (net->act[layer]) / net->batch));

  *seed = hash32 ((uint32_t) net->dropout_seed
      ^ hash32 ((uint32_t) (net->dropout_seed >> 32) + layer))
      + first * 0x9E3779B9u;
}

/* The running statistics of batch-norm layer l, from this batch's mean and
 * variance by channel. PyTorch's rule: the running variance is the unbiased
 * one. */
static void
bn_running_stats (CxrNet *net, const CxrLayer *l, const float *mean,
    const float *var)
{
  float *rm = (float *) net_param (net, net->params, l, CXR_PARAM_BN_MEAN);
  float *rv = (float *) net_param (net, net->params, l, CXR_PARAM_BN_VAR);
  /* the whole batch's, when processes share it */
  double n = (double) net->share.total * l->out_h * l->out_w;
  float unbias = n > 1 ? (float) (n / (n - 1)) : 1.0f;

  for (int c = 0; c < l->units; c++) {
    rm[c] = (1 - CXR_BN_MOMENTUM) * rm[c] + CXR_BN_MOMENTUM * mean[c];
    rv[c] = (1 - CXR_BN_MOMENTUM) * rv[c] + CXR_BN_MOMENTUM * var[c] * unbias;
  }
}

void
net_run_hand_step (CxrNet *net, const Step *s)
{
  const CxrLayer *l = &net->spec->layers[s->layer];
  int64_t n = s->a ? n_elements_of (s->a) : 0;
  gboolean bf16 = s->a && md_of (s->a)->data_type == dnnl_bf16;
  float scale = 1.0f / (1.0f - l->dropout);

  switch (s->kind) {
    case STEP_DROPOUT_FORWARD:{
      const float *x = data_of (s->a);
      float *y = data_of (s->b);
      uint32_t seed, threshold;
      net_dropout_draw (net, s->layer, &seed, &threshold);
#pragma omp parallel
      {
        int64_t lo, hi;
        thread_range (n, &lo, &hi);
        if (bf16)
          dropout_forward_range_bf16 ((const uint16_t *) x, (uint16_t *) y,
              lo, hi, seed, threshold, scale);
        else
          dropout_forward_range (x, y, lo, hi, seed, threshold, scale);
      }
      break;
    }
    case STEP_DROPOUT_BACKWARD:{
      float *dy = data_of (s->a), *dx = data_of (s->b);
      const float *relu_out = s->c ? data_of (s->c) : NULL;
      uint32_t seed, threshold;
      net_dropout_draw (net, s->layer, &seed, &threshold);
#pragma omp parallel
      {
        int64_t lo, hi;
        thread_range (n, &lo, &hi);
        /* in place, c is the masked ReLU output (see above) */
        if (dx == dy && bf16)
          dropout_backward_in_place_bf16 ((uint16_t *) dx,
              (const int16_t *) relu_out, lo, hi, scale);
        else if (dx == dy)
          dropout_backward_in_place (dx, relu_out, lo, hi, scale);
        else if (bf16)
          dropout_backward_range_bf16 ((const uint16_t *) dy, (uint16_t *) dx,
              (const int16_t *) relu_out, lo, hi, seed, threshold, scale);
        else
          dropout_backward_range (dy, dx, relu_out, lo, hi, seed, threshold,
              scale);
      }
      break;
    }
    case STEP_RELU_BACKWARD:{
      float *d = data_of (s->a);
      const float *y = data_of (s->b);
#pragma omp parallel
      {
        int64_t lo, hi;
        thread_range (n, &lo, &hi);
        if (bf16)
          relu_backward_range_bf16 ((uint16_t *) d, (const int16_t *) y, lo,
              hi);
        else
          relu_backward_range (d, y, lo, hi);
      }
      break;
    }
    case STEP_BN_RUNNING:
      bn_running_stats (net, l, data_of (s->a), data_of (s->b));
      break;
    case STEP_BN_SHARED_STATS:
      net_bn_shared_stats (net, s);
      break;
    case STEP_BN_SHARED_BACKWARD:
      net_bn_shared_backward (net, s);
      break;
    case STEP_PRIMITIVE:
      break;
  }
}
