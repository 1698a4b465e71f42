/* calibrate.c — site calibration: Platt scaling and fine-tuning toward the
 * base weights, each judged by patient-wise cross-validation.
 *
 * Reads top to bottom: the Platt fit, the figures, one rule fitted on some
 * films and applied to others, the cross-validation of each method, then
 * cxr_calibrate itself. */
#include "calibrate.h"
#include "ensemble.h"
#include "evaluate.h"
#include "number.h"
#include "provenance.h"
#include "error.h"
#include "metrics.h"

#include <math.h>
#include <string.h>

/* held-out log loss (nats a film) by which fine-tuning must beat Platt
 * scaling to be kept: less is within the noise of refitting */
#define FINE_TUNE_MARGIN 1e-3

void
cxr_calibrate_config_init (CxrCalibrateConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->method = CXR_CALIBRATE_PLATT;
  cfg->threshold_rule = CXR_SITE_THRESHOLD_AUTO;
  cfg->folds = 5;
  cfg->min_per_class = 20;
  cxr_train_config_init (&cfg->train);
  /* a few gentle epochs: the sample is small and the base is good */
  cfg->train.epochs = 5;
  cfg->train.learning_rate = 1e-4f;
  cfg->train.warmup_epochs = 0;
  cfg->train.patience = 0;
  cfg->n_strengths = 3;
  cfg->strengths[0] = 1.0;
  cfg->strengths[1] = 0.1;
  cfg->strengths[2] = 0.01;
}

/* ----------------------------------------------------------------------------
 * the Platt fit */

static double
sigmoid (double x)
{
  return x >= 0 ? 1.0 / (1.0 + exp (-x)) : exp (x) / (1.0 + exp (x));
}

/* the mean cross-entropy of targets t against sigmoid (a z + b) */
static double
platt_loss (const float *z, const double *t, int n, double a, double b)
{
  double sum = 0.0;

  for (int i = 0; i < n; i++) {
    double x = a * z[i] + b;
    /* log (1 + e^x) - t x, without overflow */
    sum += fmax (x, 0.0) + log1p (exp (-fabs (x))) - t[i] * x;
  }
  return sum / n;
}

