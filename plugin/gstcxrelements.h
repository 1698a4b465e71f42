/* The elements of plugin "cxr", one per file. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (cxrclassify);
GST_ELEMENT_REGISTER_DECLARE (cxrdatasetsrc);
GST_ELEMENT_REGISTER_DECLARE (cxrdicomdec);
GST_ELEMENT_REGISTER_DECLARE (cxrmetasink);
GST_ELEMENT_REGISTER_DECLARE (cxrtrain);

G_END_DECLS
