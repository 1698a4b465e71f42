/* settings.c — the range of each training setting (see settings.h). */
#include "settings.h"
#include "error.h"
#include "number.h"

#include <float.h>
#include <limits.h>
#include <string.h>

#define C(field) offsetof (CxrTrainConfig, field)

static const CxrTrainSetting settings[] = {
  {"epochs", CXR_SETTING_INT, C (epochs), 1, INT_MAX},
  {"batch-size", CXR_SETTING_INT, C (batch_size), 1, 4096},
  {"learning-rate", CXR_SETTING_FLOAT, C (learning_rate), 1e-12, FLT_MAX},
  {"weight-decay", CXR_SETTING_FLOAT, C (weight_decay), 0.0, FLT_MAX},
  /* at least a twentieth of the films is left to train on */
  {"validation-fraction", CXR_SETTING_DOUBLE, C (validation_fraction), 0.0,
      0.95},
  {"label-smoothing", CXR_SETTING_FLOAT, C (label_smoothing), 0.0, 0.5},
  {"rotation", CXR_SETTING_FLOAT, C (augment.rotation_deg), 0.0, 180.0},
  {"shift", CXR_SETTING_FLOAT, C (augment.shift_frac), 0.0, 1.0},
  {"zoom", CXR_SETTING_FLOAT, C (augment.zoom_frac), 0.0, 0.9},
  {"aspect", CXR_SETTING_FLOAT, C (augment.aspect), 0.0, 2.0},
  {"gamma", CXR_SETTING_FLOAT, C (augment.gamma_frac), 0.0, 4.0},
  {"contrast", CXR_SETTING_FLOAT, C (augment.contrast_frac), 0.0, 0.9},
  {"brightness", CXR_SETTING_FLOAT, C (augment.brightness), 0.0, 0.5},
  {"sharpness", CXR_SETTING_FLOAT, C (augment.sharpness), 0.0, 2.0},
  {"patience", CXR_SETTING_INT, C (patience), 0, INT_MAX},
  {"members", CXR_SETTING_INT, C (members), 1, CXR_MAX_MEMBERS},
  {"ood-quantile", CXR_SETTING_DOUBLE, C (ood_quantile), 0.0, 1.0},
  /* a threshold within half of Youden's J of the best is no longer a
   * choice among near-equals */
  {"threshold-tolerance", CXR_SETTING_DOUBLE, C (threshold_tolerance), 0.0,
      0.5},
};

const CxrTrainSetting *
cxr_train_setting (const char *name)
{
  for (size_t i = 0; i < G_N_ELEMENTS (settings); i++)
    if (strcmp (settings[i].name, name) == 0)
      return &settings[i];
  return NULL;
}

static double
value_of (const CxrTrainConfig *cfg, const CxrTrainSetting *s)
{
  const char *at = (const char *) cfg + s->offset;

  switch (s->kind) {
    case CXR_SETTING_INT:
      return *(const int *) at;
    case CXR_SETTING_FLOAT:
      return *(const float *) at;
    default:
      return *(const double *) at;
  }
}

gboolean
cxr_train_config_check (const CxrTrainConfig *cfg, GError **error)
{
  for (size_t i = 0; i < G_N_ELEMENTS (settings); i++) {
    const CxrTrainSetting *s = &settings[i];
    double v = value_of (cfg, s);
    /* a float setting is compared with its limits as floats, as its
     * property is */
    gboolean single = s->kind == CXR_SETTING_FLOAT;
    double min = single ? (float) s->min : s->min;
    double max = single ? (float) s->max : s->max;
    char value[CXR_NUMBER_SIZE], lo[CXR_NUMBER_SIZE], hi[CXR_NUMBER_SIZE];

    /* NaN fails both comparisons */
    if (v >= min && v <= max)
      continue;
    g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
        "%s is %s; it must be from %s to %s", s->name,
        cxr_number (value, "%g", v), cxr_number (lo, "%g", s->min),
        cxr_number (hi, "%g", s->max));
    return FALSE;
  }
  return TRUE;
}
