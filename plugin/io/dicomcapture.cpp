/* The Secondary Capture of dicomcapture.h, with DCMTK's dcmdata (C++17). */
#include "dicomcapture.h"
#include "dicom.h"
#include "dicomfile.h"

#include <cstring>
#include <exception>
#include <string>
#include <vector>

/* The patient and general study modules (PS3.3 C.7.1.1, C.7.2.1) and the
 * character set their values are in: copied as the image has them; the
 * ones of type 2 made empty where it has none. */
static const struct
{
  DcmTagKey key;
  bool type2;
} copied[] = {
  {DCM_SpecificCharacterSet, false},
  {DCM_PatientName, true},
  {DCM_PatientID, true},
  {DCM_IssuerOfPatientID, false},
  {DCM_PatientBirthDate, true},
  {DCM_PatientSex, true},
  {DCM_OtherPatientIDsSequence, false},
  {DCM_StudyInstanceUID, false},
  {DCM_StudyDate, true},
  {DCM_StudyTime, true},
  {DCM_ReferringPhysicianName, true},
  {DCM_StudyID, true},
  {DCM_AccessionNumber, true},
  {DCM_StudyDescription, false},
};

static OFCondition
copy_patient_and_study (DcmItem * image, DcmItem * ds)
{
  OFCondition cond = EC_Normal;

  for (const auto & c : copied) {
    DcmElement *e = NULL;
    if (image->findAndGetElement (c.key, e, OFFalse, OFTrue).good () && e)
      cond = ds->insert (e, OFTrue);
    else if (c.type2)
      cond = ds->insertEmptyElement (c.key);
    if (cond.bad ())
      break;
  }
  return cond;
}

/* A picture of a lossily compressed image was lossily compressed too
 * (PS3.3 C.7.6.1.1.5): the image's Lossy Image Compression, its methods and
 * ratios, else "00" */
static OFCondition
copy_lossy_compression (DcmItem * image, DcmItem * ds)
{
  static const DcmTagKey methods[] = { DCM_LossyImageCompressionRatio,
    DCM_LossyImageCompressionMethod
  };
  OFString lossy;
  OFCondition cond;

  image->findAndGetOFString (DCM_LossyImageCompression, lossy);
  if (lossy != "01")
    return ds->putAndInsertString (DCM_LossyImageCompression, "00");
  cond = ds->putAndInsertString (DCM_LossyImageCompression, "01");
  for (const auto & key : methods) {
    DcmElement *e = NULL;
    if (cond.good () && image->findAndGetElement (key, e, OFFalse,
            OFTrue).good () && e)
      cond = ds->insert (e, OFTrue);
  }
  return cond;
}

/* a string attribute of the film, "" when it has none */
static OFString
source_string (DcmDataset * image, const DcmTagKey & key)
{
  OFString value;

  image->findAndGetOFStringArray (key, value);
  return value;
}

