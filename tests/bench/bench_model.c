/* bench_model — milliseconds a frame of a model file's forward pass at
 * batch 1, as cxrclassify runs it: the film check, the 124x124 input
 * normalised as the model says (film normalisation and blur included),
 * every member's forward pass (with its offset) and the average of their
 * logits, and, for a model with feature statistics, the out-of-distribution
 * score. Also the network alone (normalisation and members, no check, no
 * score), and the whole per-frame work from a 224x224 grey frame (resize +
 * all of the first), and the first with the heatmap as cxrclassify
 * heatmap=true adds it (fp32 copies of the members, their mean map), on
 * the network's grid and refined twice each way (heatmap-refine=2); and,
 * for the ensemble's cost against one network's, the network alone with
 * its first member only. Prints one JSON object.
 *
 *   bench_model MODEL THREADS SECONDS
 */
#include "heatmap.h"
#include "metrics.h"
#include "ensemble.h"
#include "model.h"
#include "net.h"
#include "preprocess.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  const CxrModel *model;
  CxrNet *nets[CXR_MAX_MEMBERS];
  CxrNet *heat_nets[CXR_MAX_MEMBERS];   /* fp32 */
  float *heatmap;
  const uint8_t *frame;         /* 224 x 224 grey */
  float *image01;               /* in_h x in_w, in [0, 1] */
  float *input;                 /* in_h x in_w, normalised */
  float logits[CXR_MAX_CLASSES];
  float *features;              /* members x pooled features, or NULL */
  float score;
} Job;

/* the network alone with its first n members: normalisation, members,
 * average */
static void
members (Job *j, int n)
{
  const CxrNetSpec *spec = j->model->spec;
  size_t px = (size_t) spec->in_h * spec->in_w;

  for (size_t i = 0; i < px; i++)
    j->input[i] = j->image01[i];
  cxr_normalize (j->input, spec->in_w, spec->in_h, &j->model->norm);
  cxr_model_forward (j->model, j->nets, n, j->input, j->logits, NULL);
}

static void
network (Job *j)
{
  members (j, j->model->n_members);
}

static void
one_member (Job *j)
{
  members (j, 1);
}

/* what cxrclassify does with the film at the network's size */
static void
forward (Job *j)
{
  const CxrNetSpec *spec = j->model->spec;
  size_t px = (size_t) spec->in_h * spec->in_w;

  for (size_t i = 0; i < px; i++)
    j->input[i] = j->image01[i];
  if (cxr_film_check (j->input, px) != CXR_FILM_LOOKS_OK)
    g_error ("the benchmark frame does not pass the film check");
  cxr_normalize (j->input, spec->in_w, spec->in_h, &j->model->norm);
  cxr_model_forward (j->model, j->nets, j->model->n_members, j->input,
      j->logits, NULL);
  if (j->features) {
    cxr_model_features (j->model, j->nets, j->model->n_members, j->features,
        NULL);
    j->score = cxr_feature_score (j->model->ood, j->features);
  }
}

/* as forward, and the heatmap after it, on the network's grid or refined
 * twice each way */
static void
forward_heatmap (Job *j)
{
  forward (j);
  cxr_model_heatmap (j->model, j->heat_nets, j->model->n_members, j->input,
      1, j->heatmap, NULL);
}

static void
forward_heatmap_refined (Job *j)
{
  forward (j);
  cxr_model_heatmap (j->model, j->heat_nets, j->model->n_members, j->input,
      2, j->heatmap, NULL);
}

/* the whole frame: resized to [0, 1], then as above */
static void
frame (Job *j)
{
  const CxrNetSpec *spec = j->model->spec;
  static const CxrNormalization unit = { 0.0f, 1.0f, CXR_FILM_NONE, 0.0f };

  cxr_preprocess (&(CxrPixels) {j->frame, 224, 224, 224, CXR_PIXEL_GRAY8},
      &unit,
      spec->in_w, spec->in_h, j->image01, NULL);
  forward (j);
}