gboolean
cxr_platt_fit (const float *z, const uint8_t *y, int n, float *a_out,
    float *b_out)
{
  double a = 1.0, b = 0.0, loss;
  double *t = g_new (double, MAX (n, 1));
  int n_pos = 0;
  gboolean converged = FALSE;

  for (int i = 0; i < n; i++)
    n_pos += y[i] != 0;
  for (int i = 0; i < n; i++)
    t[i] = y[i] ? (n_pos + 1.0) / (n_pos + 2.0) : 1.0 / (n - n_pos + 2.0);
  loss = platt_loss (z, t, n, a, b);

  /* Newton's method on (a, b), halving the step until the loss falls */
  for (int iter = 0; iter < 100 && n > 0 && !converged; iter++) {
    double ga = 0.0, gb = 0.0, haa = 1e-12, hab = 0.0, hbb = 1e-12, det;
    double da, db, step = 1.0;

    for (int i = 0; i < n; i++) {
      double p = sigmoid (a * z[i] + b), w = p * (1.0 - p);
      ga += (p - t[i]) * z[i];
      gb += p - t[i];
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    det = haa * hbb - hab * hab;
    if (!(fabs (det) > 1e-300))
      break;
    da = (hbb * ga - hab * gb) / det;
    db = (haa * gb - hab * ga) / det;
    for (; step > 1e-10; step /= 2) {
      double l = platt_loss (z, t, n, a - step * da, b - step * db);
      if (l <= loss) {
        converged = loss - l < 1e-12 * fmax (1.0, fabs (loss));
        a -= step * da;
        b -= step * db;
        loss = l;
        break;
      }
    }
    if (step <= 1e-10)
      converged = TRUE;         /* no step lowers the loss: at the minimum */
  }
  g_free (t);
  *a_out = (float) a;
  *b_out = (float) b;
  return converged && isfinite (a) && isfinite (b);
}

/* ----------------------------------------------------------------------------
 * figures */

void
cxr_site_figures (const float *scores, const float *thresholds,
    const uint8_t *truth, int n, CxrSiteFigures *out)
{
  CxrConfusion c;
  CxrBinaryMetrics m;
  double log_loss = 0.0;

  cxr_confusion_init (&c, 2);
  for (int i = 0; i < n; i++) {
    double p = CLAMP (scores[i], 1e-7, 1.0 - 1e-7);

    cxr_confusion_add (&c, truth[i] != 0, scores[i] >= thresholds[i]);
    log_loss -= truth[i] ? log (p) : log1p (-p);
  }
  cxr_confusion_metrics (&c, &m);
  out->auc = cxr_roc_auc (scores, truth, n);
  out->accuracy = m.accuracy;
  out->sensitivity = m.recall;
  out->specificity = m.specificity;
  out->brier = cxr_brier_score (scores, truth, n);
  out->log_loss = n ? log_loss / n : NAN;
}

/* ----------------------------------------------------------------------------
 * a rule: fitted on some films' logits, applied to others' */

typedef struct {
  float a, b;                   /* P = sigmoid (a z + b) */
  float threshold;              /* on P, by the threshold rule */
} Rule;

const char *
cxr_site_threshold_name (CxrSiteThreshold rule)
{
  switch (rule) {
    case CXR_SITE_THRESHOLD_YOUDEN:
      return "youden";
    case CXR_SITE_THRESHOLD_FEWEST_ERRORS:
      return "fewest-errors";
    case CXR_SITE_THRESHOLD_MODEL:
      return "model";
    case CXR_SITE_THRESHOLD_AUTO:
      return "auto";
  }
  return NULL;
}

int
cxr_site_threshold_from_name (const char *name)
{
  for (int r = CXR_SITE_THRESHOLD_YOUDEN;
      r <= CXR_SITE_THRESHOLD_AUTO; r++)
    if (name && strcmp (name, cxr_site_threshold_name (r)) == 0)
      return r;
  return -1;
}

/* z, y: the n films the rule is fitted on; model_logit: the logit at
 * which the model as it came decides positive (rule model). FALSE when the
 * fit fails or finds the logit falling with the positive class. */
static gboolean
fit_rule (const float *z, const uint8_t *y, int n, CxrSiteThreshold kind,
    float model_logit, Rule *rule)
{
  float *p = g_new (float, MAX (n, 1));

  if (!cxr_platt_fit (z, y, n, &rule->a, &rule->b) || !(rule->a > 0.0f)) {
    g_free (p);
    return FALSE;
  }
  for (int i = 0; i < n; i++)
    p[i] = (float) sigmoid (rule->a * z[i] + rule->b);
  if (kind == CXR_SITE_THRESHOLD_FEWEST_ERRORS)
    rule->threshold = 0.5f;
  else if (kind == CXR_SITE_THRESHOLD_MODEL)
    rule->threshold = (float) sigmoid (rule->a * model_logit + rule->b);
  else
    rule->threshold = cxr_threshold_youden_within (p, y, n, 0.0, NULL);
  g_free (p);
  return TRUE;
}

/* the films of fold f (in == TRUE) or of the other folds, as indices */
static int
fold_members (const int *fold, int n, int f, gboolean in, int *idx)
{
  int m = 0;

  for (int i = 0; i < n; i++)
    if ((fold[i] == f) == in)
      idx[m++] = i;
  return m;
}

static void
gather (const float *src, const uint8_t *ysrc, const int *idx, int m,
    float *dst, uint8_t *ydst)
{
  for (int j = 0; j < m; j++) {
    dst[j] = src[idx[j]];
    ydst[j] = ysrc[idx[j]];
  }
}

/* ----------------------------------------------------------------------------
 * cross-validation */

typedef struct {
  int done, total;              /* fits, for on_progress */
  const CxrModel *model;
  const CxrDataset *ds;
  const CxrCalibrateConfig *cfg;
  int n;
  float *z;                     /* n: the base model's averaged logits */
  uint8_t *y;                   /* n: is the positive class */
  int *fold;                    /* n: the film's fold */
  float *scores, *thresholds;   /* n: held-out probability, its threshold */
  int *idx;                     /* n: films of some folds */
  float *zz;                    /* n: their logits */
  uint8_t *yy;                  /* n: their truth */
  float model_logit;            /* where the model as it came says positive */
} Cv;

static void
progress (Cv *cv)
{
  cv->done++;
  if (cv->cfg->on_progress)
    cv->cfg->on_progress (cv->done, cv->total, cv->cfg->user);
}

/* Platt on the base logits, each fold by a rule fitted on the others */
static gboolean
cv_platt (Cv *cv, CxrSiteFigures *out, GError **error)
{
  for (int f = 0; f < cv->cfg->folds; f++) {
    Rule rule;
    int m = fold_members (cv->fold, cv->n, f, FALSE, cv->idx);

    gather (cv->z, cv->y, cv->idx, m, cv->zz, cv->yy);
    if (!fit_rule (cv->zz, cv->yy, m, cv->cfg->threshold_rule,
            cv->model_logit, &rule)) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "the model's scores do not tell the site's classes apart well "
          "enough to calibrate on (fold %d of %d)", f + 1, cv->cfg->folds);
      return FALSE;
    }
    for (int i = 0; i < cv->n; i++)
      if (cv->fold[i] == f) {
        cv->scores[i] = (float) sigmoid (rule.a * cv->z[i] + rule.b);
        cv->thresholds[i] = rule.threshold;
      }
  }
  cxr_site_figures (cv->scores, cv->thresholds, cv->y, cv->n, out);
  return TRUE;
}

