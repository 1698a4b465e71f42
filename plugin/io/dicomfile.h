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

/* NULL, with msg as error (CXR_DICOM_ERROR_DECODE) */
GBytes *cxr_dicom_fail (GError ** error, const std::string & msg);

/* object (what: "report", "picture") as a DICOM file, explicit VR little
 * endian, and uid in sop_uid when it is not NULL; NULL + error when the
 * toolkit cannot encode it */
GBytes *cxr_dicom_object_bytes (DcmFileFormat & object, const char *what,
    const std::string & uid, gchar ** sop_uid, GError ** error);

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

/* The image whose header (cxr_dicom_get_header's bytes) is read into
 * file: its data set, and its UIDs in source; NULL + error when it cannot
 * be read or lacks one of them (then what, "a report" say, cannot refer
 * to it) */
DcmDataset *cxr_dicom_source_read (GBytes * header, DcmFileFormat & file,
    CxrDicomSource & source, const char *what, GError ** error);

/* The UID of the kind of object ("report", "capture") made of finding's
 * frame of image: from the image's SOP Instance UID, the frame, the model
 * id, the algorithm's version and the threshold (dicomsr.h) */
std::string cxr_dicom_finding_uid (const char *kind,
    const CxrDicomSource & image, const CxrDicomFinding * finding);
