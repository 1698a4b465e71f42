/* augment.h — seeded random geometric augmentation of one image channel,
 * the kind the seed notebook used: rotation, horizontal / vertical shift and
 * zoom, applied as one affine map around the image centre, sampled
 * bilinearly, with the nearest edge pixel filling what comes from outside
 * (Keras' fill_mode="nearest"). */
#pragma once
#include "rng.h"

typedef struct {
  float rotation_deg;   /* angle drawn uniformly in [-r, r] degrees */
  float shift_frac;     /* shift drawn in [-s, s] of width (x) and height (y) */
  float zoom_frac;      /* scale drawn in [1 - z, 1 + z], the same on both axes */
} CxrAugmentParams;

/* src and dst: w x h floats, row-major, must not overlap. Draws exactly four
 * numbers from rng (angle, shift x, shift y, zoom) whatever the params, so a
 * run's random stream does not depend on which augmentations are enabled.
 * All-zero params copy src to dst. */
void cxr_augment (const float *src, float *dst, int w, int h,
    const CxrAugmentParams *params, CxrRng *rng);
