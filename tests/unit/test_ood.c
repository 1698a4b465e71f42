/* The out-of-distribution score's statistics (kernels/model/ood.h). */
#include "ood.h"
#include "error.h"

#include <glib.h>
#include <math.h>

/* n samples of one member's 3 features, independent, means 1 2 3 and
 * standard deviations 1 2 3, from a Box-Muller stream */
static float *
gaussian_features (int n, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  float *f = g_new (float, n * 3);

  for (int i = 0; i < n * 3; i++) {
    double u = g_rand_double_range (rand, 1e-12, 1.0);
    double v = g_rand_double (rand);
    int a = i % 3;
    f[i] = (float) (a + 1 + (a + 1) * sqrt (-2 * log (u)) * cos (2 * G_PI * v));
  }
  g_rand_free (rand);
  return f;
}

/* The fitted precision is the inverse of the sample covariance shrunk as
 * documented, the mean scores 0, and one standard deviation out along a
 * feature scores about 1 */
static void
test_fit (void)
{
  const int n = 4000;
  float *f = gaussian_features (n, 3), one[3];
  GError *error = NULL;
  CxrFeatureStats *s = cxr_feature_stats_fit (f, n, 1, 3, &error);
  double mean[3] = { 0 }, cov[9] = { 0 }, trace = 0.0;

  g_assert_no_error (error);
  g_assert_true (isnan (s->threshold));
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      mean[a] += f[i * 3 + a] / (double) n;
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++)
        cov[a * 3 + b] += (f[i * 3 + a] - mean[a]) * (f[i * 3 + b] - mean[b])
            / (n - 1);
  for (int a = 0; a < 3; a++) {
    g_assert_cmpfloat_with_epsilon (s->mean[a], mean[a], 1e-4);
    g_assert_cmpfloat_with_epsilon (s->mean[a], a + 1, 0.15);
    trace += cov[a * 3 + a];
  }
  for (int a = 0; a < 3; a++)
    cov[a * 3 + a] += CXR_OOD_SHRINKAGE * trace / 3;
  /* precision x shrunk covariance = identity */
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) {
      double p = 0.0;
      for (int k = 0; k < 3; k++)
        p += s->precision[a * 3 + k] * cov[k * 3 + b];
      g_assert_cmpfloat_with_epsilon (p, a == b ? 1.0 : 0.0, 1e-4);
      g_assert_cmpfloat (s->precision[a * 3 + b], ==, s->precision[b * 3 + a]);
    }
  g_assert_cmpfloat_with_epsilon (cxr_feature_score (s, s->mean), 0.0, 1e-6);
  for (int a = 0; a < 3; a++) {
    for (int b = 0; b < 3; b++)
      one[b] = s->mean[b] + (a == b ? (a + 1) : 0.0f);
    g_assert_cmpfloat_with_epsilon (cxr_feature_score (s, one), 1.0, 0.1);
  }
  cxr_feature_stats_free (s);
  g_free (f);
}

/* Two members: each has its own statistics, and the score is the mean of
 * the two distances */
static void
test_members (void)
{
  const int n = 2000;
  float *a = gaussian_features (n, 4), *b = gaussian_features (n, 5);
  float *both = g_new (float, n * 6), x[6];
  GError *error = NULL;
  CxrFeatureStats *s, *sa, *sb, *copy;

  for (int i = 0; i < n; i++)
    for (int j = 0; j < 3; j++) {
      both[i * 6 + j] = a[i * 3 + j];
      both[i * 6 + 3 + j] = 10.0f * b[i * 3 + j];
    }
  s = cxr_feature_stats_fit (both, n, 2, 3, &error);
  g_assert_no_error (error);
  sa = cxr_feature_stats_fit (a, n, 1, 3, &error);
  for (int i = 0; i < n * 3; i++)
    b[i] *= 10.0f;
  sb = cxr_feature_stats_fit (b, n, 1, 3, &error);
  g_assert_no_error (error);
  for (int j = 0; j < 6; j++)
    x[j] = (float) (j * j) - 2.0f;
  g_assert_cmpfloat_with_epsilon (cxr_feature_score (s, x),
      0.5 * (cxr_feature_score (sa, x) + cxr_feature_score (sb, x + 3)),
      1e-4);
  s->threshold = 4.5f;
  copy = cxr_feature_stats_copy (s);
  g_assert_cmpfloat (copy->threshold, ==, 4.5f);
  g_assert_cmpfloat (cxr_feature_score (copy, x), ==, cxr_feature_score (s, x));
  cxr_feature_stats_free (copy);
  cxr_feature_stats_free (s);
  cxr_feature_stats_free (sa);
  cxr_feature_stats_free (sb);
  g_free (a);
  g_free (b);
  g_free (both);
}

