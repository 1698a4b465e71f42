/* test_preprocess.c — known answers for the frame to input-tensor step. */
#include "preprocess.h"
#include "error.h"

#include <math.h>
#include <string.h>

static const CxrNormalization identity = { 0.0f, 1.0f, CXR_FILM_NONE, 0.0f };

static void
assert_floats (const float *got, const float *want, int n, float tol)
{
  for (int i = 0; i < n; i++)
    if (fabsf (got[i] - want[i]) > tol)
      g_error ("value %d: got %.7g, want %.7g", i, got[i], want[i]);
}

static void
test_area_4x4_to_2x2 (void)
{
  const float src[16] = {
    1, 2, 3, 4,
    5, 6, 7, 8,
    9, 10, 11, 12,
    13, 14, 15, 16,
  };
  /* each output pixel is the mean of one 2x2 block */
  const float want[4] = { 3.5f, 5.5f, 11.5f, 13.5f };
  float dst[4];

  g_assert_true (cxr_resize_float (src, 4, 4, dst, 2, 2, NULL));
  assert_floats (dst, want, 4, 1e-5f);
}

static void
test_area_3_to_2_fractional (void)
{
  /* output 0 covers [0, 1.5): (0 * 1 + 3 * 0.5) / 1.5 = 1;
   * output 1 covers [1.5, 3): (3 * 0.5 + 6 * 1) / 1.5 = 5 */
  const float src[3] = { 0, 3, 6 };
  const float want[2] = { 1.0f, 5.0f };
  float dst[2];

  g_assert_true (cxr_resize_float (src, 3, 1, dst, 2, 1, NULL));
  assert_floats (dst, want, 2, 1e-5f);

  /* the same along the vertical axis */
  g_assert_true (cxr_resize_float (src, 1, 3, dst, 1, 2, NULL));
  assert_floats (dst, want, 2, 1e-5f);
}

static void
test_area_5_to_2 (void)
{
  /* output 0 covers [0, 2.5): (10 + 20 + 0.5 * 30) / 2.5 = 18,
   * output 1 covers [2.5, 5): (0.5 * 30 + 40 + 50) / 2.5 = 42 */
  const float src[5] = { 10, 20, 30, 40, 50 };
  const float want[2] = { 18.0f, 42.0f };
  float dst[2];

  g_assert_true (cxr_resize_float (src, 5, 1, dst, 2, 1, NULL));
  assert_floats (dst, want, 2, 1e-4f);
}

static void
test_bilinear_2_to_4 (void)
{
  /* centres at source x = -0.25, 0.25, 0.75, 1.25; the outer ones clamp */
  const float src[2] = { 0, 4 };
  const float want[4] = { 0, 1, 3, 4 };
  float dst[4];

  g_assert_true (cxr_resize_float (src, 2, 1, dst, 4, 1, NULL));
  assert_floats (dst, want, 4, 1e-6f);

  g_assert_true (cxr_resize_float (src, 1, 2, dst, 1, 4, NULL));
  assert_floats (dst, want, 4, 1e-6f);
}

static void
test_bilinear_3_to_5 (void)
{
  /* x = (i + 0.5) * 3 / 5 - 0.5 = -0.2, 0.4, 1.0, 1.6, 2.2 */
  const float src[3] = { 0, 10, 30 };
  const float want[5] = { 0, 4, 10, 22, 30 };
  float dst[5];

  g_assert_true (cxr_resize_float (src, 3, 1, dst, 5, 1, NULL));
  assert_floats (dst, want, 5, 1e-5f);
}

static void
test_mixed_axes (void)
{
  /* 4 wide x 2 high to 2 wide x 4 high: columns pair up, rows follow
   * the [a, b] -> [a, (3a + b) / 4, (a + 3b) / 4, b] pattern */
  const float src[8] = {
    0, 2, 4, 6,
    8, 10, 12, 14,
  };
  const float want[8] = {
    1, 5,
    3, 7,
    7, 11,
    9, 13,
  };
  float dst[8];

  g_assert_true (cxr_resize_float (src, 4, 2, dst, 2, 4, NULL));
  assert_floats (dst, want, 8, 1e-5f);
}

