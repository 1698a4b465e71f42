/* test_augment.c — the seeded affine augmentation against known answers. */
#include "augment.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* The geometry cxr_augment draws (the first four numbers and the ninth),
 * taken from a copy of its rng. */
typedef struct {
  double angle, shift_x, shift_y, zoom, aspect;
} Drawn;

static Drawn
draw_copy (CxrRng rng, const CxrAugmentParams * p, int w, int h)
{
  Drawn d;

  d.angle = cxr_rng_range (&rng, -p->rotation_deg, p->rotation_deg);
  d.shift_x = cxr_rng_range (&rng, -p->shift_frac, p->shift_frac) * w;
  d.shift_y = cxr_rng_range (&rng, -p->shift_frac, p->shift_frac) * h;
  d.zoom = cxr_rng_range (&rng, 1.0f - p->zoom_frac, 1.0f + p->zoom_frac);
  for (int i = 0; i < 4; i++)
    cxr_rng_next (&rng);        /* gamma, contrast, brightness, sharpness */
  d.aspect = expf (cxr_rng_range (&rng, -logf (1.0f + p->aspect),
          logf (1.0f + p->aspect)));
  return d;
}

static float *
random_image (int w, int h, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  float *img = g_new (float, w * h);

  for (int i = 0; i < w * h; i++)
    img[i] = (float) g_rand_double (r);
  g_rand_free (r);
  return img;
}

static void
test_zero_params_copy (void)
{
  const CxrAugmentParams zero = { 0 };
  int sizes[][2] = { {1, 1}, {5, 3}, {124, 124} };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    int w = sizes[s][0], h = sizes[s][1];
    float *src = random_image (w, h, 3), *dst = g_new0 (float, w * h);
    CxrRng rng;

    cxr_rng_init (&rng, 42);
    cxr_augment (src, dst, w, h, &zero, &rng);
    g_assert_cmpmem (dst, sizeof (float) * w * h, src, sizeof (float) * w * h);
    g_free (src);
    g_free (dst);
  }
}

static void
test_draws_nine (void)
{
  const CxrAugmentParams zero = { 0 };
  const CxrAugmentParams some = { .rotation_deg = 15, .shift_frac = 0.1f,
    .zoom_frac = 0.2f, .aspect = 0.2f, .gamma_frac = 0.3f,
    .contrast_frac = 0.2f, .brightness = 0.1f, .sharpness = 0.5f
  };
  float src[12] = { 0 }, dst[12];
  CxrRng rng, expect;

  cxr_rng_init (&expect, 9);
  for (int i = 0; i < 9; i++)
    cxr_rng_next (&expect);

  cxr_rng_init (&rng, 9);
  cxr_augment (src, dst, 4, 3, &zero, &rng);
  g_assert_cmpuint (rng.state, ==, expect.state);

  cxr_rng_init (&rng, 9);
  cxr_augment (src, dst, 4, 3, &some, &rng);
  g_assert_cmpuint (rng.state, ==, expect.state);
}

/* Intensity alone on a known ramp: the formula of augment.h with the drawn
 * gamma, contrast and brightness, and values stay in [0, 1]. */
static void
test_intensity (void)
{
  const CxrAugmentParams p = { .gamma_frac = 0.5f, .contrast_frac = 0.4f,
    .brightness = 0.2f
  };
  float src[16], dst[16];
  CxrRng rng, copy;

  for (int i = 0; i < 16; i++)
    src[i] = i / 15.0f;
  cxr_rng_init (&rng, 21);
  copy = rng;
  for (int i = 0; i < 4; i++)
    cxr_rng_next (&copy);       /* geometry draws */
  float lg = logf (1.5f);
  float gamma = expf (cxr_rng_range (&copy, -lg, lg));
  float contrast = cxr_rng_range (&copy, 0.6f, 1.4f);
  float brightness = cxr_rng_range (&copy, -0.2f, 0.2f);
  g_assert_cmpfloat (gamma, !=, 1.0f);

  cxr_augment (src, dst, 4, 4, &p, &rng);
  for (int i = 0; i < 16; i++) {
    float want = (powf (src[i], gamma) - 0.5f) * contrast + 0.5f + brightness;
    want = want < 0 ? 0 : want > 1 ? 1 : want;
    g_assert_cmpfloat_with_epsilon (dst[i], want, 1e-6f);
    g_assert_true (dst[i] >= 0.0f && dst[i] <= 1.0f);
  }
  /* brighter stays brighter: the map is monotonic */
  for (int i = 1; i < 16; i++)
    g_assert_cmpfloat (dst[i], >=, dst[i - 1]);
}

