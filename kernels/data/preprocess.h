/* preprocess.h — any frame to the network's input: one float channel of
 * out_w x out_h, normalised as the model says.
 *
 * Downscaling averages the exact area each output pixel covers (antialiased,
 * like PIL's BOX filter); upscaling is bilinear with half-pixel centres (like
 * PIL / PyTorch align_corners=False). Each axis is treated on its own, so a
 * frame can shrink in one direction and grow in the other.
 *
 * For a non-integer ratio the source pixels cut by an output pixel's edge
 * count with the fraction they cover (3 -> 2: [0, 3, 6] gives [1, 5]); PIL's
 * BOX counts them whole or not at all, so it agrees only for whole ratios. */
#pragma once
#include <glib.h>
#include <stdint.h>

typedef enum {
  CXR_PIXEL_GRAY8,      /* also the luma plane of I420 / NV12 */
  CXR_PIXEL_GRAY16_LE,
  CXR_PIXEL_RGB,
  CXR_PIXEL_BGR,
  CXR_PIXEL_RGBX,       /* RGBx and RGBA: the 4th byte is ignored */
  CXR_PIXEL_BGRX,       /* BGRx and BGRA */
} CxrPixelFormat;

/* Frames larger than this on a side, or with more pixels in all, are refused
 * rather than trusted: a corrupt header must not cost gigabytes. */
#define CXR_MAX_FRAME_SIDE 65536
#define CXR_MAX_FRAME_PIXELS (1 << 28)

/* A per-film intensity normalisation, applied to the image at the
 * network's size with values in [0, 1] (pixel / full_scale), before mean and
 * std. Films from other machines and sites differ in exposure, contrast and
 * processing curve; these take most of that out of what the network sees. */
typedef enum {
  CXR_FILM_NONE,        /* the values as they are */
  CXR_FILM_EQUALIZE,    /* histogram equalisation: each value becomes the
                         * fraction of the film darker than it (the film's
                         * own CDF, 1024 bins, linear within a bin), so any
                         * increasing change of the grey curve gives the
                         * same input */
  CXR_FILM_PERCENTILE,  /* the film's 1st and 99th percentiles to 0 and 1,
                         * linearly, not clamped */
} CxrFilmNormalization;

/* value = (film (pixel / full_scale) - mean) / std, full_scale 255 or 65535 */
typedef struct {
  float mean;
  float std;
  CxrFilmNormalization film;
  /* a Gaussian low-pass of this sigma, in pixels at the network's size,
   * after the film step (0: none). The network then cannot lean on detail
   * finer than a pixel or two, which is what a different decoder, a
   * re-encoding or a one-pixel shift changes most. */
  float blur;
} CxrNormalization;

/* The names used in model files and properties: "none", "equalize",
 * "percentile". NULL / -1 for what is not one of them. */
const char *cxr_film_normalization_name (CxrFilmNormalization film);
int cxr_film_normalization_from_name (const char *name);

/* In place, on one w x h film with values in [0, 1]: the film step, the
 * blur, then mean and std; what cxr_preprocess does after resampling, for
 * images that are already at the network's size (the training cache). */
void cxr_normalize (float *x, int w, int h, const CxrNormalization *norm);

/* What a film at the network's size, values in [0, 1] before any
 * normalisation, cannot be. Chest films spread over most of the grey scale
 * (on the training films the 1st to 99th percentile spans at least 0.33)
 * and have at most about a quarter of their pixels at its very ends. */
typedef enum {
  CXR_FILM_LOOKS_OK,
  CXR_FILM_BLANK,       /* 1st to 99th percentile within CXR_BLANK_SPREAD */
  CXR_FILM_SATURATED,   /* more than CXR_SATURATED_SHARE of the pixels at or
                         * below 1/255 or at or above 254/255 */
} CxrFilmCheck;
#define CXR_BLANK_SPREAD 0.05f
#define CXR_SATURATED_SHARE 0.6f

CxrFilmCheck cxr_film_check (const float *x, size_t n);

/* A frame's pixels as they lie in memory. */
typedef struct {
  const uint8_t *data;  /* the first byte of the top row */
  int width, height;
  int stride;           /* bytes from one row to the next (>= width x bpp) */
  CxrPixelFormat format;
} CxrPixels;

/* The frame resampled to out (out_w * out_h floats, row-major) and
 * normalised. Colour is turned to grey with BT.601 luma weights (0.299,
 * 0.587, 0.114). norm may be NULL: no normalisation, value = pixel /
 * full_scale. Returns FALSE with a CXR_ERROR on a size or stride that
 * cannot be right. */
gboolean cxr_preprocess (const CxrPixels *pixels,
    const CxrNormalization *norm, int out_w, int out_h, float *out,
    GError **error);

/* The resampling step alone, on floats: src is src_w x src_h (row stride
 * src_w), dst is dst_w x dst_h, and the two must not overlap. Same rules
 * as above. */
gboolean cxr_resize_float (const float *src, int src_w, int src_h,
    float *dst, int dst_w, int dst_h, GError **error);