static void
test_same_size_copies (void)
{
  float src[12], dst[12];

  for (int i = 0; i < 12; i++)
    src[i] = (float) (i * i) / 7.0f - 3.0f;
  g_assert_true (cxr_resize_float (src, 4, 3, dst, 4, 3, NULL));
  g_assert_cmpmem (dst, sizeof (dst), src, sizeof (src));
}

static void
test_one_pixel_to_124 (void)
{
  const uint8_t px = 51;        /* 0.2 of full scale */
  float *out = g_new (float, 124 * 124);

  g_assert_true (cxr_preprocess (&(CxrPixels) {&px, 1, 1, 1, CXR_PIXEL_GRAY8},
      &identity,
          124, 124, out, NULL));
  for (int i = 0; i < 124 * 124; i++)
    g_assert_cmpfloat_with_epsilon (out[i], 0.2f, 1e-6f);
  g_free (out);
}

/* Reference weight of source sample j in output sample i, computed from the
 * definitions: overlap length for shrinking, tent function for growing. */
static double
ref_weight (int src_n, int dst_n, int i, int j)
{
  double s = (double) src_n / dst_n;

  if (dst_n < src_n) {
    double lo = i * s, hi = (i + 1) * s;
    double overlap = MIN (hi, j + 1.0) - MAX (lo, (double) j);
    return overlap > 0 ? overlap / s : 0;
  } else {
    double x = CLAMP ((i + 0.5) * s - 0.5, 0.0, src_n - 1.0);
    return MAX (0.0, 1.0 - fabs (x - j));
  }
}

static void
test_matches_reference (void)
{
  GRand *r = g_rand_new_with_seed (7);

  for (int iter = 0; iter < 200; iter++) {
    int sw = g_rand_int_range (r, 1, 24), sh = g_rand_int_range (r, 1, 24);
    int dw = g_rand_int_range (r, 1, 24), dh = g_rand_int_range (r, 1, 24);
    float *src = g_new (float, sw * sh), *dst = g_new (float, dw * dh);

    for (int i = 0; i < sw * sh; i++)
      src[i] = (float) g_rand_double_range (r, -100, 100);
    g_assert_true (cxr_resize_float (src, sw, sh, dst, dw, dh, NULL));

    for (int y = 0; y < dh; y++)
      for (int x = 0; x < dw; x++) {
        double want = 0;
        for (int j = 0; j < sh; j++)
          for (int i = 0; i < sw; i++)
            want += ref_weight (sh, dh, y, j) * ref_weight (sw, dw, x, i)
                * src[j * sw + i];
        if (fabs (dst[y * dw + x] - want) > 1e-3)
          g_error ("%dx%d -> %dx%d at (%d,%d): got %g, want %g",
              sw, sh, dw, dh, x, y, dst[y * dw + x], want);
      }
    g_free (src);
    g_free (dst);
  }
  g_rand_free (r);
}

static void
test_formats_grey_pixel (void)
{
  /* 2x1 frames of the grey level 200, then 10 */
  const uint8_t g8[] = { 200, 10 };
  const uint8_t rgb[] = { 200, 200, 200, 10, 10, 10 };
  const uint8_t rgbx[] = { 200, 200, 200, 7, 10, 10, 10, 99 };
  const struct {
    const uint8_t *data;
    int stride;
    CxrPixelFormat format;
  } cases[] = {
    { g8, 2, CXR_PIXEL_GRAY8 },
    { rgb, 6, CXR_PIXEL_RGB },
    { rgb, 6, CXR_PIXEL_BGR },
    { rgbx, 8, CXR_PIXEL_RGBX },
    { rgbx, 8, CXR_PIXEL_BGRX },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    float out[2];

    g_assert_true (cxr_preprocess (&(CxrPixels) {cases[c].data, 2, 1,
        cases[c].stride, cases[c].format}, &identity, 2, 1, out, NULL));
    g_assert_cmpfloat_with_epsilon (out[0], 200.0f / 255.0f, 1e-6f);
    g_assert_cmpfloat_with_epsilon (out[1], 10.0f / 255.0f, 1e-6f);
  }
}

