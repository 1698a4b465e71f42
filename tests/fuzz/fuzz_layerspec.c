/* libFuzzer target: the layer spec parser, on any text and input shape
 * (the first three bytes choose channels, height and width). */
#include <stdint.h>
#include <stddef.h>

#include "layerspec.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GError *error = NULL;
  CxrNetSpec *spec;
  gchar *text;

  if (size < 3)
    return 0;
  text = g_strndup ((const gchar *) data + 3, size - 3);
  spec = cxr_net_spec_parse (text, data[0] % 6, 1 + data[1] * 2,
      1 + data[2] * 2, &error);
  g_assert ((spec != NULL) != (error != NULL));
  g_clear_error (&error);
  cxr_net_spec_free (spec);
  g_free (text);
  return 0;
}
