/* augment.c — seeded rotation, shift and zoom of one image channel, then
 * sharpness, then intensity.
 *
 * The map goes from each output pixel back to the source, around the
 * centre c = ((w - 1) / 2, (h - 1) / 2), with d = output pixel - c:
 *
 *   src_x = c_x + zoom * aspect * ( cos a * d_x + sin a * d_y) - shift_x
 *   src_y = c_y + zoom / aspect * (-sin a * d_x + cos a * d_y) - shift_y
 *
 * so the picture moves by (+shift_x, +shift_y) pixels, turns clockwise on
 * screen for a positive angle, and looks smaller for zoom > 1 (as in Keras).
 * Written around the centre, the centre pixel of an unshifted image maps to
 * itself exactly. */
#include "augment.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* bilinear, coordinates clamped into the image: outside takes the edge */
static float
sample (const float *src, int w, int h, float x, float y)
{
  int x0, y0, x1, y1;
  float fx, fy, top, bottom;
  const float *r0, *r1;

  x = CLAMP (x, 0.0f, (float) (w - 1));
  y = CLAMP (y, 0.0f, (float) (h - 1));
  x0 = (int) x;
  y0 = (int) y;
  fx = x - x0;
  fy = y - y0;
  x1 = x0 < w - 1 ? x0 + 1 : x0;
  y1 = y0 < h - 1 ? y0 + 1 : y0;

  r0 = src + (gsize) y0 * w;
  r1 = src + (gsize) y1 * w;
  top = r0[x0] + fx * (r0[x1] - r0[x0]);
  bottom = r1[x0] + fx * (r1[x1] - r1[x0]);
  return top + fy * (bottom - top);
}

/* gamma, contrast about mid-grey, brightness; nothing when all are neutral */
static void
adjust_intensity (float *v, gsize n, float gamma, float contrast,
    float brightness)
{
  if (gamma == 1.0f && contrast == 1.0f && brightness == 0.0f)
    return;
  for (gsize i = 0; i < n; i++) {
    float x = powf (CLAMP (v[i], 0.0f, 1.0f), gamma);
    v[i] = CLAMP ((x - 0.5f) * contrast + 0.5f + brightness, 0.0f, 1.0f);
  }
}

/* v + s (v - blur v) in place; blur is [1 2 1] / 4 along x, then along y,
 * with the edge pixel repeated */
static void
adjust_sharpness (float *v, int w, int h, float s)
{
  float *blur;

  if (s == 0.0f)
    return;
  blur = g_new (float, w * (gsize) h);
  for (int y = 0; y < h; y++) {
    const float *r = v + (gsize) y * w;
    float *b = blur + (gsize) y * w;

    for (int x = 0; x < w; x++)
      b[x] = 0.25f * (r[MAX (x - 1, 0)] + 2.0f * r[x] + r[MIN (x + 1, w - 1)]);
  }
  for (int y = 0; y < h; y++) {
    const float *up = blur + (gsize) MAX (y - 1, 0) * w;
    const float *mid = blur + (gsize) y * w;
    const float *down = blur + (gsize) MIN (y + 1, h - 1) * w;
    float *r = v + (gsize) y * w;

    for (int x = 0; x < w; x++) {
      float blurred = 0.25f * (up[x] + 2.0f * mid[x] + down[x]);

      r[x] += s * (r[x] - blurred);
    }
  }
  g_free (blur);
}

/* sample's taps along one axis for coordinate v: the clamped position's
 * two neighbours and the weight of the second */
static void
taps (float v, int n, int *i0, int *i1, float *f)
{
  v = CLAMP (v, 0.0f, (float) (n - 1));
  *i0 = (int) v;
  *f = v - *i0;
  *i1 = *i0 < n - 1 ? *i0 + 1 : *i0;
}

/* The same numbers as sample () at every pixel, with each column's and
 * row's taps worked out once: a shift moves every pixel alike. */
