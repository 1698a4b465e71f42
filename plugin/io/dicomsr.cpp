/* The structured report of dicomsr.h, with DCMTK's dcmsr (C++17). */
#include "dicomsr.h"
#include "dicom.h"
#include "dicomfile.h"
#include "number.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/cmr/tid4019.h>

#include <cstring>
#include <exception>
#include <string>

/* the codes of the report (PS3.16; SNOMED CT as DICOM uses it) */
static const DSRCodedEntryValue PNEUMONIA ("233604007", "SCT", "Pneumonia");
static const DSRCodedEntryValue PRESENT ("52101004", "SCT", "Present");
static const DSRCodedEntryValue ABSENT ("2667000", "SCT", "Absent");
static const DSRCodedEntryValue CERTAINTY ("111012", "DCM",
    "Certainty of Finding");
static const DSRCodedEntryValue THRESHOLD ("122411", "DCM",
    "Threshold Value");
static const DSRCodedEntryValue PERCENT ("%", "UCUM", "Percent");
static const DSRCodedEntryValue CHEST_RADIOGRAPHY ("399208008", "SCT",
    "Plain chest X-ray");
static const DSRCodedEntryValue PROCESSING_EQUIPMENT ("109102", "DCM",
    "Processing Equipment");
/* a DICOM decimal string (DS) of a percentage: at most 16 characters */
#define CXR_DICOM_PERCENT "%.4f"

/* a probability as a percentage, a DS value in the C locale */
static OFString
percent (double p)
{
  char text[CXR_NUMBER_SIZE];

  cxr_number (text, CXR_DICOM_PERCENT, 100.0 * p);
  return text;
}

/* the threshold as the UIDs and the algorithm's parameters spell it: six
 * decimals, the C locale's point */
static std::string
threshold_text (const CxrDicomFinding * f)
{
  char text[CXR_NUMBER_SIZE];

  cxr_number (text, "%.6f", f->threshold);
  return text;
}

std::string
cxr_dicom_finding_uid (const char *kind, const CxrDicomSource & image,
    const CxrDicomFinding * f)
{
  return cxr_dicom_derived_uid (kind, {image.instance.c_str (),
          std::to_string (f->frame), f->model_id ? f->model_id : "",
          f->algorithm_version, threshold_text (f)});
}

/* the algorithm as a device, one UID a decision rule: a retrained model
 * (new weights, a new model id), a calibrated one (its own threshold) or
 * another threshold is a new device */
static std::string
device_uid (const CxrDicomFinding * f)
{
  return cxr_dicom_derived_uid ("device", {f->algorithm_name,
          f->algorithm_version, f->model_id ? f->model_id : "",
          threshold_text (f)});
}

/* the image, and its frame when it has several */
static DSRImageReferenceValue
image_reference (const CxrDicomSource & source, guint frame)
{
  DSRImageReferenceValue ref (source.sop_class, source.instance);

  if (frame > 0)
    ref.getFrameList ().addItem (frame);
  return ref;
}

/* TID 4019: the algorithm, its version, and the model and threshold it
 * answered with */
static TID4019_AlgorithmIdentification
algorithm (const CxrDicomFinding * f)
{
  TID4019_AlgorithmIdentification a;
  std::string model = std::string ("model=") + (f->model_id ? f->model_id :
      "");

  a.setIdentification (f->algorithm_name, f->algorithm_version);
  a.addParameter (model.c_str ());
  a.addParameter (("threshold=" + threshold_text (f)).c_str ());
  return a;
}

/* TID 1500 from the film's header and the finding: language, the model as
 * the observing device, the procedure, the film in the image library, a
 * measurement group (TID 1501) of the finding with its algorithm (TID
 * 4019), its certainty and the threshold, and the finding's presence as
 * a qualitative evaluation */