static gboolean
keep_going (const CxrStepReport *report, void *user)
{
  const CxrCalibrateConfig *cfg = user;

  (void) report;
  return !cfg->should_stop (cfg->user);
}

static gboolean
stopped (const CxrCalibrateConfig *cfg, GError **error)
{
  if (!cfg->should_stop || !cfg->should_stop (cfg->user))
    return FALSE;
  g_set_error (error, CXR_ERROR, CXR_ERROR_CANCELLED,
      "calibration was stopped");
  return TRUE;
}

/* A copy of model fine-tuned on films idx[0 .. m) of ds with strength,
 * and its rule fitted on those films; NULL on failure. */
static CxrModel *
fine_tuned (const CxrModel *model, const CxrDataset *ds, const int *idx,
    int m, const CxrCalibrateConfig *cfg, double strength, float model_logit,
    Rule *rule, GError **error)
{
  CxrModel *tuned;
  CxrDataset *sub;
  CxrTrainConfig tc = cfg->train;
  float *z;
  uint8_t *y;
  gboolean ok;

  if (stopped (cfg, error))
    return NULL;
  tuned = cxr_model_copy (model);
  sub = cxr_dataset_subset (ds, idx, m);
  z = g_new (float, MAX (m, 1));
  y = g_new (uint8_t, MAX (m, 1));
  /* the folds are the validation; decay pulls toward the base, not 0 */
  tc.validation_fraction = 0.0;
  tc.weight_decay = 0.0f;
  tc.members = model->n_members;
  tc.anchor = model->params;
  tc.anchor_strength = (float) strength;
  /* the base's out-of-distribution statistics are kept: the weights move
   * little, and a site's sample is too small to fit them anew */
  tc.ood_quantile = 0.0;
  CxrTrainCallbacks cb = { .on_step = cfg->should_stop ? keep_going : NULL,
    .step_interval = 1
  };
  ok = cxr_train (tuned, sub, &tc, &cb, (void *) cfg, error)
      && !stopped (cfg, error)
      && cxr_dataset_logits (tuned, sub, NULL, m, z, error);
  if (ok) {
    for (int j = 0; j < m; j++)
      y[j] = sub->labels[j] == 1;
    ok = fit_rule (z, y, m, cfg->threshold_rule, model_logit, rule);
    if (!ok)
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "the fine-tuned model's scores do not tell the site's classes "
          "apart");
  }
  g_free (z);
  g_free (y);
  cxr_dataset_free (sub);
  if (!ok) {
    cxr_model_free (tuned);
    return NULL;
  }
  return tuned;
}