static void
test_formats_bt601 (void)
{
  /* r = 255, g = 128, b = 0: 0.299 * 255 + 0.587 * 128 = 151.381 */
  const uint8_t rgb[] = { 255, 128, 0 };
  const uint8_t bgr[] = { 0, 128, 255 };
  const uint8_t rgbx[] = { 255, 128, 0, 255 };
  const uint8_t bgrx[] = { 0, 128, 255, 255 };
  const float want = 151.381f / 255.0f;
  float out;

  g_assert_true (cxr_preprocess (&(CxrPixels) {rgb, 1, 1, 3, CXR_PIXEL_RGB},
      &identity,
          1, 1, &out, NULL));
  g_assert_cmpfloat_with_epsilon (out, want, 1e-6f);
  g_assert_true (cxr_preprocess (&(CxrPixels) {bgr, 1, 1, 3, CXR_PIXEL_BGR},
      &identity,
          1, 1, &out, NULL));
  g_assert_cmpfloat_with_epsilon (out, want, 1e-6f);
  g_assert_true (cxr_preprocess (&(CxrPixels) {rgbx, 1, 1, 4, CXR_PIXEL_RGBX},
      &identity,
          1, 1, &out, NULL));
  g_assert_cmpfloat_with_epsilon (out, want, 1e-6f);
  g_assert_true (cxr_preprocess (&(CxrPixels) {bgrx, 1, 1, 4, CXR_PIXEL_BGRX},
      &identity,
          1, 1, &out, NULL));
  g_assert_cmpfloat_with_epsilon (out, want, 1e-6f);

  /* pure blue is only 0.114 of full scale */
  g_assert_true (cxr_preprocess (&(CxrPixels) {bgr, 1, 1, 3, CXR_PIXEL_RGB},
      &identity,
          1, 1, &out, NULL));
  g_assert_cmpfloat_with_epsilon (out, (0.587f * 128 + 0.299f * 0 +
          0.114f * 255) / 255.0f, 1e-6f);
}

static void
test_gray16_full_scale (void)
{
  /* little endian: 0xffff, 0x8000, 0x0001 */
  const uint8_t data[] = { 0xff, 0xff, 0x00, 0x80, 0x01, 0x00 };
  float out[3];

  g_assert_true (cxr_preprocess (&(CxrPixels) {data, 3, 1, 6,
      CXR_PIXEL_GRAY16_LE},
          &identity, 3, 1, out, NULL));
  g_assert_cmpfloat_with_epsilon (out[0], 1.0f, 1e-6f);
  g_assert_cmpfloat_with_epsilon (out[1], 32768.0f / 65535.0f, 1e-6f);
  g_assert_cmpfloat_with_epsilon (out[2], 1.0f / 65535.0f, 1e-9f);
}

static void
test_stride_padding_ignored (void)
{
  /* 2x2 GRAY8 with stride 5: three garbage bytes after each row */
  const uint8_t data[] = {
    0, 255, 99, 250, 13,
    255, 0, 42, 251, 7,
  };
  /* 3x2 RGB with stride 11: two garbage bytes after each row */
  const uint8_t rgb[] = {
    10, 10, 10, 20, 20, 20, 30, 30, 30, 255, 255,
    40, 40, 40, 50, 50, 50, 60, 60, 60, 255, 255,
  };
  const float want[4] = { 0, 1, 1, 0 };
  const float want_rgb[6] = {
    10 / 255.0f, 20 / 255.0f, 30 / 255.0f,
    40 / 255.0f, 50 / 255.0f, 60 / 255.0f,
  };
  float out[6];

  g_assert_true (cxr_preprocess (&(CxrPixels) {data, 2, 2, 5, CXR_PIXEL_GRAY8},
      &identity,
          2, 2, out, NULL));
  assert_floats (out, want, 4, 1e-6f);

  /* shrinking to one pixel: the mean of the four real pixels only */
  g_assert_true (cxr_preprocess (&(CxrPixels) {data, 2, 2, 5, CXR_PIXEL_GRAY8},
      &identity,
          1, 1, out, NULL));
  g_assert_cmpfloat_with_epsilon (out[0], 0.5f, 1e-6f);

  g_assert_true (cxr_preprocess (&(CxrPixels) {rgb, 3, 2, 11, CXR_PIXEL_RGB},
      &identity,
          3, 2, out, NULL));
  assert_floats (out, want_rgb, 6, 1e-6f);
}

