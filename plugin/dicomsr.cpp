/* The structured report of dicomsr.h, with DCMTK's dcmsr (C++17). */
#include "dicomsr.h"
#include "dicom.h"
#include "dicomfile.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cstring>
#include <exception>
#include <string>

/* Codes for which DICOM and SNOMED CT have none gst-cxr could use are in
 * a private coding scheme, as PS3.16 allows ("99" prefix). */
#define PRIVATE_SCHEME "99GSTCXR"

static GBytes *
fail (GError ** error, const std::string & msg)
{
  g_set_error_literal (error, CXR_DICOM_ERROR, CXR_DICOM_ERROR_DECODE,
      msg.c_str ());
  return NULL;
}

/* a required UID of the source, or "" */
static OFString
get_uid (DcmItem * ds, const DcmTagKey & key)
{
  OFString v;

  ds->findAndGetOFString (key, v);
  return v;
}

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
  gchar text[G_ASCII_DTOSTR_BUF_SIZE];

  /* a DS value: at most 16 characters, the C locale's decimal point */
  g_ascii_formatd (text, sizeof text, "%.6f", value);
  return tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Num,
      name).good ()
      && tree.getCurrentContentItem ().setNumericValue (
      DSRNumericMeasurementValue (text,
          DSRCodedEntryValue ("1", "UCUM", "no units"))).good ();
}

/* A UID of the "2.25." form (PS3.5 B.2: a 128-bit number in decimal)
 * from a hash of what it names, so that the same report of the same image
 * by the same model always has the same UIDs: an archive that is sent it
 * twice keeps it once. */
static std::string
derived_uid (const char *kind, const OFString & of, const char *model_id)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize length = sizeof digest;
  unsigned __int128 n = 0;
  std::string digits;

  g_checksum_update (sum, (const guchar *) kind, strlen (kind) + 1);
  g_checksum_update (sum, (const guchar *) of.c_str (), of.length () + 1);
  g_checksum_update (sum, (const guchar *) model_id, strlen (model_id));
  g_checksum_get_digest (sum, digest, &length);
  g_checksum_free (sum);
  for (int i = 0; i < 16; i++)
    n = n << 8 | digest[i];
  do {
    digits.insert (digits.begin (), (char) ('0' + (int) (n % 10)));
    n /= 10;
  } while (n > 0);
  return "2.25." + digits;
}

static GBytes *
build (GBytes * source, const CxrDicomFinding * f, gchar ** sop_uid,
    GError ** error)
{
  gsize size;
  const guint8 *data = (const guint8 *) g_bytes_get_data (source, &size);
  DcmInputBufferStream in;
  DcmFileFormat file;

  in.setBuffer (data, size);
  in.setEos ();
  file.transferInit ();
  OFCondition cond = file.read (in, EXS_Unknown);
  file.transferEnd ();
  if (cond.bad ())
    return fail (error, std::string ("cannot read the image's DICOM header: ")
        + cond.text ());
  DcmDataset *image = file.getDataset ();
  OFString study = get_uid (image, DCM_StudyInstanceUID);
  OFString series = get_uid (image, DCM_SeriesInstanceUID);
  OFString sop_class = get_uid (image, DCM_SOPClassUID);
  OFString instance = get_uid (image, DCM_SOPInstanceUID);
  if (study.empty () || series.empty () || sop_class.empty ()
      || instance.empty ())
    return fail (error, "the image has no Study, Series or SOP Instance UID "
        "or no SOP Class UID, so a report cannot refer to it");

  DSRDocument doc (DSRTypes::DT_ComprehensiveSR);
  /* the patient and study modules as the image has them, then a new series
   * (and SOP instance) in that study */
  if ((cond = doc.readPatientData (*image)).bad ()
      || (cond = doc.readStudyData (*image)).bad ()
      || (cond = doc.createNewSeriesInStudy (study)).bad ())
    return fail (error, std::string ("cannot copy the image's patient and "
            "study modules: ") + cond.text ());
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
      DSRCodedEntryValue ("NOPNEUMONIA", PRIVATE_SCHEME, "No pneumonia")).good ()
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
      DSRImageReferenceValue (sop_class, instance)).good ()
      && doc.getCurrentRequestedProcedureEvidence ().addItem (study, series,
      sop_class, instance).good ();
  if (!ok)
    return fail (error, "cannot build the structured report's content tree");

  DcmFileFormat report;
  DcmDataset *ds = report.getDataset ();
  const char *model = f->model_id ? f->model_id : "";
  /* one series for the model's reports in the study, one report for the
   * image */
  std::string series_uid = derived_uid ("series", study, model);
  std::string report_uid = derived_uid ("report", instance, model);
  if ((cond = doc.write (*ds)).bad ()
      || (cond = ds->putAndInsertString (DCM_SeriesInstanceUID,
              series_uid.c_str ())).bad ()
      || (cond = ds->putAndInsertString (DCM_SOPInstanceUID,
              report_uid.c_str ())).bad ())
    return fail (error, std::string ("cannot write the structured report: ")
        + cond.text ());
  GBytes *bytes = cxr_dicom_file_bytes (report, cond);
  if (!bytes)
    return fail (error, std::string ("cannot encode the structured report: ")
        + cond.text ());
  if (sop_uid)
    *sop_uid = g_strdup (report_uid.c_str ());
  return bytes;
}

extern "C" GBytes *
cxr_dicom_sr_new (GBytes * source, const CxrDicomFinding * finding,
    gchar ** sop_instance_uid, GError ** error)
{
  /* a C++ exception into C code (GStreamer's threads) ends the process */
  try {
    return build (source, finding, sop_instance_uid, error);
  } catch (const std::exception & e) {
    return fail (error, std::string ("cannot build the structured report: ")
        + e.what ());
  } catch (...) {
    return fail (error, "cannot build the structured report: the toolkit "
        "failed");
  }
}
