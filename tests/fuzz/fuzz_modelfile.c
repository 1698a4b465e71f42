/* libFuzzer target: a model file as cxrclassify and cxrtrain read it, the
 * safetensors container (cxr_model_file_parse) and then the model in it
 * (cxr_model_from_file). Any input must give a model or an error. */
#include <stdint.h>
#include <stddef.h>

#include "model.h"
#include "modelfile.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GError *error = NULL;
  CxrModelFile *f = cxr_model_file_parse (data, size, "fuzz", &error);
  CxrModel *m;

  if (!f) {
    g_assert (error != NULL);
    g_error_free (error);
    return 0;
  }
  m = cxr_model_from_file (f, "fuzz", &error);
  g_assert ((m != NULL) != (error != NULL));
  g_clear_error (&error);
  cxr_model_free (m);
  cxr_model_file_free (f);
  return 0;
}
