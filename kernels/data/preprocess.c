/* preprocess.c — any frame to the network's input.
 *
 * Resampling is separable: each axis gets a table of (first source index,
 * tap count, weights) per output sample, built once per call.  Each output
 * row first mixes its source rows, turned into grey floats, into one
 * source-wide row (a whole-row multiply-add per source row, which the
 * compiler vectorises), which is then resampled along x: the per-sample
 * taps run over the output's rows only, not the source's.  Since the
 * weights of every output sample sum to 1, mean and std normalisation is
 * linear and is applied once, on the output; a film normalisation needs
 * the whole resampled film and comes after. */
#include "preprocess.h"
#include "clones.h"
#include "error.h"

#include <math.h>
#include <string.h>

typedef struct {
  int n;                /* output samples */
  int max_taps;         /* stride of weight[] */
  int *start;           /* first source index of each output sample */
  int *count;           /* taps of each output sample */
  float *weight;        /* n * max_taps, only count[i] used per sample */
} CxrAxis;

static void
axis_clear (CxrAxis * ax)
{
  g_free (ax->start);
  g_free (ax->count);
  g_free (ax->weight);
  memset (ax, 0, sizeof (*ax));
}

/* Shrinking: output i covers [i * src / dst, (i + 1) * src / dst) of the
 * source.  Working in units of 1 / dst keeps every edge an exact integer,
 * so pixel j's weight is its overlap with that interval divided by src. */
static void
axis_fill_area (CxrAxis * ax, int src_n)
{
  gint64 dst_n = ax->n;

  for (int i = 0; i < ax->n; i++) {
    gint64 lo = (gint64) i * src_n, hi = lo + src_n;
    int j0 = (int) (lo / dst_n);
    int j1 = (int) ((hi + dst_n - 1) / dst_n);
    float *w = ax->weight + (gsize) i * ax->max_taps;

    ax->start[i] = j0;
    ax->count[i] = j1 - j0;
    for (int j = j0; j < j1; j++) {
      gint64 a = MAX (lo, j * dst_n), b = MIN (hi, (j + 1) * dst_n);
      w[j - j0] = (float) ((double) (b - a) / src_n);
    }
  }
}

/* Growing: bilinear with half-pixel centres, clamped at the edges
 * (align_corners=False). */
static void
axis_fill_linear (CxrAxis * ax, int src_n)
{
  double scale = (double) src_n / ax->n;

  for (int i = 0; i < ax->n; i++) {
    double x = (i + 0.5) * scale - 0.5;
    float *w = ax->weight + (gsize) i * ax->max_taps;
    int j;

    x = CLAMP (x, 0.0, (double) (src_n - 1));
    j = (int) x;
    ax->start[i] = j;
    if (j >= src_n - 1) {
      ax->count[i] = 1;
      w[0] = 1.0f;
    } else {
      ax->count[i] = 2;
      w[0] = (float) (1.0 - (x - j));
      w[1] = (float) (x - j);
    }
  }
}

static gboolean
axis_init (CxrAxis * ax, int src_n, int dst_n, GError ** error)
{
  memset (ax, 0, sizeof (*ax));
  ax->n = dst_n;
  if (dst_n < src_n)
    /* an interval of length src / dst touches at most ceil of that + 1 */
    ax->max_taps = (src_n + dst_n - 1) / dst_n + 1;
  else
    ax->max_taps = dst_n == src_n ? 1 : 2;

  ax->start = g_try_new (int, dst_n);
  ax->count = g_try_new (int, dst_n);
  ax->weight = g_try_new (float, (gsize) dst_n * ax->max_taps);
  if (!ax->start || !ax->count || !ax->weight) {
    axis_clear (ax);
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "not enough memory to resample %d to %d pixels", src_n, dst_n);
    return FALSE;
  }

  if (dst_n < src_n) {
    axis_fill_area (ax, src_n);
  } else if (dst_n > src_n) {
    axis_fill_linear (ax, src_n);
  } else {
    for (int i = 0; i < dst_n; i++) {
      ax->start[i] = i;
      ax->count[i] = 1;
      ax->weight[i] = 1.0f;
    }
  }
  return TRUE;
}

static void
resample_row (const float *in, const CxrAxis * ax, float *out)
{
  for (int i = 0; i < ax->n; i++) {
    const float *s = in + ax->start[i];
    const float *w = ax->weight + (gsize) i * ax->max_taps;
    int count = ax->count[i];
    float acc = 0.0f;

    for (int k = 0; k < count; k++)
      acc += s[k] * w[k];
    out[i] = acc;
  }
}

/* Where resample() gets source row y as floats: converted into scratch,
 * or a pointer into the source itself. */
typedef const float *(*SourceRow) (const void *source, int y, float *scratch);