static void
test_normalisation (void)
{
  /* ImageNet-style grey: (pixel / 255 - 0.485) / 0.229 */
  const uint8_t data[] = { 0, 51, 255 };
  const CxrNormalization norm = { 0.485f, 0.229f, CXR_FILM_NONE, 0.0f };
  float out[3];

  g_assert_true (cxr_preprocess (&(CxrPixels) {data, 3, 1, 3, CXR_PIXEL_GRAY8},
      &norm,
          3, 1, out, NULL));
  g_assert_cmpfloat_with_epsilon (out[0], -0.485f / 0.229f, 1e-5f);
  g_assert_cmpfloat_with_epsilon (out[1], (0.2f - 0.485f) / 0.229f, 1e-5f);
  g_assert_cmpfloat_with_epsilon (out[2], (1.0f - 0.485f) / 0.229f, 1e-5f);
}

/* Histogram equalisation by hand: 0.1 lies 0.4 into its bin of 1/1024,
 * which holds two of the four values: (0 + 0.4 x 2) / 4; 0.5 starts its
 * bin, above two values; 0.9 lies 0.6 into its bin, above three. Then mean
 * and std as usual. */
static void
test_film_equalize (void)
{
  float x[] = { 0.1f, 0.1f, 0.5f, 0.9f };
  const CxrNormalization eq = { 0.5f, 0.25f, CXR_FILM_EQUALIZE, 0.0f };

  cxr_normalize (x, 4, 1, &eq);
  g_assert_cmpfloat_with_epsilon (x[0], (0.2f - 0.5f) / 0.25f, 1e-4f);
  g_assert_cmpfloat_with_epsilon (x[1], (0.2f - 0.5f) / 0.25f, 1e-4f);
  g_assert_cmpfloat_with_epsilon (x[2], (0.5f - 0.5f) / 0.25f, 1e-4f);
  g_assert_cmpfloat_with_epsilon (x[3], (0.9f - 0.5f) / 0.25f, 1e-4f);
}

/* Equalised, a film and the same film through another grey curve (gamma
 * 2.2, and a contrast change) are the same input, to within the bins */
static void
test_film_equalize_invariance (void)
{
  const int n = 124 * 124;
  const CxrNormalization eq = { 0.0f, 1.0f, CXR_FILM_EQUALIZE, 0.0f };
  float *a = g_new (float, n), *b = g_new (float, n), *c = g_new (float, n);
  GRand *rand = g_rand_new_with_seed (7);
  double worst = 0.0;

  for (int i = 0; i < n; i++) {
    /* a smooth film: a ramp with noise */
    float v = CLAMP (0.2f + 0.6f * (i % 124) / 123.0f
        + 0.05f * (float) g_rand_double_range (rand, -1, 1), 0.0f, 1.0f);
    a[i] = v;
    b[i] = powf (v, 2.2f);
    c[i] = 0.1f + 0.5f * v;
  }
  cxr_normalize (a, 124, 124, &eq);
  cxr_normalize (b, 124, 124, &eq);
  cxr_normalize (c, 124, 124, &eq);
  for (int i = 0; i < n; i++) {
    worst = fmax (worst, fabs (a[i] - b[i]));
    worst = fmax (worst, fabs (a[i] - c[i]));
    g_assert_true (a[i] >= 0.0f && a[i] <= 1.0f);
  }
  g_assert_cmpfloat (worst, <, 0.01);
  g_rand_free (rand);
  g_free (a);
  g_free (b);
  g_free (c);
}

/* Percentiles: values 0.005, 0.015, ... 0.995 (one per hundredth) have
 * their 1st percentile near 0.01 and their 99th near 0.99, which become 0
 * and 1; a flat film is only shifted, to about 0, never divided by 0 */
