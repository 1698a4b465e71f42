/* optim.h — parameter updates on the plain parameter block.
 *
 * Adam is AdamW (decoupled weight decay, as torch.optim.AdamW); SGD has
 * momentum and L2 weight decay added to the gradient (as torch.optim.SGD).
 * Weight decay touches weights only, never biases or batch-norm. */
#pragma once
#include "layerspec.h"

typedef enum {
  CXR_OPTIMIZER_ADAM,
  CXR_OPTIMIZER_SGD,
} CxrOptimizerKind;

typedef struct {
  CxrOptimizerKind kind;
  float learning_rate;
  float weight_decay;
  float beta1, beta2, epsilon; /* Adam: 0.9, 0.999, 1e-8 */
  float momentum;               /* SGD: 0.9 */
  int64_t steps;
  float *m, *v;                 /* moments, the layout of the parameter block */
  const CxrNetSpec *spec;
} CxrOptimizer;

CxrOptimizer *cxr_optimizer_new (const CxrNetSpec *spec, CxrOptimizerKind kind,
    float learning_rate, float weight_decay);
void cxr_optimizer_free (CxrOptimizer *opt);
void cxr_optimizer_step (CxrOptimizer *opt, float *params, const float *grads);
