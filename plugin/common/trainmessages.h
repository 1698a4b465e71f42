/* trainmessages.h — the element messages cxrtrain posts, each made
 * in one place from the kernels' reports. Applications read them off the
 * bus by name; every field is listed here.
 *
 *   cxrtrain-progress    member, members, epoch, epochs, step,
 *                        steps-per-epoch, loss, accuracy,
 *                        images-per-second, eta-seconds
 *   cxrtrain-epoch       member, members, epoch, epochs, train-loss,
 *                        train-accuracy, val-loss, val-accuracy, val-auc,
 *                        threshold, best
 *   cxrtrain-checkpoint  location, epoch, step, model-id
 *   cxrtrain-done        location, model-id, members, best-epoch, val-auc,
 *                        seconds
 *   cxrtrain-calibrate-progress  done, total (cross-validation folds)
 *   cxrtrain-calibrated  method, base-model, images, cv-before, cv-after,
 *                        threshold, threshold-rule, fine-tune-kept */
#pragma once
#include <gst/gst.h>
#include "calibrate.h"
#include "trainer.h"

G_BEGIN_DECLS

GstStructure *gst_cxr_train_progress_new (const CxrStepReport * r);
GstStructure *gst_cxr_train_epoch_new (const CxrEpochReport * r);
GstStructure *gst_cxr_train_checkpoint_new (const gchar * location,
    gint epoch, guint64 step, const CxrModel * model);
/* best-epoch and val-auc come from the model's provenance */
GstStructure *gst_cxr_train_done_new (const gchar * location,
    const CxrModel * model, gdouble seconds);
GstStructure *gst_cxr_train_calibrate_progress_new (gint done, gint total);
/* method, base-model and the cross-validated figures come from the
 * calibrated model's provenance */
GstStructure *gst_cxr_train_calibrated_new (const CxrModel * model,
    const CxrCalibrateReport * report);

G_END_DECLS
