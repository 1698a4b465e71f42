/* bench_engine — images per second of our engine on one architecture, and
 * for scale the GFLOP/s of a large dnnl_sgemm and, for the seed network,
 * the images per second of its forward pass as bare oneDNN primitives
 * (bare_dnnl.c) at batch 1, in turns with the engine. Batch-1 figures are
 * the best of three rounds, the others one run's mean. Prints one JSON
 * object.
 *
 *   bench_engine seed|default|SPEC THREADS SECONDS
 *
 * SPEC: any other layer spec (kernels/engine/layerspec.h), such as the shipped
 * model's.
 */
#include "bare_dnnl.h"
#include "net.h"
#include "optim.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double seconds_per_test = 3.0;

/* runs f until seconds_per_test has passed (after one warm-up call) and
 * returns calls per second */
typedef void (*Work) (void *data);
static double
rate (Work f, void *data)
{
  int n = 0;
  f (data);
  double start = omp_get_wtime (), now;
  do {
    f (data);
    n++;
    now = omp_get_wtime ();
  } while (now - start < seconds_per_test);
  return n / (now - start);
}

typedef struct {
  CxrNet *net;
  const float *input;
  float *logits;
  int *labels;
  CxrOptimizer *opt;
  float *params, *grads;
} Job;

static void
infer (void *data)
{
  Job *j = data;
  cxr_net_forward (j->net, j->input, j->logits, 0, NULL);
}

static void
train (void *data)
{
  static uint64_t step;
  Job *j = data;
  cxr_net_forward_backward (j->net, j->input, j->labels, NULL, step++, NULL,
      NULL);
  cxr_optimizer_step (j->opt, j->params, j->grads);
}

static void
bare (void *data)
{
  bare_seed_forward (data);
}

/* The engine at batch 1 and, when bare_net is given, the bare seed network
 * in turns with it: three rounds of a third of the time each, the best
 * round of each kept, so that a slow spell of a shared host does not fall
 * on one of them only. */
static double
batch1_rates (const CxrNetSpec *spec, const float *params,
    CxrPrecision precision, float *input, double *bare_net, char *impl,
    size_t impl_size)
{
  GError *error = NULL;
  Job j = { 0 };
  BareNet *b = bare_net ? bare_seed_new (1, precision == CXR_PRECISION_BF16,
      input) : NULL;
  double whole = seconds_per_test, engine = 0;

  j.net = cxr_net_new_inference (spec, params, 1, precision, &error);
  if (!j.net) {
    fprintf (stderr, "bench_engine: %s\n", error->message);
    exit (1);
  }
  j.input = input;
  j.logits = g_new (float, spec->n_outputs);
  seconds_per_test = whole / 3;
  if (b)
    *bare_net = 0;
  for (int round = 0; round < 3; round++) {
    engine = MAX (engine, rate (infer, &j));
    if (b)
      *bare_net = MAX (*bare_net, rate (bare, b));
  }
  seconds_per_test = whole;
  g_strlcpy (impl, cxr_net_implementation (j.net), impl_size);
  cxr_net_free (j.net);
  g_free (j.logits);
  if (b)
    bare_seed_free (b);
  return engine;
}

static void
sgemm (void *data)
{
  float *a = data;
  int n = 2048;
  dnnl_sgemm ('N', 'N', n, n, n, 1.0f, a, n, a + n * n, n, 0.0f, a + 2 * n * n,
      n);
}

static double
inference_rate (const CxrNetSpec *spec, const float *params, int batch,
    CxrPrecision precision, const float *input)
{
  GError *error = NULL;
  Job j = { 0 };
  j.net = cxr_net_new_inference (spec, params, batch, precision, &error);
  if (!j.net) {
    fprintf (stderr, "bench_engine: %s\n", error->message);
    exit (1);
  }
  j.input = input;
  j.logits = g_new (float, batch * spec->n_outputs);
  double r = rate (infer, &j) * batch;
  cxr_net_free (j.net);
  g_free (j.logits);
  return r;
}

