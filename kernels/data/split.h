/* split.h — patient-wise splits and folds of the image cache: every film
 * of a patient lands on one side, and each side keeps the class balance.
 * The same seed and films give the same split on every machine. */
#pragma once
#include "cache.h"

/* A seeded patient-wise split: every image of a patient lands on one side.
 * For each class, whole patients (taken as the class of most of their
 * images) are drawn into validation until about validation_fraction of the
 * class's images are there, so both sides keep the class balance. Indices
 * are returned ascending; free them with g_free. The same seed and data
 * (in any order of adding, for named patients) give the same split. */
void cxr_dataset_split (const CxrDataset *ds, double validation_fraction,
    uint64_t seed, int **train_idx, int *n_train, int **val_idx, int *n_val);

#define CXR_MAX_FOLDS 16

/* A seeded patient-wise k-fold assignment (2 <= k <= CXR_MAX_FOLDS): fold[i]
 * in [0, k) for each image, every image of a patient in one fold; per
 * class, whole patients go to the fold with the fewest images of that class
 * so far, so each fold keeps the class balance. Returns the fewest patients
 * any fold has of any class present (0 if a fold lacks one). */
int cxr_dataset_folds (const CxrDataset *ds, int k, uint64_t seed, int *fold);
