/* libFuzzer target: preprocessing over any size, stride, pixel format,
 * output size and normalisation, as cxrclassify and cxrtrain call it. A
 * 12-byte header chooses them; the pixels are the rest of the input, used
 * only when they cover the frame the header describes. */
#include <stdint.h>
#include <stddef.h>

#include "preprocess.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  CxrNormalization norm = { 0.5f, 0.25f, CXR_FILM_NONE, 0.0f };
  GError *error = NULL;
  float *out;

  if (size < 12)
    return 0;
  int width = 1 + data[0] % 64, height = 1 + data[1] % 64;
  CxrPixelFormat format = data[2] % (CXR_PIXEL_BGRX + 1);
  int stride = (data[3] << 8 | data[4]) % 512;
  int out_w = 1 + data[5] % 130, out_h = 1 + data[6] % 130;
  norm.film = (CxrFilmNormalization) (data[7] % 3);
  norm.blur = (data[8] % 8) * 0.25f;
  const uint8_t *pixels = data + 12;
  size_t have = size - 12;

  /* the caller's promise: stride x height bytes are there */
  if (stride <= 0 || (size_t) stride * height > have)
    return 0;
  out = g_new (float, (size_t) out_w * out_h);
  if (cxr_preprocess (&(CxrPixels) {pixels, width, height, stride, format},
          data[9] & 1 ? &norm : NULL, out_w, out_h, out, &error)) {
    CxrFilmCheck check = cxr_film_check (out, (size_t) out_w * out_h);
    (void) check;
  } else {
    g_assert (error != NULL);
    g_clear_error (&error);
  }
  g_free (out);
  return 0;
}