static double
training_rate (const CxrNetSpec *spec, float *params, float *grads,
    const float *input, int *labels, int batch, CxrPrecision precision)
{
  GError *error = NULL;
  Job j = { 0 };
  j.net = cxr_net_new_training (spec, params, grads, batch, precision, &error);
  if (!j.net) {
    fprintf (stderr, "bench_engine: %s\n", error->message);
    exit (1);
  }
  j.input = input;
  j.labels = labels;
  j.params = params;
  j.grads = grads;
  j.opt = cxr_optimizer_new (spec, CXR_OPTIMIZER_ADAM, 1e-4f, 0.0f);
  double r = rate (train, &j) * batch;
  cxr_net_free (j.net);
  cxr_optimizer_free (j.opt);
  return r;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  const char *arch, *text;
  int threads, batch = 32;
  char impl_fp32[128], impl_bf16[128];

  if (argc != 4) {
    fprintf (stderr, "usage: bench_engine seed|default|SPEC THREADS SECONDS\n");
    return 2;
  }
  arch = argv[1];
  gboolean seed = strcmp (arch, "seed") == 0;
  text = seed ? CXR_SPEC_SEED
      : strcmp (arch, "default") == 0 ? CXR_SPEC_DEFAULT : arch;
  threads = atoi (argv[2]);
  seconds_per_test = atof (argv[3]);
  omp_set_num_threads (threads);

  CxrNetSpec *spec = cxr_net_spec_parse (text, 1, 124, 124, &error);
  if (!spec) {
    fprintf (stderr, "bench_engine: %s\n", error->message);
    return 2;
  }
  float *params = g_new (float, spec->n_floats);
  float *grads = g_new0 (float, spec->n_floats);
  float *input = g_new (float, batch * 124 * 124);
  int labels[32];
  cxr_net_spec_init_params (spec, params, 1);
  for (int i = 0; i < batch * 124 * 124; i++)
    input[i] = (float) (((int64_t) i * 7919) % 255) / 255.0f - 0.5f;
  for (int i = 0; i < batch; i++)
    labels[i] = i % 2;

  /* the seed network also with nothing of ours around it, in turns with
   * the engine at batch 1 */
  gboolean bf16 = cxr_cpu_has_native_bf16 ();
  double bare_fp32 = 0, bare_bf16 = 0;
  double b1_fp32 = batch1_rates (spec, params, CXR_PRECISION_FP32, input,
      seed ? &bare_fp32 : NULL, impl_fp32, sizeof impl_fp32);
  double b1_bf16 = bf16 ? batch1_rates (spec, params, CXR_PRECISION_BF16,
      input, seed ? &bare_bf16 : NULL, impl_bf16, sizeof impl_bf16) : 0;
  if (!bf16)
    strcpy (impl_bf16, "none");
  double b32_fp32 = inference_rate (spec, params, batch, CXR_PRECISION_FP32,
      input);
  double b32_bf16 = bf16 ? inference_rate (spec, params, batch,
      CXR_PRECISION_BF16, input) : 0;

  double train_fp32 = training_rate (spec, params, grads, input, labels,
      batch, CXR_PRECISION_FP32);
  double train_bf16 = bf16 ? training_rate (spec, params, grads, input, labels,
      batch, CXR_PRECISION_BF16) : 0;

  float *gemm = g_new0 (float, 3 * 2048 * 2048);
  double sgemm_gflops = rate (sgemm, gemm) * 2.0 * 2048 * 2048 * 2048 / 1e9;
  g_free (gemm);

  printf ("{\"arch\": \"%s\", \"threads\": %d, \"gflop_per_image\": %.4f, "
      "\"infer_b1_fp32\": %.1f, \"infer_b32_fp32\": %.1f, "
      "\"infer_b1_bf16\": %.1f, \"infer_b32_bf16\": %.1f, "
      "\"train_b32_fp32\": %.1f, \"train_b32_bf16\": %.1f, "
      "\"sgemm_gflops\": %.1f, \"bare_b1_fp32\": %.1f, "
      "\"bare_b1_bf16\": %.1f, "
      "\"impl_fp32\": \"%s\", \"impl_bf16\": \"%s\"}\n", arch, threads,
      spec->flops / 1e9, b1_fp32, b32_fp32, b1_bf16, b32_bf16, train_fp32,
      train_bf16,
      sgemm_gflops, bare_fp32, bare_bf16, impl_fp32, impl_bf16);
  cxr_net_spec_free (spec);
  g_free (params);
  g_free (grads);
  g_free (input);
  return 0;
}