static void
test_film_percentile (void)
{
  float x[100], flat[16];
  const CxrNormalization pc = { 0.0f, 1.0f, CXR_FILM_PERCENTILE, 0.0f };

  for (int i = 0; i < 100; i++)
    x[i] = (i + 0.5f) / 100.0f;
  cxr_normalize (x, 100, 1, &pc);
  g_assert_cmpfloat_with_epsilon (x[0], -0.005f / 0.98f, 0.01f);
  g_assert_cmpfloat_with_epsilon (x[99], 1.0f + 0.005f / 0.98f, 0.01f);
  g_assert_cmpfloat_with_epsilon (x[50], 0.5f + 0.005f / 0.98f, 0.01f);
  for (int i = 1; i < 100; i++)
    g_assert_cmpfloat (x[i], >, x[i - 1]);
  for (int i = 0; i < 16; i++)
    flat[i] = 0.3f;
  cxr_normalize (flat, 16, 1, &pc);
  for (int i = 0; i < 16; i++)
    g_assert_cmpfloat_with_epsilon (flat[i], 0.0f, 0.01f);
}

/* The blur: a lone bright pixel away from the edges spreads into the
 * separable Gaussian (sum kept, centre the square of the kernel's middle tap,
 * symmetric); a flat film stays flat, edges included; it comes after the
 * film step and before mean and std */
