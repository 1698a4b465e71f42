/* filmdone.h — the upstream event that says a film's results are out.
 *
 * cxrdicomsink sends it, for each frame of a DICOM image, once what it
 * makes of the frame is written and stored (or once it knows nothing is to
 * be made of it: no answer); cxrdicomsrc, upstream, then lets go of the
 * film it kept. A custom upstream event "cxr-film-done" whose field
 * "source" is the frame's source (GstCxrLabelMeta: the image's SOP
 * Instance UID, with "#N" after it for frame N of a multi-frame image). */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

GstEvent *gst_cxr_film_done_new (const gchar * source);

/* the SOP Instance UID the event is about (without "#N"), newly allocated;
 * NULL when the event is not one */
gchar *gst_cxr_film_done_parse (GstEvent * event);

G_END_DECLS
