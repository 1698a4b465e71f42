/* ood.h — how far a frame's features are from the films a model was
 * trained on.
 *
 * A network answers whatever it is shown. To tell the frames it was not made
 * for (another modality, a test pattern, a photograph), each member's pooled
 * features (the output of its global-average-pool layer) are compared with
 * those of the training films: the Mahalanobis distance to their mean under
 * their covariance, shrunk toward a multiple of the identity so that it can
 * be inverted from a few thousand films. The score of a frame is the mean of
 * its members' distances; the model keeps the statistics and a threshold,
 * a high percentile of the validation films' scores. */
#pragma once
#include <glib.h>

/* the shrinkage: covariance + CXR_OOD_SHRINKAGE (trace / dim) identity */
#define CXR_OOD_SHRINKAGE 0.01

typedef struct {
  int n_members, dim;           /* features per member */
  float *mean;                  /* n_members x dim */
  float *precision;             /* n_members x dim x dim: the inverse of the
                                 * shrunk covariance, symmetric */
  float threshold;              /* scores above it are out of distribution */
} CxrFeatureStats;

/* Fits the statistics of n samples' features (n x n_members x dim, sample
 * after sample) with threshold NAN; NULL with an error for fewer samples
 * than two or a covariance that cannot be inverted. */
CxrFeatureStats *cxr_feature_stats_fit (const float *features, int n,
    int n_members, int dim, GError **error);

/* Statistics from their parts (copied); NULL with an error when the
 * precision matrices are not symmetric or a value is not finite. */
CxrFeatureStats *cxr_feature_stats_new (int n_members, int dim,
    const float *mean, const float *precision, float threshold,
    GError **error);

CxrFeatureStats *cxr_feature_stats_copy (const CxrFeatureStats *stats);
void cxr_feature_stats_free (CxrFeatureStats *stats);

/* One sample's score: the mean over members of the Mahalanobis distance of
 * its features (n_members x dim) to the statistics. */
float cxr_feature_score (const CxrFeatureStats *stats, const float *features);

/* The q-quantile (0..1, linear between order statistics) of n scores. */
float cxr_score_quantile (const float *scores, int n, double q);