/* An image resample() reads row by row. */
typedef struct {
  SourceRow row;
  const void *image;
  int width;
} Source;

/* dst = the source resampled by ax and ay, then scale * v + offset; rows
 * holds two source rows (the sum and a converted row) */
VECTOR_CLONES static void
resample (const Source * source, const CxrAxis * ax, const CxrAxis * ay,
    float scale, float offset, float *rows, float *dst)
{
  SourceRow source_row = source->row;
  int src_w = source->width;
  float *acc = rows, *scratch = rows + src_w;

  for (int y = 0; y < ay->n; y++) {
    const float *w = ay->weight + (gsize) y * ay->max_taps;
    float *d = dst + (gsize) y * ax->n;

    memset (acc, 0, sizeof (float) * src_w);
    for (int k = 0; k < ay->count[y]; k++) {
      const float *s = source_row (source->image, ay->start[y] + k, scratch);
      float wk = w[k];

      for (int x = 0; x < src_w; x++)
        acc[x] += wk * s[x];
    }
    resample_row (acc, ax, d);
    if (scale != 1.0f || offset != 0.0f)
      for (int x = 0; x < ax->n; x++)
        d[x] = d[x] * scale + offset;
  }
}

#define FILM_BINS 1024

const char *
cxr_film_normalization_name (CxrFilmNormalization film)
{
  switch (film) {
    case CXR_FILM_NONE:
      return "none";
    case CXR_FILM_EQUALIZE:
      return "equalize";
    case CXR_FILM_PERCENTILE:
      return "percentile";
  }
  return NULL;
}

int
cxr_film_normalization_from_name (const char *name)
{
  for (int f = CXR_FILM_NONE; f <= CXR_FILM_PERCENTILE; f++)
    if (name && strcmp (name, cxr_film_normalization_name (f)) == 0)
      return f;
  return -1;
}

static int
film_bin (float v)
{
  /* NaN and values outside [0, 1] go to the end bins */
  if (!(v > 0.0f))
    return 0;
  return MIN ((int) (v * FILM_BINS), FILM_BINS - 1);
}

/* below[b]: values in bins under b; count[b]: values in bin b */
static void
film_histogram (const float *x, size_t n, uint32_t *below, uint32_t *count)
{
  uint32_t sum = 0;

  memset (count, 0, FILM_BINS * sizeof *count);
  for (size_t i = 0; i < n; i++)
    count[film_bin (x[i])]++;
  for (int b = 0; b < FILM_BINS; b++) {
    below[b] = sum;
    sum += count[b];
  }
}

/* the value under which a fraction q of the film lies, linear within a bin */
static float
film_quantile (const uint32_t *below, const uint32_t *count, size_t n,
    double q)
{
  double rank = q * n;

  for (int b = 0; b < FILM_BINS; b++)
    if (count[b] > 0 && below[b] + count[b] >= rank)
      return (float) ((b + CLAMP ((rank - below[b]) / count[b], 0.0, 1.0))
          / FILM_BINS);
  return 1.0f;
}

#define BLUR_MAX_RADIUS 12

/* Separable Gaussian of sigma, truncated at 3 sigma (at most
 * BLUR_MAX_RADIUS taps a side), edges repeated. Rows through a padded
 * copy, then columns as weighted sums of whole rows, so that neither inner
 * loop tests for an edge. */
static void
blur (float *x, int w, int h, float sigma)
{
  float kernel[2 * BLUR_MAX_RADIUS + 1], sum = 0.0f;
  int r = MIN ((int) ceilf (3.0f * sigma), BLUR_MAX_RADIUS);
  float *line = g_new (float, w + 2 * r);
  float *rows = g_new (float, (gsize) w * h);

  for (int k = -r; k <= r; k++)
    sum += kernel[k + r] = expf (-0.5f * k * k / (sigma * sigma));
  for (int k = 0; k <= 2 * r; k++)
    kernel[k] /= sum;

  for (int y = 0; y < h; y++) {
    float *row = x + (gsize) y * w, *out = rows + (gsize) y * w;

    for (int i = 0; i < w + 2 * r; i++)
      line[i] = row[CLAMP (i - r, 0, w - 1)];
    for (int i = 0; i < w; i++) {
      float acc = 0.0f;
      for (int k = 0; k <= 2 * r; k++)
        acc += kernel[k] * line[i + k];
      out[i] = acc;
    }
  }
  for (int y = 0; y < h; y++) {
    float *out = x + (gsize) y * w;

    memset (out, 0, sizeof (float) * w);
    for (int k = 0; k <= 2 * r; k++) {
      const float *in = rows + (gsize) CLAMP (y + k - r, 0, h - 1) * w;
      float wk = kernel[k];
      for (int i = 0; i < w; i++)
        out[i] += wk * in[i];
    }
  }
  g_free (line);
  g_free (rows);
}

