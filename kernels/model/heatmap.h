/* heatmap.h — where a network looks: a class activation map of the
 * positive class (the last one) over the network's input.
 *
 * The map is taken at the feature layer: the last convolution or pooling
 * whose output still has a grid (more than one place), the one the head
 * reads. Each of its channels is weighted by the mean over the grid of the
 * gradient of the positive class's logit with respect to it, the weighted
 * channels are summed, negative values set to 0 and the whole divided by
 * its maximum, so that the map lies in [0, 1] (Grad-CAM, Selvaraju et al.
 * 2017). The gradient goes back through the head in plain floats: dense
 * layers (with their ReLU), dropout (the identity at inference), flatten
 * and global average pooling. For a head of global average pooling and one
 * dense layer (the default architecture) that gradient is the dense weight
 * over the grid's size at every place, so the map is the class activation
 * map (CAM, Zhou et al. 2016) itself.
 *
 * Place (x, y) of a grid of w x h covers the input's pixels from
 * (x * in_w / w, y * in_h / h) to ((x + 1) * in_w / w, (y + 1) * in_h / h).
 */
#pragma once
#include "net.h"

/* The feature layer's index, or -1 when the network has none or its head
 * has a layer the gradient cannot go back through. */
int cxr_heatmap_layer (const CxrNetSpec *spec);

/* The map of the last forward pass of net, an fp32 inference net at batch
 * 1 with weights params: out_w x out_h values in [0, 1], row by row (all 0
 * when no place speaks for the positive class). map holds the feature
 * layer's out_h x out_w values. */
gboolean cxr_heatmap (CxrNet *net, const float *params, float *map,
    GError **error);

/* The same before the ReLU and the scaling: the weighted sum of the
 * channels. */
gboolean cxr_heatmap_raw (CxrNet *net, const float *params, float *map,
    GError **error);

/* map's n values with negative ones set to 0, divided by their maximum
 * (all 0 stay 0) */
void cxr_heatmap_unit (float *map, size_t n);
