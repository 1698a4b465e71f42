/* trainsettings.h — cxrtrain's properties: every setting of a run in
 * one struct, and one table that maps the properties onto it. A new
 * setting is a field here (its default in gst_cxr_train_settings_init, or
 * in cxr_train_config_init for the training loop's) and a row of the table
 * in trainsettings.c. */
#pragma once
#include <gst/gst.h>
#include "calibrate.h"
#include "preprocess.h"
#include "trainer.h"

G_BEGIN_DECLS

typedef enum {
  GST_CXR_TRAIN_MODE_TRAIN,
  GST_CXR_TRAIN_MODE_CALIBRATE,
  GST_CXR_TRAIN_MODE_FINE_TUNE,
} GstCxrTrainMode;

typedef struct {
  gchar *model;                 /* to start from; NULL: a new one */
  gchar *output;
  gchar *label;                 /* of frames without a label meta */
  gchar *classes;               /* of a new model, comma-separated */
  gchar *architecture;          /* of a new model */
  CxrFilmNormalization film_normalization;      /* of a new model */
  gfloat input_blur;            /* of a new model */
  gboolean member_offsets;      /* of a new ensemble */
  GstCxrTrainMode mode;
  CxrCalibrateConfig calibrate; /* folds and threshold rule */
  CxrTrainConfig train;         /* the training loop's own settings */
  gint threads;
  gboolean online;
  guint replay_size;
  guint max_cached_frames;
  guint progress_interval;      /* the one setting that may change playing */
  guint checkpoint_interval;
} GstCxrTrainSettings;

/* the latest figures of a run, readable as properties */
typedef struct {
  gint epoch;
  guint64 step;
  gdouble loss, accuracy, val_auc, val_accuracy, images_per_second;
  guint64 frames_cached, frames_skipped;
} GstCxrTrainFigures;

void gst_cxr_train_settings_init (GstCxrTrainSettings * s);
void gst_cxr_train_settings_copy (GstCxrTrainSettings * dst,
    const GstCxrTrainSettings * src);
void gst_cxr_train_settings_clear (GstCxrTrainSettings * s);
void gst_cxr_train_figures_init (GstCxrTrainFigures * f);

/* Installs every property of the table as prop_id 1, 2, ... */
void gst_cxr_train_install_properties (GObjectClass * klass);

/* Property prop_id from value into s, or from s or f into value. */
void gst_cxr_train_settings_set (GstCxrTrainSettings * s, guint prop_id,
    const GValue * value);
void gst_cxr_train_settings_get (const GstCxrTrainSettings * s,
    const GstCxrTrainFigures * f, guint prop_id, GValue * value);

/* The model a run with settings s trains: the model file, or a new one;
 * what cannot work (no output, a mode without its base model, a model
 * that is not one square grey channel, a label that is not one of its
 * classes) is a GST_RESOURCE_ERROR that says what to set. label_index:
 * the label property's class, or -1. */
CxrModel *gst_cxr_train_settings_model (const GstCxrTrainSettings * s,
    gint * label_index, GError ** error);

/* The calibration (or fine-tuning) mode= asks for, with the training
 * settings it shares. */
void gst_cxr_train_settings_calibrate_config (const GstCxrTrainSettings * s,
    CxrCalibrateConfig * cc);

G_END_DECLS