void
cxr_normalize (float *x, int w, int h, const CxrNormalization * norm)
{
  uint32_t below[FILM_BINS], count[FILM_BINS];
  float scale = 1.0f / norm->std, offset = -norm->mean / norm->std;
  size_t n = w > 0 && h > 0 ? (size_t) w * h : 0;

  if (n > 0 && norm->film == CXR_FILM_EQUALIZE) {
    film_histogram (x, n, below, count);
    for (size_t i = 0; i < n; i++) {
      int b = film_bin (x[i]);
      float within = CLAMP (x[i] * FILM_BINS - b, 0.0f, 1.0f);
      x[i] = (below[b] + within * count[b]) / (float) n;
    }
  } else if (n > 0 && norm->film == CXR_FILM_PERCENTILE) {
    float lo, hi;

    film_histogram (x, n, below, count);
    lo = film_quantile (below, count, n, 0.01);
    hi = film_quantile (below, count, n, 0.99);
    /* a flat film has no range to stretch: it is only shifted */
    float s = hi - lo > 1.0f / 255.0f ? 1.0f / (hi - lo) : 1.0f;
    for (size_t i = 0; i < n; i++)
      x[i] = (x[i] - lo) * s;
  }
  if (n > 0 && norm->blur > 0.0f)
    blur (x, w, h, norm->blur);
  for (size_t i = 0; i < n; i++)
    x[i] = x[i] * scale + offset;
}

CxrFilmCheck
cxr_film_check (const float *x, size_t n)
{
  uint32_t below[FILM_BINS], count[FILM_BINS];
  size_t ends = 0;

  if (n == 0)
    return CXR_FILM_BLANK;
  film_histogram (x, n, below, count);
  if (film_quantile (below, count, n, 0.99) - film_quantile (below, count, n,
          0.01) < CXR_BLANK_SPREAD)
    return CXR_FILM_BLANK;
  for (size_t i = 0; i < n; i++)
    ends += x[i] <= 1.0f / 255.0f || x[i] >= 254.0f / 255.0f;
  return ends > CXR_SATURATED_SHARE * n ? CXR_FILM_SATURATED :
      CXR_FILM_LOOKS_OK;
}

static int
bytes_per_pixel (CxrPixelFormat format)
{
  switch (format) {
    case CXR_PIXEL_GRAY8:
      return 1;
    case CXR_PIXEL_GRAY16_LE:
      return 2;
    case CXR_PIXEL_RGB:
    case CXR_PIXEL_BGR:
      return 3;
    case CXR_PIXEL_RGBX:
    case CXR_PIXEL_BGRX:
      return 4;
  }
  return 0;
}

/* One source row to grey floats on the pixel's own scale (0..255 or
 * 0..65535); one loop per format keeps each loop branch-free. */
VECTOR_CLONES static void
row_to_grey (const uint8_t * p, int width, CxrPixelFormat format, float *out)
{
  const float kr = 0.299f, kg = 0.587f, kb = 0.114f;

  switch (format) {
    case CXR_PIXEL_GRAY8:
      for (int x = 0; x < width; x++)
        out[x] = p[x];
      break;
    case CXR_PIXEL_GRAY16_LE:
      /* assembled byte by byte so it is right on any host */
      for (int x = 0; x < width; x++)
        out[x] = (float) (p[2 * x] | (p[2 * x + 1] << 8));
      break;
    case CXR_PIXEL_RGB:
      for (int x = 0; x < width; x++)
        out[x] = kr * p[3 * x] + kg * p[3 * x + 1] + kb * p[3 * x + 2];
      break;
    case CXR_PIXEL_BGR:
      for (int x = 0; x < width; x++)
        out[x] = kr * p[3 * x + 2] + kg * p[3 * x + 1] + kb * p[3 * x];
      break;
    case CXR_PIXEL_RGBX:
      for (int x = 0; x < width; x++)
        out[x] = kr * p[4 * x] + kg * p[4 * x + 1] + kb * p[4 * x + 2];
      break;
    case CXR_PIXEL_BGRX:
      for (int x = 0; x < width; x++)
        out[x] = kr * p[4 * x + 2] + kg * p[4 * x + 1] + kb * p[4 * x];
      break;
  }
}

static gboolean
check_size (const char *what, int w, int h, GError ** error)
{
  if (w < 1 || h < 1) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "%s size %dx%d is not valid", what, w, h);
    return FALSE;
  }
  if (w > CXR_MAX_FRAME_SIDE || h > CXR_MAX_FRAME_SIDE) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "%s %dx%d is larger than the %d-pixel side this element accepts",
        what, w, h, CXR_MAX_FRAME_SIDE);
    return FALSE;
  }
  if ((gint64) w * h > CXR_MAX_FRAME_PIXELS) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "%s %dx%d has more than the %d pixels this element accepts",
        what, w, h, CXR_MAX_FRAME_PIXELS);
    return FALSE;
  }
  return TRUE;
}

