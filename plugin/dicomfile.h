/* What dicom.cpp and dicomsr.cpp share in C++ (not part of the C
 * interface of dicom.h). */
#pragma once

#include <glib.h>
#include "dicomsr.h"
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <initializer_list>
#include <string>

/* file as a DICOM file in memory, explicit VR little endian; NULL, with
 * cond saying why, when the toolkit cannot write it */
GBytes *cxr_dicom_file_bytes (DcmFileFormat & file, OFCondition & cond);

/* file read from the bytes of a DICOM file in memory */
OFCondition cxr_dicom_file_read (GBytes * bytes, DcmFileFormat & file);

/* A UID of the "2.25." form (PS3.5 B.2: a 128-bit number in decimal) from
 * a hash of what it names (kind and the strings of), so that the same
 * object made of the same image by the same model always has the same UID:
 * an archive that is sent it twice keeps it once. The hash's bits are
 * marked as a name-based UUID's (RFC 9562 version 8). */
std::string cxr_dicom_derived_uid (const char *kind,
    std::initializer_list < std::string > of);

/* The UIDs of the image an object made of it refers to */
struct CxrDicomSource
{
  OFString study, series, sop_class, instance;
};

/* source from image; false when one of them is missing (then nothing can
 * refer to the image) */
bool cxr_dicom_source_read (DcmItem * image, CxrDicomSource & source);

/* The UID of the kind of object ("report", "capture") made of finding's
 * frame of image: from the image's SOP Instance UID, the frame, the model
 * id, the algorithm's version and the threshold (dicomsr.h) */
std::string cxr_dicom_finding_uid (const char *kind,
    const CxrDicomSource & image, const CxrDicomFinding * finding);
