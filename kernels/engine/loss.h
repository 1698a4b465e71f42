/* loss.h — the training loss of a network's logits, and the class they predict. */
#pragma once
#include "layerspec.h"

/* the class one sample's logits predict at probability 0.5 (sigmoid) or argmax */
int cxr_predicted_class (const CxrNetSpec *spec, const float *z);
/* -log p(label) of one sample's logits, without overflow */
double cxr_cross_entropy (const CxrNetSpec *spec, const float *z, int label);
/* The weighted mean loss over a batch (weights NULL: all 1) of the logits z
 * (batch x n_outputs) and, in dz, its gradient by the logits (each sample's
 * term divided by batch). Returns the mean of weight x cross-entropy.
 * label_smoothing e in [0, 1): the target is (1 - e) one-hot + e / K over
 * the K classes (two for a sigmoid net: label 1 aims at 1 - e / 2, label 0
 * at e / 2), and the loss is the cross-entropy against that target. */
double cxr_loss_and_gradient (const CxrNetSpec *spec, const float *z,
    const int *labels, const float *weights, float label_smoothing,
    int batch, float *dz);
