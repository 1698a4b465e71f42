/* netshared.c — batch-norm over a batch that several processes share
 * (cxr_net_new_shared_training): each process holds its part of the
 * batch, and the layer must normalise by the whole batch's statistics and
 * pass back the gradient through them, as one process holding the whole
 * batch would.
 *
 * Forward: the mean and (biased) variance of each channel, from sums over
 * this part summed over the processes, then oneDNN's batch-norm with those
 * statistics given (dnnl_use_global_stats). Backward: oneDNN's batch-norm
 * backward with the statistics held constant gives
 *   g = gamma / sigma * dy'               (dy': dy through the fused ReLU)
 * and this part's sums of dy' and of dy' xhat (its shift and scale
 * gradients); the whole batch's gradient is
 *   dx = g - gamma / sigma * (sum dy' + xhat sum dy' xhat) / M
 * with the sums over the whole batch of M values a channel.
 *
 * Both read the activations where oneDNN keeps them, in their own layout
 * (plain, or channels in blocks, f32 or bf16): a row of a block's channels
 * at a time. */
#include "netprivate.h"

#include <math.h>
#include <string.h>

/* values of one channel in the whole batch */
static double
values_per_channel (const CxrNet *net, const CxrLayer *l)
{
  return (double) net->share.total * l->out_h * l->out_w;
}

/* an activation as the loops read it: element (n, c, h, w) at
 * n s[0] + (c / block) s[1] + h s[2] + w s[3] + c % block */
typedef struct {
  char *data;
  gboolean bf16;
  int64_t s[4];
  int block;
} View;

#define MAX_BLOCK 64

gboolean
net_shared_view_ok (dnnl_memory_t mem)
{
  const dnnl_memory_desc_t *md = md_of (mem);
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;

  return md->format_kind == dnnl_blocked && md->ndims == 4
      && (md->data_type == dnnl_f32 || md->data_type == dnnl_bf16)
      && (b->inner_nblks == 0 || (b->inner_nblks == 1
              && b->inner_idxs[0] == 1 && b->inner_blks[0] <= MAX_BLOCK));
}

static View
view_of (dnnl_memory_t mem)
{
  const dnnl_memory_desc_t *md = md_of (mem);
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  View v = {.bf16 = md->data_type == dnnl_bf16,
    .block = b->inner_nblks ? (int) b->inner_blks[0] : 1
  };

  v.data = (char *) data_of (mem) + md->offset0 * (v.bf16 ? 2 : 4);
  for (int d = 0; d < 4; d++)
    v.s[d] = b->strides[d];
  return v;
}

static inline int64_t
row_of (const View *v, int n, int64_t cb, int64_t h, int64_t w)
{
  return n * v->s[0] + cb * v->s[1] + h * v->s[2] + w * v->s[3];
}

static inline float
load (const View *v, int64_t i)
{
  return v->bf16 ? bf16_to_float (((const uint16_t *) v->data)[i]) :
      ((const float *) v->data)[i];
}

static inline void
store (View *v, int64_t i, float x)
{
  if (v->bf16)
    ((uint16_t *) v->data)[i] = float_to_bf16 (x);
  else
    ((float *) v->data)[i] = x;
}

/* the sums of x - k and of its square, lane by lane, over one row of a
 * block's channels */
