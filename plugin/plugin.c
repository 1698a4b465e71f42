/* Plugin "cxr": chest X-ray classification and training for GStreamer. */
#include "config.h"

#include "gstcxrclassify.h"
#include "gstcxrdatasetsrc.h"
#include "gstcxrdicomdec.h"
#include "gstcxrdicomsink.h"
#include "gstcxrdicomsrc.h"
#include "gstcxrmetasink.h"
#include "gstcxroverlay.h"
#include "gstcxrtrain.h"

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
  ok |= GST_ELEMENT_REGISTER (cxrdicomsrc, plugin);
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