static void
test_blur (void)
{
  const int w = 21, h = 17, n = 21 * 17;
  const CxrNormalization blur = { 0.0f, 1.0f, CXR_FILM_NONE, 1.0f };
  const CxrNormalization blur_std = { 0.5f, 0.25f, CXR_FILM_NONE, 1.0f };
  float x[21 * 17], flat[21 * 17], sum = 0.0f, tap0 = 0.0f;

  for (int k = -3; k <= 3; k++)
    tap0 += expf (-0.5f * k * k);
  tap0 = 1.0f / tap0;
  memset (x, 0, sizeof x);
  x[8 * w + 10] = 1.0f;
  cxr_normalize (x, w, h, &blur);
  for (int i = 0; i < n; i++)
    sum += x[i];
  g_assert_cmpfloat_with_epsilon (sum, 1.0f, 1e-5f);
  g_assert_cmpfloat_with_epsilon (x[8 * w + 10], tap0 * tap0, 1e-5f);
  g_assert_cmpfloat_with_epsilon (x[8 * w + 11], x[8 * w + 9], 1e-7f);
  g_assert_cmpfloat_with_epsilon (x[9 * w + 10], x[7 * w + 10], 1e-7f);
  g_assert_cmpfloat_with_epsilon (x[8 * w + 11], x[9 * w + 10], 1e-7f);
  g_assert_cmpfloat (x[8 * w + 11], <, x[8 * w + 10]);
  g_assert_cmpfloat (x[8 * w + 14], ==, 0.0f);  /* beyond 3 sigma */
  for (int i = 0; i < n; i++)
    flat[i] = 0.3f;
  cxr_normalize (flat, w, h, &blur_std);
  for (int i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (flat[i], (0.3f - 0.5f) / 0.25f, 1e-5f);
}

/* The film check: a flat frame and one with only a flicker of noise are
 * blank; a frame mostly black and white is saturated; a ramp with a black
 * border (a quarter of the pixels) looks like a film */
static void
test_film_check (void)
{
  enum { N = 100 * 100 };
  float *x = g_new (float, N);
  GRand *rand = g_rand_new_with_seed (3);

  for (int i = 0; i < N; i++)
    x[i] = 0.3f;
  g_assert_cmpint (cxr_film_check (x, N), ==, CXR_FILM_BLANK);
  for (int i = 0; i < N; i++)
    x[i] = 0.3f + 0.01f * (float) g_rand_double (rand);
  g_assert_cmpint (cxr_film_check (x, N), ==, CXR_FILM_BLANK);
  for (int i = 0; i < N; i++)
    x[i] = i % 10 < 4 ? 0.0f : i % 10 < 7 ? 1.0f : (i % 100) / 100.0f;
  g_assert_cmpint (cxr_film_check (x, N), ==, CXR_FILM_SATURATED);
  for (int i = 0; i < N; i++)
    x[i] = i % 100 < 25 ? 0.0f : (i % 100) / 100.0f;
  g_assert_cmpint (cxr_film_check (x, N), ==, CXR_FILM_LOOKS_OK);
  g_assert_cmpint (cxr_film_check (x, 0), ==, CXR_FILM_BLANK);
  g_rand_free (rand);
  g_free (x);
}

/* cxr_preprocess with a film step or a blur is the resize, then cxr_normalize: the
 * same numbers the trainer computes from its cache */
static void
test_film_in_preprocess (void)
{
  uint8_t data[8 * 8];
  float direct[16], twostep[16];
  /* with and without a film step, with and without the blur */
  const CxrNormalization steps[] = {
    { 0.25f, 0.5f, CXR_FILM_EQUALIZE, 0.0f },
    { 0.25f, 0.5f, CXR_FILM_EQUALIZE, 0.7f },
    { 0.25f, 0.5f, CXR_FILM_NONE, 0.7f },
  };

  for (int i = 0; i < 64; i++)
    data[i] = (uint8_t) ((i * 37) % 251);
  for (guint s = 0; s < G_N_ELEMENTS (steps); s++) {
    g_assert_true (cxr_preprocess (&(CxrPixels) {data, 8, 8, 8,
        CXR_PIXEL_GRAY8}, &steps[s],
            4, 4, direct, NULL));
    g_assert_true (cxr_preprocess (&(CxrPixels) {data, 8, 8, 8,
        CXR_PIXEL_GRAY8},
            &identity, 4, 4, twostep, NULL));
    cxr_normalize (twostep, 4, 4, &steps[s]);
    for (int i = 0; i < 16; i++)
      g_assert_cmpfloat_with_epsilon (direct[i], twostep[i], 1e-5f);
  }
  g_assert_cmpstr (cxr_film_normalization_name (CXR_FILM_PERCENTILE), ==,
      "percentile");
  g_assert_cmpint (cxr_film_normalization_from_name ("equalize"), ==,
      CXR_FILM_EQUALIZE);
  g_assert_cmpint (cxr_film_normalization_from_name ("EQUALIZE"), ==, -1);
}

/* Calls that must fail cleanly with the given code and touch nothing. */
static void
expect_error (const uint8_t * data, int w, int h, int stride,
    const CxrNormalization * norm, int ow, int oh, int code)
{
  GError *error = NULL;
  float out[4] = { -7, -7, -7, -7 };

  g_assert_false (cxr_preprocess (&(CxrPixels) {data, w, h, stride,
      CXR_PIXEL_GRAY8}, norm,
          ow, oh, out, &error));
  g_assert_error (error, CXR_ERROR, code);
  g_assert_nonnull (error->message);
  g_test_message ("%s", error->message);
  g_assert_cmpfloat (out[0], ==, -7);
  g_error_free (error);
}

static void
test_rejects_bad_sizes (void)
{
  /* far smaller than any of the sizes claimed below: nothing may read it */
  const uint8_t tiny[16] = { 0 };
  const CxrNormalization zero_std = { 0.5f, 0.0f, CXR_FILM_NONE, 0.0f };
  GError *error = NULL;
  float out[4];

  expect_error (tiny, 0, 480, 640, &identity, 2, 2,
      CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 640, 0, 640, &identity, 2, 2,
      CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, -3, 4, 4, &identity, 2, 2, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 4, 4, -4, &identity, 2, 2, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 4, 4, 3, &identity, 2, 2, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 4, 4, 4, &identity, 0, 2, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 4, 4, 4, &identity, 2, -1, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (tiny, 4, 4, 4, &zero_std, 2, 2, CXR_ERROR_INVALID_ARGUMENT);
  expect_error (NULL, 4, 4, 4, &identity, 2, 2, CXR_ERROR_INVALID_ARGUMENT);

  expect_error (tiny, 70000, 70000, 70000, &identity, 2, 2,
      CXR_ERROR_TOO_LARGE);
  expect_error (tiny, 65537, 1, 65537, &identity, 2, 2, CXR_ERROR_TOO_LARGE);
  /* each side allowed, but 2^32 pixels in all */
  expect_error (tiny, 65536, 65536, 65536, &identity, 2, 2,
      CXR_ERROR_TOO_LARGE);
  expect_error (tiny, 4, 4, 4, &identity, 100000, 1, CXR_ERROR_TOO_LARGE);
  expect_error (tiny, 4, 4, 4, &identity, 65536, 65536, CXR_ERROR_TOO_LARGE);

  /* the messages say what was wrong */
  g_assert_false (cxr_preprocess (&(CxrPixels) {tiny, 0, 480, 640,
      CXR_PIXEL_GRAY8},
          &identity, 2, 2, out, &error));
  g_assert_cmpstr (error->message, ==, "frame size 0x480 is not valid");
  g_clear_error (&error);
  g_assert_false (cxr_preprocess (&(CxrPixels) {tiny, 70000, 70000, 70000,
      CXR_PIXEL_GRAY8},
          &identity, 2, 2, out, &error));
  g_assert_cmpstr (error->message, ==, "frame 70000x70000 is larger than the "
      "65536-pixel side this element accepts");
  g_clear_error (&error);

  /* an RGB row of 4 pixels needs 12 bytes */
  g_assert_false (cxr_preprocess (&(CxrPixels) {tiny, 4, 1, 11, CXR_PIXEL_RGB},
      &identity,
          1, 1, out, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (cxr_preprocess (&(CxrPixels) {tiny, 1, 1, 1,
      (CxrPixelFormat) 42},
          &identity, 1, 1, out, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_resize_float_rejects (void)
{
  const float src[4] = { 0 };
  float dst[4];
  GError *error = NULL;

  g_assert_false (cxr_resize_float (src, 2, 0, dst, 2, 2, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (cxr_resize_float (src, 2, 2, dst, 2, 70000, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_false (cxr_resize_float (src, 70000, 2, dst, 2, 2, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/preprocess/area/4x4-to-2x2", test_area_4x4_to_2x2);
  g_test_add_func ("/preprocess/area/3-to-2-fractional",
      test_area_3_to_2_fractional);
  g_test_add_func ("/preprocess/area/5-to-2", test_area_5_to_2);
  g_test_add_func ("/preprocess/bilinear/2-to-4", test_bilinear_2_to_4);
  g_test_add_func ("/preprocess/bilinear/3-to-5", test_bilinear_3_to_5);
  g_test_add_func ("/preprocess/bilinear/1x1-to-124x124",
      test_one_pixel_to_124);
  g_test_add_func ("/preprocess/mixed-axes", test_mixed_axes);
  g_test_add_func ("/preprocess/same-size-copies", test_same_size_copies);
  g_test_add_func ("/preprocess/matches-reference", test_matches_reference);
  g_test_add_func ("/preprocess/format/grey-pixel", test_formats_grey_pixel);
  g_test_add_func ("/preprocess/format/bt601", test_formats_bt601);
  g_test_add_func ("/preprocess/format/gray16-full-scale",
      test_gray16_full_scale);
  g_test_add_func ("/preprocess/stride-padding-ignored",
      test_stride_padding_ignored);
  g_test_add_func ("/preprocess/normalisation", test_normalisation);
  g_test_add_func ("/preprocess/film/equalize", test_film_equalize);
  g_test_add_func ("/preprocess/film/equalize-invariance",
      test_film_equalize_invariance);
  g_test_add_func ("/preprocess/film/percentile", test_film_percentile);
  g_test_add_func ("/preprocess/film/in-preprocess", test_film_in_preprocess);
  g_test_add_func ("/preprocess/blur", test_blur);
  g_test_add_func ("/preprocess/film-check", test_film_check);
  g_test_add_func ("/preprocess/rejects/bad-sizes", test_rejects_bad_sizes);
  g_test_add_func ("/preprocess/rejects/resize-float",
      test_resize_float_rejects);

  return g_test_run ();
}
