/* answer.c — the model's answer on one film (see answer.h). */
#include "answer.h"
#include "ensemble.h"
#include "error.h"
#include "heatmap.h"
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
cxr_answer (CxrAnswerer *answerer, const CxrQuestion *q, CxrAnswer *answer,
    GError **error)
{
  const CxrModel *model = answerer->model;
  float *input = answerer->input;
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
  if (!cxr_model_forward (model, answerer->nets, model->n_members, input,
          logits, error))
    return FALSE;
  if (model->ood && !cxr_model_features (model, answerer->nets,
          model->n_members, answerer->features, error))
    return FALSE;
  cxr_model_probabilities (model, logits, answer->probabilities);
  if (model->ood) {
    answer->ood_score = cxr_feature_score (model->ood, answerer->features);
    if (answer->ood_score > q->ood_threshold)
      return refuse (answer, CXR_REFUSAL_OUT_OF_DISTRIBUTION);
  }
  answer->predicted = cxr_decide (model, answer->probabilities, q->threshold);
  return TRUE;
}

void
cxr_answerer_free (CxrAnswerer *a)
{
  if (!a)
    return;
  for (int k = 0; k < CXR_MAX_MEMBERS; k++) {
    cxr_net_free (a->nets[k]);
    cxr_net_free (a->heat_nets[k]);
  }
  cxr_model_free (a->model);
  g_free (a->input);
  g_free (a->features);
  g_free (a->heatmap);
  g_free (a);
}

/* the members again, in fp32, for their heatmaps */
static gboolean
add_heatmap (CxrAnswerer *a, int max_refine, GError **error)
{
  const CxrNetSpec *spec = a->model->spec;
  int layer = cxr_heatmap_layer (spec);

  if (layer < 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED, "its network "
        "ends in a head a heatmap cannot be taken through; set heatmap=false");
    return FALSE;
  }
  for (int k = 0; k < a->model->n_members; k++) {
    a->heat_nets[k] = cxr_net_new_inference (spec,
        cxr_model_member (a->model, k), 1, CXR_PRECISION_FP32, error);
    if (!a->heat_nets[k])
      return FALSE;
  }
  a->heatmap = g_new (float, spec->layers[layer].out_h *
      spec->layers[layer].out_w * max_refine * max_refine);
  return TRUE;
}

CxrAnswerer *
cxr_answerer_load (const char *path, CxrPrecision precision, int max_refine,
    GError **error)
{
  CxrAnswerer *a;
  const CxrNetSpec *spec;
  CxrModelFile *f = cxr_model_file_read (path, error);

  if (!f)
    return NULL;
  a = g_new0 (CxrAnswerer, 1);
  /* the version read, from the descriptor read through: a path stat'ed
   * apart from the open may name another file by then */
  a->source = f->source;
  a->model = cxr_model_from_file (f, path, error);
  cxr_model_file_free (f);
  if (!a->model) {
    g_free (a);
    return NULL;
  }
  spec = a->model->spec;
  for (int k = 0; k < a->model->n_members; k++) {
    a->nets[k] = cxr_net_new_inference (spec, cxr_model_member (a->model, k),
        1, precision, error);
    if (!a->nets[k]) {
      cxr_answerer_free (a);
      return NULL;
    }
  }
  if (max_refine > 0 && !add_heatmap (a, max_refine, error)) {
    cxr_answerer_free (a);
    return NULL;
  }
  a->input = g_new (float, spec->in_c * spec->in_h * spec->in_w);
  if (a->model->ood)
    a->features = g_new (float, a->model->ood->n_members * a->model->ood->dim);
  return a;
}

gboolean
cxr_answerer_heatmap (CxrAnswerer *a, int refine, GError **error)
{
  return cxr_model_heatmap (a->model, a->heat_nets, a->model->n_members,
      a->input, refine, a->heatmap, error);
}
