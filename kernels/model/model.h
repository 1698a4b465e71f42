/* model.h — a network with its weights and everything needed to use it:
 * the layer spec, input shape, normalisation, class names, decision
 * threshold and free-form provenance, saved as one safetensors file
 * (modelfile.h) whose "__metadata__" carries the text fields.
 *
 * Metadata keys written and required: format, layers, input ("CxHxW"),
 * normalization ("MEAN STD"), classes ("A,B"), threshold. Written when not
 * "none": film_normalization ("equalize", "percentile"; preprocess.h), the
 * per-film step before MEAN and STD; a file without it has none;
 * input_blur ("SIGMA", pixels, at most CXR_MAX_INPUT_BLUR), the low-pass
 * after it (preprocess.h); a file without it has none; and
 * logit_calibration ("SCALE OFFSET"), a site calibration of the averaged
 * logit (cxrtrain mode=calibrate); a file without it has 1 0; and
 * member_offsets ("DX,DY" per member, space-separated, each within a
 * pixel), the input shift of each member; a file without it has none; and
 * the out-of-distribution statistics (ood.h): tensors "ood.mean" [members,
 * dim] and "ood.precision" [members, dim, dim] with metadata ood_threshold,
 * all three or none; a file without them has none. Any other
 * key is provenance and is kept as it is.
 *
 * An ensemble is several networks of the same spec whose logits are
 * averaged: "members" ("K", written when K > 1) says how many, and member
 * k's tensors are named "member<k>.<name>" (a single network's are plain
 * "<name>"). */
#pragma once
#include "layerspec.h"
#include "net.h"
#include "ood.h"
#include "modelfile.h"
#include "preprocess.h"

#define CXR_MODEL_FORMAT "gst-cxr-model 1"

#define CXR_MAX_MEMBERS 16
#define CXR_MAX_INPUT_BLUR 4.0f

typedef struct {
  CxrNetSpec *spec;
  int n_members;                /* networks averaged, 1 to CXR_MAX_MEMBERS */
  float *params;                /* n_members x spec->n_floats, member after
                                 * member, each in the spec's layout */
  char **classes;               /* spec->n_classes names, NULL-terminated */
  float threshold;              /* probability of the last class from which
                                 * it is predicted (two classes) */
  CxrNormalization norm;
  /* the averaged logit z becomes scale z + offset before the sigmoid (a
   * softmax's logits are multiplied by scale): 1 and 0 but for a model
   * calibrated to a site */
  float logit_scale, logit_offset;
  /* member k sees the input moved by member_offset[k] = {columns, rows}
   * (cxr_shift) wherever the ensemble is used (its validation figures and
   * threshold, cxrclassify): all 0 but for an ensemble made with member
   * offsets, whose members then look at the film at different sampling
   * phases. Training itself moves each film at random, as always. */
  float member_offset[CXR_MAX_MEMBERS][2];
  /* the training films' pooled features, for telling frames the model was
   * not made for; NULL when the file has none (or members were added) */
  CxrFeatureStats *ood;
  GHashTable *provenance;       /* char* -> char*, other metadata */
  char id[9];                   /* hex of a hash of the weights */
} CxrModel;

/* A new model with He-initialised weights from seed. classes: NULL-terminated,
 * as many as the spec has outputs (two for sigmoid). */
CxrModel *cxr_model_new (const char *layers, int in_c, int in_h, int in_w,
    const char *const *classes, uint64_t seed, GError **error);
void cxr_model_free (CxrModel *model);

/* A new model of a named architecture ("default", "seed", or a layer spec)
 * for side x side grey input, with classes as comma-separated names (the
 * spaces around each dropped), the positive class last. */
CxrModel *cxr_model_new_named (const char *architecture, const char *classes,
    int side, uint64_t seed, GError **error);

/* Every check a file can fail, with an error that names the file. */
CxrModel *cxr_model_load (const char *path, GError **error);
CxrModel *cxr_model_from_file (const CxrModelFile *file, const char *name,
    GError **error);
/* Atomic: the destination is the old file or the whole new one. */
gboolean cxr_model_save (CxrModel *model, const char *path, GError **error);

/* member k's weights */
static inline float *
cxr_model_member (const CxrModel *model, int k)
{
  return model->params + (size_t) k * model->spec->n_floats;
}

/* Makes the model n members (1 to CXR_MAX_MEMBERS); members kept keep
 * their weights, new ones start as copies of member 0 (with the offsets
 * member_offset[k] already holds). Updates the id. */
void cxr_model_set_members (CxrModel *model, int n);

/* Sets the member offsets of an ensemble trained with them: member k is
 * moved by half a pixel towards one of the four diagonals, in turn. */
void cxr_model_set_member_offsets (CxrModel *model);

/* The layer whose output is the pooled features: the last global-average-
 * pool layer; -1 when the spec has none. */
int cxr_model_feature_layer (const CxrModel *model);

/* Whether the members see the film at offsets of their own. */
gboolean cxr_model_has_member_offsets (const CxrModel *model);

/* A deep copy. */
CxrModel *cxr_model_copy (const CxrModel *model);

/* Back to no logit calibration (1 and 0), with every "calibration_"
 * provenance key removed. */
void cxr_model_clear_calibration (CxrModel *model);

/* dst takes src's logit calibration and "calibration_" provenance. */
void cxr_model_copy_calibration (CxrModel *dst, const CxrModel *src);

/* Recompute model->id after the weights changed. */
void cxr_model_update_id (CxrModel *model);
/* index of a class name, -1 if absent */
int cxr_model_class_index (const CxrModel *model, const char *name);
