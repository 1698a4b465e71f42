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
#include "model.h"
#include "net.h"

#include <sys/stat.h>

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

/* A model ready to answer films one at a time: a network per member at
 * batch 1, room for a film and its pooled features, and for heatmaps fp32
 * copies of the networks and room for the map. */
typedef struct {
  CxrModel *model;
  CxrNet *nets[CXR_MAX_MEMBERS];        /* model->n_members of them */
  float *input;                 /* in_c x in_h x in_w: the film */
  float *features;              /* n_members x pooled features, or NULL */
  CxrNet *heat_nets[CXR_MAX_MEMBERS];   /* with heatmaps, else NULL */
  float *heatmap;               /* with heatmaps: the members' mean map */
  struct stat source;           /* the version of the file it was read from */
} CxrAnswerer;

/* The model in the file at path, its networks built in precision (fp32 for
 * the heatmap's), with room for heatmaps up to max_refine times finer each
 * way (0: no heatmaps). NULL with an error that names the file. */
CxrAnswerer *cxr_answerer_load (const char *path, CxrPrecision precision,
    int max_refine, GError **error);
void cxr_answerer_free (CxrAnswerer *answerer);

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

/* The answer on answerer->input, the film at the network's size with
 * values in [0, 1]; the input is normalised in place as the model says, so
 * that it holds what the networks saw (for a heatmap after). FALSE with an
 * error only on an engine failure. */
gboolean cxr_answer (CxrAnswerer *answerer, const CxrQuestion *q,
    CxrAnswer *answer, GError **error);

/* After an answer: where the networks looked for the last class, in
 * answerer->heatmap (kernels/model/heatmap.h), refine (1 to the max_refine
 * it was loaded with) times finer each way than the feature layer's grid. */
gboolean cxr_answerer_heatmap (CxrAnswerer *answerer, int refine,
    GError **error);
