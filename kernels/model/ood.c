/* ood.c — feature statistics and the out-of-distribution score (ood.h). */
#include "ood.h"
#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static CxrFeatureStats *
stats_alloc (int n_members, int dim)
{
  CxrFeatureStats *s = g_new0 (CxrFeatureStats, 1);

  s->n_members = n_members;
  s->dim = dim;
  s->mean = g_new0 (float, (gsize) n_members * dim);
  s->precision = g_new0 (float, (gsize) n_members * dim * dim);
  s->threshold = NAN;
  return s;
}

void
cxr_feature_stats_free (CxrFeatureStats *s)
{
  if (!s)
    return;
  g_free (s->mean);
  g_free (s->precision);
  g_free (s);
}

CxrFeatureStats *
cxr_feature_stats_copy (const CxrFeatureStats *s)
{
  CxrFeatureStats *c;

  if (!s)
    return NULL;
  c = stats_alloc (s->n_members, s->dim);
  memcpy (c->mean, s->mean, sizeof (float) * s->n_members * s->dim);
  memcpy (c->precision, s->precision,
      sizeof (float) * s->n_members * s->dim * s->dim);
  c->threshold = s->threshold;
  return c;
}

/* a (d x d, symmetric positive definite) replaced by its inverse, through
 * its Cholesky factor; FALSE when a is not positive definite */
static gboolean
invert_spd (double *a, int d)
{
  double *l = g_new0 (double, (gsize) d * d), *inv = g_new0 (double, d);
  gboolean ok = TRUE;

  /* a = l l^T */
  for (int j = 0; j < d && ok; j++) {
    double s = a[j * d + j];
    for (int k = 0; k < j; k++)
      s -= l[j * d + k] * l[j * d + k];
    if (!(s > 0.0)) {
      ok = FALSE;
      break;
    }
    l[j * d + j] = sqrt (s);
    for (int i = j + 1; i < d; i++) {
      double t = a[i * d + j];
      for (int k = 0; k < j; k++)
        t -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = t / l[j * d + j];
    }
  }
  /* column c of a^-1 solves l l^T x = e_c */
  for (int c = 0; c < d && ok; c++) {
    for (int i = 0; i < d; i++) {
      double t = i == c ? 1.0 : 0.0;
      for (int k = 0; k < i; k++)
        t -= l[i * d + k] * inv[k];
      inv[i] = t / l[i * d + i];
    }
    for (int i = d - 1; i >= 0; i--) {
      double t = inv[i];
      for (int k = i + 1; k < d; k++)
        t -= l[k * d + i] * inv[k];
      inv[i] = t / l[i * d + i];
    }
    for (int i = 0; i < d; i++)
      a[i * d + c] = inv[i];
  }
  g_free (l);
  g_free (inv);
  return ok;
}

