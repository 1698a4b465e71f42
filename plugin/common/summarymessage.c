/* summarymessage.c — the summary as cxrmetasink's element message (see
 * summarymessage.h). */
#include "summarymessage.h"

/* the classes as a GstValueArray of strings */
static void
classes_value (GValue * v, const CxrSummary * sum)
{
  gst_value_array_init (v, sum->n_classes);
  for (guint i = 0; i < sum->n_classes; i++) {
    GValue name = G_VALUE_INIT;

    g_value_init (&name, G_TYPE_STRING);
    g_value_set_string (&name, sum->classes[i]);
    gst_value_array_append_and_take_value (v, &name);
  }
}

/* the confusion as a GstValueArray of rows, each of guint64 */
static void
confusion_value (GValue * v, const CxrSummary * sum)
{
  gst_value_array_init (v, sum->n_classes);
  for (guint i = 0; i < sum->n_classes; i++) {
    GValue row = G_VALUE_INIT;

    gst_value_array_init (&row, sum->n_classes);
    for (guint j = 0; j < sum->n_classes; j++) {
      GValue cell = G_VALUE_INIT;

      g_value_init (&cell, G_TYPE_UINT64);
      g_value_set_uint64 (&cell, sum->confusion.counts[i][j]);
      gst_value_array_append_and_take_value (&row, &cell);
    }
    gst_value_array_append_and_take_value (v, &row);
  }
}

/* The summary's fields that the table puts in the message, in its order;
 * those whose JSON value is null are left out. */
GstStructure *
gst_cxr_summary_structure (const CxrSummary * sum)
{
  GstStructure *st = gst_structure_new_empty ("cxrmetasink-summary");

  for (guint i = 0; i < cxr_summary_n_fields; i++) {
    const CxrSummaryField *f = &cxr_summary_fields[i];
    GValue v = G_VALUE_INIT;

    if (!f->message || cxr_summary_is_null (sum, f))
      continue;
    switch (f->kind) {
      case CXR_SUMMARY_COUNT:
        g_value_init (&v, G_TYPE_UINT64);
        g_value_set_uint64 (&v, cxr_summary_count (sum, f));
        break;
      case CXR_SUMMARY_CLASSES:
        classes_value (&v, sum);
        break;
      case CXR_SUMMARY_CONFUSION:
        confusion_value (&v, sum);
        break;
      case CXR_SUMMARY_THRESHOLD:
      case CXR_SUMMARY_RATE:
      case CXR_SUMMARY_REAL:
        g_value_init (&v, G_TYPE_DOUBLE);
        g_value_set_double (&v, cxr_summary_number (sum, f));
        break;
      default:                 /* no message form for the others */
        g_warn_if_reached ();
        continue;
    }
    gst_structure_take_value (st, f->key, &v);
  }
  if (sum->processes > 1)
    gst_structure_set (st, "processes", G_TYPE_UINT, sum->processes, NULL);
  return st;
}

