/* optim.c — AdamW and SGD with momentum, written as PyTorch computes them so
 * that both give the same weights from the same gradients. */
#include "optim.h"

#include <math.h>

CxrOptimizer *
cxr_optimizer_new (const CxrNetSpec *spec, CxrOptimizerKind kind,
    float learning_rate, float weight_decay)
{
  CxrOptimizer *o = g_new0 (CxrOptimizer, 1);
  o->kind = kind;
  o->learning_rate = learning_rate;
  o->weight_decay = weight_decay;
  o->beta1 = 0.9f;
  o->beta2 = 0.999f;
  o->epsilon = 1e-8f;
  o->momentum = 0.9f;
  o->spec = spec;
  o->m = g_new0 (float, spec->n_floats);
  o->v = kind == CXR_OPTIMIZER_ADAM ? g_new0 (float, spec->n_floats) : NULL;
  return o;
}

void
cxr_optimizer_free (CxrOptimizer *o)
{
  if (!o)
    return;
  g_free (o->m);
  g_free (o->v);
  g_free (o);
}

/* The updates are element-wise over millions of weights (the seed
 * network's first dense layer alone has 2.8 million): memory-bound, so
 * split across the threads and vectorised. The arithmetic of each element
 * is the same whatever the split. */
/* the scalars of one AdamW step */
typedef struct {
  float decay;                  /* 1 - lr * weight decay */
  float beta1, beta2;
  float step;                   /* lr / (1 - beta1^t) */
  float bc2_sqrt;               /* sqrt (1 - beta2^t) */
  float epsilon;
} AdamStep;

static void
adam_update (float *restrict w, float *restrict m, float *restrict v,
    const float *restrict g, int64_t n, const AdamStep * s)
{
  const float decay = s->decay, beta1 = s->beta1, beta2 = s->beta2;
  const float step = s->step, bc2_sqrt = s->bc2_sqrt, epsilon = s->epsilon;

#pragma omp parallel for simd schedule (static) if (parallel: n > 65536)
  for (int64_t j = 0; j < n; j++) {
    w[j] *= decay;
    m[j] = beta1 * m[j] + (1.0f - beta1) * g[j];
    v[j] = beta2 * v[j] + (1.0f - beta2) * g[j] * g[j];
    w[j] -= step * m[j] / (sqrtf (v[j]) / bc2_sqrt + epsilon);
  }
}

static void
sgd_update (float *restrict w, float *restrict m, const float *restrict g,
    int64_t n, float wd, float momentum, float lr)
{
#pragma omp parallel for simd schedule (static) if (parallel: n > 65536)
  for (int64_t j = 0; j < n; j++) {
    float d = g[j] + wd * w[j];
    m[j] = momentum * m[j] + d;
    w[j] -= lr * m[j];
  }
}

void
cxr_optimizer_step (CxrOptimizer *o, float *params, const float *grads)
{
  float lr = o->learning_rate;
  o->steps++;
  float bc1 = 1.0f - powf (o->beta1, (float) o->steps);
  float bc2_sqrt = sqrtf (1.0f - powf (o->beta2, (float) o->steps));

  for (int i = 0; i < o->spec->n_params; i++) {
    const CxrParamInfo *p = &o->spec->params[i];
    float wd = p->decays ? o->weight_decay : 0.0f;
    float *w = params + p->offset, *m = o->m + p->offset;
    const float *g = grads + p->offset;
    if (!p->trainable)
      continue;
    if (o->kind == CXR_OPTIMIZER_ADAM) {
      AdamStep s = { 1.0f - lr * wd, o->beta1, o->beta2, lr / bc1, bc2_sqrt,
        o->epsilon
      };
      adam_update (w, m, o->v + p->offset, g, p->numel, &s);
    } else
      sgd_update (w, m, g, p->numel, wd, o->momentum, lr);
  }
}