static inline void
stats_row_f32 (const float *restrict p, const float *restrict k,
    int64_t lanes, double *restrict s1, double *restrict s2)
{
  for (int64_t j = 0; j < lanes; j++) {
    double d = (double) p[j] - k[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}

static inline void
stats_row_bf16 (const uint16_t *restrict p, const float *restrict k,
    int64_t lanes, double *restrict s1, double *restrict s2)
{
  for (int64_t j = 0; j < lanes; j++) {
    double d = (double) bf16_to_float (p[j]) - k[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}

/* g -= a + b x over one row of a block's channels, g and x alike */
static inline void
correct_row_f32 (float *restrict g, const float *restrict x,
    const float *restrict a, const float *restrict b, int64_t lanes)
{
  for (int64_t j = 0; j < lanes; j++)
    g[j] -= a[j] + b[j] * x[j];
}

static inline void
correct_row_bf16 (uint16_t *restrict g, const uint16_t *restrict x,
    const float *restrict a, const float *restrict b, int64_t lanes)
{
  for (int64_t j = 0; j < lanes; j++)
    g[j] = float_to_bf16 (bf16_to_float (g[j]) - (a[j] + b[j]
            * bf16_to_float (x[j])));
}

static gboolean
same_layout (const View *x, const View *y)
{
  return x->bf16 == y->bf16 && x->block == y->block
      && memcmp (x->s, y->s, sizeof x->s) == 0;
}

void
net_bn_shared_stats (CxrNet *net, const Step *s)
{
  const CxrLayer *l = &net->spec->layers[s->layer];
  const View x = view_of (s->a);
  const float *shift = net_param (net, net->params, l, CXR_PARAM_BN_MEAN);
  float *mean = data_of (s->b), *var = data_of (s->c);
  int64_t c_n = l->units, blocks = (c_n + x.block - 1) / x.block;
  double *sums = g_new0 (double, 2 * c_n), m = values_per_channel (net, l);

  /* one pass: the sums of x - k and of its square, k the running mean
   * (the same on every process, and near the batch's mean, so that the
   * variance keeps its digits) */
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < net->batch; n++)
    for (int64_t cb = 0; cb < blocks; cb++) {
      int64_t c0 = cb * x.block, lanes = MIN (x.block, c_n - c0);
      double s1[MAX_BLOCK] = { 0 }, s2[MAX_BLOCK] = { 0 };
      for (int64_t h = 0; h < l->out_h; h++)
        for (int64_t w = 0; w < l->out_w; w++) {
          int64_t at = row_of (&x, n, cb, h, w);
          if (x.bf16)
            stats_row_bf16 ((const uint16_t *) x.data + at, shift + c0, lanes,
                s1, s2);
          else
            stats_row_f32 ((const float *) x.data + at, shift + c0, lanes, s1,
                s2);
        }
      for (int64_t j = 0; j < lanes; j++) {
#pragma omp atomic
        sums[c0 + j] += s1[j];
#pragma omp atomic
        sums[c_n + c0 + j] += s2[j];
      }
    }
  net->share.sum (sums, 2 * c_n);
  for (int64_t c = 0; c < c_n; c++) {
    double d = sums[c] / m;
    mean[c] = (float) (shift[c] + d);
    var[c] = (float) MAX (sums[c_n + c] / m - d * d, 0.0);
  }
  g_free (sums);
}

void
net_bn_shared_backward (CxrNet *net, const Step *s)
{
  const CxrLayer *l = &net->spec->layers[s->layer];
  const LayerState *st = &net->state[s->layer];
  View g = view_of (s->a);
  const View x = view_of (s->b);
  const float *mean = data_of (st->mean), *var = data_of (st->variance),
      *gamma = net_param (net, net->params, l, CXR_PARAM_BN_SCALE),
      *dscale = net_param (net, net->grads, l, CXR_PARAM_BN_SCALE),
      *dshift = net_param (net, net->grads, l, CXR_PARAM_BN_SHIFT);
  int64_t c_n = l->units, blocks = (c_n + g.block - 1) / g.block;
  double *sums = g_new (double, 2 * c_n), m = values_per_channel (net, l);
  float *a = g_new (float, c_n), *b = g_new (float, c_n);
  gboolean alike = same_layout (&g, &x);

  /* the whole batch's sums of dy' xhat and of dy' */
  for (int64_t c = 0; c < c_n; c++) {
    sums[c] = dscale[c];
    sums[c_n + c] = dshift[c];
  }
  net->share.sum (sums, 2 * c_n);
  /* g -= a + b x, the terms through the statistics */
  for (int64_t c = 0; c < c_n; c++) {
    double inv_sigma = 1.0 / sqrt ((double) var[c] + CXR_BN_EPSILON);
    double k = gamma[c] * inv_sigma / m, slope = k * sums[c] * inv_sigma;
    b[c] = (float) slope;
    a[c] = (float) (k * sums[c_n + c] - slope * mean[c]);
  }
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < net->batch; n++)
    for (int64_t cb = 0; cb < blocks; cb++) {
      int64_t c0 = cb * g.block, lanes = MIN (g.block, c_n - c0);
      for (int64_t h = 0; h < l->out_h; h++)
        for (int64_t w = 0; w < l->out_w; w++) {
          int64_t at = row_of (&g, n, cb, h, w);
          if (alike && g.bf16)
            correct_row_bf16 ((uint16_t *) g.data + at,
                (const uint16_t *) x.data + at, a + c0, b + c0, lanes);
          else if (alike)
            correct_row_f32 ((float *) g.data + at, (const float *) x.data
                + at, a + c0, b + c0, lanes);
          else
            for (int64_t j = 0; j < lanes; j++) {
              int64_t c = c0 + j;
              int64_t xi = row_of (&x, n, c / x.block, h, w) + c % x.block;
              store (&g, at + j, load (&g, at + j) - (a[c] + b[c]
                      * load (&x, xi)));
            }
        }
    }
  g_free (a);
  g_free (b);
  g_free (sums);
}
