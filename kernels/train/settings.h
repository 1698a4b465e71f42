/* settings.h — the range of each training setting, in one place: the
 * core checks a configuration against it (cxr_train_config_check), and
 * cxrtrain's properties take their limits from it, so that a value one
 * accepts the other does too. Settings are named as cxrtrain's properties
 * are, so that an error names what the user typed. */
#pragma once
#include "trainer.h"

typedef enum {
  CXR_SETTING_INT,
  CXR_SETTING_FLOAT,
  CXR_SETTING_DOUBLE,
} CxrSettingKind;

typedef struct {
  const char *name;             /* cxrtrain's property */
  CxrSettingKind kind;
  size_t offset;                /* in CxrTrainConfig */
  double min, max;              /* allowed: min <= value <= max */
} CxrTrainSetting;

/* The setting called name; NULL when the training core has none of that
 * name (an element's own property). */
const CxrTrainSetting *cxr_train_setting (const char *name);

/* FALSE with a CXR_ERROR_INVALID_ARGUMENT that names the first setting out
 * of its range, its value and the range. */
gboolean cxr_train_config_check (const CxrTrainConfig *cfg, GError **error);