/* Sharpness alone: v + s (v - blur v) with the drawn s (at least -1) and
 * the binomial blur recomputed in double with edges repeated; a constant
 * image stays constant. */
static void
test_sharpness (void)
{
  const CxrAugmentParams p = { .sharpness = 2.0f };
  const int w = 9, h = 6;
  float *src = random_image (w, h, 8), dst[9 * 6], flat[9 * 6];
  gboolean seen_clamped = FALSE, seen_sharpened = FALSE;
  CxrRng rng;

  cxr_rng_init (&rng, 13);
  for (int iter = 0; iter < 20; iter++) {
    CxrRng copy = rng;
    double s;

    for (int i = 0; i < 7; i++)
      cxr_rng_next (&copy);
    s = cxr_rng_range (&copy, -2.0f, 2.0f);
    s = MAX (s, -1.0);
    seen_clamped |= s == -1.0;
    seen_sharpened |= s > 0.1;

    cxr_augment (src, dst, w, h, &p, &rng);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double blur = 0;

        for (int j = -1; j <= 1; j++)
          for (int i = -1; i <= 1; i++)
            blur += (2 - ABS (i)) * (2 - ABS (j)) / 16.0
                * src[CLAMP (y + j, 0, h - 1) * w + CLAMP (x + i, 0, w - 1)];
        g_assert_cmpfloat_with_epsilon (dst[y * w + x],
            src[y * w + x] + s * (src[y * w + x] - blur), 1e-5);
      }
  }
  g_assert_true (seen_clamped && seen_sharpened);

  for (int i = 0; i < w * h; i++)
    flat[i] = 0.375f;
  for (int iter = 0; iter < 10; iter++) {
    cxr_augment (flat, dst, w, h, &p, &rng);
    for (int i = 0; i < w * h; i++)
      g_assert_cmpfloat_with_epsilon (dst[i], 0.375f, 1e-6f);
  }
  g_free (src);
}

static void
test_seeds (void)
{
  const CxrAugmentParams p = { .rotation_deg = 20, .shift_frac = 0.1f,
    .zoom_frac = 0.1f
  };
  const int w = 32, h = 24;
  float *src = random_image (w, h, 5);
  float *a = g_new (float, w * h), *b = g_new (float, w * h);
  gsize size = sizeof (float) * w * h;
  CxrRng rng;

  cxr_rng_init (&rng, 1);
  cxr_augment (src, a, w, h, &p, &rng);
  cxr_rng_init (&rng, 1);
  cxr_augment (src, b, w, h, &p, &rng);
  g_assert_cmpmem (a, size, b, size);

  cxr_rng_init (&rng, 2);
  cxr_augment (src, b, w, h, &p, &rng);
  g_assert_true (memcmp (a, b, size) != 0);

  /* and each is a real change of the input */
  g_assert_true (memcmp (a, src, size) != 0);

  g_free (src);
  g_free (a);
  g_free (b);
}

static void
test_constant_stays_constant (void)
{
  const CxrAugmentParams p = { .rotation_deg = 45, .shift_frac = 0.3f,
    .zoom_frac = 0.3f
  };
  const int w = 17, h = 11;
  float src[17 * 11], dst[17 * 11];
  CxrRng rng;

  for (int i = 0; i < w * h; i++)
    src[i] = 0.625f;
  cxr_rng_init (&rng, 77);
  for (int iter = 0; iter < 20; iter++) {
    cxr_augment (src, dst, w, h, &p, &rng);
    for (int i = 0; i < w * h; i++)
      g_assert_cmpfloat_with_epsilon (dst[i], 0.625f, 1e-6f);
  }
}

/* in(x, y) = x + 100 y is linear, so bilinear sampling is exact and a
 * shift by (tx, ty) gives clamp(x - tx) + 100 clamp(y - ty). */
static void
test_shift_ramp (void)
{
  const CxrAugmentParams p = { .shift_frac = 0.25f };
  const int w = 32, h = 20;
  float src[32 * 20], dst[32 * 20];
  CxrRng rng;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      src[y * w + x] = x + 100.0f * y;

  for (guint64 seed = 1; seed <= 10; seed++) {
    Drawn d;

    cxr_rng_init (&rng, seed);
    d = draw_copy (rng, &p, w, h);
    g_assert_cmpfloat (d.angle, ==, 0);
    g_assert_cmpfloat (d.zoom, ==, 1);
    g_assert_cmpfloat (fabs (d.shift_x), >, 0.01);
    cxr_augment (src, dst, w, h, &p, &rng);

    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double want = CLAMP (x - d.shift_x, 0, w - 1)
            + 100 * CLAMP (y - d.shift_y, 0, h - 1);
        g_assert_cmpfloat_with_epsilon (dst[y * w + x], want, 1e-3);
      }
  }
}