void
cxr_shift (const float *src, float *dst, int w, int h, float dx, float dy)
{
  int *c0 = g_new (int, 2 * w), *c1 = c0 + w;
  float *fx = g_new (float, w);

  for (int x = 0; x < w; x++)
    taps (x - dx, w, &c0[x], &c1[x], &fx[x]);
  for (int y = 0; y < h; y++) {
    int y0, y1;
    float fy;
    const float *r0, *r1;
    float *d = dst + (gsize) y * w;

    taps (y - dy, h, &y0, &y1, &fy);
    r0 = src + (gsize) y0 * w;
    r1 = src + (gsize) y1 * w;
    for (int x = 0; x < w; x++) {
      float top = r0[c0[x]] + fx[x] * (r0[c1[x]] - r0[c0[x]]);
      float bottom = r1[c0[x]] + fx[x] * (r1[c1[x]] - r1[c0[x]]);
      d[x] = top + fy * (bottom - top);
    }
  }
  g_free (c0);
  g_free (fx);
}

void
cxr_augment (const float *src, float *dst, int w, int h,
    const CxrAugmentParams * params, CxrRng * rng)
{
  float angle, shift_x, shift_y, zoom, m00, m01, m10, m11, cx, cy;
  float log_gamma, gamma, contrast, brightness, sharpness, log_aspect, aspect;

  g_return_if_fail (params != NULL && rng != NULL);

  /* always all nine draws, in this order, so the stream does not depend on
   * which augmentations are enabled */
  angle = cxr_rng_range (rng, -params->rotation_deg, params->rotation_deg);
  shift_x = cxr_rng_range (rng, -params->shift_frac, params->shift_frac) * w;
  shift_y = cxr_rng_range (rng, -params->shift_frac, params->shift_frac) * h;
  zoom = cxr_rng_range (rng, 1.0f - params->zoom_frac,
      1.0f + params->zoom_frac);
  log_gamma = logf (1.0f + params->gamma_frac);
  gamma = expf (cxr_rng_range (rng, -log_gamma, log_gamma));
  contrast = cxr_rng_range (rng, 1.0f - params->contrast_frac,
      1.0f + params->contrast_frac);
  brightness = cxr_rng_range (rng, -params->brightness, params->brightness);
  sharpness = cxr_rng_range (rng, -params->sharpness, params->sharpness);
  sharpness = MAX (sharpness, -1.0f);   /* -1 is the blur itself */
  log_aspect = logf (1.0f + params->aspect);
  aspect = expf (cxr_rng_range (rng, -log_aspect, log_aspect));

  if (w <= 0 || h <= 0)
    return;
  g_return_if_fail (src != NULL && dst != NULL);

  if (angle == 0.0f && shift_x == 0.0f && shift_y == 0.0f && zoom == 1.0f
      && aspect == 1.0f) {
    memcpy (dst, src, sizeof (float) * w * (gsize) h);
    adjust_sharpness (dst, w, h, sharpness);
    adjust_intensity (dst, w * (gsize) h, gamma, contrast, brightness);
    return;
  }

  angle *= (float) (G_PI / 180.0);
  m00 = zoom * aspect * cosf (angle);
  m01 = zoom * aspect * sinf (angle);
  m10 = -zoom / aspect * sinf (angle);
  m11 = zoom / aspect * cosf (angle);
  cx = (w - 1) * 0.5f;
  cy = (h - 1) * 0.5f;

  for (int y = 0; y < h; y++) {
    float dy = y - cy;
    float row_x = cx + m01 * dy - shift_x;
    float row_y = cy + m11 * dy - shift_y;
    float *d = dst + (gsize) y * w;

    for (int x = 0; x < w; x++) {
      float dx = x - cx;

      d[x] = sample (src, w, h, row_x + m00 * dx, row_y + m10 * dx);
    }
  }
  adjust_sharpness (dst, w, h, sharpness);
  adjust_intensity (dst, w * (gsize) h, gamma, contrast, brightness);
}
