/* filmanswer.c — see filmanswer.h */
#include "filmanswer.h"

const gchar *
cxr_run_classify_and_store (gboolean capture)
{
  return capture ? "cxrclassify name=classify post-messages=true "
      "heatmap=true ! videoconvert ! cxroverlay ! "
      "cxrdicomsink name=sink capture=true" :
      "cxrclassify name=classify post-messages=true ! cxrdicomsink name=sink";
}

void
cxr_run_read_answer (const GstStructure * s, gchar ** label,
    gdouble * probability)
{
  const GValue *p = gst_structure_get_value (s, "probabilities");
  guint n = p && GST_VALUE_HOLDS_ARRAY (p) ? gst_value_array_get_size (p) : 0;

  g_free (*label);
  *label = g_strdup (gst_structure_get_string (s, "label"));
  /* the positive class is the last */
  *probability = n > 0 ? g_value_get_double (gst_value_array_get_value (p,
          n - 1)) : 0.0;
}
