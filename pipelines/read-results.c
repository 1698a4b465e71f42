/* read-results.c — reads gst-cxr's results off each buffer, in C: a pad
 * probe after cxrclassify prints each film's answer, line for line as
 * read-results.py does in Python.
 *
 *   cc -o read-results read-results.c \
 *       $(pkg-config --cflags --libs gstreamer-cxr-1.0)
 *   ./read-results [FOLDER]
 *
 * FOLDER: a folder of films as cxrdatasetsrc reads it (default: the
 * installed sample films). */
#include <gst/gst.h>
#include <gst/cxr/cxrmeta.h>

#define SAMPLE_FILMS "/usr/share/gst-cxr/sample-films"

/* the pad probe: one line a classified film */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCxrClassificationMeta *result =
      gst_buffer_get_cxr_classification_meta (buf);
  GstCxrLabelMeta *truth = gst_buffer_get_cxr_label_meta (buf);

  (void) pad;
  (void) user_data;
  if (!result)
    return GST_PAD_PROBE_OK;
  if (truth && gst_cxr_label_meta_get_source (truth))
    g_print ("%s: ", gst_cxr_label_meta_get_source (truth));
  else
    g_print ("frame at %.0f s: ", (gdouble) GST_BUFFER_PTS (buf) / GST_SECOND);

  if (gst_cxr_classification_meta_is_abstained (result)) {
    g_print ("no diagnosis (%s)", gst_cxr_abstain_reason_name
        (gst_cxr_classification_meta_get_abstain_reason (result)));
  } else {
    guint last = gst_cxr_classification_meta_get_n_classes (result) - 1;
    g_print ("%s (P(%s) = %.3f, threshold %.3f)",
        gst_cxr_classification_meta_get_label (result),
        gst_cxr_classification_meta_get_class_name (result, last),
        gst_cxr_classification_meta_get_probability (result, last),
        gst_cxr_classification_meta_get_threshold (result));
  }
  if (truth && gst_cxr_label_meta_get_class_name (truth))
    g_print (", truly %s", gst_cxr_label_meta_get_class_name (truth));
  g_print ("\n");
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  GstElement *pipeline, *films, *classify;
  GstPad *pad;
  GstMessage *message;
  int status = 0;

  gst_init (&argc, &argv);
  pipeline = gst_parse_launch ("cxrdatasetsrc name=films target-size=124 "
      "! cxrclassify name=classify ! fakesink", &error);
  if (!pipeline) {
    g_printerr ("read-results: %s\n", error->message);
    return 1;
  }
  films = gst_bin_get_by_name (GST_BIN (pipeline), "films");
  g_object_set (films, "location", argc > 1 ? argv[1] : SAMPLE_FILMS, NULL);
  classify = gst_bin_get_by_name (GST_BIN (pipeline), "classify");
  pad = gst_element_get_static_pad (classify, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, NULL, NULL);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  message = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (message, &error, NULL);
    g_printerr ("read-results: %s\n", error->message);
    g_error_free (error);
    status = 1;
  }
  gst_message_unref (message);
  gst_object_unref (pad);
  gst_object_unref (classify);
  gst_object_unref (films);
  gst_object_unref (pipeline);
  return status;
}
