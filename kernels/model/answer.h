/* answer.h — the model's answer on one film, the one rule by which
 * cxrclassify answers a frame and the PACS follower picks what to fetch:
 *
 *   DICOM gate: the source's modality and body part     cxr_gate
 *   film check: blank or saturated                      ┐
 *   forward pass: every member, logits averaged         │ cxr_answer
 *   out-of-distribution score of the pooled features    │
 *   decision: the threshold, or the most probable class ┘ cxr_decide
 *
 * Training's validation and site calibration score cached films through
 * the same forward pass and decide by cxr_decide; the gate, the film check
 * and the out-of-distribution score are for frames from outside. */
#pragma once
#include "classes.h"
#include "ensemble.h"
#include "model.h"

/* Why a film gets no diagnosis; the order of GstCxrAbstainReason. */
typedef enum {
  CXR_REFUSAL_NONE = 0,         /* answered */
  CXR_REFUSAL_MODALITY,         /* DICOM modality not accepted */
  CXR_REFUSAL_BODY_PART,        /* DICOM body part not accepted */
  CXR_REFUSAL_BLANK,            /* a near-constant film */
  CXR_REFUSAL_SATURATED,        /* mostly at the ends of the grey scale */
  CXR_REFUSAL_OUT_OF_DISTRIBUTION,      /* unlike the training films */
} CxrRefusal;

/* chest radiographs: computed and digital radiography */
#define CXR_GATE_MODALITIES "CR,DX"
#define CXR_GATE_BODY_PARTS "CHEST"

/* The DICOM gate: a source's modality and body part against the accepted
 * lists (comma-separated, any case; NULL or "": any). A source that names
 * no modality is not DICOM and passes; one that names no body part passes
 * too, since chest films often leave the tag out. */
CxrRefusal cxr_gate (const char *modalities, const char *body_parts,
    const char *modality, const char *body_part);

/* The class decided from probabilities: with two classes the last one from
 * threshold up, with more the most probable. */
int cxr_decide (const CxrModel *model, const float *probabilities,
    float threshold);

/* What a film runs through: the model, one network per member at batch 1,
 * and room for the pooled features (NULL when the model has no
 * out-of-distribution statistics). */
typedef struct {
  const CxrModel *model;
  CxrNet *const *nets;
  float *features;
} CxrInference;

/* What is asked of an answer. */
typedef struct {
  const char *modalities, *body_parts;  /* the gate's lists */
  const char *modality, *body_part;     /* what the source says; NULL */
  float threshold;              /* the decision threshold */
  float ood_threshold;          /* the out-of-distribution threshold */
} CxrQuestion;

typedef struct {
  CxrRefusal refusal;
  int predicted;                /* the class; 0 when refused */
  /* NAN when refused before the network ran; an out-of-distribution film
   * keeps the network's probabilities */
  float probabilities[CXR_MAX_CLASSES];
  float ood_score;              /* NAN when not scored */
} CxrAnswer;

/* The answer on input, the film at the network's size with values in
 * [0, 1]; input is normalised in place as the model says, so that it holds
 * what the networks saw (for a heatmap after). FALSE with an error only on
 * an engine failure. */
gboolean cxr_answer (const CxrInference *inference, const CxrQuestion *q,
    float *input, CxrAnswer *answer, GError **error);
