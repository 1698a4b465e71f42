/* filmdone.c — the "cxr-film-done" upstream event (filmdone.h). */
#include "filmdone.h"

#include <string.h>

#define FILM_DONE "cxr-film-done"

GstEvent *
gst_cxr_film_done_new (const gchar * source)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new (FILM_DONE, "source", G_TYPE_STRING, source, NULL));
}

gchar *
gst_cxr_film_done_parse (GstEvent * event)
{
  const GstStructure *s = gst_event_get_structure (event);
  const gchar *source;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_UPSTREAM
      || !gst_structure_has_name (s, FILM_DONE)
      || !(source = gst_structure_get_string (s, "source")))
    return NULL;
  return g_strndup (source, strcspn (source, "#"));
}
