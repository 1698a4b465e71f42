/* Plugin "cxr": chest X-ray classification and training for GStreamer. */
#include "config.h"

#include "gstcxrelements.h"
#include "gstcxrdicomdec.h"

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

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = FALSE;

  /* before the elements: cxrdicomdec sends them, cxrclassify reads them */
  gst_cxr_dicom_register_tags ();
  ok |= GST_ELEMENT_REGISTER (cxrclassify, plugin);
  ok |= GST_ELEMENT_REGISTER (cxrdatasetsrc, plugin);
  ok |= GST_ELEMENT_REGISTER (cxrdicomdec, plugin);
  ok |= GST_ELEMENT_REGISTER (cxrdicomsink, plugin);
  ok |= gst_cxr_dicom_typefind_register (plugin);
  ok |= GST_ELEMENT_REGISTER (cxrmetasink, plugin);
  ok |= GST_ELEMENT_REGISTER (cxroverlay, plugin);
  ok |= GST_ELEMENT_REGISTER (cxrtrain, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, cxr,
    "Chest X-ray classification (NORMAL / PNEUMONIA) and in-pipeline "
    "training with a CNN on oneDNN", plugin_init, VERSION,
    GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
