/* libFuzzer target: the image decoders as cxrdatasetsrc drives them
 * (cxr_image_decode: JPEG, PNG or DICOM by signature), with the DCT-scaled
 * decode's target size from the first byte. */
#include <stdint.h>
#include <stddef.h>

#include "imagedecode.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  CxrImage image;
  GError *error = NULL;

  if (size < 1)
    return 0;
  if (cxr_image_decode (data + 1, size - 1, data[0], &image, &error)) {
    /* every byte of every row is there */
    guint8 sum = 0;
    for (gsize i = 0; i < image.size; i++)
      sum ^= image.data[i];
    (void) sum;
    g_assert (image.stride * image.height == image.size);
    cxr_image_clear (&image);
  } else {
    g_assert (error != NULL);
    g_error_free (error);
  }
  return 0;
}
