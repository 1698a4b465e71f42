/* provenance.c — what a model file says of how its weights came to be
 * (see provenance.h). */
#include "provenance.h"
#include "config.h"
#include "number.h"

#include <stdarg.h>

/* Figures that describe the weights they were measured on: new weights
 * make them stale. */
static const char *const validation_keys[] = { "val_auc", "val_accuracy",
  "val_sensitivity", "val_specificity", "val_threshold_best_j", NULL
};

/* what an epoch run took, which an online run does not have */
static const char *const epoch_keys[] = { "best_epoch", "epochs_run", NULL };

void
cxr_provenance_set (CxrModel *model, const char *key, const char *format,
    ...)
{
  va_list args;

  va_start (args, format);
  g_hash_table_replace (model->provenance, g_strdup (key),
      g_strdup_vprintf (format, args));
  va_end (args);
}

void
cxr_provenance_set_figure (CxrModel *model, const char *key, double x)
{
  char b[CXR_NUMBER_SIZE];

  cxr_provenance_set (model, key, "%s", cxr_number (b, CXR_NUMBER_FIGURE, x));
}

void
cxr_provenance_remove (CxrModel *model, const char *key)
{
  g_hash_table_remove (model->provenance, key);
}

void
cxr_provenance_weights_changed (CxrModel *model, gboolean epochs_too)
{
  for (int i = 0; validation_keys[i]; i++)
    cxr_provenance_remove (model, validation_keys[i]);
  for (int i = 0; epochs_too && epoch_keys[i]; i++)
    cxr_provenance_remove (model, epoch_keys[i]);
}

void
cxr_provenance_write_training (CxrModel *model, const CxrTrainRecord *run)
{
  const CxrTrainConfig *cfg = run->cfg;
  const CxrAugmentParams *a = &cfg->augment;
  char b1[CXR_NUMBER_SIZE], b2[CXR_NUMBER_SIZE], b3[CXR_NUMBER_SIZE],
      b4[CXR_NUMBER_SIZE];
  GString *epochs = g_string_new (NULL), *bests = g_string_new (NULL);

  /* one figure per member, in member order: a plain number for one */
  for (int k = 0; k < model->n_members; k++) {
    g_string_append_printf (epochs, "%s%d", k ? "," : "", run->epochs_run[k]);
    g_string_append_printf (bests, "%s%d", k ? "," : "", run->best_epoch[k]);
  }
  cxr_provenance_set (model, "epochs_run", "%s", epochs->str);
  cxr_provenance_set (model, "best_epoch", "%s", bests->str);
  g_string_free (epochs, TRUE);
  g_string_free (bests, TRUE);
  cxr_provenance_set (model, "seed", "%" G_GUINT64_FORMAT, cfg->seed);
  cxr_provenance_set (model, "train_images", "%d", run->n_train);
  cxr_provenance_set (model, "val_images", "%d", run->n_val);
  if (run->validated) {
    cxr_provenance_set_figure (model, "val_auc", run->val_auc);
    cxr_provenance_set_figure (model, "val_accuracy", run->val_accuracy);
    cxr_provenance_set_figure (model, "val_sensitivity",
        run->val_sensitivity);
    cxr_provenance_set_figure (model, "val_specificity",
        run->val_specificity);
    /* for comparing threshold rules without training again */
    cxr_provenance_set_figure (model, "val_threshold_best_j",
        run->val_threshold_best_j);
  } else {
    /* a resumed model's old figures would describe other weights */
    cxr_provenance_weights_changed (model, FALSE);
  }
  if (cfg->threshold_method == CXR_THRESHOLD_SENSITIVITY)
    cxr_provenance_set (model, "threshold_method", "sensitivity:%s",
        cxr_number (b1, CXR_NUMBER_FIGURE, cfg->target_sensitivity));
  else if (cfg->threshold_tolerance > 0)
    cxr_provenance_set (model, "threshold_method", "youden-within:%s",
        cxr_number (b1, CXR_NUMBER_FIGURE, cfg->threshold_tolerance));
  else
    cxr_provenance_set (model, "threshold_method", "youden");
  cxr_provenance_set (model, "learning_rate", "%s",
      cxr_number (b1, CXR_NUMBER_FIGURE, cfg->learning_rate));
  cxr_provenance_set (model, "batch_size", "%d", run->batch);
  if (run->processes > 1)
    cxr_provenance_set (model, "world_size", "%d", run->processes);
  else
    cxr_provenance_remove (model, "world_size");
  cxr_provenance_set (model, "augment",
      "rotation=%s shift=%s zoom=%s aspect=%s",
      cxr_number (b1, CXR_NUMBER_FIGURE, a->rotation_deg),
      cxr_number (b2, CXR_NUMBER_FIGURE, a->shift_frac),
      cxr_number (b3, CXR_NUMBER_FIGURE, a->zoom_frac),
      cxr_number (b4, CXR_NUMBER_FIGURE, a->aspect));
  if (a->gamma_frac > 0 || a->contrast_frac > 0 || a->brightness > 0)
    cxr_provenance_set (model, "augment_intensity",
        "gamma=%s contrast=%s brightness=%s",
        cxr_number (b1, CXR_NUMBER_FIGURE, a->gamma_frac),
        cxr_number (b2, CXR_NUMBER_FIGURE, a->contrast_frac),
        cxr_number (b3, CXR_NUMBER_FIGURE, a->brightness));
  else
    cxr_provenance_remove (model, "augment_intensity");
  if (a->sharpness > 0)
    cxr_provenance_set (model, "augment_sharpness", "%s",
        cxr_number (b1, CXR_NUMBER_FIGURE, a->sharpness));
  else
    cxr_provenance_remove (model, "augment_sharpness");
  if (cfg->label_smoothing > 0)
    cxr_provenance_set (model, "label_smoothing", "%s",
        cxr_number (b1, CXR_NUMBER_FIGURE, cfg->label_smoothing));
  else
    cxr_provenance_remove (model, "label_smoothing");
  cxr_provenance_set (model, "class_weighting", "%s",
      cfg->class_weighting == CXR_CLASS_WEIGHTING_BALANCED ? "balanced" :
      "none");
  cxr_provenance_set (model, "precision", "%s",
      cxr_precision_name (run->precision));
  cxr_provenance_set (model, "train_seconds", "%s",
      cxr_number (b1, CXR_NUMBER_FIGURE, run->seconds));
  cxr_provenance_set (model, "software", "%s", CXR_SOFTWARE);
  cxr_provenance_set (model, "data_fingerprint", "%s", run->fingerprint);
}