/* A seed whose angle is within 0.01 degree of +90 turns a square image a
 * quarter turn clockwise: out(x, y) = in(y, n - 1 - x). */
static void
test_quarter_turn (void)
{
  const CxrAugmentParams p = { .rotation_deg = 180 };
  const int n = 7;
  float src[7 * 7], dst[7 * 7];
  guint64 seed;
  CxrRng rng;

  for (seed = 0; seed < 10000000; seed++) {
    cxr_rng_init (&rng, seed);
    if (fabs (draw_copy (rng, &p, n, n).angle - 90) < 0.01)
      break;
  }
  g_assert_cmpuint (seed, <, 10000000);

  for (int i = 0; i < n * n; i++)
    src[i] = i;
  cxr_augment (src, dst, n, n, &p, &rng);
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++)
      g_assert_cmpfloat_with_epsilon (dst[y * n + x], (n - 1 - x) * n + y,
          0.02);
}

/* The whole map recomputed in double, straight from the documented
 * formula, with its own clamped bilinear sampling. */
static double
ref_sample (const float *src, int w, int h, double x, double y)
{
  double x0, y0, fx, fy, v = 0;

  x = CLAMP (x, 0, w - 1);
  y = CLAMP (y, 0, h - 1);
  x0 = floor (x);
  y0 = floor (y);
  fx = x - x0;
  fy = y - y0;
  for (int j = 0; j < 2; j++)
    for (int i = 0; i < 2; i++) {
      int xi = MIN ((int) x0 + i, w - 1), yj = MIN ((int) y0 + j, h - 1);
      v += (i ? fx : 1 - fx) * (j ? fy : 1 - fy) * src[yj * w + xi];
    }
  return v;
}

static void
test_matches_reference (void)
{
  const CxrAugmentParams p = { .rotation_deg = 30, .shift_frac = 0.15f,
    .zoom_frac = 0.2f, .aspect = 0.3f
  };
  const int w = 23, h = 16;
  float *src = random_image (w, h, 11), *dst = g_new (float, w * h);
  CxrRng rng;

  cxr_rng_init (&rng, 2024);
  for (int iter = 0; iter < 10; iter++) {
    Drawn d = draw_copy (rng, &p, w, h);
    double a = d.angle * G_PI / 180, cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;

    cxr_augment (src, dst, w, h, &p, &rng);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double dx = x - cx, dy = y - cy;
        double sx = cx + d.zoom * d.aspect * (cos (a) * dx + sin (a) * dy)
            - d.shift_x;
        double sy = cy + d.zoom / d.aspect * (-sin (a) * dx + cos (a) * dy)
            - d.shift_y;

        g_assert_cmpfloat_with_epsilon (dst[y * w + x],
            ref_sample (src, w, h, sx, sy), 1e-4);
      }
  }
  g_free (src);
  g_free (dst);
}

/* Zoom about the centre: the centre pixel of an odd-sized image is kept
 * exactly, a symmetric image stays symmetric, and a ramp in x becomes
 * clamp(c + zoom (x - c)). */
static void
test_zoom_keeps_centre (void)
{
  const CxrAugmentParams p = { .zoom_frac = 0.3f };
  const int n = 9;
  float src[9 * 9], ramp[9 * 9], dst[9 * 9];
  CxrRng rng;

  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++) {
      src[y * n + x] = (x - 4) * (x - 4) + (y - 4) * (y - 4) + 0.5f;
      ramp[y * n + x] = x;
    }

  cxr_rng_init (&rng, 31);
  for (int iter = 0; iter < 10; iter++) {
    Drawn d = draw_copy (rng, &p, n, n);

    g_assert_cmpfloat (fabs (d.zoom - 1), >, 0.001);
    cxr_augment (src, dst, n, n, &p, &rng);
    g_assert_cmpfloat (dst[4 * n + 4], ==, src[4 * n + 4]);
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++) {
        g_assert_cmpfloat_with_epsilon (dst[y * n + x],
            dst[y * n + (n - 1 - x)], 1e-4);
        g_assert_cmpfloat_with_epsilon (dst[y * n + x],
            dst[(n - 1 - y) * n + x], 1e-4);
      }

    d = draw_copy (rng, &p, n, n);
    cxr_augment (ramp, dst, n, n, &p, &rng);
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        g_assert_cmpfloat_with_epsilon (dst[y * n + x],
            CLAMP (4 + d.zoom * (x - 4), 0, n - 1), 1e-4);
  }
}

