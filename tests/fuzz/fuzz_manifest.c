/* libFuzzer target: the CSV manifest reader of cxrdatasetsrc. */
#include <stdint.h>
#include <stddef.h>

#include "manifest.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GError *error = NULL;
  GPtrArray *entries = cxr_manifest_parse ((const gchar *) data, size,
      "fuzz.csv", &error);

  g_assert ((entries != NULL) != (error != NULL));
  if (entries) {
    for (guint i = 0; i < entries->len; i++) {
      const CxrManifestEntry *e = g_ptr_array_index (entries, i);
      g_assert (e->path[0] != '\0' && e->line >= 1);
    }
    g_ptr_array_unref (entries);
  }
  g_clear_error (&error);
  return 0;
}
