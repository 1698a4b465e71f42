/* The training loop: the patient-wise split, the image cache,
 * determinism, divergence, callbacks, and learning on real X-rays. */
#include "config.h"
#include "error.h"
#include "metrics.h"
#include "ensemble.h"
#include "model.h"
#include "net.h"
#include "patient.h"
#include "preprocess.h"
#include "settings.h"
#include "trainer.h"
#include "testdata.h"

#include <math.h>
#include <string.h>

static const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };

/* ------------------------------------------------------------------------ */

/* 90 NORMAL patients (half of each naming series, numbers shared between
 * the series) and 200 PNEUMONIA patients, 1 to 3 images each, plus 10
 * images with no patient named; tiny images, the split ignores
 * pixels. reverse: the same images added in the opposite order. */
static CxrDataset *
split_dataset (gboolean reverse)
{
  CxrDataset *ds = cxr_dataset_new (2);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GArray *labels = g_array_new (FALSE, FALSE, sizeof (int));
  float img[4] = { 0.1f, 0.2f, 0.3f, 0.4f };

  for (int p = 0; p < 290; p++) {
    int images = 1 + (p * 7) % 3, label = p >= 90;
    for (int k = 0; k < images; k++) {
      char *name = label ? g_strdup_printf ("person%d", p) : p % 2 ?
          g_strdup_printf ("NORMAL2-IM-%04d", p / 2) :
          g_strdup_printf ("IM-%04d", p / 2);
      g_ptr_array_add (names, name);
      g_array_append_val (labels, label);
    }
  }
  for (int k = 0; k < 10; k++) {
    int label = k % 2;
    g_ptr_array_add (names, NULL);
    g_array_append_val (labels, label);
  }
  for (guint i = 0; i < names->len; i++) {
    guint j = reverse ? names->len - 1 - i : i;
    g_assert_true (cxr_dataset_add (ds, img, g_array_index (labels, int, j),
            g_ptr_array_index (names, j)));
  }
  g_ptr_array_unref (names);
  g_array_unref (labels);
  return ds;
}

static GHashTable *
patients_of (const CxrDataset *ds, const int *idx, int n)
{
  GHashTable *set = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < n; i++)
    if (ds->patients[idx[i]])
      g_hash_table_add (set, ds->patients[idx[i]]);
  return set;
}

static void
test_split (void)
{
  CxrDataset *ds = split_dataset (FALSE), *rev = split_dataset (TRUE);
  int *tr, *va, nt, nv, *tr2, *va2, nt2, nv2;
  int val_counts[2] = { 0 };
  GHashTable *train_patients, *val_patients, *rev_val;
  GHashTableIter it;
  gpointer key;

  cxr_dataset_split (ds, 0.2, 42, &tr, &nt, &va, &nv);
  g_assert_cmpint (nt + nv, ==, ds->n);

  /* patient-wise: no named patient on both sides; NORMAL2-IM-0001 and
   * IM-0001 are different patients and may be split apart */
  train_patients = patients_of (ds, tr, nt);
  val_patients = patients_of (ds, va, nv);
  g_hash_table_iter_init (&it, val_patients);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_assert_false (g_hash_table_contains (train_patients, key));

  /* near the fraction in each class: patients have at most 3 images */
  for (int i = 0; i < nv; i++)
    val_counts[ds->labels[va[i]]]++;
  for (int c = 0; c < 2; c++) {
    double target = 0.2 * ds->counts[c];
    g_test_message ("class %d: %d of %d images in validation (target %.1f)",
        c, val_counts[c], ds->counts[c], target);
    g_assert_cmpfloat (fabs (val_counts[c] - target), <=, 3.0);
  }
  /* ascending indices */
  for (int i = 1; i < nv; i++)
    g_assert_cmpint (va[i - 1], <, va[i]);

  /* deterministic for a seed, different for another */
  cxr_dataset_split (ds, 0.2, 42, &tr2, &nt2, &va2, &nv2);
  g_assert_cmpint (nv2, ==, nv);
  g_assert_cmpmem (va2, nv * sizeof (int), va, nv * sizeof (int));
  g_free (tr2);
  g_free (va2);
  cxr_dataset_split (ds, 0.2, 43, &tr2, &nt2, &va2, &nv2);
  g_assert_true (nv2 != nv || memcmp (va2, va, nv * sizeof (int)) != 0);
  g_free (tr2);
  g_free (va2);

  /* the same named patients whatever order the images came in */
  cxr_dataset_split (rev, 0.2, 42, &tr2, &nt2, &va2, &nv2);
  rev_val = patients_of (rev, va2, nv2);
  g_assert_cmpuint (g_hash_table_size (rev_val), ==,
      g_hash_table_size (val_patients));
  g_hash_table_iter_init (&it, val_patients);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_assert_true (g_hash_table_contains (rev_val, key));
  g_free (tr2);
  g_free (va2);

  /* fraction 0: everything trains */
  cxr_dataset_split (ds, 0.0, 42, &tr2, &nt2, &va2, &nv2);
  g_assert_cmpint (nt2, ==, ds->n);
  g_assert_cmpint (nv2, ==, 0);
  g_free (tr2);
  g_free (va2);

  g_hash_table_unref (rev_val);
  g_hash_table_unref (train_patients);
  g_hash_table_unref (val_patients);
  g_free (tr);
  g_free (va);
  cxr_dataset_free (ds);
  cxr_dataset_free (rev);
}

