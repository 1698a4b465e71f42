/* libFuzzer target: the DICOM interface (plugin/io/dicom.h) as cxrdicomdec
 * drives it: open, then every frame at both depths. The first byte picks
 * the VOI window option. */
#include <stdint.h>
#include <stddef.h>

#include "dicom.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  CxrDicomOptions opts = { 0, 0, FALSE };
  GError *error = NULL;
  CxrDicom *d;

  if (size < 1)
    return 0;
  opts.window = (gint) (data[0] % 3) - 1;       /* -1, 0, 1 */
  d = cxr_dicom_open_memory (data + 1, size - 1, &opts, &error);
  if (!d) {
    g_assert (error != NULL);
    g_error_free (error);
    return 0;
  }
  gsize stride = (gsize) cxr_dicom_get_width (d) * 2;
  guint8 *out = g_malloc (stride * cxr_dicom_get_height (d));
  for (guint i = 0; i < cxr_dicom_get_n_frames (d) && i < 4; i++)
    for (guint bits = 8; bits <= 16; bits += 8)
      if (!cxr_dicom_get_frame (d, i, out, stride, bits, &error))
        g_clear_error (&error);
  g_free (out);
  cxr_dicom_free (d);
  return 0;
}
