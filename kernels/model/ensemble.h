/* ensemble.h — the model's networks run as one: the mean logits of its
 * members (each seeing the film at its member offset), the heatmap of the
 * positive class, the pooled features, and the probabilities with the
 * model's logit calibration. The networks are the caller's, built from
 * the model's members with cxr_net_new_inference. */
#pragma once
#include "model.h"

/* One sample's class probabilities from its averaged logits, with the
 * model's logit calibration: what cxrclassify reports. */
void cxr_model_probabilities (const CxrModel *model, const float *logits,
    float *probabilities);

/* The model's answer for one batch: the mean logits of nets[0 .. n) (its
 * first n members, as inference nets of one batch size), each fed the input
 * moved by its member offset. At batch 1 the members run side by side, a
 * thread each (OpenMP's threads, at most n); the logits are the same as one
 * after the other. FALSE, with the error, when the engine fails: the
 * logits are then garbage. */
gboolean cxr_model_forward (const CxrModel *model, CxrNet *const *nets, int n,
    const float *input, float *logits, GError **error);

/* The heatmap of the positive class for one input (kernels/model/heatmap.h):
 * the mean of the members' maps, each member seeing the input at its
 * offset. nets: n fp32 inference nets at batch 1, one a member. refine 1:
 * the feature layer's grid (cxr_heatmap_layer), w x h; refine r: a grid
 * r times finer each way, (r w) x (r h), from r x r passes with the input
 * moved by fractions of a cell (shift and stitch), r^2 times the cost. */
gboolean cxr_model_heatmap (const CxrModel *m, CxrNet *const *nets, int n,
    const float *input, int refine, float *map, GError **error);

/* After cxr_model_forward on nets[0 .. n): each sample's pooled features,
 * member after member (batch x n x dim floats). FALSE with an error when
 * the spec has no pooled features or the engine fails. */
gboolean cxr_model_features (const CxrModel *model, CxrNet *const *nets,
    int n, float *features, GError **error);