/* The checks both entry points share; on success the axis tables and two
 * source-wide rows of floats (rows[0] and rows[src_w]) are ready. */
static gboolean
prepare (int src_w, int src_h, int out_w, int out_h, CxrAxis * ax,
    CxrAxis * ay, float **rows, GError ** error)
{
  if (!check_size ("frame", src_w, src_h, error) ||
      !check_size ("output", out_w, out_h, error))
    return FALSE;
  /* each output row mixes whole source rows: bounded like a frame */
  if ((gint64) src_w * out_h > CXR_MAX_FRAME_PIXELS) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "resizing %dx%d to %dx%d mixes more than the %d pixels of rows this "
        "element accepts", src_w, src_h, out_w, out_h, CXR_MAX_FRAME_PIXELS);
    return FALSE;
  }

  if (!axis_init (ax, src_w, out_w, error))
    return FALSE;
  if (!axis_init (ay, src_h, out_h, error)) {
    axis_clear (ax);
    return FALSE;
  }
  *rows = g_try_new (float, (gsize) 2 * src_w);
  if (!*rows) {
    axis_clear (ax);
    axis_clear (ay);
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "not enough memory to resize %dx%d to %dx%d", src_w, src_h,
        out_w, out_h);
    return FALSE;
  }
  return TRUE;
}

static const float *
frame_row (const void *source, int y, float *scratch)
{
  const CxrPixels *f = source;

  row_to_grey (f->data + (gsize) y * f->stride, f->width, f->format, scratch);
  return scratch;
}

typedef struct {
  const float *data;
  int width;
} FloatImage;

static const float *
float_image_row (const void *source, int y, float *scratch)
{
  const FloatImage *f = source;

  (void) scratch;
  return f->data + (gsize) y * f->width;
}

gboolean
cxr_preprocess (const CxrPixels * pixels, const CxrNormalization * norm,
    int out_w, int out_h, float *out, GError ** error)
{
  const uint8_t *data = pixels->data;
  int width = pixels->width, height = pixels->height;
  int stride = pixels->stride;
  CxrPixelFormat format = pixels->format;
  CxrAxis ax, ay;
  float *rows;
  float full_scale, mean = 0.0f, std = 1.0f;
  int bpp = bytes_per_pixel (format);
  Source frame = { frame_row, pixels, width };

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (bpp == 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "pixel format %d is not known", (int) format);
    return FALSE;
  }
  if (!data || !out) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "no %s buffer was given", data ? "output" : "frame");
    return FALSE;
  }
  if (norm) {
    mean = norm->mean;
    std = norm->std;
  }
  if (!isfinite (mean) || !isfinite (std) || std == 0.0f) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "normalisation mean %g / std %g is not usable (std must be a "
        "finite non-zero number)", mean, std);
    return FALSE;
  }
  /* sizes first: width * bpp below must not overflow */
  if (!check_size ("frame", width, height, error))
    return FALSE;
  if (stride < width * bpp) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "row stride %d is smaller than one row of the %d-pixel-wide frame "
        "(%d bytes)", stride, width, width * bpp);
    return FALSE;
  }

  if (!prepare (width, height, out_w, out_h, &ax, &ay, &rows, error))
    return FALSE;

  /* (v / full_scale - mean) / std folded into v * scale + offset */
  full_scale = format == CXR_PIXEL_GRAY16_LE ? 65535.0f : 255.0f;
  if (norm && (norm->film != CXR_FILM_NONE || norm->blur > 0.0f)) {
    resample (&frame, &ax, &ay, 1.0f / full_scale, 0.0f, rows, out);
    cxr_normalize (out, out_w, out_h, norm);
  } else
    resample (&frame, &ax, &ay, 1.0f / (full_scale * std), -mean / std,
        rows, out);

  g_free (rows);
  axis_clear (&ax);
  axis_clear (&ay);
  return TRUE;
}

gboolean
cxr_resize_float (const float *src, int src_w, int src_h,
    float *dst, int dst_w, int dst_h, GError ** error)
{
  CxrAxis ax, ay;
  float *rows;
  FloatImage image = { src, src_w };
  Source source = { float_image_row, &image, src_w };

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!src || !dst) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "no %s buffer was given", src ? "output" : "source");
    return FALSE;
  }
  if (!prepare (src_w, src_h, dst_w, dst_h, &ax, &ay, &rows, error))
    return FALSE;
  resample (&source, &ax, &ay, 1.0f, 0.0f, rows, dst);

  g_free (rows);
  axis_clear (&ax);
  axis_clear (&ay);
  return TRUE;
}
