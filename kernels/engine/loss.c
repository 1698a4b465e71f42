/* loss.c — cross-entropy of a network's logits: binary cross-entropy of
 * sigmoid(logit) for sigmoid nets, cross-entropy of softmax(logits) for
 * softmax nets; its gradient by the logits for training; and the class the
 * logits predict. The loss is computed in double; the gradient in float,
 * from the same probabilities cxr_logits_to_probabilities gives. */
#include "loss.h"
#include "net.h"

#include <math.h>

int
cxr_predicted_class (const CxrNetSpec *spec, const float *z)
{
  int best = 0;

  if (spec->output == CXR_OUTPUT_SIGMOID)
    return z[0] >= 0.0f;
  for (int j = 1; j < spec->n_outputs; j++)
    if (z[j] > z[best])
      best = j;
  return best;
}

double
cxr_cross_entropy (const CxrNetSpec *spec, const float *z, int label)
{
  double m, sum = 0.0;

  if (spec->output == CXR_OUTPUT_SIGMOID) {
    /* softplus(x) - y x */
    double y = label == 1, x = z[0];
    return fmax (x, 0.0) + log1p (exp (-fabs (x))) - y * x;
  }
  m = z[0];
  for (int j = 1; j < spec->n_outputs; j++)
    m = fmax (m, z[j]);
  for (int j = 0; j < spec->n_outputs; j++)
    sum += exp (z[j] - m);
  return m + log (sum) - z[label];
}

/* The cross-entropy against target t = (1 - e) onehot(label) + e / K, which
 * is (1 - e) CE(label) + (e / K) sum_j CE(j) since t sums to 1; and its
 * gradient by the logits, dz = w (p - t) / batch. For a sigmoid net K = 2,
 * p is the probability of class 1 and z, dz have one element. */
static double
smoothed_loss_and_gradient (const CxrNetSpec *spec, const float *z, int label,
    float e, float w, int batch, float *dz)
{
  int k = spec->output == CXR_OUTPUT_SIGMOID ? 2 : spec->n_outputs;
  double loss = (1.0 - e) * cxr_cross_entropy (spec, z, label);
  float p[2];

  if (e > 0)
    for (int j = 0; j < k; j++)
      loss += e / k * cxr_cross_entropy (spec, z, j);
  if (spec->output == CXR_OUTPUT_SIGMOID) {
    cxr_logits_to_probabilities (spec, z, p);
    dz[0] = w * (p[1] - ((label == 1) * (1.0f - e) + e / 2)) / batch;
    return loss;
  }
  cxr_logits_to_probabilities (spec, z, dz);
  for (int j = 0; j < k; j++)
    dz[j] = w * (dz[j] - ((j == label) * (1.0f - e) + e / k)) / batch;
  return loss;
}

double
cxr_loss_and_gradient (const CxrNetSpec *spec, const float *z,
    const int *labels, const float *weights, float label_smoothing,
    int batch, float *dz)
{
  int n_out = spec->n_outputs;
  double loss = 0.0;

  for (int i = 0; i < batch; i++) {
    float w = weights ? weights[i] : 1.0f;
    loss += w * smoothed_loss_and_gradient (spec, z + i * n_out, labels[i],
        label_smoothing, w, batch, dz + i * n_out);
  }
  return loss / batch;
}