/* ------------------------------------------------------------------------ */

static void
test_quantisation (void)
{
  const int side = 37, px = side * side;
  CxrDataset *ds = cxr_dataset_new (side);
  float *img = g_new (float, px), *back = g_new (float, px);
  CxrRng rng;
  char *f1, *f2;

  cxr_rng_init (&rng, 7);
  /* past the first capacity (64) so that growing is exercised */
  for (int k = 0; k < 150; k++) {
    for (int i = 0; i < px; i++)
      img[i] = cxr_rng_uniform (&rng);
    g_assert_true (cxr_dataset_add (ds, img, k % 3 == 0, NULL));
  }
  g_assert_cmpint (ds->n, ==, 150);
  g_assert_cmpint (ds->counts[1], ==, 50);
  g_assert_cmpint (ds->counts[0], ==, 100);
  g_assert_false (cxr_dataset_add (ds, img, CXR_MAX_CLASSES, NULL));
  g_assert_false (cxr_dataset_add (ds, img, -1, NULL));

  /* replay the stream and compare every image */
  cxr_rng_init (&rng, 7);
  for (int k = 0; k < 150; k++) {
    for (int i = 0; i < px; i++)
      img[i] = cxr_rng_uniform (&rng);
    cxr_dataset_get (ds, k, back);
    for (int i = 0; i < px; i++)
      g_assert_cmpfloat (fabsf (back[i] - img[i]), <=, 1.0f / 65535);
    g_assert_cmpint (ds->labels[k], ==, k % 3 == 0);
  }

  /* out of range and NaN are clamped, exactly */
  img[0] = -3.0f;
  img[1] = 7.0f;
  img[2] = NAN;
  img[3] = 1.0f;
  g_assert_true (cxr_dataset_add (ds, img, 0, "IM-0001"));
  cxr_dataset_get (ds, 150, back);
  g_assert_cmpfloat (back[0], ==, 0.0f);
  g_assert_cmpfloat (back[1], ==, 1.0f);
  g_assert_cmpfloat (back[2], ==, 0.0f);
  g_assert_cmpfloat (back[3], ==, 1.0f);
  g_assert_cmpstr (ds->patients[150], ==, "IM-0001");

  /* the fingerprint follows pixels and labels */
  f1 = cxr_dataset_fingerprint (ds);
  g_assert_cmpuint (strlen (f1), ==, 16);
  ds->labels[3] ^= 1;
  f2 = cxr_dataset_fingerprint (ds);
  g_assert_cmpstr (f1, !=, f2);
  g_free (f2);
  ds->labels[3] ^= 1;
  ds->pixels[1000]++;
  f2 = cxr_dataset_fingerprint (ds);
  g_assert_cmpstr (f1, !=, f2);
  g_free (f1);
  g_free (f2);

  g_free (img);
  g_free (back);
  cxr_dataset_free (ds);
}

/* ------------------------------------------------------------------------ */

/* n images of 124x124: noise, PNEUMONIA ones with a bright blob to learn;
 * each its own patient */
static CxrDataset *
synthetic_dataset (int n, uint64_t seed)
{
  const int side = 124;
  CxrDataset *ds = cxr_dataset_new (side);
  float *img = g_new (float, side * side);
  CxrRng rng;

  cxr_rng_init (&rng, seed);
  for (int k = 0; k < n; k++) {
    int label = k % 2;
    float cx = cxr_rng_range (&rng, 40, 84), cy = cxr_rng_range (&rng, 40, 84);
    char *name = label ? g_strdup_printf ("person%d", k) :
        g_strdup_printf ("IM-%04d", k);
    for (int y = 0; y < side; y++)
      for (int x = 0; x < side; x++) {
        float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        img[y * side + x] = 0.3f + 0.2f * cxr_rng_uniform (&rng)
            + (label ? 0.4f * expf (-d2 / 200.0f) : 0.0f);
      }
    cxr_dataset_add (ds, img, label, name);
    g_free (name);
  }
  g_free (img);
  return ds;
}

static CxrModel *
default_model (uint64_t seed)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, seed,
      &error);
  g_assert_no_error (error);
  return m;
}

static void
short_config (CxrTrainConfig *cfg)
{
  cxr_train_config_init (cfg);
  cfg->epochs = 2;
  cfg->batch_size = 16;
  cfg->validation_fraction = 0.25;
  cfg->precision = CXR_PRECISION_FP32;
  cfg->seed = 5;
}

