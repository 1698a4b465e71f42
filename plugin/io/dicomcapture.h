/* A picture of a DICOM image with a classifier's answer drawn on it, as a
 * DICOM Secondary Capture image (C++ in dicomcapture.cpp): RGB, 8 bits a
 * sample, burned-in annotation, "not for diagnostic use" in its comments,
 * a reference to the image it was made of; in the image's study, in a new
 * series, with the patient and study modules copied from the image.
 *
 * Privacy: as dicomsr.h, the patient's data goes from the source header
 * into the object and nowhere else. */
#pragma once

#include <glib.h>
#include "dicomsr.h"

G_BEGIN_DECLS

typedef struct
{
  const guint8 *rgb;            /* rows of width R, G, B bytes */
  guint width, height;
  gsize stride;                 /* bytes from one row to the next */
} CxrDicomPicture;

/* The Secondary Capture, as a DICOM file (explicit VR little endian), of
 * picture: a frame of the image whose header is source, with finding
 * (dicomsr.h) drawn on it. sop_instance_uid, when not NULL, receives its
 * SOP Instance UID (free with g_free), made as the report's is. NULL +
 * error when the source lacks its UIDs or the toolkit fails. */
GBytes *cxr_dicom_capture_new (GBytes * source,
    const CxrDicomPicture * picture, const CxrDicomFinding * finding,
    gchar ** sop_instance_uid, GError ** error);

G_END_DECLS
