/* What dicom.cpp and dicomsr.cpp share in C++ (not part of the C
 * interface of dicom.h). */
#pragma once

#include <glib.h>
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

/* file as a DICOM file in memory, explicit VR little endian; NULL, with
 * cond saying why, when the toolkit cannot write it */
GBytes *cxr_dicom_file_bytes (DcmFileFormat & file, OFCondition & cond);
