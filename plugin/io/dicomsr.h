/* A classifier's answer about one DICOM image as a DICOM Structured Report
 * an AI-results consumer reads (IHE AI Results): a Comprehensive 3D SR whose
 * root is TID 1500 (Measurement Report), built with DCMTK's dcmsr/cmr
 * template classes (C++ in dicomsr.cpp):
 *
 *   language; the model as the observing device (TID 1001/1004);
 *   procedure reported: an imaging procedure (and the header's Performed
 *     Procedure Code: SNOMED CT 399208008, plain chest X-ray);
 *   image library (TID 1600): the film;
 *   imaging measurements, one group (TID 1501): the finding pneumonia
 *     (SNOMED CT 233604007), the algorithm (TID 4019: name, version, the
 *     model id and the threshold as parameters), the certainty of the
 *     finding (DCM 111012, P(PNEUMONIA) in %) inferred from the film (and
 *     frame), and the decision threshold (DCM 122411, in %);
 *   qualitative evaluations: pneumonia present (SNOMED CT 52101004) or
 *     absent (SNOMED CT 2667000).
 *
 * The Contributing Equipment Sequence names the algorithm as processing
 * equipment with a Device UID made from its name, version, model id and
 * threshold: a retrained or recalibrated model is a new device. In the
 * image's study, in a new series, with the patient and study modules
 * copied from the image so that an archive files it with the study.
 *
 * Privacy: the patient's data is copied from the source header into the
 * report and nowhere else; error texts name attributes and toolkit
 * conditions, never values. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gboolean positive;            /* the finding: pneumonia, or no pneumonia */
  gdouble probability;          /* P(PNEUMONIA) */
  gdouble threshold;            /* from which the finding is pneumonia */
  const gchar *model_id;        /* hash of the weights */
  const gchar *algorithm_name, *algorithm_version;
  /* which frame of the image, from 1; 0 for an image of one frame */
  guint frame;
} CxrDicomFinding;

/* The report, as a DICOM file (explicit VR little endian), of finding about
 * the image whose header is source (cxr_dicom_get_header: the image's data
 * set without its pixels). sop_instance_uid, when not NULL, receives the
 * report's SOP Instance UID (free with g_free). The report's UID is made
 * from the image's, the frame, the model id, the algorithm's version and
 * the threshold: the same frame answered the same way gives the same UID,
 * an answer that may differ a new one; one study's reports by one model
 * share a series. NULL + error when the source lacks what a report needs (its Study,
 * Series and SOP Instance UIDs and SOP Class UID) or the toolkit fails. */
GBytes *cxr_dicom_sr_new (GBytes * source, const CxrDicomFinding * finding,
    gchar ** sop_instance_uid, GError ** error);

G_END_DECLS