/* fine-tune with one strength, each fold by weights and a rule fitted on
 * the others */
static gboolean
cv_fine_tune (Cv *cv, double strength, CxrSiteFigures *out, GError **error)
{
  int *held = g_new (int, cv->n);
  float *z = g_new (float, cv->n);
  gboolean ok = TRUE;

  for (int f = 0; f < cv->cfg->folds && ok; f++) {
    Rule rule;
    int m = fold_members (cv->fold, cv->n, f, FALSE, cv->idx);
    int h = fold_members (cv->fold, cv->n, f, TRUE, held);
    CxrModel *tuned = fine_tuned (cv->model, cv->ds, cv->idx, m, cv->cfg,
        strength, cv->model_logit, &rule, error);

    ok = tuned && cxr_dataset_logits (tuned, cv->ds, held, h, z, error);
    for (int j = 0; ok && j < h; j++) {
      cv->scores[held[j]] = (float) sigmoid (rule.a * z[j] + rule.b);
      cv->thresholds[held[j]] = rule.threshold;
    }
    cxr_model_free (tuned);
    progress (cv);
  }
  if (ok)
    cxr_site_figures (cv->scores, cv->thresholds, cv->y, cv->n, out);
  g_free (held);
  g_free (z);
  return ok;
}

/* ----------------------------------------------------------------------------
 * calibrating */

static void
set_figures (CxrModel *model, const char *key, const CxrSiteFigures *f)
{
  char b[6][CXR_NUMBER_SIZE];
  const double v[6] = { f->auc, f->accuracy, f->sensitivity, f->specificity,
    f->brier, f->log_loss
  };

  for (int i = 0; i < 6; i++)
    cxr_number (b[i], "%.4f", v[i]);
  cxr_provenance_set (model, key, "auc=%s accuracy=%s sensitivity=%s "
      "specificity=%s brier=%s log_loss=%s", b[0], b[1], b[2], b[3], b[4],
      b[5]);
}

/* key = value, taking value */
static void
set_key (CxrModel *model, const char *key, char *value)
{
  cxr_provenance_set (model, key, "%s", value);
  g_free (value);
}

/* the sample must fill every fold with patients of both classes */
static gboolean
check_sample (const CxrModel *model, const CxrDataset *ds,
    const CxrCalibrateConfig *cfg, int *fold, GError **error)
{
  const char *const *names = (const char *const *) model->classes;
  int fewest;

  if (model->spec->output != CXR_OUTPUT_SIGMOID) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "site calibration fits two-class models; this one has %d classes",
        model->spec->n_classes);
    return FALSE;
  }
  if (cfg->folds < 2 || cfg->folds > CXR_MAX_FOLDS || cfg->min_per_class < 1
      || cfg->n_strengths < 0 || cfg->n_strengths > 4) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "calibration needs 2 to %d folds, a minimum per class of at least "
        "1 and at most 4 strengths", CXR_MAX_FOLDS);
    return FALSE;
  }
  if (ds->counts[0] < cfg->min_per_class || ds->counts[1] < cfg->min_per_class) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the sample has %d %s and %d %s films; calibrating needs at least %d "
        "of each class. Add %s films", ds->counts[0], names[0],
        ds->counts[1], names[1], cfg->min_per_class,
        ds->counts[1] >= cfg->min_per_class ? names[0] :
        ds->counts[0] >= cfg->min_per_class ? names[1] : "more");
    return FALSE;
  }
  fewest = cxr_dataset_folds (ds, cfg->folds, cfg->train.seed, fold);
  if (fewest < 1) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the sample's films come from too few patients of a class to fill "
        "%d folds; add films of other patients", cfg->folds);
    return FALSE;
  }
  return TRUE;
}