/* Aspect alone stretches x against y about the centre: a ramp in x becomes
 * clamp(c + a (x - c)) and a ramp in y clamp(c + (y - c) / a). */
static void
test_aspect (void)
{
  const CxrAugmentParams p = { .aspect = 0.4f };
  const int n = 11;
  float ramp_x[11 * 11], ramp_y[11 * 11], dst[11 * 11];
  gboolean seen_wide = FALSE, seen_narrow = FALSE;
  CxrRng rng;

  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++) {
      ramp_x[y * n + x] = x;
      ramp_y[y * n + x] = y;
    }
  cxr_rng_init (&rng, 57);
  for (int iter = 0; iter < 10; iter++) {
    Drawn d = draw_copy (rng, &p, n, n);

    g_assert_cmpfloat (d.aspect, >=, 1 / 1.4 - 1e-6);
    g_assert_cmpfloat (d.aspect, <=, 1.4 + 1e-6);
    seen_wide |= d.aspect < 0.9;
    seen_narrow |= d.aspect > 1.1;
    cxr_augment (ramp_x, dst, n, n, &p, &rng);
    for (int i = 0; i < n * n; i++)
      g_assert_cmpfloat_with_epsilon (dst[i],
          CLAMP (5 + d.aspect * (i % n - 5), 0, n - 1), 1e-4);

    d = draw_copy (rng, &p, n, n);
    cxr_augment (ramp_y, dst, n, n, &p, &rng);
    for (int i = 0; i < n * n; i++)
      g_assert_cmpfloat_with_epsilon (dst[i],
          CLAMP (5 + (i / n - 5) / d.aspect, 0, n - 1), 1e-4);
  }
  g_assert_true (seen_wide && seen_narrow);
}

static void
test_one_pixel (void)
{
  const CxrAugmentParams p = { .rotation_deg = 90, .shift_frac = 0.5f,
    .zoom_frac = 0.5f
  };
  float src = 3.25f, dst = 0;
  CxrRng rng;

  cxr_rng_init (&rng, 5);
  cxr_augment (&src, &dst, 1, 1, &p, &rng);
  g_assert_cmpfloat (dst, ==, 3.25f);
}

/* cxr_shift: one whole pixel right moves every column, the first repeated;
 * half a pixel down gives the mean of each pixel and the one above */
static void
test_shift (void)
{
  float src[4 * 3], dst[4 * 3];

  for (int i = 0; i < 12; i++)
    src[i] = (float) (i * i);
  cxr_shift (src, dst, 4, 3, 1.0f, 0.0f);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
      g_assert_cmpfloat_with_epsilon (dst[y * 4 + x],
          src[y * 4 + MAX (x - 1, 0)], 1e-5f);
  cxr_shift (src, dst, 4, 3, 0.0f, 0.5f);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
      g_assert_cmpfloat_with_epsilon (dst[y * 4 + x],
          0.5f * (src[y * 4 + x] + src[MAX (y - 1, 0) * 4 + x]), 1e-4f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/augment/zero-params-copy", test_zero_params_copy);
  g_test_add_func ("/augment/draws-nine", test_draws_nine);
  g_test_add_func ("/augment/sharpness", test_sharpness);
  g_test_add_func ("/augment/intensity", test_intensity);
  g_test_add_func ("/augment/seeds", test_seeds);
  g_test_add_func ("/augment/constant-stays-constant",
      test_constant_stays_constant);
  g_test_add_func ("/augment/shift-ramp", test_shift_ramp);
  g_test_add_func ("/augment/shift", test_shift);
  g_test_add_func ("/augment/quarter-turn", test_quarter_turn);
  g_test_add_func ("/augment/matches-reference", test_matches_reference);
  g_test_add_func ("/augment/zoom-keeps-centre", test_zoom_keeps_centre);
  g_test_add_func ("/augment/aspect", test_aspect);
  g_test_add_func ("/augment/one-pixel", test_one_pixel);

  return g_test_run ();
}
