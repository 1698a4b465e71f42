/* patient.c — patients from file names. */
#include "patient.h"

GRegex *
cxr_patient_regex_new (const char *pattern, GError **error)
{
  GError *e = NULL;
  GRegex *regex = g_regex_new (pattern, 0, 0, &e);

  if (!regex) {
    g_set_error (error, G_REGEX_ERROR, e->code, "'%s' is not a regular "
        "expression: %s", pattern, e->message);
    g_error_free (e);
  }
  return regex;
}

char *
cxr_patient_from_name (const GRegex *regex, const char *file_name)
{
  const char *base = file_name;
  GMatchInfo *match;
  char *patient = NULL;

  if (!file_name)
    return NULL;
  /* either separator: names from a manifest may come from Windows */
  for (const char *p = file_name; *p; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  if (g_regex_match (regex, base, 0, &match)) {
    patient = g_match_info_fetch (match,
        g_regex_get_capture_count (regex) > 0 ? 1 : 0);
    if (patient && !*patient)
      g_clear_pointer (&patient, g_free);
  }
  g_match_info_free (match);
  return patient;
}