static OFCondition
measurement_report (TID1500_MeasurementReport & report, DcmDataset & image,
    const CxrDicomSource & source, const CxrDicomFinding * f)
{
  typedef TID1500_MeasurementReport::TID1501_Measurements Group;
  OFCondition c;
  std::string tracking = cxr_dicom_derived_uid ("tracking",
      {source.instance.c_str (), std::to_string (f->frame),
          f->model_id ? f->model_id : ""});

  if ((c = report.setLanguage (CID5000_Languages::English)).bad ()
      || (c = report.getObservationContext ().addDeviceObserver (
                  device_uid (f).c_str (), f->algorithm_name, "gst-cxr",
                  f->model_id ? f->model_id : "")).bad ()
      || (c = report.addProcedureReported (
                  CMR_CID100::ImagingProcedure)).bad ()
      || (c = report.getImageLibrary ().createNewImageLibrary ()).bad ()
      || (c = report.getImageLibrary ().addImageGroup ()).bad ()
      || (c = report.getImageLibrary ().addImageEntry (image,
                  TID1600_ImageLibrary::withoutDescriptors)).bad ()
      || (c = report.addIndividualMeasurements ()).bad ())
    return c;
  Group & group = report.getIndividualMeasurements ();
  if ((c = group.setTrackingIdentifier ("gst-cxr pneumonia")).bad ()
      || (c = group.setTrackingUniqueIdentifier (tracking.c_str ())).bad ()
      || (c = group.setFinding (PNEUMONIA)).bad ()
      || (c = group.addMeasurement (CMR_CID7469 (CERTAINTY),
                  Group::MeasurementValue (percent (f->probability),
                      CMR_CID7181 (PERCENT)))).bad ()
      /* the film (and frame) the certainty was inferred from */
      || (c = group.getMeasurement ().addImage (DSRCodedEntryValue ("121112",
                  "DCM", "Source of Measurement"), image_reference (source,
                  f->frame))).bad ()
      || (c = group.addMeasurement (CMR_CID7469 (THRESHOLD),
                  Group::MeasurementValue (percent (f->threshold),
                      CMR_CID7181 (PERCENT)))).bad ()
      || (c = group.gotoRoot () ? EC_Normal : SR_EC_InvalidDocumentTree).bad ()
      || (c = group.insertExtraTemplate (algorithm (f),
                  DSRTypes::AM_belowCurrent, DSRTypes::RT_hasConceptMod)).bad ())
    return c;
  return report.addQualitativeEvaluation (PNEUMONIA, f->positive ? PRESENT :
      ABSENT);
}

/* the algorithm among the equipment that made the object (IHE AIR) */
static OFCondition
contributing_equipment (DcmDataset * ds, const CxrDicomFinding * f)
{
  DcmItem *item = NULL, *purpose = NULL;
  std::string uid = device_uid (f);
  OFCondition c;

  if ((c = ds->findOrCreateSequenceItem (DCM_ContributingEquipmentSequence,
              item, 0)).bad ()
      || (c = item->findOrCreateSequenceItem (
                  DCM_PurposeOfReferenceCodeSequence, purpose, 0)).bad ()
      || (c = PROCESSING_EQUIPMENT.writeSequenceItem (*purpose,
                  DCM_PurposeOfReferenceCodeSequence)).bad ())
    return c;
  if ((c = item->putAndInsertString (DCM_Manufacturer, "gst-cxr")).bad ()
      || (c = item->putAndInsertString (DCM_ManufacturerModelName,
                  f->algorithm_name)).bad ()
      || (c = item->putAndInsertString (DCM_SoftwareVersions,
                  f->algorithm_version)).bad ()
      || (c = item->putAndInsertString (DCM_DeviceUID, uid.c_str ())).bad ())
    return c;
  return EC_Normal;
}