/* milliseconds a call, over seconds after one warm-up call */
static double
ms_per_call (void (*f) (Job *), Job *j, double seconds)
{
  int n = 0;
  double start, now;

  f (j);
  start = omp_get_wtime ();
  do {
    f (j);
    n++;
    now = omp_get_wtime ();
  } while (now - start < seconds);
  return 1000.0 * (now - start) / n;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  CxrModel *model;
  Job j = { 0 };
  uint8_t *frame_data;
  float *image01;
  double seconds;
  int threads;

  if (argc != 4) {
    fprintf (stderr, "usage: bench_model MODEL THREADS SECONDS\n");
    return 2;
  }
  threads = atoi (argv[2]);
  seconds = atof (argv[3]);
  omp_set_num_threads (threads);
  model = cxr_model_load (argv[1], &error);
  if (!model) {
    fprintf (stderr, "bench_model: %s\n", error->message);
    return 1;
  }
  for (int k = 0; k < model->n_members; k++) {
    j.nets[k] = cxr_net_new_inference (model->spec, cxr_model_member (model,
            k), 1, CXR_PRECISION_AUTO, &error);
    j.heat_nets[k] = cxr_net_new_inference (model->spec,
        cxr_model_member (model, k), 1, CXR_PRECISION_FP32, &error);
    if (!j.nets[k] || !j.heat_nets[k]) {
      fprintf (stderr, "bench_model: %s\n", error->message);
      return 1;
    }
  }
  if (cxr_heatmap_layer (model->spec) >= 0) {
    const CxrLayer *f = &model->spec->layers[cxr_heatmap_layer (model->spec)];
    j.heatmap = g_new (float, f->out_h * f->out_w * 4);
  }
  /* a smooth grey film-like frame: a ramp with structure */
  frame_data = g_new (uint8_t, 224 * 224);
  for (int i = 0; i < 224 * 224; i++)
    frame_data[i] = (uint8_t) ((i % 224) / 2 + ((i / 224) * 7) % 64);
  image01 = g_new (float, model->spec->in_h * model->spec->in_w);
  cxr_preprocess (&(CxrPixels) {frame_data, 224, 224, 224, CXR_PIXEL_GRAY8},
      NULL,
      model->spec->in_w, model->spec->in_h, image01, NULL);
  j.model = model;
  j.frame = frame_data;
  j.image01 = image01;
  j.input = g_new (float, model->spec->in_h * model->spec->in_w);
  if (model->ood)
    j.features = g_new (float, model->ood->n_members * model->ood->dim);

  printf ("{\"model\": \"%s\", \"members\": %d, \"film_normalization\": "
      "\"%s\", \"input_blur\": %g, \"member_offsets\": %s, "
      "\"ood_statistics\": %s, \"threads\": %d, \"precision\": \"%s\", "
      "\"implementation\": \"%s\", \"network_ms\": %.3f, "
      "\"one_member_network_ms\": %.3f, "
      "\"forward_ms\": %.3f, \"frame_224_ms\": %.3f, "
      "\"forward_with_heatmap_ms\": %.3f, "
      "\"forward_with_heatmap_refined_2_ms\": %.3f}\n", model->id,
      model->n_members, cxr_film_normalization_name (model->norm.film),
      model->norm.blur, model->member_offset[0][0] != 0.0f ? "true" : "false",
      model->ood ? "true" : "false", threads,
      cxr_precision_name (cxr_net_precision (j.nets[0])),
      cxr_net_implementation (j.nets[0]), ms_per_call (network, &j, seconds),
      ms_per_call (one_member, &j, seconds),
      ms_per_call (forward, &j, seconds), ms_per_call (frame, &j, seconds),
      j.heatmap ? ms_per_call (forward_heatmap, &j, seconds) : NAN,
      j.heatmap ? ms_per_call (forward_heatmap_refined, &j, seconds) : NAN);

  for (int k = 0; k < model->n_members; k++) {
    cxr_net_free (j.nets[k]);
    cxr_net_free (j.heat_nets[k]);
  }
  g_free (j.heatmap);
  g_free (frame_data);
  g_free (image01);
  g_free (j.input);
  g_free (j.features);
  cxr_model_free (model);
  return 0;
}
