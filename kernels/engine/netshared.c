/* netshared.c — batch-norm over a batch that several processes share
 * (cxr_net_new_shared_training): each process holds its part of the
 * batch, and the layer must normalise by the whole batch's statistics and
 * pass back the gradient through them, as one process holding the whole
 * batch would.
 *
 * Forward: the mean and (biased) variance of each channel, as sums over
 * this part summed over the processes, then oneDNN's batch-norm with those
 * statistics given (dnnl_use_global_stats). Backward: oneDNN's batch-norm
 * backward with the statistics held constant gives
 *   g = gamma / sigma * dy'               (dy': dy through the fused ReLU)
 * and this part's sums of dy' and of dy' xhat (its shift and scale
 * gradients); the whole batch's gradient is
 *   dx = g - gamma / sigma * (sum dy' + xhat sum dy' xhat) / M
 * with the sums over the whole batch of M values a channel.
 *
 * Both work on plain f32 NCHW copies of the pre-norm output and of its
 * gradient (the builders reorder to and from them), one channel at a time
 * for each sample. */
#include "netprivate.h"

#include <math.h>

/* values of one channel in the whole batch */
static double
values_per_channel (const CxrNet *net, const CxrLayer *l)
{
  return (double) net->share.total * l->out_h * l->out_w;
}

void
net_bn_shared_stats (CxrNet *net, const Step *s)
{
  const CxrLayer *l = &net->spec->layers[s->layer];
  const float *x = data_of (s->a);
  float *mean = data_of (s->b), *var = data_of (s->c);
  int64_t c_n = l->units, hw = (int64_t) l->out_h * l->out_w;
  double *sums = g_new0 (double, c_n), m = values_per_channel (net, l);

  /* two passes, the second about the whole batch's mean, so that the
   * variance does not lose its digits to the square of the mean */
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < c_n; c++)
    for (int n = 0; n < net->batch; n++) {
      const float *p = x + (n * c_n + c) * hw;
      for (int64_t i = 0; i < hw; i++)
        sums[c] += p[i];
    }
  net->share.sum (sums, c_n);
  for (int64_t c = 0; c < c_n; c++) {
    mean[c] = (float) (sums[c] / m);
    sums[c] = 0.0;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < c_n; c++)
    for (int n = 0; n < net->batch; n++) {
      const float *p = x + (n * c_n + c) * hw;
      for (int64_t i = 0; i < hw; i++) {
        double d = (double) p[i] - mean[c];
        sums[c] += d * d;
      }
    }
  net->share.sum (sums, c_n);
  for (int64_t c = 0; c < c_n; c++)
    var[c] = (float) (sums[c] / m);
  g_free (sums);
}

void
net_bn_shared_backward (CxrNet *net, const Step *s)
{
  const CxrLayer *l = &net->spec->layers[s->layer];
  const LayerState *st = &net->state[s->layer];
  float *g = data_of (s->a);
  const float *x = data_of (s->b), *mean = data_of (st->mean),
      *var = data_of (st->variance),
      *gamma = net_param (net, net->params, l, CXR_PARAM_BN_SCALE),
      *dscale = net_param (net, net->grads, l, CXR_PARAM_BN_SCALE),
      *dshift = net_param (net, net->grads, l, CXR_PARAM_BN_SHIFT);
  int64_t c_n = l->units, hw = (int64_t) l->out_h * l->out_w;
  double *sums = g_new (double, 2 * c_n), m = values_per_channel (net, l);

  /* the whole batch's sums of dy' xhat and of dy' */
  for (int64_t c = 0; c < c_n; c++) {
    sums[c] = dscale[c];
    sums[c_n + c] = dshift[c];
  }
  net->share.sum (sums, 2 * c_n);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < c_n; c++) {
    double inv_sigma = 1.0 / sqrt ((double) var[c] + CXR_BN_EPSILON);
    double k = gamma[c] * inv_sigma / m;
    for (int n = 0; n < net->batch; n++) {
      float *gp = g + (n * c_n + c) * hw;
      const float *xp = x + (n * c_n + c) * hw;
      for (int64_t i = 0; i < hw; i++) {
        double xhat = ((double) xp[i] - mean[c]) * inv_sigma;
        gp[i] = (float) (gp[i] - k * (sums[c_n + c] + xhat * sums[c]));
      }
    }
  }
  g_free (sums);
}
