/* number.h — numbers written into files and messages in the C locale (a
 * decimal point whatever locale the program runs in): the one formatter
 * that model metadata, provenance, reports and DICOM values go through. */
#pragma once
#include <glib.h>

#define CXR_NUMBER_SIZE G_ASCII_DTOSTR_BUF_SIZE

/* a float32 that reads back as the same float */
#define CXR_NUMBER_FLOAT "%.9g"
/* a figure for people: six significant digits */
#define CXR_NUMBER_FIGURE "%.6g"

/* x through format, one printf conversion of the e, f or g kind, into buf;
 * returns buf */
static inline const char *
cxr_number (char buf[CXR_NUMBER_SIZE], const char *format, double x)
{
  return g_ascii_formatd (buf, CXR_NUMBER_SIZE, format, x);
}