static GBytes *
build (GBytes * header, const CxrDicomPicture * p, const CxrDicomFinding * f,
    gchar ** sop_uid, GError ** error)
{
  DcmFileFormat file;
  CxrDicomSource source;
  DcmDataset *image = cxr_dicom_source_read (header, file, source,
      "a picture", error);
  if (!image)
    return NULL;
  OFCondition cond;
  if (p->width == 0 || p->height == 0 || p->width > 65535
      || p->height > 65535)
    return cxr_dicom_fail (error, "a picture must be 1 to 65535 pixels a side");

  DcmFileFormat capture;
  DcmDataset *ds = capture.getDataset ();
  std::string series_uid = cxr_dicom_derived_uid ("capture series",
      {source.study.c_str (), f->model_id ? f->model_id : ""});
  std::string capture_uid = cxr_dicom_finding_uid ("capture", source, f);
  DcmItem *ref = NULL;
  OFString body_part = source_string (image, DCM_BodyPartExamined);
  OFString laterality = source_string (image, DCM_Laterality);
  /* the pixels, row after row without padding */
  gsize row = (gsize) p->width * 3;
  std::vector < Uint8 > pixels (row * p->height);
  for (guint y = 0; y < p->height; y++)
    memcpy (&pixels[y * row], p->rgb + y * p->stride, row);
  if (!((cond = copy_patient_and_study (image, ds)).good ()
      /* SC image: a new series in the study, made on a workstation */
      && (cond = ds->putAndInsertString (DCM_SOPClassUID,
              UID_SecondaryCaptureImageStorage)).good ()
      && (cond = ds->putAndInsertString (DCM_SOPInstanceUID,
              capture_uid.c_str ())).good ()
      && (cond = ds->putAndInsertString (DCM_Modality, "OT")).good ()
      && (cond = ds->putAndInsertString (DCM_SeriesInstanceUID,
              series_uid.c_str ())).good ()
      && (cond = ds->putAndInsertString (DCM_SeriesNumber, "9902")).good ()
      && (cond = ds->putAndInsertString (DCM_SeriesDescription,
              "Chest X-ray classification, picture (gst-cxr)")).good ()
      && (cond = ds->putAndInsertString (DCM_ConversionType, "WSD")).good ()
      && (cond = ds->putAndInsertString (DCM_Manufacturer, "gst-cxr")).good ()
      && (cond = ds->putAndInsertString (DCM_SoftwareVersions,
              f->algorithm_version)).good ()
      && (cond = ds->putAndInsertString (DCM_InstanceNumber, "1")).good ()
      && (cond = ds->insertEmptyElement (DCM_PatientOrientation)).good ()
      /* General Series: the body part, the film's or the chest the
       * classifier reads; Laterality (type 2C) only for a film that has
       * one, as a chest is not a paired part */
      && (cond = ds->putAndInsertString (DCM_BodyPartExamined,
              body_part.empty ()? "CHEST" : body_part.c_str ())).good ()
      && (laterality.empty ()
          || (cond = ds->putAndInsertString (DCM_Laterality,
                  laterality.c_str ())).good ())
      && (cond = ds->putAndInsertString (DCM_ImageType,
              "DERIVED\\SECONDARY")).good ()
      && (cond = ds->putAndInsertString (DCM_BurnedInAnnotation,
              "YES")).good ()
      && (cond = ds->putAndInsertString (DCM_DerivationDescription,
              "The image with an automatic classifier's answer drawn on "
              "it")).good ()
      && (cond = ds->putAndInsertString (DCM_ImageComments,
              "Not for diagnostic use: an automatic classification of the "
              "image, not reviewed by a radiologist")).good ()
      && (cond = ds->findOrCreateSequenceItem (DCM_SourceImageSequence,
              ref, 0)).good ()
      && (cond = ref->putAndInsertString (DCM_ReferencedSOPClassUID,
              source.sop_class.c_str ())).good ()
      && (cond = ref->putAndInsertString (DCM_ReferencedSOPInstanceUID,
              source.instance.c_str ())).good ()
      && (f->frame == 0 || (cond = ref->putAndInsertString
              (DCM_ReferencedFrameNumber,
                  std::to_string (f->frame).c_str ())).good ())
      /* image pixel module: interleaved RGB, 8 bits */
      && (cond = ds->putAndInsertUint16 (DCM_SamplesPerPixel, 3)).good ()
      && (cond = ds->putAndInsertString (DCM_PhotometricInterpretation,
              "RGB")).good ()
      && (cond = ds->putAndInsertUint16 (DCM_PlanarConfiguration, 0)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_Rows, p->height)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_Columns, p->width)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_BitsAllocated, 8)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_BitsStored, 8)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_HighBit, 7)).good ()
      && (cond = ds->putAndInsertUint16 (DCM_PixelRepresentation, 0)).good ()
      && (cond = copy_lossy_compression (image, ds)).good ()
      && (cond = ds->putAndInsertUint8Array (DCM_PixelData, pixels.data (),
              pixels.size ())).good ()))
    return cxr_dicom_fail (error, std::string ("cannot write the picture: ")
        + cond.text ());
  return cxr_dicom_object_bytes (capture, "picture", capture_uid, sop_uid,
      error);
}

extern "C" GBytes *
cxr_dicom_capture_new (GBytes * source, const CxrDicomPicture * picture,
    const CxrDicomFinding * finding, gchar ** sop_instance_uid,
    GError ** error)
{
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    return build (source, picture, finding, sop_instance_uid, error);
  } catch (const std::exception & e) {
    return cxr_dicom_fail (error, std::string ("cannot build the picture: ")
        + e.what ());
  } catch (...) {
    return cxr_dicom_fail (error, "cannot build the picture: the toolkit "
        "failed");
  }
}
