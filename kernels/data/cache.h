/* cache.h — the films a training run keeps, preprocessed at the model's
 * input size, as 16-bit values of the image in [0, 1] before
 * normalisation (2 bytes a pixel: the 5,216 training images of the data
 * set at 124x124 take 160 MB), with each film's class and patient. */
#pragma once
#include <glib.h>
#include <stdint.h>

#include "classes.h"

typedef struct {
  int side;                     /* images are side x side, one channel */
  int n;                        /* images held */
  int capacity;
  guint16 *pixels;              /* capacity x side x side; round (v * 65535) */
  int *labels;                  /* capacity; class index */
  char **patients;              /* capacity; patient id or NULL (own group) */
  int counts[CXR_MAX_CLASSES];  /* images per class */
} CxrDataset;

CxrDataset *cxr_dataset_new (int side);
void cxr_dataset_free (CxrDataset *ds);

/* Copies image01 (side x side floats in [0, 1]; outside values are clamped,
 * NaN is stored as 0) with its class index (0 .. CXR_MAX_CLASSES - 1) and
 * its patient (any id string; NULL: a patient of its own). FALSE on a
 * label out of range, or when there is no memory for it (the set is left
 * as it was). */
gboolean cxr_dataset_add (CxrDataset *ds, const float *image01, int label,
    const char *patient);

/* Replaces image i (0 <= i < ds->n) by image01, label and patient, as
 * cxr_dataset_add stores them: a fixed-size buffer of the newest frames. */
void cxr_dataset_set (CxrDataset *ds, int i, const float *image01, int label,
    const char *patient);

/* Image i back as side x side floats in [0, 1]. */
void cxr_dataset_get (const CxrDataset *ds, int i, float *image01);

/* A new dataset holding images idx[0 .. n) of ds, with their labels and
 * patients. */
CxrDataset *cxr_dataset_subset (const CxrDataset *ds, const int *idx, int n);

/* A new dataset of images idx[0 .. n) of arrays as the cache stores them:
 * pixels (image i at i x side x side), labels (each 0 .. CXR_MAX_CLASSES -
 * 1, or NULL comes back) and patients (each may be NULL), all copied. */
CxrDataset *cxr_dataset_new_stored (int side, const guint16 *pixels,
    const int *labels, char *const *patients, const int *idx, int n);

/* FNV-1a over the side, the pixels and the labels, as 16 hex digits. */
char *cxr_dataset_fingerprint (const CxrDataset *ds);