static gboolean
params_finite (const CxrModel *m)
{
  for (size_t i = 0; i < m->spec->n_floats; i++)
    if (!isfinite (m->params[i]))
      return FALSE;
  return TRUE;
}

static void
test_determinism (void)
{
  CxrDataset *ds = synthetic_dataset (64, 1);
  CxrModel *a = default_model (3), *b = default_model (3), *c =
      default_model (3), *start = default_model (3);
  CxrTrainConfig cfg;
  GError *error = NULL;
  size_t bytes = a->spec->n_floats * sizeof (float);

  short_config (&cfg);
  g_assert_true (cxr_train (a, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (cxr_train (b, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (a->params, bytes, b->params, bytes);
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpfloat (a->threshold, ==, b->threshold);
  g_assert_true (params_finite (a));
  /* it did train, and another seed trains otherwise */
  g_assert_true (memcmp (a->params, start->params, bytes) != 0);
  cfg.seed = 6;
  g_assert_true (cxr_train (c, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (a->params, c->params, bytes) != 0);

  cxr_model_free (a);
  cxr_model_free (b);
  cxr_model_free (c);
  cxr_model_free (start);
  cxr_dataset_free (ds);
}

static gboolean
lowest_train_loss (const CxrEpochReport *r, void *user)
{
  double *lowest = user;
  *lowest = fmin (*lowest, r->train_loss);
  return TRUE;
}

/* Smoothed labels change the training and are recorded; with unit weights
 * no epoch's loss can fall below the targets' own entropy. */
static void
test_label_smoothing (void)
{
  CxrDataset *ds = synthetic_dataset (64, 1);
  CxrModel *plain = default_model (3), *smoothed = default_model (3);
  CxrTrainConfig cfg;
  CxrTrainCallbacks cb = { .on_epoch = lowest_train_loss };
  GError *error = NULL;
  size_t bytes = plain->spec->n_floats * sizeof (float);
  double lowest = INFINITY, floor = -(0.8 * log (0.8) + 0.2 * log (0.2));

  short_config (&cfg);
  cfg.class_weighting = CXR_CLASS_WEIGHTING_NONE;
  g_assert_true (cxr_train (plain, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (g_hash_table_lookup (plain->provenance, "label_smoothing"));
  cfg.label_smoothing = 0.4f;
  g_assert_true (cxr_train (smoothed, ds, &cfg, &cb, &lowest, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (smoothed->provenance,
          "label_smoothing"), ==, "0.4");
  g_assert_true (memcmp (plain->params, smoothed->params, bytes) != 0);
  g_assert_true (isfinite (lowest));
  g_assert_cmpfloat (lowest, >=, floor - 1e-6);
  g_test_message ("lowest training loss %.4f, floor %.4f", lowest, floor);
  cxr_model_free (plain);
  cxr_model_free (smoothed);
  cxr_dataset_free (ds);
}

/* ------------------------------------------------------------------------ */

static void
test_divergence_learning_rate (void)
{
  CxrDataset *ds = synthetic_dataset (64, 1);
  CxrModel *m = default_model (3), *start = default_model (3);
  CxrTrainConfig cfg;
  GError *error = NULL;
  size_t bytes = m->spec->n_floats * sizeof (float);

  short_config (&cfg);
  cfg.learning_rate = 1e6f;
  cfg.schedule = CXR_SCHEDULE_NONE;
  cfg.epochs = 5;
  g_assert_false (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_DIVERGED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "diverged"));
  g_assert_nonnull (strstr (error->message, "Lower the learning rate"));
  g_assert_true (params_finite (m));
  /* diverged before any epoch could do better: the starting weights */
  if (strstr (error->message, "epoch 1 "))
    g_assert_cmpmem (m->params, bytes, start->params, bytes);
  g_error_free (error);
  cxr_model_free (m);
  cxr_model_free (start);
  cxr_dataset_free (ds);
}

/* poisons one weight at the first step of epoch 2 */
static gboolean
inject_nan (const CxrStepReport *r, void *user)
{
  CxrModel *m = user;
  if (r->epoch == 2 && r->step == 1)
    m->params[0] = NAN;
  return TRUE;
}

typedef struct {
  float *params;
  size_t bytes;
  int calls;
} Checkpoints;

static void
keep_checkpoint (const CxrModel *best, void *user)
{
  Checkpoints *c = user;
  memcpy (c->params, best->params, c->bytes);
  c->calls++;
}

typedef struct {
  CxrModel *model;
  Checkpoints ck;
} InjectState;

static gboolean
inject_nan_state (const CxrStepReport *r, void *user)
{
  return inject_nan (r, ((InjectState *) user)->model);
}

static void
keep_checkpoint_state (const CxrModel *best, void *user)
{
  keep_checkpoint (best, &((InjectState *) user)->ck);
}

static void
test_divergence_nan (void)
{
  CxrDataset *ds = synthetic_dataset (64, 1);
  CxrModel *m = default_model (3);
  CxrTrainConfig cfg;
  CxrTrainCallbacks cb = { .on_step = inject_nan_state,
    .on_checkpoint = keep_checkpoint_state, .step_interval = 1
  };
  InjectState st = { m, { NULL, m->spec->n_floats * sizeof (float), 0 } };
  GError *error = NULL;

  st.ck.params = g_malloc (st.ck.bytes);
  short_config (&cfg);
  cfg.epochs = 3;
  g_assert_false (cxr_train (m, ds, &cfg, &cb, &st, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_DIVERGED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "diverged at epoch 2 step 2"));
  /* a ReLU may turn the NaN to 0 before the loss sees it, so the check of
   * the weights may be what notices */
  g_assert_true (strstr (error->message, "loss is NaN")
      || strstr (error->message, "weight is not finite"));
  /* back to the best model, the one epoch 1 checkpointed */
  g_assert_true (params_finite (m));
  g_assert_cmpint (st.ck.calls, ==, 1);
  g_assert_cmpmem (m->params, st.ck.bytes, st.ck.params, st.ck.bytes);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "best_epoch"), ==,
      "1");
  g_error_free (error);
  g_free (st.ck.params);
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  int steps, epochs, checkpoints, stop_at_step;
  double last_elapsed;
  int best_epochs;
  char best_id[9];
  float best_threshold;
} Progress;

static gboolean
check_step (const CxrStepReport *r, void *user)
{
  Progress *p = user;
  p->steps++;
  g_assert_cmpint (r->epoch, >=, 1);
  g_assert_cmpint (r->epoch, <=, r->epochs);
  g_assert_cmpint (r->step, >=, 1);
  g_assert_cmpint (r->step, <=, r->steps_per_epoch);
  g_assert_true (isfinite (r->loss) && r->loss > 0.0);
  g_assert_cmpfloat (r->accuracy, >=, 0.0);
  g_assert_cmpfloat (r->accuracy, <=, 1.0);
  g_assert_cmpfloat (r->images_per_second, >, 0.0);
  g_assert_cmpfloat (r->eta_seconds, >=, 0.0);
  g_assert_cmpfloat (r->learning_rate, >, 0.0f);
  g_assert_cmpfloat (r->learning_rate, <=, 1e-3f);
  return p->stop_at_step == 0 || p->steps < p->stop_at_step;
}

static gboolean
check_epoch (const CxrEpochReport *r, void *user)
{
  Progress *p = user;
  p->epochs++;
  g_assert_cmpint (r->epoch, ==, p->epochs);
  g_assert_true (isfinite (r->train_loss) && r->train_loss > 0.0);
  g_assert_cmpint (r->n_val, >, 0);
  g_assert_true (isfinite (r->val_loss) && r->val_loss > 0.0);
  g_assert_cmpfloat (r->val_accuracy, >=, 0.0);
  g_assert_cmpfloat (r->val_accuracy, <=, 1.0);
  g_assert_cmpfloat (r->val_auc, >=, 0.0);
  g_assert_cmpfloat (r->val_auc, <=, 1.0);
  g_assert_cmpfloat (r->threshold, >=, 0.0f);
  g_assert_cmpfloat (r->threshold, <=, 1.0f);
  g_assert_cmpfloat (r->elapsed_seconds, >=, p->last_elapsed);
  if (r->epoch == 1)
    g_assert_true (r->is_best);
  if (r->is_best) {
    p->best_epochs = r->epoch;
    p->best_threshold = r->threshold;
  }
  p->last_elapsed = r->elapsed_seconds;
  g_test_message ("epoch %d: loss %.4f acc %.3f | val loss %.4f acc %.3f "
      "AUC %.3f threshold %.3f%s", r->epoch, r->train_loss,
      r->train_accuracy, r->val_loss, r->val_accuracy, r->val_auc,
      r->threshold, r->is_best ? " best" : "");
  return TRUE;
}

static void
check_checkpoint (const CxrModel *best, void *user)
{
  Progress *p = user;
  p->checkpoints++;
  g_assert_cmpint (p->checkpoints, ==, p->epochs);
  g_assert_cmpfloat (best->threshold, ==, p->best_threshold);
  g_assert_nonnull (g_hash_table_lookup (best->provenance,
          "data_fingerprint"));
  memcpy (p->best_id, best->id, sizeof p->best_id);
}

static void
test_callbacks (void)
{
  static const char *keys[] = { "epochs_run", "best_epoch", "seed",
    "train_images", "val_images", "val_auc", "val_accuracy",
    "val_sensitivity", "val_specificity", "threshold_method",
    "learning_rate", "batch_size", "augment", "class_weighting",
    "precision", "train_seconds", "software", "data_fingerprint", NULL
  };
  CxrDataset *ds = synthetic_dataset (64, 2);
  CxrModel *m = default_model (4), *start = default_model (4);
  CxrTrainConfig cfg;
  CxrTrainCallbacks cb = { check_step, check_epoch, check_checkpoint, 1 };
  Progress p = { 0 };
  GError *error = NULL;
  size_t bytes = m->spec->n_floats * sizeof (float);
  char *fp;

  short_config (&cfg);
  cfg.epochs = 3;
  g_assert_true (cxr_train (m, ds, &cfg, &cb, &p, &error));
  g_assert_no_error (error);
  /* 48 training images in batches of 16: 3 steps an epoch */
  g_assert_cmpint (p.steps, ==, 9);
  g_assert_cmpint (p.epochs, ==, 3);
  g_assert_cmpint (p.checkpoints, ==, 3);
  /* the model ends as the best checkpoint */
  g_assert_cmpstr (m->id, ==, p.best_id);
  g_assert_cmpfloat (m->threshold, ==, p.best_threshold);
  for (int i = 0; keys[i]; i++)
    if (!g_hash_table_lookup (m->provenance, keys[i]))
      g_error ("provenance key %s is missing", keys[i]);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "epochs_run"), ==, "3");
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "train_images"), ==,
      "48");
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "val_images"), ==,
      "16");
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "software"), ==,
      CXR_SOFTWARE);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "precision"), ==,
      "fp32");
  fp = cxr_dataset_fingerprint (ds);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "data_fingerprint"),
      ==, fp);
  g_free (fp);

  /* stopping from on_step: before any epoch ends, so the model keeps the
   * weights it came with, and that is not an error */
  cxr_model_free (m);
  m = default_model (4);
  memset (&p, 0, sizeof p);
  p.stop_at_step = 2;
  g_assert_true (cxr_train (m, ds, &cfg, &cb, &p, &error));
  g_assert_no_error (error);
  g_assert_cmpint (p.steps, ==, 2);
  g_assert_cmpint (p.epochs, ==, 0);
  g_assert_cmpint (p.checkpoints, ==, 0);
  g_assert_cmpmem (m->params, bytes, start->params, bytes);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "epochs_run"), ==, "0");

  cxr_model_free (m);
  cxr_model_free (start);
  cxr_dataset_free (ds);
}