CxrFeatureStats *
cxr_feature_stats_fit (const float *features, int n, int n_members, int dim,
    GError **error)
{
  size_t stride = (size_t) n_members * dim;
  CxrFeatureStats *s;
  double *mean, *cov;

  if (n < 2 || n_members < 1 || dim < 1) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "feature statistics need at least 2 films (got %d)", n);
    return NULL;
  }
  s = stats_alloc (n_members, dim);
  mean = g_new (double, dim);
  cov = g_new (double, (gsize) dim * dim);
  for (int k = 0; k < n_members; k++) {
    double trace = 0.0;

    memset (mean, 0, sizeof (double) * dim);
    memset (cov, 0, sizeof (double) * dim * dim);
    for (int i = 0; i < n; i++)
      for (int a = 0; a < dim; a++)
        mean[a] += features[i * stride + k * dim + a];
    for (int a = 0; a < dim; a++)
      mean[a] /= n;
    for (int i = 0; i < n; i++) {
      const float *f = features + i * stride + k * dim;
      for (int a = 0; a < dim; a++) {
        double da = f[a] - mean[a];
        for (int b = 0; b <= a; b++)
          cov[a * dim + b] += da * (f[b] - mean[b]);
      }
    }
    for (int a = 0; a < dim; a++)
      for (int b = 0; b <= a; b++)
        cov[b * dim + a] = cov[a * dim + b] /= n - 1;
    for (int a = 0; a < dim; a++)
      trace += cov[a * dim + a];
    /* a dead feature (always 0) still gets a finite, large precision */
    for (int a = 0; a < dim; a++)
      cov[a * dim + a] += CXR_OOD_SHRINKAGE * (trace > 0.0 ? trace / dim : 1.0);
    if (!invert_spd (cov, dim)) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "the features' covariance cannot be inverted (member %d)", k);
      cxr_feature_stats_free (s);
      s = NULL;
      break;
    }
    for (int a = 0; a < dim; a++)
      s->mean[k * dim + a] = (float) mean[a];
    /* the inverse is symmetric only to round-off: made exactly so, as
     * cxr_feature_stats_new requires of what it reads back */
    for (int a = 0; a < dim; a++)
      for (int b = 0; b <= a; b++) {
        float v = (float) (0.5 * (cov[a * dim + b] + cov[b * dim + a]));
        s->precision[(size_t) k * dim * dim + a * dim + b] = v;
        s->precision[(size_t) k * dim * dim + b * dim + a] = v;
      }
  }
  g_free (mean);
  g_free (cov);
  return s;
}

CxrFeatureStats *
cxr_feature_stats_new (int n_members, int dim, const float *mean,
    const float *precision, float threshold, GError **error)
{
  CxrFeatureStats *s;
  size_t dd = (size_t) dim * dim;

  for (size_t i = 0; i < (size_t) n_members * dim; i++)
    if (!isfinite (mean[i]))
      goto bad;
  for (int k = 0; k < n_members; k++)
    for (int a = 0; a < dim; a++)
      for (int b = 0; b <= a; b++) {
        float x = precision[k * dd + a * dim + b];
        float y = precision[k * dd + b * dim + a];
        if (!isfinite (x) || x != y || (a == b && !(x > 0.0f)))
          goto bad;
      }
  if (!isfinite (threshold) || threshold < 0.0f)
    goto bad;
  s = stats_alloc (n_members, dim);
  memcpy (s->mean, mean, sizeof (float) * n_members * dim);
  memcpy (s->precision, precision, sizeof (float) * n_members * dd);
  s->threshold = threshold;
  return s;

bad:
  g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
      "the feature statistics are not usable (a value that is not finite, "
      "a precision matrix that is not symmetric with a positive diagonal, "
      "or a threshold that is not a distance)");
  return NULL;
}

float
cxr_feature_score (const CxrFeatureStats *s, const float *features)
{
  int d = s->dim;
  double total = 0.0;
  /* on the heap: dim comes from the model file */
  float *diff = g_new (float, d);

  for (int k = 0; k < s->n_members; k++) {
    const float *mu = s->mean + k * d;
    const float *p = s->precision + (size_t) k * d * d;
    double q = 0.0;

    for (int a = 0; a < d; a++)
      diff[a] = features[k * d + a] - mu[a];
    for (int a = 0; a < d; a++) {
      double row = 0.0;
      for (int b = 0; b < d; b++)
        row += p[a * d + b] * diff[b];
      q += diff[a] * row;
    }
    total += sqrt (fmax (q, 0.0));
  }
  g_free (diff);
  return (float) (total / s->n_members);
}

static int
compare_floats (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

float
cxr_score_quantile (const float *scores, int n, double q)
{
  float *sorted, r;
  double at;
  int i;

  if (n < 1)
    return NAN;
  sorted = g_memdup2 (scores, sizeof (float) * n);
  qsort (sorted, n, sizeof (float), compare_floats);
  at = CLAMP (q, 0.0, 1.0) * (n - 1);
  i = (int) at;
  r = i + 1 < n ? sorted[i] + (float) (at - i) * (sorted[i + 1] - sorted[i])
      : sorted[n - 1];
  g_free (sorted);
  return r;
}
