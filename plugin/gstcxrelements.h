/* The elements of plugin "cxr", one per file, and what their property
 * setters share. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (cxrclassify);
GST_ELEMENT_REGISTER_DECLARE (cxrdatasetsrc);
GST_ELEMENT_REGISTER_DECLARE (cxrdicomdec);
GST_ELEMENT_REGISTER_DECLARE (cxrdicomsink);
GST_ELEMENT_REGISTER_DECLARE (cxrmetasink);
GST_ELEMENT_REGISTER_DECLARE (cxroverlay);
GST_ELEMENT_REGISTER_DECLARE (cxrtrain);

/* For set_property: FALSE, with a warning on the bus, when pspec may change
 * only up to READY (GST_PARAM_MUTABLE_READY) and element is past it; the
 * caller then keeps the value it has. */
gboolean gst_cxr_property_may_change (GObject * element, GParamSpec * pspec);

G_END_DECLS
