/* cxrtrain: trains the chest X-ray CNN on the labelled frames that reach it
 * and writes the model file. See gstcxrtrain.c for the behaviour. */
#pragma once
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_TRAIN (gst_cxr_train_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrTrain, gst_cxr_train, GST, CXR_TRAIN, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (cxrtrain);

G_END_DECLS
