/* filmanswer.h — what cxr-run's DICOM programs (cxr-run-pacs,
 * cxr-run-listen) share: the pipeline after the DICOM decoder, and a
 * film's answer read off cxrclassify's element message. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

/* "cxrclassify name=classify post-messages=true ! cxrdicomsink name=sink";
 * with capture, the label and heatmap burned in by cxroverlay before
 * cxrdicomsink capture=true */
const gchar *cxr_run_classify_and_store (gboolean capture);

/* from a "cxrclassify" element message: its label (replacing *label,
 * g_free'd) and P of the positive class, the last (0 without any) */
void cxr_run_read_answer (const GstStructure * s, gchar ** label,
    gdouble * probability);

G_END_DECLS
