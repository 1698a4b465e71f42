/* bench_dist — training steps of the default network over the processes
 * mpirun started (one process without it), as cxrtrain takes them: each
 * process runs forward and backward over its part of the batch, its
 * batch-norm layers summing their statistics over the processes, then
 * one sum of the flat gradient buffer. Per step: the time spent
 * computing, the time spent in the sums (waiting for the slowest process
 * included) and the bytes each process puts into them; images a second
 * over the whole batch. Prints one JSON object (process 0).
 *
 *   [mpirun -np N] bench_dist BATCH STEPS [fp32|bf16|auto]
 */
#include "dist.h"
#include "net.h"
#include "optim.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* what the sums took: inside the passes (batch-norm) and the gradients */
static double sum_seconds, sum_bytes;
static int sums;

static void
timed_sum (double *x, size_t n)
{
  double start = omp_get_wtime ();

  cxr_dist_sum_doubles (x, n);
  sum_seconds += omp_get_wtime () - start;
  sum_bytes += n * sizeof (double);
  sums++;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  int batch = argc > 1 ? atoi (argv[1]) : 32;
  int steps = argc > 2 ? atoi (argv[2]) : 20;
  CxrPrecision precision = argc > 3 && g_str_equal (argv[3], "fp32") ?
      CXR_PRECISION_FP32 : argc > 3 && g_str_equal (argv[3], "bf16") ?
      CXR_PRECISION_BF16 : CXR_PRECISION_AUTO;
  CxrNetSpec *spec;
  CxrBatchShare share = { 0 };
  size_t lo, hi, px = 124 * 124;
  float *params, *grads, *input;
  int *labels;
  CxrNet *net;
  CxrOptimizer *opt;
  double step_seconds = 0, compute = 0, communicate = 0, bytes = 0;

  if (!cxr_dist_init (&error)) {
    fprintf (stderr, "bench_dist: %s\n", error->message);
    return 1;
  }
  if (batch < cxr_dist_size () || steps < 1) {
    fprintf (stderr, "usage: [mpirun -np N] bench_dist BATCH STEPS "
        "[fp32|bf16|auto], BATCH >= N\n");
    return 2;
  }
  spec = cxr_net_spec_parse (CXR_SPEC_DEFAULT, 1, 124, 124, &error);
  cxr_dist_part (batch, cxr_dist_rank (), cxr_dist_size (), &lo, &hi);
  share = (CxrBatchShare) { (int) lo, (int) (hi - lo), batch, timed_sum };
  params = g_new (float, spec->n_floats);
  grads = g_new0 (float, spec->n_floats);
  input = g_new (float, (hi - lo) * px);
  labels = g_new (int, hi - lo);
  cxr_net_spec_init_params (spec, params, 1);
  for (size_t i = 0; i < (hi - lo) * px; i++)
    input[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  for (size_t j = 0; j < hi - lo; j++)
    labels[j] = (lo + j) % 2;
  net = cxr_dist_size () > 1 ?
      cxr_net_new_shared_training (spec, params, grads, &share, precision,
      &error) : cxr_net_new_training (spec, params, grads, batch, precision,
      &error);
  if (!net) {
    fprintf (stderr, "bench_dist: %s\n", error->message);
    return 1;
  }
  opt = cxr_optimizer_new (spec, CXR_OPTIMIZER_ADAM, 1e-3f, 1e-4f);

  /* two steps to warm up, then the steps timed */
  for (int s = -2; s < steps; s++) {
    double t0, t1, t2, t3, inside;

    sum_seconds = sum_bytes = 0;
    sums = 0;
    t0 = omp_get_wtime ();
    cxr_net_forward_backward (net, input, labels, NULL, s, NULL, NULL);
    t1 = omp_get_wtime ();
    inside = sum_seconds;       /* the batch-norm sums */
    if (cxr_dist_size () > 1) {
      cxr_dist_sum_floats (grads, spec->n_floats);
      sum_bytes += spec->n_floats * sizeof (float);
    }
    t2 = omp_get_wtime ();
    cxr_optimizer_step (opt, params, grads);
    t3 = omp_get_wtime ();
    if (s < 0)
      continue;
    step_seconds += t3 - t0;
    compute += (t1 - t0 - inside) + (t3 - t2);
    communicate += inside + (t2 - t1);
    bytes += sum_bytes;
  }
  if (cxr_dist_rank () == 0)
    printf ("{\"processes\": %d, \"threads\": %d, \"precision\": \"%s\", "
        "\"batch\": %d, \"steps\": %d, \"step_ms\": %.3f, "
        "\"compute_ms\": %.3f, \"communicate_ms\": %.3f, "
        "\"bytes_per_step\": %.0f, \"gradient_bytes\": %zu, "
        "\"statistics_sums\": %d, \"images_per_second\": %.1f}\n",
        cxr_dist_size (),
        omp_get_max_threads (), cxr_precision_name (cxr_net_precision (net)),
        batch, steps, 1e3 * step_seconds / steps, 1e3 * compute / steps,
        1e3 * communicate / steps, bytes / steps,
        spec->n_floats * sizeof (float), sums, batch * steps / step_seconds);
  cxr_optimizer_free (opt);
  cxr_net_free (net);
  cxr_net_spec_free (spec);
  g_free (params);
  g_free (grads);
  g_free (input);
  g_free (labels);
  return 0;
}
