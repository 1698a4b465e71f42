/* model.h — a network with its weights and everything needed to use it:
 * the layer spec, input shape, normalisation, class names, decision
 * threshold and free-form provenance, saved as one safetensors file
 * (modelfile.h) whose "__metadata__" carries the text fields.
 *
 * Metadata keys written and required: format, layers, input ("CxHxW"),
 * normalization ("MEAN STD"), classes ("A,B"), threshold. Any other key is
 * provenance and is kept as it is. */
#pragma once
#include "layerspec.h"
#include "modelfile.h"
#include "preprocess.h"

#define CXR_MODEL_FORMAT "gst-cxr-model 1"

typedef struct {
  CxrNetSpec *spec;
  float *params;                /* spec->n_floats, in the spec's layout */
  char **classes;               /* spec->n_classes names, NULL-terminated */
  float threshold;              /* probability of the last class from which
                                 * it is predicted (two classes) */
  CxrNormalization norm;
  GHashTable *provenance;       /* char* -> char*, other metadata */
  char id[9];                   /* hex of a hash of the weights */
} CxrModel;

/* A new model with He-initialised weights from seed. classes: NULL-terminated,
 * as many as the spec has outputs (two for sigmoid). */
CxrModel *cxr_model_new (const char *layers, int in_c, int in_h, int in_w,
    const char *const *classes, uint64_t seed, GError **error);
void cxr_model_free (CxrModel *model);

/* Every check a file can fail, with an error that names the file. */
CxrModel *cxr_model_load (const char *path, GError **error);
CxrModel *cxr_model_from_file (const CxrModelFile *file, const char *name,
    GError **error);
/* Atomic: the destination is the old file or the whole new one. */
gboolean cxr_model_save (CxrModel *model, const char *path, GError **error);

/* Recompute model->id after the weights changed. */
void cxr_model_update_id (CxrModel *model);
/* index of a class name, -1 if absent */
int cxr_model_class_index (const CxrModel *model, const char *name);
