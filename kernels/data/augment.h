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
  /* aspect: x scaled by a and y by 1 / a on top of the zoom, a drawn
   * log-uniformly in [1 / (1 + aspect), 1 + aspect]. Films are squashed to
   * a square whatever their shape, so a film's width-to-height ratio shows
   * as wider or narrower anatomy; in the training data that ratio differs
   * by class (originals: NORMAL about 1.2, PNEUMONIA about 1.5), and this
   * keeps the network from reading the class off it. */
  float aspect;
  /* intensity, for images in [0, 1] (as the training cache holds them):
   * v = clamp ((v^g - 0.5) c + 0.5 + b) with gamma g drawn log-uniformly in
   * [1 / (1 + gamma_frac), 1 + gamma_frac], contrast c in [1 - c, 1 + c]
   * and brightness b in [-b, b]: films from other machines and settings */
  float gamma_frac;
  float contrast_frac;
  float brightness;
  /* sharpness: v + s (v - blur v), blur the 3x3 binomial filter [1 2 1]^2/16
   * (edges repeated), s drawn in [-sharpness, sharpness] and kept >= -1
   * (s = -1 is the blurred image). Films differ in resolution and in the
   * scanner's edge enhancement, and in the training data the pneumonia
   * films are softer than the normal ones: this keeps the network from
   * reading the class off the sharpness. */
  float sharpness;
} CxrAugmentParams;

/* dst = src moved by dx columns right and dy rows down, sampled as
 * cxr_augment samples (bilinear, edges repeated); w x h floats each, not
 * overlapping. */
void cxr_shift (const float *src, float *dst, int w, int h, float dx,
    float dy);

/* src and dst: w x h floats, row-major, must not overlap. Draws exactly
 * nine numbers from rng (angle, shift x, shift y, zoom, gamma, contrast,
 * brightness, sharpness, aspect) whatever the params, so a run's random
 * stream does not depend on which augmentations are enabled. All-zero
 * params copy src to dst. */
void cxr_augment (const float *src, float *dst, int w, int h,
    const CxrAugmentParams *params, CxrRng *rng);
