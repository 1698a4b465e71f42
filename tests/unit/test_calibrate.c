/* Site calibration: the Platt fit against a known answer, the figures
 * against hand-computed values, patient-wise folds, the refusals, and
 * calibrate / fine-tune on a small model whose logit is known. */
#include "calibrate.h"
#include "error.h"
#include "metrics.h"
#include "ensemble.h"
#include "model.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };

static double
sigmoid (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

/* Logits on a grid, at each of which the fraction of positives is
 * sigmoid (2 z - 1): the maximum-likelihood fit is a = 2, b = -1 (Platt's
 * targets move it by about 1 / n, far below the tolerance). */
static void
test_platt_known_answer (void)
{
  const int per_point = 400, points = 61;
  int n = per_point * points, i = 0;
  float *z = g_new (float, n), a, b;
  uint8_t *y = g_new (uint8_t, n);

  for (int p = 0; p < points; p++) {
    double zp = -3.0 + 6.0 * p / (points - 1);
    int pos = (int) lround (per_point * sigmoid (2.0 * zp - 1.0));
    for (int k = 0; k < per_point; k++, i++) {
      z[i] = (float) zp;
      y[i] = k < pos;
    }
  }
  g_assert_true (cxr_platt_fit (z, y, n, &a, &b));
  g_assert_cmpfloat_with_epsilon (a, 2.0, 0.01);
  g_assert_cmpfloat_with_epsilon (b, -1.0, 0.01);

  /* separable: Platt's targets keep the fit finite */
  for (i = 0; i < n; i++)
    y[i] = z[i] > 0.0f;
  g_assert_true (cxr_platt_fit (z, y, n, &a, &b));
  g_assert_true (isfinite (a) && a > 0.0f && isfinite (b));
  g_free (z);
  g_free (y);
}

/* four films by hand: scores 0.9 0.4 | 0.6 0.1, truth 1 1 | 0 0, threshold
 * 0.5 for all: tp 1, fn 1, fp 1, tn 1; AUC: pairs (0.9 > 0.6, 0.9 > 0.1,
 * 0.4 < 0.6, 0.4 > 0.1) 3 of 4; Brier (0.01 + 0.36 + 0.36 + 0.01) / 4;
 * log loss -(ln 0.9 + ln 0.4 + ln 0.4 + ln 0.9) / 4 */
static void
test_site_figures (void)
{
  const float scores[] = { 0.9f, 0.4f, 0.6f, 0.1f };
  const float thresholds[] = { 0.5f, 0.5f, 0.5f, 0.5f };
  const uint8_t truth[] = { 1, 1, 0, 0 };
  CxrSiteFigures f;

  cxr_site_figures (scores, thresholds, truth, 4, &f);
  g_assert_cmpfloat_with_epsilon (f.accuracy, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (f.sensitivity, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (f.specificity, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (f.auc, 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (f.brier, 0.74 / 4, 1e-6);
  g_assert_cmpfloat_with_epsilon (f.log_loss,
      -(2 * log (0.9) + 2 * log (0.4)) / 4, 1e-6);
}

/* A dataset of side x side frames, each one grey level m drawn in [0, 1],
 * its class drawn with P(PNEUMONIA) = sigmoid (slope (m - 0.5)); one patient
 * per frame but every third frame shares its patient with the one before
 * (same class, so a patient has one class). */
static CxrDataset *
grey_dataset (int n_normal, int n_pneumonia, double slope, guint32 seed)
{
  CxrDataset *ds = cxr_dataset_new (8);
  GRand *rand = g_rand_new_with_seed (seed);
  float img[64];
  int want[2] = { n_normal, n_pneumonia }, patient = 0, last = -1;

  while (want[0] > 0 || want[1] > 0) {
    double m = g_rand_double (rand);
    int label = g_rand_double (rand) < sigmoid (slope * (m - 0.5));
    char *name;

    if (want[label] == 0)
      continue;
    want[label]--;
    for (int i = 0; i < 64; i++)
      img[i] = (float) m;
    /* a second film of the same patient when the class allows */
    if (!(ds->n % 3 == 2 && label == last))
      patient++;
    name = g_strdup_printf ("person%d", patient);
    g_assert_true (cxr_dataset_add (ds, img, label, name));
    g_free (name);
    last = label;
  }
  g_rand_free (rand);
  return ds;
}

/* gap then dense: logit = w mean + b, here 2 mean - 1, so the model is
 * under-confident against the data's slope 8 */
static CxrModel *
grey_model (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new ("gap dense:1 sigmoid", 1, 8, 8, classes, 1,
      &error);

  g_assert_no_error (error);
  for (int i = 0; i < m->spec->n_params; i++) {
    const CxrParamInfo *p = &m->spec->params[i];
    m->params[p->offset] = p->kind == CXR_PARAM_WEIGHT ? 2.0f : -1.0f;
  }
  cxr_model_update_id (m);
  return m;
}

static void
test_folds (void)
{
  CxrDataset *ds = grey_dataset (40, 60, 8.0, 3);
  int fold[100], per_fold[5][2] = { { 0 } };

  g_assert_cmpint (cxr_dataset_folds (ds, 5, 1, fold), >=, 1);
  for (int i = 0; i < ds->n; i++) {
    g_assert_cmpint (fold[i], >=, 0);
    g_assert_cmpint (fold[i], <, 5);
    per_fold[fold[i]][ds->labels[i]]++;
    /* a patient's films all in one fold */
    for (int j = 0; j < i; j++)
      if (g_strcmp0 (ds->patients[i], ds->patients[j]) == 0)
        g_assert_cmpint (fold[i], ==, fold[j]);
  }
  /* each fold holds about a fifth of each class: 8 and 12, give or take
   * a patient of two films */
  for (int f = 0; f < 5; f++) {
    g_assert_cmpint (ABS (per_fold[f][0] - 8), <=, 2);
    g_assert_cmpint (ABS (per_fold[f][1] - 12), <=, 2);
  }
  cxr_dataset_free (ds);
}

/* too few films of a class, or of patients, is refused, the model
 * untouched */
static void
test_refusals (void)
{
  CxrDataset *ds = grey_dataset (19, 60, 8.0, 4);
  CxrModel *m = grey_model ();
  char id[9];
  GError *error = NULL;

  memcpy (id, m->id, sizeof id);
  g_assert_false (cxr_calibrate (m, ds, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "19 NORMAL"));
  g_assert_nonnull (strstr (error->message, "at least 20"));
  g_clear_error (&error);
  g_assert_cmpstr (m->id, ==, id);
  g_assert_cmpfloat (m->logit_scale, ==, 1.0f);
  g_assert_cmpfloat (m->logit_offset, ==, 0.0f);
  g_assert_null (g_hash_table_lookup (m->provenance, "calibration_method"));
  cxr_dataset_free (ds);

  /* one-sided */
  ds = grey_dataset (0, 60, 8.0, 4);
  g_assert_false (cxr_calibrate (m, ds, NULL, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cxr_dataset_free (ds);
  cxr_model_free (m);
}

static double
figure (const CxrModel *m, const char *key, const char *name)
{
  const char *s = g_hash_table_lookup (m->provenance, key);
  const char *at;

  g_assert_nonnull (s);
  at = strstr (s, name);
  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen (name) + 1, NULL);
}

/* The model's logit 2 m - 1 against data whose log-odds are 8 (m - 0.5) =
 * 4 logit: Platt finds a scale near 4 and an offset near 0, and the
 * calibrated probabilities score better (log loss, Brier) in
 * cross-validation than the model as it came. The file keeps it all. */
static void
test_calibrate_platt (void)
{
  CxrDataset *ds = grey_dataset (150, 150, 8.0, 5);
  CxrModel *m = grey_model (), *back;
  CxrCalibrateReport r;
  char base_id[9], *path;
  GError *error = NULL;

  memcpy (base_id, m->id, sizeof base_id);
  g_assert_true (cxr_calibrate (m, ds, NULL, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n, ==, 300);
  g_assert_cmpint (r.positives, ==, 150);
  g_assert_cmpint (r.used, ==, CXR_CALIBRATE_PLATT);
  g_assert_cmpfloat_with_epsilon (m->logit_scale, 4.0, 1.2);
  g_assert_cmpfloat_with_epsilon (m->logit_offset, 0.0, 0.6);
  g_assert_cmpfloat (r.platt.log_loss, <, r.base.log_loss);
  g_assert_cmpfloat (r.platt.brier, <, r.base.brier);
  /* a monotone map: the ranking, and so the AUC, stays */
  g_assert_cmpfloat_with_epsilon (r.platt.auc, r.base.auc, 0.02);
  /* the weights are kept */
  g_assert_cmpstr (m->id, ==, base_id);

  g_assert_cmpstr (g_hash_table_lookup (m->provenance,
          "calibration_base_model"), ==, base_id);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "calibration_method"),
      ==, "platt");
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "calibration_images"),
      ==, "300 (150 NORMAL, 150 PNEUMONIA)");
  g_assert_nonnull (g_hash_table_lookup (m->provenance,
          "calibration_fingerprint"));
  g_assert_cmpfloat_with_epsilon (figure (m, "calibration_cv_after",
          "log_loss"), r.platt.log_loss, 1e-4);
  g_assert_cmpfloat_with_epsilon (figure (m, "calibration_cv_before",
          "accuracy"), r.base.accuracy, 1e-4);

  /* round trip through the file */
  path = g_build_filename (g_get_tmp_dir (), "test-calibrate.safetensors",
      NULL);
  g_assert_true (cxr_model_save (m, path, &error));
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (back->logit_scale, ==, m->logit_scale);
  g_assert_cmpfloat (back->logit_offset, ==, m->logit_offset);
  g_assert_cmpfloat (back->threshold, ==, m->threshold);
  g_assert_cmpstr (g_hash_table_lookup (back->provenance,
          "calibration_method"), ==, "platt");
  {
    /* the probabilities cxrclassify reports use the calibration */
    float z = 0.25f, p[2];
    cxr_model_probabilities (back, &z, p);
    g_assert_cmpfloat_with_epsilon (p[1],
        sigmoid (back->logit_scale * 0.25 + back->logit_offset), 1e-6);
  }
  g_unlink (path);
  g_free (path);
  cxr_model_free (back);
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

/* The threshold rules: Youden's J fits a threshold to the sample, which on
 * a sample with three times more positives is not 0.5; fewest-errors takes
 * 0.5 on the calibrated probability; model carries the model's own
 * threshold over (the same decisions); auto keeps whichever of the three
 * has the best cross-validated accuracy. The file says which rule it was. */
static void
test_site_threshold_rules (void)
{
  static const CxrSiteThreshold rules[] = { CXR_SITE_THRESHOLD_MODEL,
    CXR_SITE_THRESHOLD_FEWEST_ERRORS, CXR_SITE_THRESHOLD_YOUDEN
  };
  CxrDataset *ds = grey_dataset (60, 180, 8.0, 6);
  CxrModel *m[3], *chosen = grey_model ();
  CxrCalibrateReport r[3], auto_report;
  CxrCalibrateConfig cfg;
  GError *error = NULL;
  double best = 0.0;

  cxr_calibrate_config_init (&cfg);
  g_assert_cmpint (cfg.threshold_rule, ==, CXR_SITE_THRESHOLD_AUTO);
  for (int k = 0; k < 3; k++) {
    m[k] = grey_model ();
    m[k]->threshold = 0.3f;
    cfg.threshold_rule = rules[k];
    g_assert_true (cxr_calibrate (m[k], ds, &cfg, &r[k], &error));
    g_assert_no_error (error);
    g_assert_cmpint (r[k].threshold_rule, ==, rules[k]);
    g_assert_cmpstr (g_hash_table_lookup (m[k]->provenance,
            "calibration_threshold_rule"), ==,
        cxr_site_threshold_name (rules[k]));
    best = MAX (best, r[k].platt.accuracy);
  }
  /* the same Platt fit under every rule */
  g_assert_cmpfloat (m[1]->logit_scale, ==, m[0]->logit_scale);
  g_assert_cmpfloat (m[2]->logit_offset, ==, m[0]->logit_offset);
  /* model: the old threshold's logit (0.3 on an uncalibrated model) through
   * the new calibration */
  g_assert_cmpfloat_with_epsilon (m[0]->threshold, sigmoid (m[0]->logit_scale
          * log (0.3 / 0.7) + m[0]->logit_offset), 1e-5);
  g_assert_cmpfloat (m[1]->threshold, ==, 0.5f);
  g_assert_cmpfloat (fabsf (m[2]->threshold - 0.5f), >, 1e-3f);

  cfg.threshold_rule = CXR_SITE_THRESHOLD_AUTO;
  chosen->threshold = 0.3f;
  g_assert_true (cxr_calibrate (chosen, ds, &cfg, &auto_report, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (auto_report.platt.accuracy, ==, best);
  g_assert_cmpint (auto_report.threshold_rule, !=, CXR_SITE_THRESHOLD_AUTO);
  g_assert_nonnull (strstr (g_hash_table_lookup (chosen->provenance,
              "calibration_threshold_rule"), "auto"));
  g_assert_cmpint (cxr_site_threshold_from_name ("fewest-errors"), ==,
      CXR_SITE_THRESHOLD_FEWEST_ERRORS);
  g_assert_cmpint (cxr_site_threshold_from_name ("accuracy"), ==, -1);
  for (int k = 0; k < 3; k++)
    cxr_model_free (m[k]);
  cxr_model_free (chosen);
  cxr_dataset_free (ds);
}

/* Fine-tuning is kept only when it wins its own cross-validation. On this
 * model it cannot: the network is a linear function of the grey level, so
 * any fine-tuned weights followed by Platt's scale and offset are the same
 * family as Platt alone, and the tie goes to calibrating. */
static void
test_fine_tune (void)
{
  CxrDataset *ds = grey_dataset (60, 60, 8.0, 6);
  CxrModel *m = grey_model ();
  CxrCalibrateConfig cfg;
  CxrCalibrateReport r;
  GError *error = NULL;
  char base_id[9];

  memcpy (base_id, m->id, sizeof base_id);
  cxr_calibrate_config_init (&cfg);
  cfg.method = CXR_CALIBRATE_FINE_TUNE;
  cfg.train.seed = 1;
  cfg.train.batch_size = 16;
  cfg.train.learning_rate = 1e-2f;
  memset (&cfg.train.augment, 0, sizeof cfg.train.augment);
  g_assert_true (cxr_calibrate (m, ds, &cfg, &r, &error));
  g_assert_no_error (error);
  g_assert_true (isfinite (r.fine_tune.log_loss));
  g_assert_true (r.strength == 1.0 || r.strength == 0.1
      || r.strength == 0.01);
  g_assert_cmpfloat_with_epsilon (r.fine_tune.log_loss, r.platt.log_loss,
      1e-3);
  g_assert_cmpint (r.used, ==, CXR_CALIBRATE_PLATT);
  g_assert_cmpstr (g_hash_table_lookup (m->provenance, "calibration_method"),
      ==, "platt (fine-tune was no better in cross-validation)");
  /* the weights stay the base's */
  g_assert_cmpstr (m->id, ==, base_id);
  g_assert_nonnull (g_hash_table_lookup (m->provenance,
          "calibration_strength"));
  g_assert_nonnull (g_hash_table_lookup (m->provenance,
          "calibration_cv_fine_tune"));
  g_assert_cmpfloat_with_epsilon (figure (m, "calibration_cv_after",
          "log_loss"), r.platt.log_loss, 1e-4);
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

static gboolean
stop_after_ten (void *user)
{
  int *calls = user;
  return ++*calls > 10;
}

/* a stop asked for during fine-tuning ends the calibration, the model
 * untouched */
static void
test_fine_tune_stopped (void)
{
  CxrDataset *ds = grey_dataset (30, 30, 8.0, 7);
  CxrModel *m = grey_model ();
  CxrCalibrateConfig cfg;
  GError *error = NULL;
  int calls = 0;
  char base_id[9];

  memcpy (base_id, m->id, sizeof base_id);
  cxr_calibrate_config_init (&cfg);
  cfg.method = CXR_CALIBRATE_FINE_TUNE;
  cfg.train.batch_size = 8;
  cfg.should_stop = stop_after_ten;
  cfg.user = &calls;
  g_assert_false (cxr_calibrate (m, ds, &cfg, NULL, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_CANCELLED);
  g_clear_error (&error);
  /* stopped early: far fewer questions than the steps of every fit */
  g_assert_cmpint (calls, <=, 12);
  g_assert_cmpstr (m->id, ==, base_id);
  g_assert_cmpfloat (m->logit_scale, ==, 1.0f);
  g_assert_null (g_hash_table_lookup (m->provenance, "calibration_method"));
  cxr_model_free (m);
  cxr_dataset_free (ds);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/calibrate/platt-known-answer", test_platt_known_answer);
  g_test_add_func ("/calibrate/site-figures", test_site_figures);
  g_test_add_func ("/calibrate/folds", test_folds);
  g_test_add_func ("/calibrate/refusals", test_refusals);
  g_test_add_func ("/calibrate/platt", test_calibrate_platt);
  g_test_add_func ("/calibrate/threshold-rules", test_site_threshold_rules);
  g_test_add_func ("/calibrate/fine-tune", test_fine_tune);
  g_test_add_func ("/calibrate/fine-tune-stopped", test_fine_tune_stopped);
  return g_test_run ();
}
