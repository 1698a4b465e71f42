/* The structured report of dicomsr.h, with DCMTK's dcmsr (C++17). */
#include "dicomsr.h"
#include "dicom.h"
#include "dicomfile.h"
#include "number.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cstring>
#include <exception>
#include <string>

/* Codes for which DICOM and SNOMED CT have none gst-cxr could use are in
 * a private coding scheme, as PS3.16 allows ("99" prefix). */
#define PRIVATE_SCHEME "99GSTCXR"
/* a DICOM decimal string (DS): six decimals fit its 16 characters */
#define CXR_DICOM_DECIMAL "%.6f"

static bool
add_text (DSRDocumentTree & tree, const DSRCodedEntryValue & name,
    const std::string & text)
{
  return tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Text,
      name).good ()
      && tree.getCurrentContentItem ().setStringValue (text.c_str ()).good ();
}

static bool
add_number (DSRDocumentTree & tree, const DSRCodedEntryValue & name,
    double value)
{
  char text[CXR_NUMBER_SIZE];

  /* a DS value: at most 16 characters, the C locale's decimal point */
  cxr_number (text, CXR_DICOM_DECIMAL, value);
  return tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Num,
      name).good ()
      && tree.getCurrentContentItem ().setNumericValue (
      DSRNumericMeasurementValue (text,
          DSRCodedEntryValue ("1", "UCUM", "no units"))).good ();
}

std::string
cxr_dicom_finding_uid (const char *kind, const CxrDicomSource & image,
    const CxrDicomFinding * f)
{
  char threshold[CXR_NUMBER_SIZE];

  cxr_number (threshold, CXR_DICOM_DECIMAL, f->threshold);
  return cxr_dicom_derived_uid (kind, {image.instance.c_str (),
          std::to_string (f->frame), f->model_id ? f->model_id : "",
          f->algorithm_version, threshold});
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
  const OFString & instance = source.instance;

  DSRDocument doc (DSRTypes::DT_ComprehensiveSR);
  OFString charset;
  /* the patient and study modules as the image has them, in its character
   * set, then a new series (and SOP instance) in that study */
  image->findAndGetOFStringArray (DCM_SpecificCharacterSet, charset);
  if ((!charset.empty ()
          && (cond = doc.setSpecificCharacterSet (charset)).bad ())
      || (cond = doc.readPatientData (*image)).bad ()
      || (cond = doc.readStudyData (*image)).bad ()
      || (cond = doc.createNewSeriesInStudy (study)).bad ())
    return cxr_dicom_fail (error, std::string ("cannot copy the image's "
            "patient and study modules: ") + cond.text ());
  doc.setSeriesDescription ("Chest X-ray classification (gst-cxr)");
  doc.setManufacturer ("gst-cxr");
  doc.setSoftwareVersions (f->algorithm_version);
  doc.setSeriesNumber ("9901");
  doc.setInstanceNumber ("1");
  doc.setCompletionFlagDescription ("Automatic classification, not for "
      "diagnostic use");

  DSRDocumentTree & tree = doc.getTree ();
  bool ok = tree.addContentItem (DSRTypes::RT_isRoot, DSRTypes::VT_Container,
      DSRCodedEntryValue ("18748-4", "LN", "Diagnostic imaging report")).good ()
      && tree.addChildContentItem (DSRTypes::RT_contains, DSRTypes::VT_Code,
      DSRCodedEntryValue ("121071", "DCM", "Finding")).good ()
      && tree.getCurrentContentItem ().setCodeValue (f->positive ?
      DSRCodedEntryValue ("233604007", "SCT", "Pneumonia") :
      DSRCodedEntryValue ("NOPNEUMONIA", PRIVATE_SCHEME,
          "No pneumonia")).good ()
      && add_number (tree, DSRCodedEntryValue ("PPNEUMONIA", PRIVATE_SCHEME,
          "Probability of pneumonia"), f->probability)
      && add_number (tree, DSRCodedEntryValue ("THRESHOLD", PRIVATE_SCHEME,
          "Decision threshold"), f->threshold)
      && add_text (tree, DSRCodedEntryValue ("111001", "DCM",
          "Algorithm Name"), f->algorithm_name)
      && add_text (tree, DSRCodedEntryValue ("111003", "DCM",
          "Algorithm Version"), f->algorithm_version)
      && add_text (tree, DSRCodedEntryValue ("MODELID", PRIVATE_SCHEME,
          "Model id"), f->model_id ? f->model_id : "")
      && add_text (tree, DSRCodedEntryValue ("121106", "DCM", "Comment"),
      "Not for diagnostic use: an automatic classification of the image, "
      "not reviewed by a radiologist")
      && tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Image,
      DSRCodedEntryValue ("121112", "DCM", "Source of Measurement")).good ()
      && tree.getCurrentContentItem ().setImageReference (
      image_reference (source, f->frame)).good ()
      && doc.getCurrentRequestedProcedureEvidence ().addItem (study,
      source.series, source.sop_class, instance).good ();
  if (!ok)
    return cxr_dicom_fail (error, "cannot build the structured report's "
        "content tree");

  /* the private codes' scheme, named (PS3.3 C.12.1.1.3) */
  if ((cond = doc.getCodingSchemeIdentification ().addItem (PRIVATE_SCHEME,
              "", "gst-cxr codes", "gst-cxr")).bad ())
    return cxr_dicom_fail (error, std::string ("cannot name the coding "
            "scheme: ") + cond.text ());

  DcmFileFormat report;
  DcmDataset *ds = report.getDataset ();
  /* one series for the model's reports in the study, one report for the
   * frame's answer */
  std::string series_uid = cxr_dicom_derived_uid ("series",
      {study.c_str (), f->model_id ? f->model_id : ""});
  std::string report_uid = cxr_dicom_finding_uid ("report", source, f);
  if ((cond = doc.write (*ds)).bad ()
      || (cond = ds->putAndInsertString (DCM_SeriesInstanceUID,
              series_uid.c_str ())).bad ()
      || (cond = ds->putAndInsertString (DCM_SOPInstanceUID,
              report_uid.c_str ())).bad ())
    return cxr_dicom_fail (error, std::string ("cannot write the structured "
            "report: ") + cond.text ());
  return cxr_dicom_object_bytes (report, "structured report", report_uid,
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
