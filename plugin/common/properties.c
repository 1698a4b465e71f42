/* properties.c — what the elements' property setters share. */
#include "properties.h"

gboolean
gst_cxr_property_may_change (GObject * element, GParamSpec * pspec)
{
  GstState state;

  if (!(pspec->flags & GST_PARAM_MUTABLE_READY))
    return TRUE;
  GST_OBJECT_LOCK (element);
  state = GST_STATE (element);
  GST_OBJECT_UNLOCK (element);
  if (state <= GST_STATE_READY)
    return TRUE;
  GST_ELEMENT_WARNING (element, CORE, STATE_CHANGE,
      ("Property '%s' can be set only before the pipeline runs; it keeps its "
          "value.", pspec->name), (NULL));
  return FALSE;
}
