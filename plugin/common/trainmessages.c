/* trainmessages.c — the structures of cxrtrain's element messages
 * (their fields are listed in trainmessages.h). */
#include "trainmessages.h"

#include <math.h>
#include <stdlib.h>

GstStructure *
gst_cxr_train_progress_new (const CxrStepReport * r)
{
  return gst_structure_new ("cxrtrain-progress",
      "member", G_TYPE_INT, r->member,
      "members", G_TYPE_INT, r->members,
      "epoch", G_TYPE_INT, r->epoch,
      "epochs", G_TYPE_INT, r->epochs,
      "step", G_TYPE_INT, r->step,
      "steps-per-epoch", G_TYPE_INT, r->steps_per_epoch,
      "loss", G_TYPE_DOUBLE, r->loss,
      "accuracy", G_TYPE_DOUBLE, r->accuracy,
      "images-per-second", G_TYPE_DOUBLE, r->images_per_second,
      "eta-seconds", G_TYPE_DOUBLE, r->eta_seconds, NULL);
}

GstStructure *
gst_cxr_train_epoch_new (const CxrEpochReport * r)
{
  return gst_structure_new ("cxrtrain-epoch",
      "member", G_TYPE_INT, r->member,
      "members", G_TYPE_INT, r->members,
      "epoch", G_TYPE_INT, r->epoch,
      "epochs", G_TYPE_INT, r->epochs,
      "train-loss", G_TYPE_DOUBLE, r->train_loss,
      "train-accuracy", G_TYPE_DOUBLE, r->train_accuracy,
      "val-loss", G_TYPE_DOUBLE, r->val_loss,
      "val-accuracy", G_TYPE_DOUBLE, r->val_accuracy,
      "val-auc", G_TYPE_DOUBLE, r->val_auc,
      "threshold", G_TYPE_DOUBLE, (gdouble) r->threshold,
      "best", G_TYPE_BOOLEAN, r->is_best, NULL);
}

GstStructure *
gst_cxr_train_checkpoint_new (const gchar * location, gint epoch,
    guint64 step, const CxrModel * model)
{
  return gst_structure_new ("cxrtrain-checkpoint",
      "location", G_TYPE_STRING, location,
      "epoch", G_TYPE_INT, epoch,
      "step", G_TYPE_UINT64, step,
      "model-id", G_TYPE_STRING, model->id, NULL);
}

GstStructure *
gst_cxr_train_done_new (const gchar * location, const CxrModel * model,
    gdouble seconds)
{
  const gchar *best = g_hash_table_lookup (model->provenance, "best_epoch");
  const gchar *auc = g_hash_table_lookup (model->provenance, "val_auc");

  return gst_structure_new ("cxrtrain-done",
      "location", G_TYPE_STRING, location,
      "model-id", G_TYPE_STRING, model->id,
      "members", G_TYPE_INT, model->n_members,
      "best-epoch", G_TYPE_INT, best ? atoi (best) : 0,
      "val-auc", G_TYPE_DOUBLE, auc ? g_ascii_strtod (auc, NULL) : NAN,
      "seconds", G_TYPE_DOUBLE, seconds, NULL);
}

GstStructure *
gst_cxr_train_calibrate_progress_new (gint done, gint total)
{
  return gst_structure_new ("cxrtrain-calibrate-progress",
      "done", G_TYPE_INT, done, "total", G_TYPE_INT, total, NULL);
}

GstStructure *
gst_cxr_train_calibrated_new (const CxrModel * model,
    const CxrCalibrateReport * report)
{
  GHashTable *p = model->provenance;

  return gst_structure_new ("cxrtrain-calibrated",
      "method", G_TYPE_STRING, g_hash_table_lookup (p, "calibration_method"),
      "base-model", G_TYPE_STRING,
      g_hash_table_lookup (p, "calibration_base_model"),
      "images", G_TYPE_INT, report->n,
      "cv-before", G_TYPE_STRING,
      g_hash_table_lookup (p, "calibration_cv_before"),
      "cv-after", G_TYPE_STRING,
      g_hash_table_lookup (p, "calibration_cv_after"),
      "threshold", G_TYPE_FLOAT, model->threshold,
      "threshold-rule", G_TYPE_STRING,
      cxr_site_threshold_name (report->threshold_rule),
      "fine-tune-kept", G_TYPE_BOOLEAN,
      report->used == CXR_CALIBRATE_FINE_TUNE, NULL);
}
