/* answer.c — the model's answer on one film (see answer.h). */
#include "answer.h"
#include "preprocess.h"

#include <math.h>

/* Is value in the comma-separated list? An empty list accepts anything;
 * so does an absent value. */
static gboolean
accepted (const char *list, const char *value)
{
  gchar **items;
  gboolean found = FALSE;

  if (!list || !*list || !value)
    return TRUE;
  items = g_strsplit (list, ",", -1);
  for (int i = 0; items[i] && !found; i++)
    found = g_ascii_strcasecmp (g_strstrip (items[i]), value) == 0;
  g_strfreev (items);
  return found;
}

CxrRefusal
cxr_gate (const char *modalities, const char *body_parts,
    const char *modality, const char *body_part)
{
  /* a DICOM source always says its modality; without one it is not DICOM */
  if (modality && !accepted (modalities, modality))
    return CXR_REFUSAL_MODALITY;
  if (!accepted (body_parts, body_part))
    return CXR_REFUSAL_BODY_PART;
  return CXR_REFUSAL_NONE;
}

int
cxr_decide (const CxrModel *model, const float *probabilities,
    float threshold)
{
  int n = model->spec->n_classes, predicted = 0;

  if (n == 2)
    return probabilities[1] >= threshold ? 1 : 0;
  for (int i = 1; i < n; i++)
    if (probabilities[i] > probabilities[predicted])
      predicted = i;
  return predicted;
}

static gboolean
refuse (CxrAnswer *answer, CxrRefusal refusal)
{
  answer->refusal = refusal;
  answer->predicted = 0;
  return TRUE;
}

gboolean
cxr_answer (const CxrInference *inference, const CxrQuestion *q,
    float *input, CxrAnswer *answer, GError **error)
{
  const CxrModel *model = inference->model;
  const CxrNetSpec *spec = model->spec;
  float logits[CXR_MAX_CLASSES];

  for (int i = 0; i < CXR_MAX_CLASSES; i++)
    answer->probabilities[i] = NAN;
  answer->ood_score = NAN;
  answer->refusal = cxr_gate (q->modalities, q->body_parts, q->modality,
      q->body_part);
  if (answer->refusal != CXR_REFUSAL_NONE)
    return refuse (answer, answer->refusal);
  switch (cxr_film_check (input, (size_t) spec->in_w * spec->in_h)) {
    case CXR_FILM_BLANK:
      return refuse (answer, CXR_REFUSAL_BLANK);
    case CXR_FILM_SATURATED:
      return refuse (answer, CXR_REFUSAL_SATURATED);
    case CXR_FILM_LOOKS_OK:
      break;
  }
  cxr_normalize (input, spec->in_w, spec->in_h, &model->norm);
  /* an ensemble gives one decision from all its networks */
  if (!cxr_model_forward (model, inference->nets, model->n_members, input,
          logits, error))
    return FALSE;
  if (model->ood && !cxr_model_features (model, inference->nets,
          model->n_members, inference->features, error))
    return FALSE;
  cxr_model_probabilities (model, logits, answer->probabilities);
  if (model->ood) {
    answer->ood_score = cxr_feature_score (model->ood, inference->features);
    if (answer->ood_score > q->ood_threshold)
      return refuse (answer, CXR_REFUSAL_OUT_OF_DISTRIBUTION);
  }
  answer->predicted = cxr_decide (model, answer->probabilities, q->threshold);
  return TRUE;
}