/* A feature that never changes does not stop the fit; too few films do */
static void
test_degenerate (void)
{
  float f[4 * 2] = { 1, 0, 2, 0, 3, 0, 4, 0 };
  GError *error = NULL;
  CxrFeatureStats *s = cxr_feature_stats_fit (f, 4, 1, 2, &error);

  g_assert_no_error (error);
  g_assert_true (isfinite (s->precision[3]) && s->precision[3] > 0.0f);
  cxr_feature_stats_free (s);
  g_assert_null (cxr_feature_stats_fit (f, 1, 1, 2, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* What a fit gives passes the checks a file's statistics get, at the size
 * of real pooled features (where round-off could make the inverse not
 * exactly symmetric) */
static void
test_fit_loads_back (void)
{
  const int n = 300, dim = 128;
  float *f = g_new (float, n * dim);
  GRand *rand = g_rand_new_with_seed (9);
  GError *error = NULL;
  CxrFeatureStats *s, *back;

  for (int i = 0; i < n * dim; i++)
    f[i] = (float) g_rand_double (rand) * (1 + i % 5);
  s = cxr_feature_stats_fit (f, n, 1, dim, &error);
  g_assert_no_error (error);
  back = cxr_feature_stats_new (1, dim, s->mean, s->precision, 1.0f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  cxr_feature_stats_free (back);
  cxr_feature_stats_free (s);
  g_rand_free (rand);
  g_free (f);
}

/* Statistics read from a file are checked before they are trusted */
static void
test_new_refuses (void)
{
  float mean[2] = { 0, 1 }, good[4] = { 2, 0.5f, 0.5f, 1 };
  float skew[4] = { 2, 0.5f, 0.25f, 1 }, nan_mean[2] = { NAN, 0 };
  float negative[4] = { -1, 0, 0, 1 };
  GError *error = NULL;
  CxrFeatureStats *s = cxr_feature_stats_new (1, 2, mean, good, 3.0f, &error);

  g_assert_no_error (error);
  g_assert_cmpfloat (s->threshold, ==, 3.0f);
  cxr_feature_stats_free (s);
  g_assert_null (cxr_feature_stats_new (1, 2, mean, skew, 3.0f, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_null (cxr_feature_stats_new (1, 2, nan_mean, good, 3.0f, &error));
  g_clear_error (&error);
  g_assert_null (cxr_feature_stats_new (1, 2, mean, negative, 3.0f, &error));
  g_clear_error (&error);
  g_assert_null (cxr_feature_stats_new (1, 2, mean, good, NAN, &error));
  g_clear_error (&error);
}

static void
test_quantile (void)
{
  float x[5] = { 5, 1, 4, 2, 3 };

  g_assert_cmpfloat (cxr_score_quantile (x, 5, 0.0), ==, 1.0f);
  g_assert_cmpfloat (cxr_score_quantile (x, 5, 1.0), ==, 5.0f);
  g_assert_cmpfloat (cxr_score_quantile (x, 5, 0.5), ==, 3.0f);
  g_assert_cmpfloat_with_epsilon (cxr_score_quantile (x, 5, 0.9), 4.6f, 1e-5);
  g_assert_true (isnan (cxr_score_quantile (x, 0, 0.5)));
  /* the scores are left as they were */
  g_assert_cmpfloat (x[0], ==, 5.0f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ood/fit", test_fit);
  g_test_add_func ("/ood/members", test_members);
  g_test_add_func ("/ood/degenerate", test_degenerate);
  g_test_add_func ("/ood/fit-loads-back", test_fit_loads_back);
  g_test_add_func ("/ood/new-refuses", test_new_refuses);
  g_test_add_func ("/ood/quantile", test_quantile);
  return g_test_run ();
}
