/* properties.h — what the elements' property setters share. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

/* For set_property: FALSE, with a warning on the bus, when pspec may change
 * only up to READY (GST_PARAM_MUTABLE_READY) and element is past it; the
 * caller then keeps the value it has. */
gboolean gst_cxr_property_may_change (GObject * element, GParamSpec * pspec);

G_END_DECLS