gboolean
cxr_calibrate (CxrModel *model, const CxrDataset *ds,
    const CxrCalibrateConfig *cfg, CxrCalibrateReport *report,
    GError **error)
{
  CxrCalibrateConfig defaults, resolved;
  gboolean chosen_by_cv;
  CxrCalibrateReport r = { 0 };
  Cv cv = { 0 };
  Rule rule;
  CxrModel *tuned = NULL;
  float *base_thresholds;
  char base_id[sizeof model->id];
  double best_strength = NAN;
  gboolean ok = FALSE;
  int n = ds->n;

  if (!cfg) {
    cxr_calibrate_config_init (&defaults);
    cfg = &defaults;
  }
  if (ds->side != model->spec->in_h || model->spec->in_c != 1
      || model->spec->in_w != ds->side) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the films are cached at 1x%dx%d but the model takes %dx%dx%d",
        ds->side, ds->side, model->spec->in_c, model->spec->in_h,
        model->spec->in_w);
    return FALSE;
  }
  cv.fold = g_new (int, MAX (n, 1));
  if (!check_sample (model, ds, cfg, cv.fold, error)) {
    g_free (cv.fold);
    return FALSE;
  }
  cv.model = model;
  cv.ds = ds;
  cv.cfg = cfg;
  cv.n = n;
  cv.z = g_new (float, n);
  cv.y = g_new (uint8_t, n);
  cv.scores = g_new (float, n);
  cv.thresholds = g_new (float, n);
  cv.idx = g_new (int, n);
  cv.zz = g_new (float, n);
  cv.yy = g_new (uint8_t, n);
  base_thresholds = g_new (float, n);

  if (!cxr_dataset_logits (model, ds, NULL, n, cv.z, error))
    goto out;
  memcpy (base_id, model->id, sizeof base_id);
  r.n = n;
  for (int i = 0; i < n; i++) {
    float p[2];
    cv.y[i] = ds->labels[i] == 1;
    r.positives += cv.y[i];
    cxr_model_probabilities (model, cv.z + i, p);
    cv.scores[i] = p[1];
    base_thresholds[i] = model->threshold;
  }
  /* the model as it came: nothing is fitted, so nothing to hold out */
  cxr_site_figures (cv.scores, base_thresholds, cv.y, n, &r.base);
  {
    /* where it says positive, on its logit: P = sigmoid (s z + o) >= t */
    double t = CLAMP (model->threshold, 1e-6, 1.0 - 1e-6);
    cv.model_logit = (float) ((log (t / (1.0 - t)) - model->logit_offset)
        / model->logit_scale);
  }
  /* the base logit is what a new rule maps, whatever rule it had; auto
   * tries each rule and goes on with the best */
  resolved = *cfg;
  chosen_by_cv = cfg->threshold_rule == CXR_SITE_THRESHOLD_AUTO;
  if (chosen_by_cv) {
    static const CxrSiteThreshold order[] = { CXR_SITE_THRESHOLD_MODEL,
      CXR_SITE_THRESHOLD_FEWEST_ERRORS, CXR_SITE_THRESHOLD_YOUDEN
    };
    for (guint k = 0; k < G_N_ELEMENTS (order); k++) {
      CxrSiteFigures f;

      resolved.threshold_rule = order[k];
      cv.cfg = &resolved;
      if (!cv_platt (&cv, &f, error))
        goto out;
      if (k == 0 || f.accuracy > r.platt.accuracy) {
        r.platt = f;
        r.threshold_rule = order[k];
      }
    }
    resolved.threshold_rule = r.threshold_rule;
  } else {
    r.threshold_rule = cfg->threshold_rule;
    if (!cv_platt (&cv, &r.platt, error))
      goto out;
  }
  cfg = &resolved;
  cv.cfg = cfg;
  r.used = CXR_CALIBRATE_PLATT;
  r.fine_tune.auc = r.fine_tune.accuracy = r.fine_tune.sensitivity =
      r.fine_tune.specificity = r.fine_tune.brier = r.fine_tune.log_loss =
      NAN;
  r.strength = NAN;

  if (cfg->method == CXR_CALIBRATE_FINE_TUNE) {
    /* one fit a fold a strength, and the final one */
    cv.total = cfg->n_strengths * cfg->folds + 1;
    for (int s = 0; s < cfg->n_strengths; s++) {
      CxrSiteFigures f;
      GError *failed = NULL;

      /* a strength that fails (diverges, or leaves scores that do not
       * separate) is out of the running; Platt still stands */
      if (!cv_fine_tune (&cv, cfg->strengths[s], &f, &failed)) {
        if (g_error_matches (failed, CXR_ERROR, CXR_ERROR_CANCELLED)) {
          g_propagate_error (error, failed);
          goto out;
        }
        g_clear_error (&failed);
        continue;
      }
      /* by held-out log loss: it judges the probabilities and the ranking
       * on every film, where accuracy moves by whole films */
      if (isfinite (f.log_loss) && (isnan (best_strength)
              || f.log_loss < r.fine_tune.log_loss)) {
        r.fine_tune = f;
        best_strength = cfg->strengths[s];
      }
    }
    r.strength = best_strength;
    /* a tie is "no better": the weights stay */
    if (!isnan (best_strength)
        && r.fine_tune.log_loss < r.platt.log_loss - FINE_TUNE_MARGIN)
      r.used = CXR_CALIBRATE_FINE_TUNE;
  }

  /* the model itself, fitted on the whole sample */
  if (r.used == CXR_CALIBRATE_FINE_TUNE) {
    for (int i = 0; i < n; i++)
      cv.idx[i] = i;
    tuned = fine_tuned (model, ds, cv.idx, n, cfg, best_strength,
        cv.model_logit, &rule, error);
    if (!tuned)
      goto out;
    progress (&cv);
    memcpy (model->params, tuned->params,
        (size_t) model->n_members * model->spec->n_floats * sizeof (float));
    cxr_model_update_id (model);
    /* the base's validation figures described other weights */
    cxr_provenance_weights_changed (model, FALSE);
  } else if (!fit_rule (cv.z, cv.y, n, cfg->threshold_rule, cv.model_logit,
          &rule)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "the model's scores do not tell the site's classes apart");
    goto out;
  }
  cxr_model_clear_calibration (model);
  set_key (model, "calibration_base_model", g_strdup (base_id));
  model->logit_scale = rule.a;
  model->logit_offset = rule.b;
  model->threshold = rule.threshold;
  set_key (model, "calibration_method", g_strdup (r.used ==
          CXR_CALIBRATE_PLATT ? (cfg->method == CXR_CALIBRATE_FINE_TUNE ?
              "platt (fine-tune was no better in cross-validation)" :
              "platt") : "fine-tune"));
  set_key (model, "calibration_images", g_strdup_printf ("%d (%d %s, %d %s)",
          n, n - r.positives, model->classes[0], r.positives,
          model->classes[1]));
  set_key (model, "calibration_fingerprint", cxr_dataset_fingerprint (ds));
  set_key (model, "calibration_folds", g_strdup_printf ("%d, patient-wise, "
          "seed %" G_GUINT64_FORMAT, cfg->folds, cfg->train.seed));
  set_key (model, "calibration_threshold_rule", g_strdup_printf ("%s%s",
          cxr_site_threshold_name (cfg->threshold_rule), chosen_by_cv ?
          " (auto: the best cross-validated accuracy)" : ""));
  set_figures (model, "calibration_cv_before", &r.base);
  set_figures (model, "calibration_cv_platt", &r.platt);
  if (cfg->method == CXR_CALIBRATE_FINE_TUNE) {
    char b[CXR_NUMBER_SIZE];
    set_figures (model, "calibration_cv_fine_tune", &r.fine_tune);
    cxr_provenance_set (model, "calibration_strength", "%s",
        cxr_number (b, "%g", best_strength));
  }
  set_figures (model, "calibration_cv_after", r.used == CXR_CALIBRATE_PLATT
      ? &r.platt : &r.fine_tune);
  ok = TRUE;

out:
  if (report)
    *report = r;
  cxr_model_free (tuned);
  g_free (cv.fold);
  g_free (cv.z);
  g_free (cv.y);
  g_free (cv.scores);
  g_free (cv.thresholds);
  g_free (cv.idx);
  g_free (cv.zz);
  g_free (cv.yy);
  g_free (base_thresholds);
  return ok;
}