/* without validation the last weights and threshold 0.5 */
static void
test_no_validation (void)
{
  CxrDataset *ds = synthetic_dataset (32, 3);
  CxrModel *m = default_model (5);
  CxrTrainConfig cfg;
  GError *error = NULL;

  short_config (&cfg);
  cfg.validation_fraction = 0.0;
  m->threshold = 0.3f;
  g_assert_true (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (m->threshold, ==, 0.5f);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "val_images"), ==, "0");
  g_assert_null (g_hash_table_lookup (m->provenance, "val_auc"));
  g_assert_true (params_finite (m));

  /* a dataset at the wrong size is refused */
  cxr_dataset_free (ds);
  ds = cxr_dataset_new (64);
  g_assert_false (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

/* A site calibration fitted the old weights: training that moves them
 * drops it; training that fails before any epoch keeps it, with the
 * weights it belongs to. */
static void
test_calibration_dropped (void)
{
  CxrDataset *ds = synthetic_dataset (64, 1);
  CxrModel *m = default_model (3);
  CxrTrainConfig cfg;
  GError *error = NULL;

  m->logit_scale = 2.0f;
  m->logit_offset = -0.5f;
  g_hash_table_insert (m->provenance, g_strdup ("calibration_method"),
      g_strdup ("platt"));
  short_config (&cfg);
  cfg.learning_rate = 1e30f;
  cfg.schedule = CXR_SCHEDULE_NONE;
  g_assert_false (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  /* it diverges in its first epoch, before any weights were kept */
  g_assert_nonnull (strstr (error->message, "epoch 1 "));
  g_clear_error (&error);
  g_assert_cmpfloat (m->logit_scale, ==, 2.0f);
  g_assert_cmpfloat (m->logit_offset, ==, -0.5f);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "calibration_method"),
      ==, "platt");

  /* (a fresh model: weights kept from an epoch at that learning rate are
   * finite but no start for another run) */
  cxr_model_free (m);
  m = default_model (3);
  m->logit_scale = 2.0f;
  g_hash_table_insert (m->provenance, g_strdup ("calibration_method"),
      g_strdup ("platt"));
  short_config (&cfg);
  g_assert_true (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (m->logit_scale, ==, 1.0f);
  g_assert_cmpfloat (m->logit_offset, ==, 0.0f);
  g_assert_null (g_hash_table_lookup (m->provenance, "calibration_method"));
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  int checkpoints;
  int with_members[4];          /* checkpoints holding 1, 2, 3 members */
} EnsembleProgress;

static void
count_members (const CxrModel *best, void *user)
{
  EnsembleProgress *p = user;

  g_assert_cmpint (best->n_members, >=, 1);
  g_assert_cmpint (best->n_members, <=, 3);
  p->with_members[best->n_members]++;
  p->checkpoints++;
}

static gboolean
stop_in_third_member (const CxrStepReport *r, void *user)
{
  (void) user;
  g_assert_cmpint (r->members, ==, 3);
  return r->member < 3;
}

/* The members' logits averaged over the validation split, as probabilities
 * of PNEUMONIA, recomputed here one image at a time. */
static float *
ensemble_scores (const CxrModel *m, const CxrDataset *ds, const int *idx,
    int n, guint8 *truth)
{
  const CxrNetSpec *spec = m->spec;
  float *input = g_new (float, ds->side * ds->side);
  float *scores = g_new (float, n);
  GError *error = NULL;

  /* the trainer normalises with the model's normalisation: here none */
  g_assert_cmpfloat (m->norm.mean, ==, 0.0f);
  g_assert_cmpfloat (m->norm.std, ==, 1.0f);
  for (int i = 0; i < n; i++) {
    float sum = 0.0f, logit, probs[2];

    cxr_dataset_get (ds, idx[i], input);
    for (int k = 0; k < m->n_members; k++) {
      CxrNet *net = cxr_net_new_inference (spec, cxr_model_member (m, k), 1,
          CXR_PRECISION_FP32, &error);

      g_assert_no_error (error);
      g_assert_true (cxr_net_forward (net, input, &logit, 0, NULL));
      sum += logit;
      cxr_net_free (net);
    }
    logit = sum / m->n_members;
    cxr_logits_to_probabilities (spec, &logit, probs);
    scores[i] = probs[1];
    truth[i] = ds->labels[idx[i]] == 1;
  }
  g_free (input);
  return scores;
}

/* An ensemble: member 0 trains exactly as a single network would and the
 * others otherwise; the threshold (here Youden within 0.2) and AUC are
 * those of the averaged logits;
 * checkpoints hold the members so far; a member stopped before its first
 * epoch is left out. */
/* The out-of-distribution scores of images idx[0 .. n), recomputed here
 * one image at a time from each member's own net */
static float *
ood_scores (const CxrModel *m, const CxrDataset *ds, const int *idx, int n)
{
  float *input = g_new (float, ds->side * ds->side);
  float *features = g_new (float, m->n_members * m->ood->dim);
  float *scores = g_new (float, n), logit;
  CxrNet *nets[CXR_MAX_MEMBERS];
  GError *error = NULL;

  for (int k = 0; k < m->n_members; k++) {
    nets[k] = cxr_net_new_inference (m->spec, cxr_model_member (m, k), 1,
        CXR_PRECISION_FP32, &error);
    g_assert_no_error (error);
  }
  for (int i = 0; i < n; i++) {
    cxr_dataset_get (ds, idx[i], input);
    g_assert_true (cxr_model_forward (m, nets, m->n_members, input, &logit,
            NULL));
    g_assert_true (cxr_model_features (m, nets, m->n_members, features,
            &error));
    scores[i] = cxr_feature_score (m->ood, features);
  }
  for (int k = 0; k < m->n_members; k++)
    cxr_net_free (nets[k]);
  g_free (input);
  g_free (features);
  return scores;
}

static void
test_ensemble (void)
{
  CxrDataset *ds = synthetic_dataset (64, 4);
  CxrModel *single = default_model (6), *m = default_model (6);
  CxrTrainConfig cfg;
  CxrTrainCallbacks cb = { NULL, NULL, count_members, 1 };
  CxrTrainCallbacks stopper = { stop_in_third_member, NULL, NULL, 1 };
  EnsembleProgress p = { 0 };
  GError *error = NULL;
  size_t bytes = single->spec->n_floats * sizeof (float);
  int *train_idx, *val_idx, n_train, n_val;
  guint8 *truth;
  float *scores;

  short_config (&cfg);
  g_assert_true (cxr_train (single, ds, &cfg, NULL, NULL, &error));
  g_assert_no_error (error);
  cfg.members = 3;
  cfg.threshold_tolerance = 0.2;
  g_assert_true (cxr_train (m, ds, &cfg, &cb, &p, &error));
  g_assert_no_error (error);

  g_assert_cmpint (m->n_members, ==, 3);
  g_assert_cmpmem (cxr_model_member (m, 0), bytes, single->params, bytes);
  g_assert_true (memcmp (cxr_model_member (m, 1), single->params, bytes));
  g_assert_true (memcmp (cxr_model_member (m, 2), cxr_model_member (m, 1),
          bytes));
  /* two epochs a member, each checkpointed */
  g_assert_cmpint (p.checkpoints, ==, 6);
  for (int k = 1; k <= 3; k++)
    g_assert_cmpint (p.with_members[k], ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "epochs_run"), ==,
      "2,2,2");

  cxr_dataset_split (ds, cfg.validation_fraction, cfg.seed, &train_idx,
      &n_train, &val_idx, &n_val);
  truth = g_new (guint8, n_val);
  scores = ensemble_scores (m, ds, val_idx, n_val, truth);
  g_assert_cmpfloat_with_epsilon (m->threshold,
      cxr_threshold_youden_within (scores, truth, n_val, 0.2, NULL), 1e-5);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "threshold_method"),
      ==, "youden-within:0.2");
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (g_hash_table_lookup
          (m->provenance, "val_auc"), NULL),
      cxr_roc_auc (scores, truth, n_val), 1e-5);
  g_free (scores);

  /* the out-of-distribution statistics: all three members', the threshold
   * at the 99.5th percentile of the validation images' scores, so at most
   * one of them above it, and the training images mostly below */
  g_assert_nonnull (m->ood);
  g_assert_cmpint (m->ood->n_members, ==, 3);
  g_assert_true (isfinite (m->ood->threshold) && m->ood->threshold > 0.0f);
  g_assert_nonnull (strstr (g_hash_table_lookup (m->provenance, "ood_fit"),
          "quantile of"));
  g_assert_nonnull (strstr (g_hash_table_lookup (m->provenance, "ood_fit"),
          "validation images"));
  scores = ood_scores (m, ds, val_idx, n_val);
  {
    int above = 0;
    for (int i = 0; i < n_val; i++)
      above += scores[i] > m->ood->threshold + 1e-4f;
    g_assert_cmpint (above, <=, 1);
  }
  g_free (scores);
  scores = ood_scores (m, ds, train_idx, n_train);
  {
    int above = 0;
    for (int i = 0; i < n_train; i++)
      above += scores[i] > m->ood->threshold;
    g_assert_cmpint (above, <, n_train / 4);
  }
  g_free (scores);
  g_free (truth);
  g_free (train_idx);
  g_free (val_idx);

  /* stopped as the third member starts: two members, both whole */
  cxr_model_free (m);
  m = default_model (6);
  g_assert_true (cxr_train (m, ds, &cfg, &stopper, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (m->n_members, ==, 2);
  g_assert_cmpmem (cxr_model_member (m, 0), bytes, single->params, bytes);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "epochs_run"), ==,
      "2,2");

  /* members out of range are refused */
  cfg.members = 0;
  g_assert_false (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cfg.members = CXR_MAX_MEMBERS + 1;
  g_assert_false (cxr_train (m, ds, &cfg, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  cxr_model_free (m);
  cxr_model_free (single);
  cxr_dataset_free (ds);
}

/* ------------------------------------------------------------------------ */

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* n files spread evenly over the sorted folder, added as class label */
static int
add_folder (CxrDataset *ds, const char *folder, int label, int n)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  float *img = g_new (float, ds->side * ds->side);
  GRegex *kermany;
  const char *name;
  char *patient;
  int added = 0;

  if (!dir)
    return 0;
  while ((name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".jpeg"))
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  kermany = cxr_patient_regex_new (CXR_KERMANY_PATIENT_PATTERN, NULL);

  for (int k = 0; k < n && names->len > 0; k++) {
    const char *file = g_ptr_array_index (names,
        (guint) ((guint64) k * names->len / n));
    char *path = g_build_filename (folder, file, NULL);
    int w, h, stride;
    guint8 *gray = test_jpeg_gray (path, &w, &h, &stride);
    GError *error = NULL;

    g_assert_nonnull (gray);
    g_assert_true (cxr_preprocess (&(CxrPixels) {gray, w, h, stride,
        CXR_PIXEL_GRAY8}, NULL,
            ds->side, ds->side, img, &error));
    g_assert_no_error (error);
    patient = cxr_patient_from_name (kermany, file);
    g_assert_true (cxr_dataset_add (ds, img, label, patient));
    g_free (patient);
    added++;
    g_free (gray);
    g_free (path);
  }
  g_ptr_array_unref (names);
  g_regex_unref (kermany);
  g_free (img);
  return added;
}

static gboolean
print_epoch (const CxrEpochReport *r, void *user)
{
  (void) user;
  g_test_message ("epoch %2d  loss %.4f acc %.3f | val loss %.4f acc@0.5 "
      "%.3f AUC %.4f threshold %.3f%s  %.1f s", r->epoch, r->train_loss,
      r->train_accuracy, r->val_loss, r->val_accuracy, r->val_auc,
      r->threshold, r->is_best ? " *" : "", r->elapsed_seconds);
  return TRUE;
}

static void
test_real_data (void)
{
  char *train = g_build_filename (test_data_dir (), "chest_xray", "train", NULL);
  char *normal = g_build_filename (train, "NORMAL", NULL);
  char *pneumonia = g_build_filename (train, "PNEUMONIA", NULL);
  CxrDataset *ds;
  CxrModel *m;
  CxrTrainConfig cfg;
  CxrTrainCallbacks cb = { .on_epoch = print_epoch };
  GError *error = NULL;
  GTimer *timer;
  double auc;

  if (!g_file_test (normal, G_FILE_TEST_IS_DIR)
      || !g_file_test (pneumonia, G_FILE_TEST_IS_DIR)) {
    test_missing ("no chest_xray/train/{NORMAL,PNEUMONIA} under "
        "CXR_DATA_DIR (default ../shared/data): /trainer/real-data did "
        "nothing");
    g_test_skip ("no chest X-rays");
    goto done;
  }
  timer = g_timer_new ();
  ds = cxr_dataset_new (124);
  g_assert_cmpint (add_folder (ds, normal, 0, 150), ==, 150);
  g_assert_cmpint (add_folder (ds, pneumonia, 1, 150), ==, 150);
  g_test_message ("decoded and cached %d images in %.2f s", ds->n,
      g_timer_elapsed (timer, NULL));

  m = default_model (1);
  cxr_train_config_init (&cfg);
  cfg.epochs = 20;
  cfg.validation_fraction = 0.2;
  cfg.patience = 0;
  cfg.seed = 1;
  g_timer_start (timer);
  g_assert_true (cxr_train (m, ds, &cfg, &cb, NULL, &error));
  g_assert_no_error (error);
  auc = g_ascii_strtod (g_hash_table_lookup (m->provenance, "val_auc"), NULL);
  g_test_message ("%s training on %s images, %s validation: best epoch %s, "
      "val AUC %.4f, accuracy %s at threshold %.3f, sensitivity %s, "
      "specificity %s, %.1f s",
      (char *) g_hash_table_lookup (m->provenance, "precision"),
      (char *) g_hash_table_lookup (m->provenance, "train_images"),
      (char *) g_hash_table_lookup (m->provenance, "val_images"),
      (char *) g_hash_table_lookup (m->provenance, "best_epoch"), auc,
      (char *) g_hash_table_lookup (m->provenance, "val_accuracy"),
      m->threshold,
      (char *) g_hash_table_lookup (m->provenance, "val_sensitivity"),
      (char *) g_hash_table_lookup (m->provenance, "val_specificity"),
      g_timer_elapsed (timer, NULL));
  g_assert_cmpfloat (auc, >, 0.8);

  g_timer_destroy (timer);
  cxr_model_free (m);
  cxr_dataset_free (ds);
done:
  g_free (train);
  g_free (normal);
  g_free (pneumonia);
}

/* Each setting out of its range, below and above it (where the top is a
 * number a user could type) and NaN: refused, with its name and its range
 * in the message; at the ends of the range, accepted. */
static void
test_settings_out_of_range (void)
{
  static const char *names[] = { "epochs", "batch-size", "learning-rate",
    "weight-decay", "validation-fraction", "label-smoothing", "rotation",
    "shift", "zoom", "aspect", "gamma", "contrast", "brightness",
    "sharpness", "patience", "members", "ood-quantile",
    "threshold-tolerance", NULL
  };

  g_assert_null (cxr_train_setting ("output"));
  for (int i = 0; names[i]; i++) {
    const CxrTrainSetting *s = cxr_train_setting (names[i]);
    double bad[3], good[2];
    int n_bad = 0;

    g_assert_nonnull (s);
    bad[n_bad++] = s->min - 1.0;
    if (s->max < 1e6)
      bad[n_bad++] = s->max + 1.0;
    if (s->kind != CXR_SETTING_INT)
      bad[n_bad++] = NAN;
    good[0] = s->min;
    good[1] = s->kind == CXR_SETTING_FLOAT && s->max > 1e6 ? 1e6 : s->max;
    for (int k = 0; k < n_bad + 2; k++) {
      CxrTrainConfig cfg;
      char *at = (char *) &cfg + s->offset;
      double v = k < n_bad ? bad[k] : good[k - n_bad];
      GError *error = NULL;
      gboolean ok;

      cxr_train_config_init (&cfg);
      if (s->kind == CXR_SETTING_INT)
        *(int *) at = (int) v;
      else if (s->kind == CXR_SETTING_FLOAT)
        *(float *) at = (float) v;
      else
        *(double *) at = v;
      ok = cxr_train_config_check (&cfg, &error);
      if (k >= n_bad) {
        g_assert_no_error (error);
        g_assert_true (ok);
        continue;
      }
      g_assert_false (ok);
      g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, names[i]));
      g_assert_nonnull (strstr (error->message, "it must be from"));
      g_clear_error (&error);
    }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trainer/split", test_split);
  g_test_add_func ("/trainer/quantisation", test_quantisation);
  g_test_add_func ("/trainer/determinism", test_determinism);
  g_test_add_func ("/trainer/divergence-learning-rate",
      test_divergence_learning_rate);
  g_test_add_func ("/trainer/divergence-nan", test_divergence_nan);
  g_test_add_func ("/trainer/callbacks", test_callbacks);
  g_test_add_func ("/trainer/label-smoothing", test_label_smoothing);
  g_test_add_func ("/trainer/no-validation", test_no_validation);
  g_test_add_func ("/trainer/calibration-dropped", test_calibration_dropped);
  g_test_add_func ("/trainer/ensemble", test_ensemble);
  g_test_add_func ("/trainer/real-data", test_real_data);
  g_test_add_func ("/trainer/settings-out-of-range",
      test_settings_out_of_range);
  return test_exit_status (g_test_run ());
}
