/* bnfold.c — batch-norm folded into the layer before it, for inference.
 *
 * With fixed statistics, batch-norm is an affine map per output channel,
 * y = s (w x - mean) + shift with s = scale / sqrt(var + epsilon), so the
 * convolution can compute it with weights s w and bias shift - s mean: no
 * batch-norm primitive and no extra pass over the activations. A layer with
 * batch-norm has no bias of its own (the shift takes its place). */
#include "netprivate.h"

#include <math.h>

void
net_fold_batch_norm (int64_t n_out, int64_t per_out, const float *scale,
    const float *shift, const float *mean, const float *var, float *w,
    float *bias)
{
  for (int64_t o = 0; o < n_out; o++) {
    float s = scale[o] / sqrtf (var[o] + CXR_BN_EPSILON);
    for (int64_t j = 0; j < per_out; j++)
      w[o * per_out + j] *= s;
    bias[o] = shift[o] - mean[o] * s;
  }
}
