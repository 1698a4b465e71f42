/* patient.h — the patient a film's file name names, by a regular
 * expression, so that a patient's films stay on one side of a training
 * split. No GStreamer here. */
#pragma once
#include <glib.h>

/* The Kermany data set's rule: IM-0117-0001.jpeg and IM-0117-0001-0002.jpeg
 * are patient IM-0117, NORMAL2-IM-0117-0001.jpeg is NORMAL2-IM-0117 (the
 * two series are numbered independently), person1_bacteria_1.jpeg and
 * person1_virus_6.jpeg are person1. */
#define CXR_KERMANY_PATIENT_PATTERN "^((?:NORMAL2-)?IM-[0-9]+(?=-[0-9])" \
  "|person[0-9]+(?=_(?:bacteria|virus)_[0-9]))"

/* The pattern compiled; NULL with an error that quotes it when it is not a
 * regular expression. */
GRegex *cxr_patient_regex_new (const char *pattern, GError **error);

/* The patient of file_name (a path; only its base name is matched): the
 * first capture group of the regex, or the whole match when it has none;
 * NULL when it does not match, or matches nothing. Free with g_free. */
char *cxr_patient_from_name (const GRegex *regex, const char *file_name);