static GBytes *
build (GBytes * header, const CxrDicomFinding * f, gchar ** sop_uid,
    GError ** error)
{
  DcmFileFormat file;
  CxrDicomSource source;
  DcmDataset *image = cxr_dicom_source_read (header, file, source,
      "a report", error);
  if (!image)
    return NULL;
  OFCondition cond;
  const OFString & study = source.study;

  TID1500_MeasurementReport report (CMR_CID7021::ImagingMeasurementReport);
  if ((cond = measurement_report (report, *image, source, f)).bad ())
    return cxr_dicom_fail (error, std::string ("cannot build the measurement "
            "report (TID 1500): ") + cond.text ());

  DSRDocument doc;
  OFString charset;
  /* the patient and study modules as the image has them, in its character
   * set, then a new series (and SOP instance) in that study */
  image->findAndGetOFStringArray (DCM_SpecificCharacterSet, charset);
  /* TID 1500 makes an Enhanced SR; AI results go in a Comprehensive 3D
   * SR (IHE AIR), of which Enhanced is a subset */
  if ((cond = doc.setTreeFromRootTemplate (report, OFTrue)).bad ()
      || (cond = doc.changeDocumentType (DSRTypes::DT_Comprehensive3DSR)).bad ()
      || (!charset.empty ()
          && (cond = doc.setSpecificCharacterSet (charset)).bad ())
      || (cond = doc.readPatientData (*image)).bad ()
      || (cond = doc.readStudyData (*image)).bad ()
      || (cond = doc.createNewSeriesInStudy (study)).bad ())
    return cxr_dicom_fail (error, std::string ("cannot make the report's "
            "document: ") + cond.text ());
  doc.setSeriesDescription ("Chest X-ray classification (gst-cxr)");
  doc.setManufacturer ("gst-cxr");
  doc.setManufacturerModelName (f->algorithm_name);
  doc.setSoftwareVersions (f->algorithm_version);
  doc.setSeriesNumber ("9901");
  doc.setInstanceNumber ("1");
  doc.setCompletionFlagDescription ("Automatic classification, not for "
      "diagnostic use");
  if ((cond = doc.getCurrentRequestedProcedureEvidence ().addItem (study,
              source.series, source.sop_class, source.instance)).bad ())
    return cxr_dicom_fail (error, std::string ("cannot name the film as "
            "evidence: ") + cond.text ());

  DcmFileFormat out;
  DcmDataset *ds = out.getDataset ();
  DcmItem *procedure = NULL;
  /* one series for the model's reports in the study, one report for the
   * frame's answer */
  std::string series_uid = cxr_dicom_derived_uid ("series",
      {study.c_str (), f->model_id ? f->model_id : ""});
  std::string report_uid = cxr_dicom_finding_uid ("report", source, f);
  if ((cond = doc.write (*ds)).bad ()
      || (cond = ds->putAndInsertString (DCM_SeriesInstanceUID,
              series_uid.c_str ())).bad ()
      || (cond = ds->putAndInsertString (DCM_SOPInstanceUID,
              report_uid.c_str ())).bad ()
      || (cond = contributing_equipment (ds, f)).bad ()
      /* the imaging procedure the report is about */
      || (cond = ds->findOrCreateSequenceItem (
              DCM_PerformedProcedureCodeSequence, procedure, 0)).bad ()
      || (cond = CHEST_RADIOGRAPHY.writeSequenceItem (*procedure,
              DCM_PerformedProcedureCodeSequence)).bad ())
    return cxr_dicom_fail (error, std::string ("cannot write the structured "
            "report: ") + cond.text ());
  return cxr_dicom_object_bytes (out, "structured report", report_uid,
      sop_uid, error);
}

extern "C" GBytes *
cxr_dicom_sr_new (GBytes * source, const CxrDicomFinding * finding,
    gchar ** sop_instance_uid, GError ** error)
{
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    return build (source, finding, sop_instance_uid, error);
  } catch (const std::exception & e) {
    return cxr_dicom_fail (error, std::string ("cannot build the structured "
            "report: ") + e.what ());
  } catch (...) {
    return cxr_dicom_fail (error, "cannot build the structured report: the "
        "toolkit failed");
  }
}
