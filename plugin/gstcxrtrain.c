/* cxrtrain — trains the chest X-ray CNN on the labelled frames that reach it
 * and writes the model file that cxrclassify uses.
 *
 *   gst-launch-1.0 -m cxrdatasetsrc location=chest_xray/train ! \
 *       cxrtrain output=my.safetensors epochs=20
 *   gst-launch-1.0 -m cxrdatasetsrc location=new_cases/ ! \
 *       cxrtrain model=my.safetensors output=tuned.safetensors epochs=5
 *
 * Each frame's class comes from its GstCxrLabelMeta (class name, looked up
 * in the model's classes; the class index only when there is no name), or
 * from the label property for a stream whose frames all show one class.
 * Frames with no usable label are counted (frames-skipped) and skipped; the
 * first of each kind raises a warning message.
 *
 * Epoch mode (the default). The frames are cached, shrunk to the model's
 * input and kept as 16-bit grey levels (CxrDataset: 2 bytes a pixel, not 4),
 * and training starts at EOS: `epochs` passes over the cache with seeded
 * shuffling, augmentation, class weighting, mini-batches, a cosine learning
 * rate schedule and weight decay, a seeded patient-wise validation split
 * scored after every epoch, the best epoch kept, early stopping and the
 * decision threshold chosen on validation (kernels/trainer.h). EOS is
 * passed on only when training is over, so the EOS message means "done".
 *
 * Online mode (online=true), for live streams. Each labelled frame goes into
 * a replay buffer holding the newest replay-size frames; every batch-size new
 * frames, one optimiser step runs on a mini-batch drawn at random from that
 * buffer (augmented, class-weighted over the buffer, constant learning rate).
 * There is no validation: the model keeps its threshold. A checkpoint is
 * written every checkpoint-interval steps and at EOS. The step runs in the
 * streaming thread, so upstream waits for it.
 *
 * Site calibration (mode=calibrate or mode=fine-tune, with model=). The
 * frames, a labelled sample of a site's own films, are cached as in epoch
 * mode; at EOS the base model's decision rule is fitted to them by
 * patient-wise cross-validation (kernels/calibrate.h): calibrate keeps the
 * weights and fits a logit scale and offset and the threshold; fine-tune
 * also moves the weights a little, toward the base, and falls back to
 * calibrate when cross-validation finds it no better. A sample with fewer
 * than 20 films of a class is refused and nothing is written. The result is
 * written once, at the end.
 *
 * Checkpoints. After every epoch the best model so far (weights, threshold
 * and provenance) is written to `output`, and at the end the final model;
 * every write goes to a temporary file that is synced and renamed over
 * `output`, so a crash at any instant leaves the previous complete model
 * there. A cxrclassify playing in the same process (or another) with
 * model=<output> notices each new file and swaps the weights in, posting
 * "model-updated".
 *
 * Training runs in the streaming thread while it handles EOS. A flush, a
 * state change to READY, and also a pause (GstBaseSink unlocks the sink for
 * all three, and none of them can wait for minutes) stop it within a step,
 * with a warning; `output` keeps the best model so far, and model=<output>
 * goes on from there.
 *
 * Divergence (a loss or weight that is not finite) stops training with an
 * error; `output` keeps the last good checkpoint. If training diverges
 * before its first checkpoint and `output` does not exist yet, the model
 * training started from (the `model` file, or the fresh initialisation) is
 * written there, so that `output` is always a loadable model after a run.
 * An existing `output` from an earlier run is left alone in that case.
 *
 * Element messages:
 *   cxrtrain-progress   every progress-interval steps and at the end of
 *                       each epoch: member, members, epoch, epochs, step,
 *                       steps-per-epoch, loss, accuracy, images-per-second,
 *                       eta-seconds (online: epoch 0, step counts all steps,
 *                       eta -1)
 *   cxrtrain-epoch      after each epoch's validation: member, members,
 *                       epoch, epochs, train-loss, train-accuracy, val-loss,
 *                       val-accuracy, val-auc, threshold, best (the member's
 *                       own figures)
 *   cxrtrain-checkpoint location, epoch, step, model-id
 *   cxrtrain-done       location, model-id, members, best-epoch (the first
 *                       member's), val-auc (the whole model's), seconds
 *   cxrtrain-calibrate-progress  done, total (cross-validation fits)
 *   cxrtrain-calibrated method, base-model, images, cv-before, cv-after
 *                       (cross-validated figures, "auc=.. accuracy=.. ..."),
 *                       threshold, threshold-rule, fine-tune-kept
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstcxrtrain.h"
#include "gstcxrelements.h"
#include "gstcxrframe.h"
#include "gst/cxr/cxrmeta.h"
#include "calibrate.h"
#include "error.h"
#include "model.h"
#include "ood.h"
#include "net.h"
#include "optim.h"
#include "preprocess.h"
#include "trainer.h"

#include <gst/video/video.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifndef CXR_VERSION
#define CXR_VERSION "0.1.0"
#endif

GST_DEBUG_CATEGORY_STATIC (cxr_train_debug);
#define GST_CAT_DEFAULT cxr_train_debug

#define GST_TYPE_CXR_CLASS_WEIGHTING (gst_cxr_class_weighting_get_type ())
#define GST_TYPE_CXR_SCHEDULE (gst_cxr_schedule_get_type ())
#define GST_TYPE_CXR_FILM_NORMALIZATION (gst_cxr_film_normalization_get_type ())
#define GST_TYPE_CXR_SITE_THRESHOLD (gst_cxr_site_threshold_get_type ())
#define GST_TYPE_CXR_TRAIN_MODE (gst_cxr_train_mode_get_type ())

typedef enum {
  MODE_TRAIN,
  MODE_CALIBRATE,
  MODE_FINE_TUNE,
} TrainMode;

/* new models take the 124x124 input the project's architectures are made
 * for */
#define NEW_MODEL_SIDE 124

typedef struct _Online Online;

struct _GstCxrTrain {
  GstBaseSink parent;

  /* properties, under the object lock; read in start () */
  gchar *model_path;
  gchar *output;
  gchar *label;
  gchar *classes;
  gchar *architecture;
  CxrFilmNormalization film_normalization;
  gfloat input_blur;
  gboolean member_offsets;
  TrainMode mode;
  gint folds;
  CxrSiteThreshold site_threshold;
  gint epochs;
  gint batch_size;
  gfloat learning_rate;
  gfloat weight_decay;
  gdouble validation_fraction;
  guint64 seed;
  CxrClassWeighting class_weighting;
  CxrSchedule schedule;
  gfloat rotation, shift, zoom, aspect, gamma, contrast, brightness, sharpness;
  gint patience;
  gint members;
  gdouble threshold_tolerance;
  gdouble ood_quantile;
  CxrPrecision precision;
  gint threads;
  gboolean online;
  guint replay_size;
  guint max_cached_frames;
  guint progress_interval;      /* also read while playing */
  guint checkpoint_interval;

  /* the latest figures, under the object lock; kept after stop () so they
   * can be read once the pipeline is done */
  gint epoch;
  guint64 step;
  gdouble loss, accuracy, val_auc, val_accuracy, images_per_second;
  guint64 frames_cached, frames_skipped;

  /* set up in start (), then the streaming thread's */
  gchar *out_path;
  TrainMode run_mode;
  gint run_folds;
  CxrSiteThreshold run_site_threshold;
  CxrTrainConfig cfg;
  gint n_threads;
  CxrModel *model;
  gint label_index;             /* of the label property; -1: none */
  CxrDataset *cache;            /* epoch mode */
  guint cache_limit;            /* frames it may hold */
  Online *live;                 /* online mode */
  float *frame01;               /* in_h x in_w: the frame, in [0, 1] */
  GstVideoInfo info;
  GHashTable *unknown_names;    /* class names warned about already */
  gboolean warned_unlabelled;
  gboolean checkpointed;        /* this run has put a model at out_path */
  gboolean failed;              /* an error is posted: stop */
  gboolean interrupted;         /* training stopped by a flush */
  GTimer *timer;

  /* set by unlock () from any thread: training stops at the next step */
  gint flushing;
};

G_DEFINE_TYPE (GstCxrTrain, gst_cxr_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrtrain, "cxrtrain", GST_RANK_NONE,
    GST_TYPE_CXR_TRAIN);

enum {
  PROP_0,
  PROP_MODEL,
  PROP_OUTPUT,
  PROP_LABEL,
  PROP_CLASSES,
  PROP_ARCHITECTURE,
  PROP_FILM_NORMALIZATION,
  PROP_INPUT_BLUR,
  PROP_MEMBER_OFFSETS,
  PROP_MODE,
  PROP_SITE_THRESHOLD,
  PROP_FOLDS,
  PROP_EPOCHS,
  PROP_BATCH_SIZE,
  PROP_LEARNING_RATE,
  PROP_WEIGHT_DECAY,
  PROP_VALIDATION_FRACTION,
  PROP_SEED,
  PROP_CLASS_WEIGHTING,
  PROP_SCHEDULE,
  PROP_ROTATION,
  PROP_SHIFT,
  PROP_ZOOM,
  PROP_ASPECT,
  PROP_GAMMA,
  PROP_CONTRAST,
  PROP_BRIGHTNESS,
  PROP_SHARPNESS,
  PROP_PATIENCE,
  PROP_MEMBERS,
  PROP_THRESHOLD_TOLERANCE,
  PROP_OOD_QUANTILE,
  PROP_PRECISION,
  PROP_THREADS,
  PROP_ONLINE,
  PROP_REPLAY_SIZE,
  PROP_MAX_CACHED_FRAMES,
  PROP_PROGRESS_INTERVAL,
  PROP_CHECKPOINT_INTERVAL,
  PROP_EPOCH,
  PROP_STEP,
  PROP_LOSS,
  PROP_ACCURACY,
  PROP_VAL_AUC,
  PROP_VAL_ACCURACY,
  PROP_IMAGES_PER_SECOND,
  PROP_FRAMES_CACHED,
  PROP_FRAMES_SKIPPED,
};

#define DEFAULT_CLASSES "NORMAL,PNEUMONIA"
#define DEFAULT_ARCHITECTURE "default"
#define DEFAULT_REPLAY_SIZE 512
/* 3 GB of 124x124 frames at 16 bits: 19 times the official train split */
#define DEFAULT_MAX_CACHED_FRAMES 100000
#define DEFAULT_PROGRESS_INTERVAL 10
#define DEFAULT_CHECKPOINT_INTERVAL 50

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_CXR_VIDEO_FORMATS)));

static GType
gst_cxr_class_weighting_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {CXR_CLASS_WEIGHTING_BALANCED, "Each class counts as much as the others "
          "in the loss, however many images it has", "balanced"},
    {CXR_CLASS_WEIGHTING_NONE, "Every image counts the same", "none"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrTrainClassWeighting", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GType
gst_cxr_schedule_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {CXR_SCHEDULE_COSINE, "Warm-up over the first epoch, then cosine decay "
          "to 0 at the last step", "cosine"},
    {CXR_SCHEDULE_NONE, "Constant learning rate", "constant"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrTrainSchedule", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GType
gst_cxr_site_threshold_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {CXR_SITE_THRESHOLD_YOUDEN, "The best Youden's J on the site's films",
        "youden"},
    {CXR_SITE_THRESHOLD_FEWEST_ERRORS, "0.5 on the calibrated probability: "
          "the fewest errors at the site's mix of classes", "fewest-errors"},
    {CXR_SITE_THRESHOLD_MODEL, "The model's own decisions: its threshold "
          "carried onto the calibrated probabilities", "model"},
    {CXR_SITE_THRESHOLD_AUTO, "Whichever of model, fewest-errors and youden "
          "has the best cross-validated accuracy", "auto"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrTrainSiteThreshold", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GType
gst_cxr_film_normalization_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {CXR_FILM_NONE, "The film's grey values as they are", "none"},
    {CXR_FILM_EQUALIZE, "Histogram equalisation of each film", "equalize"},
    {CXR_FILM_PERCENTILE, "Each film's 1st to 99th percentile stretched "
          "to 0..1", "percentile"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrTrainFilmNormalization", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GType
gst_cxr_train_mode_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    {MODE_TRAIN, "Train the network (from model=, or a new one)", "train"},
    {MODE_CALIBRATE, "Keep model='s weights; fit its logit scale and offset "
          "and its threshold to the frames (a site's labelled films)",
        "calibrate"},
    {MODE_FINE_TUNE, "Also move model='s weights a little toward the "
          "frames; calibrate instead when cross-validation finds that no "
          "better", "fine-tune"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstCxrTrainMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void
post (GstCxrTrain * self, GstStructure * s)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Writes the model to output, atomically (cxr_model_save), and says so. */
static gboolean
save_model (GstCxrTrain * self, CxrModel * model)
{
  GError *error = NULL;

  if (!cxr_model_save (model, self->out_path, &error)) {
    /* the cause (a full disk, a read-only folder) is in the message; the
     * model already there is left as it was */
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Cannot write the model (%s). Check that the folder exists, is "
            "writable and has room; a model already at '%s' is unchanged.",
            error->message, self->out_path), (NULL));
    g_error_free (error);
    self->failed = TRUE;
    return FALSE;
  }
  self->checkpointed = TRUE;
  return TRUE;
}

static void
post_checkpoint (GstCxrTrain * self, const CxrModel * model, gint epoch,
    guint64 step)
{
  GST_INFO_OBJECT (self, "checkpoint %s written to %s", model->id,
      self->out_path);
  post (self, gst_structure_new ("cxrtrain-checkpoint",
          "location", G_TYPE_STRING, self->out_path,
          "epoch", G_TYPE_INT, epoch,
          "step", G_TYPE_UINT64, step,
          "model-id", G_TYPE_STRING, model->id, NULL));
}

static void
post_done (GstCxrTrain * self)
{
  const gchar *best = g_hash_table_lookup (self->model->provenance,
      "best_epoch");
  const gchar *auc = g_hash_table_lookup (self->model->provenance, "val_auc");

  post (self, gst_structure_new ("cxrtrain-done",
          "location", G_TYPE_STRING, self->out_path,
          "model-id", G_TYPE_STRING, self->model->id,
          "members", G_TYPE_INT, self->model->n_members,
          "best-epoch", G_TYPE_INT, best ? atoi (best) : 0,
          "val-auc", G_TYPE_DOUBLE, auc ? g_ascii_strtod (auc, NULL) : NAN,
          "seconds", G_TYPE_DOUBLE, g_timer_elapsed (self->timer, NULL),
          NULL));
}

/* the figures a step brings, for the readable properties and the message */
static void
report_step (GstCxrTrain * self, gint member, gint members, gint epoch,
    gint epochs, gint step, gint steps_per_epoch, gdouble loss,
    gdouble accuracy, gdouble ips, gdouble eta, gboolean message)
{
  GST_OBJECT_LOCK (self);
  self->epoch = epoch;
  self->step++;
  self->loss = loss;
  self->accuracy = accuracy;
  self->images_per_second = ips;
  GST_OBJECT_UNLOCK (self);
  if (message)
    post (self, gst_structure_new ("cxrtrain-progress",
            "member", G_TYPE_INT, member,
            "members", G_TYPE_INT, members,
            "epoch", G_TYPE_INT, epoch,
            "epochs", G_TYPE_INT, epochs,
            "step", G_TYPE_INT, step,
            "steps-per-epoch", G_TYPE_INT, steps_per_epoch,
            "loss", G_TYPE_DOUBLE, loss,
            "accuracy", G_TYPE_DOUBLE, accuracy,
            "images-per-second", G_TYPE_DOUBLE, ips,
            "eta-seconds", G_TYPE_DOUBLE, eta, NULL));
}

static guint
progress_interval (GstCxrTrain * self)
{
  guint interval;

  GST_OBJECT_LOCK (self);
  interval = self->progress_interval;
  GST_OBJECT_UNLOCK (self);
  return interval;
}

/* ---- epoch mode: cxr_train's callbacks ---- */

/* called after every step (step_interval 1), so that a flush stops
 * training within one step */
static gboolean
on_step (const CxrStepReport * r, void *user)
{
  GstCxrTrain *self = user;
  guint interval = progress_interval (self);

  report_step (self, r->member, r->members, r->epoch, r->epochs, r->step,
      r->steps_per_epoch,
      r->loss, r->accuracy, r->images_per_second, r->eta_seconds,
      r->step % interval == 0 || r->step == r->steps_per_epoch);
  if (g_atomic_int_get (&self->flushing)) {
    GST_INFO_OBJECT (self, "flushing: training stops at epoch %d step %d",
        r->epoch, r->step);
    self->interrupted = TRUE;
  }
  return !self->interrupted && !self->failed;
}

static gboolean
on_epoch (const CxrEpochReport * r, void *user)
{
  GstCxrTrain *self = user;

  GST_INFO_OBJECT (self, "member %d/%d epoch %d/%d: loss %.4f, val loss "
      "%.4f, val AUC %.4f%s", r->member, r->members, r->epoch, r->epochs,
      r->train_loss, r->val_loss, r->val_auc, r->is_best ? " (best)" : "");
  GST_OBJECT_LOCK (self);
  self->val_auc = r->val_auc;
  self->val_accuracy = r->val_accuracy;
  GST_OBJECT_UNLOCK (self);
  post (self, gst_structure_new ("cxrtrain-epoch",
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
          "best", G_TYPE_BOOLEAN, r->is_best, NULL));
  if (g_atomic_int_get (&self->flushing))
    self->interrupted = TRUE;
  return !self->interrupted && !self->failed;
}

static void
on_checkpoint (const CxrModel * best, void *user)
{
  GstCxrTrain *self = user;
  gint epoch;
  guint64 step;

  if (self->failed)
    return;
  /* the model is valid during the call only, and saving does not change
   * it; the cast is for cxr_model_save's signature */
  if (!save_model (self, (CxrModel *) best))
    return;
  GST_OBJECT_LOCK (self);
  epoch = self->epoch;
  step = self->step;
  GST_OBJECT_UNLOCK (self);
  post_checkpoint (self, best, epoch, step);
}

/* Both modes stop the same way; debug says where. */
static void
post_diverged (GstCxrTrain * self, const gchar * debug)
{
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("Training diverged: the loss or the weights stopped being finite "
          "numbers. '%s' keeps the last good model. Lower learning-rate "
          "(now %g).", self->out_path, self->cfg.learning_rate),
      ("%s", debug));
}

/* cxr_train failed: say why, and make sure output holds a usable model */
static void
training_failed (GstCxrTrain * self, const GError * error)
{
  gboolean diverged = strstr (error->message, "diverged") != NULL;

  if (!diverged) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training failed: %s.",
            error->message), (NULL));
    return;
  }
  /* before the first checkpoint, the last good model is the one training
   * started from, which cxr_train has put back */
  if (!self->checkpointed
      && !g_file_test (self->out_path, G_FILE_TEST_EXISTS)) {
    GError *e = NULL;
    if (!cxr_model_save (self->model, self->out_path, &e)) {
      GST_WARNING_OBJECT (self, "cannot write the starting model: %s",
          e->message);
      g_error_free (e);
    }
  }
  post_diverged (self, error->message);
}

/* At EOS: every epoch, then the final model. FALSE when EOS must not go
 * on: an error is posted, or the element is shutting down. */
static gboolean
train_epochs (GstCxrTrain * self)
{
  CxrTrainCallbacks cb = { on_step, on_epoch, on_checkpoint, 1 };
  GError *error = NULL;
  guint64 skipped;

  GST_OBJECT_LOCK (self);
  skipped = self->frames_skipped;
  GST_OBJECT_UNLOCK (self);
  if (self->cache->n == 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("No labelled frames to train on (%" G_GUINT64_FORMAT " frames "
            "without a usable label). Attach a GstCxrLabelMeta to each frame "
            "(cxrdatasetsrc does) or set label= to the class of the stream.",
            skipped), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "training on %d cached frames (%" G_GUINT64_FORMAT
      " skipped), %d epochs", self->cache->n, skipped, self->cfg.epochs);

  if (self->n_threads > 0)
    omp_set_num_threads (self->n_threads);
  g_timer_start (self->timer);
  if (!cxr_train (self->model, self->cache, &self->cfg, &cb, self, &error)) {
    training_failed (self, error);
    g_error_free (error);
    return FALSE;
  }
  if (self->failed)
    return FALSE;
  if (self->interrupted) {
    /* GstBaseSink unlocks the sink for a flush, for READY and also for
     * PAUSED; training cannot hold any of them for minutes, so it stops */
    gint epoch;
    GST_OBJECT_LOCK (self);
    epoch = self->epoch;
    GST_OBJECT_UNLOCK (self);
    if (self->checkpointed)
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("Training stopped in epoch %d of %d because the pipeline was "
              "paused, stopped or flushed. '%s' holds the best model so far; "
              "to go on, train again with model= set to it.", epoch,
              self->cfg.epochs, self->out_path), (NULL));
    else
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("Training stopped in its first epoch because the pipeline was "
              "paused, stopped or flushed; '%s' was not written.",
              self->out_path), (NULL));
    return FALSE;
  }
  /* the best epoch's weights with the provenance of the whole run */
  if (!save_model (self, self->model))
    return FALSE;
  post_done (self);
  return TRUE;
}

/* ---- site calibration ---- */

static void
on_calibrate_progress (int done, int total, void *user)
{
  GstCxrTrain *self = user;

  post (self, gst_structure_new ("cxrtrain-calibrate-progress",
          "done", G_TYPE_INT, done, "total", G_TYPE_INT, total, NULL));
}

/* a flush or a state change stops fine-tuning as it stops training */
static gboolean
calibrate_should_stop (void *user)
{
  GstCxrTrain *self = user;

  if (g_atomic_int_get (&self->flushing))
    self->interrupted = TRUE;
  return self->interrupted;
}

/* At EOS in mode calibrate or fine-tune: the fit, then the model, once */
static gboolean
calibrate_site (GstCxrTrain * self)
{
  CxrCalibrateConfig cc;
  CxrCalibrateReport report;
  GError *error = NULL;
  const gchar *cv_before, *cv_after;

  cxr_calibrate_config_init (&cc);
  cc.method = self->run_mode == MODE_FINE_TUNE ? CXR_CALIBRATE_FINE_TUNE :
      CXR_CALIBRATE_PLATT;
  cc.folds = self->run_folds;
  cc.threshold_rule = self->run_site_threshold;
  /* fine-tuning keeps calibrate's few gentle epochs; the rest as set */
  cc.train.seed = self->cfg.seed;
  cc.train.batch_size = self->cfg.batch_size;
  cc.train.augment = self->cfg.augment;
  cc.train.class_weighting = self->cfg.class_weighting;
  cc.train.precision = self->cfg.precision;
  cc.on_progress = on_calibrate_progress;
  cc.should_stop = calibrate_should_stop;
  cc.user = self;
  if (self->n_threads > 0)
    omp_set_num_threads (self->n_threads);
  g_timer_start (self->timer);
  GST_INFO_OBJECT (self, "calibrating %s on %d frames", self->model->id,
      self->cache->n);
  if (!cxr_calibrate (self->model, self->cache, &cc, &report, &error)) {
    if (g_error_matches (error, CXR_ERROR, CXR_ERROR_CANCELLED))
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Calibration stopped "
              "because the pipeline was paused, stopped or flushed; nothing "
              "was written to '%s'.", self->out_path), (NULL));
    else
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot calibrate: %s. "
            "Nothing was written to '%s'.", error->message, self->out_path),
        (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!save_model (self, self->model))
    return FALSE;
  cv_before = g_hash_table_lookup (self->model->provenance,
      "calibration_cv_before");
  cv_after = g_hash_table_lookup (self->model->provenance,
      "calibration_cv_after");
  post (self, gst_structure_new ("cxrtrain-calibrated",
          "method", G_TYPE_STRING, g_hash_table_lookup (self->model->provenance,
              "calibration_method"),
          "base-model", G_TYPE_STRING, g_hash_table_lookup
          (self->model->provenance, "calibration_base_model"),
          "images", G_TYPE_INT, report.n,
          "cv-before", G_TYPE_STRING, cv_before,
          "cv-after", G_TYPE_STRING, cv_after,
          "threshold", G_TYPE_FLOAT, self->model->threshold,
          "threshold-rule", G_TYPE_STRING,
          cxr_site_threshold_name (report.threshold_rule),
          "fine-tune-kept", G_TYPE_BOOLEAN,
          report.used == CXR_CALIBRATE_FINE_TUNE, NULL));
  post_done (self);
  return TRUE;
}

/* ---- online mode ---- */

struct _Online {
  CxrNet *net;
  CxrOptimizer *opt;
  int batch;
  int capacity;                 /* frames the replay buffer holds */
  int count;                    /* frames in it, up to capacity */
  int head;                     /* where the next frame goes */
  int fresh;                    /* frames added since the last step */
  size_t px;                    /* side x side */
  guint16 *ring;                /* capacity x side x side, v * 65535 */
  int *ring_labels;             /* capacity: class index */
  int *pick;                    /* capacity: indices to draw a batch from */
  int *labels;                  /* batch */
  float *block;                 /* the float buffers below, in one piece */
  float *grads;                 /* n_floats, bound to the net */
  float *good;                  /* n_floats: the weights before the step */
  float *input;                 /* batch x 1 x side x side, normalised */
  float *scratch;               /* batch x side x side, in [0, 1] */
  float *weights;               /* batch: loss weight of each sample */
  float *logits;                /* batch x n_outputs */
  CxrRng rng;
  guint checkpoint_interval;    /* steps between checkpoints */
  guint64 steps;
  guint64 checkpoint_step;      /* steps at the last checkpoint */
  double loss_sum;              /* since the last progress message */
  int64_t correct, seen;
};

static void
online_free (Online * o)
{
  if (!o)
    return;
  if (o->net)
    cxr_net_free (o->net);
  cxr_optimizer_free (o->opt);
  g_free (o->ring);
  g_free (o->ring_labels);
  g_free (o->pick);
  g_free (o->labels);
  g_free (o->block);
  g_free (o);
}

static Online *
online_new (CxrModel * model, const CxrTrainConfig * cfg, guint replay_size,
    GError ** error)
{
  const CxrNetSpec *spec = model->spec;
  Online *o = g_new0 (Online, 1);
  size_t n = spec->n_floats;

  /* the weights will move from what the statistics of a resumed model's
   * features describe; online training fits none */
  cxr_feature_stats_free (model->ood);
  model->ood = NULL;
  o->batch = cfg->batch_size;
  o->capacity = MAX ((int) replay_size, o->batch);
  o->px = (size_t) spec->in_h * spec->in_w;
  o->ring = g_try_new (guint16, o->capacity * o->px);
  o->ring_labels = g_new (int, o->capacity);
  o->pick = g_new (int, o->capacity);
  o->labels = g_new (int, o->batch);
  o->block = g_try_new (float, 2 * n + 2 * o->batch * o->px + o->batch
      + o->batch * spec->n_outputs);
  if (!o->ring || !o->block) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "cannot allocate a replay buffer of %d frames", o->capacity);
    online_free (o);
    return NULL;
  }
  o->grads = o->block;
  o->good = o->grads + n;
  o->input = o->good + n;
  o->scratch = o->input + o->batch * o->px;
  o->weights = o->scratch + o->batch * o->px;
  o->logits = o->weights + o->batch;
  o->net = cxr_net_new_training (spec, model->params, o->grads, o->batch,
      cfg->precision, error);
  if (!o->net) {
    online_free (o);
    return NULL;
  }
  o->opt = cxr_optimizer_new (spec, cfg->optimizer, cfg->learning_rate,
      cfg->weight_decay);
  cxr_rng_init (&o->rng, cfg->seed);
  return o;
}

static void
online_provenance (GstCxrTrain * self)
{
  static const gchar *stale[] = { "val_auc", "val_accuracy",
    "val_sensitivity", "val_specificity", "best_epoch", "epochs_run", NULL
  };
  GHashTable *p = self->model->provenance;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* figures of an earlier epoch run would describe other weights */
  for (int i = 0; stale[i]; i++)
    g_hash_table_remove (p, stale[i]);
  g_hash_table_replace (p, g_strdup ("training"), g_strdup ("online"));
  g_hash_table_replace (p, g_strdup ("online_steps"),
      g_strdup_printf ("%" G_GUINT64_FORMAT, self->live->steps));
  g_hash_table_replace (p, g_strdup ("learning_rate"),
      g_strdup (g_ascii_formatd (buf, sizeof buf, "%.6g",
              self->cfg.learning_rate)));
  g_hash_table_replace (p, g_strdup ("batch_size"),
      g_strdup_printf ("%d", self->live->batch));
  g_hash_table_replace (p, g_strdup ("replay_size"),
      g_strdup_printf ("%d", self->live->capacity));
  g_hash_table_replace (p, g_strdup ("seed"),
      g_strdup_printf ("%" G_GUINT64_FORMAT, self->cfg.seed));
  g_hash_table_replace (p, g_strdup ("precision"),
      g_strdup (cxr_precision_name (cxr_net_precision (self->live->net))));
  g_hash_table_replace (p, g_strdup ("software"),
      g_strdup ("gst-cxr " CXR_VERSION));
}

static gboolean
online_checkpoint (GstCxrTrain * self)
{
  Online *o = self->live;

  online_provenance (self);
  cxr_model_update_id (self->model);
  if (!save_model (self, self->model))
    return FALSE;
  o->checkpoint_step = o->steps;
  post_checkpoint (self, self->model, 0, o->steps);
  return TRUE;
}

/* One optimiser step on batch frames drawn from the replay buffer. */
static gboolean
online_step (GstCxrTrain * self)
{
  Online *o = self->live;
  CxrModel *model = self->model;
  const CxrNetSpec *spec = model->spec;
  int counts[CXR_MAX_CLASSES] = { 0 };
  guint interval;
  float loss;
  double elapsed;
  gchar *debug;
  GError *error = NULL;

  /* balanced weights over what the buffer holds now */
  for (int i = 0; i < o->count; i++)
    counts[o->ring_labels[i]]++;

  /* batch distinct frames: a partial Fisher-Yates shuffle */
  for (int i = 0; i < o->count; i++)
    o->pick[i] = i;
  for (int j = 0; j < o->batch; j++) {
    int k = j + (int) cxr_rng_below (&o->rng, (uint32_t) (o->count - j));
    int t = o->pick[j], slot;
    const guint16 *src;
    float *x = o->input + j * o->px;

    o->pick[j] = o->pick[k];
    o->pick[k] = t;
    slot = o->pick[j];
    src = o->ring + slot * o->px;
    for (size_t i = 0; i < o->px; i++)
      o->scratch[j * o->px + i] = src[i] * (1.0f / 65535.0f);
    cxr_augment (o->scratch + j * o->px, x, spec->in_w, spec->in_h,
        &self->cfg.augment, &o->rng);
    /* the model's normalisation, as cxr_preprocess applies it */
    cxr_normalize (x, spec->in_w, spec->in_h, &model->norm);
    o->labels[j] = o->ring_labels[slot];
    o->weights[j] =
        self->cfg.class_weighting == CXR_CLASS_WEIGHTING_BALANCED ?
        (float) o->count / (float) (spec->n_classes * counts[o->labels[j]]) :
        1.0f;
  }

  /* the weights before the step are the last good ones if it diverges */
  memcpy (o->good, model->params, spec->n_floats * sizeof (float));
  loss = cxr_net_forward_backward (o->net, o->input, o->labels, o->weights,
      cxr_rng_next (&o->rng), o->logits, &error);
  if (error) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training failed: %s.",
            error->message), (NULL));
    g_error_free (error);
    self->failed = TRUE;
    return FALSE;
  }
  if (isfinite (loss))
    cxr_optimizer_step (o->opt, model->params, o->grads);
  for (size_t i = 0; isfinite (loss) && i < spec->n_floats; i++)
    if (!isfinite (model->params[i]))
      loss = NAN;
  if (!isfinite (loss)) {
    memcpy (model->params, o->good, spec->n_floats * sizeof (float));
    cxr_model_update_id (model);
    if (!self->checkpointed
        && !g_file_test (self->out_path, G_FILE_TEST_EXISTS))
      cxr_model_save (model, self->out_path, NULL);
    debug = g_strdup_printf ("online step %" G_GUINT64_FORMAT " (%s)",
        o->steps + 1, isnan (loss) ? "loss or a weight is NaN" : "infinite");
    post_diverged (self, debug);
    g_free (debug);
    self->failed = TRUE;
    return FALSE;
  }

  o->steps++;
  o->loss_sum += loss;
  for (int j = 0; j < o->batch; j++) {
    const float *z = o->logits + j * spec->n_outputs;
    int predicted = 0;
    if (spec->output == CXR_OUTPUT_SIGMOID)
      predicted = z[0] >= 0.0f;
    else
      for (int c = 1; c < spec->n_outputs; c++)
        if (z[c] > z[predicted])
          predicted = c;
    o->correct += predicted == o->labels[j];
  }
  o->seen += o->batch;

  interval = progress_interval (self);
  elapsed = g_timer_elapsed (self->timer, NULL);
  report_step (self, 1, 1, 0, 0, (gint) o->steps, 0,
      o->loss_sum * o->batch / o->seen, (double) o->correct / o->seen,
      o->steps * o->batch / MAX (elapsed, 1e-9), -1.0,
      o->steps % interval == 0);
  /* the figures describe the steps since the last message */
  if (o->steps % interval == 0)
    o->loss_sum = o->correct = o->seen = 0;

  if (o->steps % o->checkpoint_interval == 0)
    return online_checkpoint (self);
  return TRUE;
}

static gboolean
online_add (GstCxrTrain * self, const float *image01, int label)
{
  Online *o = self->live;
  guint16 *dst = o->ring + o->head * o->px;

  /* the same 16-bit quantisation as the epoch cache */
  for (size_t i = 0; i < o->px; i++) {
    float v = image01[i];
    v = !(v > 0.0f) ? 0.0f : v > 1.0f ? 1.0f : v;
    dst[i] = (guint16) (v * 65535.0f + 0.5f);
  }
  o->ring_labels[o->head] = label;
  o->head = (o->head + 1) % o->capacity;
  o->count = MIN (o->count + 1, o->capacity);
  if (++o->fresh < o->batch)
    return TRUE;
  o->fresh = 0;
  if (self->n_threads > 0)
    omp_set_num_threads (self->n_threads);
  return online_step (self);
}

/* At EOS: the weights since the last checkpoint. */
static gboolean
online_finish (GstCxrTrain * self)
{
  Online *o = self->live;

  if (o->steps == 0) {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("The stream ended before one training step: online training needs "
            "batch-size (%d) labelled frames per step. '%s' was not written.",
            o->batch, self->out_path), (NULL));
    return TRUE;
  }
  if (o->steps != o->checkpoint_step && !online_checkpoint (self))
    return FALSE;
  post_done (self);
  return TRUE;
}

/* ---- the element ---- */

/* the model training starts from: the model file, or a new one */
static CxrModel *
starting_model (GstCxrTrain * self, const gchar * model_path,
    const gchar * classes, const gchar * architecture,
    CxrFilmNormalization film, gfloat blur, gboolean member_offsets)
{
  GError *error = NULL;
  CxrModel *model;
  const gchar *spec;
  gchar **names;

  if (model_path) {
    model = cxr_model_load (model_path, &error);
    if (!model) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Cannot start training from model '%s': %s", model_path,
              error->message), (NULL));
      g_error_free (error);
      return NULL;
    }
    /* the chain of models, for whoever reads the provenance */
    g_hash_table_replace (model->provenance, g_strdup ("parent_model"),
        g_strdup (model->id));
    GST_INFO_OBJECT (self, "resuming from %s (%s)", model_path, model->id);
    return model;
  }

  spec = !g_strcmp0 (architecture, "default") ? CXR_SPEC_DEFAULT :
      !g_strcmp0 (architecture, "seed") ? CXR_SPEC_SEED : architecture;
  names = g_strsplit (classes ? classes : "", ",", -1);
  for (int i = 0; names[i]; i++)
    g_strstrip (names[i]);
  model = cxr_model_new (spec, 1, NEW_MODEL_SIDE, NEW_MODEL_SIDE,
      (const char *const *) names, self->cfg.seed, &error);
  if (!model) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot make a new model with architecture '%s' and classes '%s': "
            "%s. Set architecture= to default, seed or a layer spec, and "
            "classes= to as many names as it has outputs.", architecture,
            classes, error->message), (NULL));
    g_error_free (error);
  } else {
    model->norm.film = film;
    model->norm.blur = blur;
    if (member_offsets && self->cfg.members > 1)
      cxr_model_set_member_offsets (model);
  }
  g_strfreev (names);
  return model;
}

static gboolean
gst_cxr_train_start (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);
  gchar *model_path, *classes, *architecture, *label;
  CxrTrainConfig *cfg = &self->cfg;
  CxrFilmNormalization film;
  gfloat blur;
  gboolean online, member_offsets;
  guint replay_size, checkpoint_interval;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  if (!self->output) {
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Set output= to where the trained model should be written."),
        (NULL));
    return FALSE;
  }
  self->out_path = g_strdup (self->output);
  model_path = g_strdup (self->model_path);
  classes = g_strdup (self->classes);
  architecture = g_strdup (self->architecture);
  film = self->film_normalization;
  blur = self->input_blur;
  member_offsets = self->member_offsets;
  self->run_mode = self->mode;
  self->run_folds = self->folds;
  self->run_site_threshold = self->site_threshold;
  label = g_strdup (self->label);
  cxr_train_config_init (cfg);
  cfg->epochs = self->epochs;
  cfg->batch_size = self->batch_size;
  cfg->learning_rate = self->learning_rate;
  cfg->weight_decay = self->weight_decay;
  cfg->validation_fraction = self->validation_fraction;
  cfg->seed = self->seed;
  cfg->class_weighting = self->class_weighting;
  cfg->schedule = self->schedule;
  cfg->augment.rotation_deg = self->rotation;
  cfg->augment.shift_frac = self->shift;
  cfg->augment.zoom_frac = self->zoom;
  cfg->augment.aspect = self->aspect;
  cfg->augment.gamma_frac = self->gamma;
  cfg->augment.contrast_frac = self->contrast;
  cfg->augment.brightness = self->brightness;
  cfg->augment.sharpness = self->sharpness;
  cfg->patience = self->patience;
  cfg->members = self->members;
  cfg->threshold_tolerance = self->threshold_tolerance;
  cfg->ood_quantile = self->ood_quantile;
  cfg->precision = self->precision;
  self->n_threads = self->threads;
  online = self->online;
  replay_size = self->replay_size;
  self->cache_limit = self->max_cached_frames;
  checkpoint_interval = self->checkpoint_interval;
  /* the figures of a new run */
  self->epoch = 0;
  self->step = 0;
  self->loss = self->accuracy = NAN;
  self->val_auc = self->val_accuracy = NAN;
  self->images_per_second = 0.0;
  self->frames_cached = self->frames_skipped = 0;
  GST_OBJECT_UNLOCK (self);

  if (self->run_mode != MODE_TRAIN && (!model_path || online)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("mode=%s fits an existing model to a site's films: set model= to "
            "the base model%s.", self->run_mode == MODE_CALIBRATE ?
            "calibrate" : "fine-tune", online ? " and leave online= false" :
            ""), (NULL));
    goto fail;
  }
  self->model = starting_model (self, model_path, classes, architecture,
      film, blur, member_offsets);
  if (!self->model)
    goto fail;
  if (self->model->spec->in_c != 1
      || self->model->spec->in_h != self->model->spec->in_w) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' takes %dx%dx%d input; cxrtrain trains models with one "
            "square grey channel.", model_path, self->model->spec->in_c,
            self->model->spec->in_h, self->model->spec->in_w), (NULL));
    goto fail;
  }
  self->label_index = -1;
  if (label) {
    self->label_index = cxr_model_class_index (self->model, label);
    if (self->label_index < 0) {
      gchar *known = g_strjoinv (", ", self->model->classes);
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("label '%s' is not one of the model's classes (%s).", label,
              known), (NULL));
      g_free (known);
      goto fail;
    }
  }

  if (online) {
    if (cfg->members > 1 || self->model->n_members > 1) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Online training updates a single network; it cannot train an "
              "ensemble (members=%d, the model has %d).", cfg->members,
              self->model->n_members), (NULL));
      goto fail;
    }
    /* batch-norm needs two samples to have a variance */
    if (cfg->batch_size < 2) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Online training needs batch-size of at least 2."), (NULL));
      goto fail;
    }
    self->live = online_new (self->model, cfg, replay_size, &error);
    if (!self->live) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot set up online training: %s", error->message), (NULL));
      g_error_free (error);
      goto fail;
    }
    self->live->checkpoint_interval = checkpoint_interval;
  } else {
    self->cache = cxr_dataset_new (self->model->spec->in_h);
  }
  self->frame01 = g_new (float, self->model->spec->in_h *
      self->model->spec->in_w);
  self->unknown_names = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  self->warned_unlabelled = FALSE;
  self->checkpointed = self->failed = self->interrupted = FALSE;
  gst_video_info_init (&self->info);
  g_atomic_int_set (&self->flushing, 0);
  g_timer_start (self->timer);

  g_free (model_path);
  g_free (classes);
  g_free (architecture);
  g_free (label);
  return TRUE;

fail:
  cxr_model_free (self->model);
  self->model = NULL;
  g_free (model_path);
  g_free (classes);
  g_free (architecture);
  g_free (label);
  return FALSE;
}

static gboolean
gst_cxr_train_stop (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  online_free (self->live);
  self->live = NULL;
  cxr_dataset_free (self->cache);
  self->cache = NULL;
  cxr_model_free (self->model);
  self->model = NULL;
  g_free (self->frame01);
  self->frame01 = NULL;
  g_free (self->out_path);
  self->out_path = NULL;
  if (self->unknown_names)
    g_hash_table_unref (self->unknown_names);
  self->unknown_names = NULL;
  return TRUE;
}

/* Training runs in the streaming thread inside the EOS handler; a flush or
 * a state change to READY comes here first, and the next step stops. */
static gboolean
gst_cxr_train_unlock (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  g_atomic_int_set (&self->flushing, 1);
  return TRUE;
}

static gboolean
gst_cxr_train_unlock_stop (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  g_atomic_int_set (&self->flushing, 0);
  return TRUE;
}

static gboolean
gst_cxr_train_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  self->info = info;
  return TRUE;
}

static void
skip_frame (GstCxrTrain * self, const gchar * unknown_name)
{
  GST_OBJECT_LOCK (self);
  self->frames_skipped++;
  GST_OBJECT_UNLOCK (self);

  /* once per kind: a whole unlabelled stream must not flood the bus */
  if (unknown_name) {
    if (g_hash_table_contains (self->unknown_names, unknown_name))
      return;
    g_hash_table_add (self->unknown_names, g_strdup (unknown_name));
    gchar *known = g_strjoinv (", ", self->model->classes);
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Skipping frames labelled '%s': the model's classes are %s.",
            unknown_name, known), (NULL));
    g_free (known);
  } else if (!self->warned_unlabelled) {
    self->warned_unlabelled = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Skipping frames without a label. Attach a GstCxrLabelMeta "
            "(cxrdatasetsrc does) or set label= to the class of the stream."),
        (NULL));
  }
}

/* The class index of a frame, or -1 (counted and skipped). */
static gint
label_of (GstCxrTrain * self, GstBuffer * buf, const gchar ** source)
{
  GstCxrLabelMeta *meta = gst_buffer_get_cxr_label_meta (buf);

  *source = NULL;
  if (meta) {
    *source = meta->source;
    if (meta->class_name) {
      gint index = cxr_model_class_index (self->model, meta->class_name);
      if (index < 0)
        skip_frame (self, meta->class_name);
      return index;
    }
    if (meta->class_index >= 0
        && meta->class_index < self->model->spec->n_classes)
      return meta->class_index;
  }
  if (self->label_index >= 0)
    return self->label_index;
  skip_frame (self, NULL);
  return -1;
}

static GstFlowReturn
gst_cxr_train_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);
  const CxrNetSpec *spec = self->model->spec;
  /* the cache holds [0, 1]; the model's normalisation comes at each step */
  const CxrNormalization unit = { 0.0f, 1.0f, CXR_FILM_NONE, 0.0f };
  const gchar *source;
  GError *error = NULL;
  gint label;

  if (self->failed)
    return GST_FLOW_ERROR;
  label = label_of (self, buf, &source);
  if (label < 0)
    return GST_FLOW_OK;
  if (!gst_cxr_frame_to_input (buf, &self->info, &unit, spec->in_w,
          spec->in_h, self->frame01, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }

  if (self->live) {
    if (!online_add (self, self->frame01, label))
      return GST_FLOW_ERROR;
  } else if ((guint) self->cache->n >= self->cache_limit) {
    /* a live source would otherwise fill the memory */
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Epoch-mode training keeps every frame until the end of the stream, "
            "and %u frames are cached already: set max-cached-frames higher, "
            "or train a live stream with online=true.", self->cache_limit),
        (NULL));
    return GST_FLOW_ERROR;
  } else if (!cxr_dataset_add (self->cache, self->frame01, label, source)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Not enough memory to cache frame %d for training: set "
            "max-cached-frames lower, or train with online=true.",
            self->cache->n + 1), (NULL));
    return GST_FLOW_ERROR;
  }
  GST_OBJECT_LOCK (self);
  self->frames_cached++;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

static gboolean
gst_cxr_train_event (GstBaseSink * sink, GstEvent * event)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  /* train before EOS goes on, so that the EOS message means the model is
   * written; a failed or interrupted run ends the stream with an error,
   * not an EOS */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    gboolean ok = !self->failed
        && (self->live ? online_finish (self) : self->run_mode != MODE_TRAIN ?
        calibrate_site (self) : train_epochs (self));
    if (!ok) {
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS (gst_cxr_train_parent_class)->event (sink, event);
}

static void
gst_cxr_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_OUTPUT:
      g_free (self->output);
      self->output = g_value_dup_string (value);
      break;
    case PROP_LABEL:
      g_free (self->label);
      self->label = g_value_dup_string (value);
      break;
    case PROP_CLASSES:
      g_free (self->classes);
      self->classes = g_value_dup_string (value);
      break;
    case PROP_ARCHITECTURE:
      g_free (self->architecture);
      self->architecture = g_value_dup_string (value);
      break;
    case PROP_FILM_NORMALIZATION:
      self->film_normalization = g_value_get_enum (value);
      break;
    case PROP_INPUT_BLUR:
      self->input_blur = g_value_get_float (value);
      break;
    case PROP_MEMBER_OFFSETS:
      self->member_offsets = g_value_get_boolean (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_SITE_THRESHOLD:
      self->site_threshold = g_value_get_enum (value);
      break;
    case PROP_FOLDS:
      self->folds = g_value_get_int (value);
      break;
    case PROP_EPOCHS:
      self->epochs = g_value_get_int (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_int (value);
      break;
    case PROP_LEARNING_RATE:
      self->learning_rate = g_value_get_float (value);
      break;
    case PROP_WEIGHT_DECAY:
      self->weight_decay = g_value_get_float (value);
      break;
    case PROP_VALIDATION_FRACTION:
      self->validation_fraction = g_value_get_double (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_CLASS_WEIGHTING:
      self->class_weighting = g_value_get_enum (value);
      break;
    case PROP_SCHEDULE:
      self->schedule = g_value_get_enum (value);
      break;
    case PROP_ROTATION:
      self->rotation = g_value_get_float (value);
      break;
    case PROP_SHIFT:
      self->shift = g_value_get_float (value);
      break;
    case PROP_ZOOM:
      self->zoom = g_value_get_float (value);
      break;
    case PROP_ASPECT:
      self->aspect = g_value_get_float (value);
      break;
    case PROP_GAMMA:
      self->gamma = g_value_get_float (value);
      break;
    case PROP_CONTRAST:
      self->contrast = g_value_get_float (value);
      break;
    case PROP_BRIGHTNESS:
      self->brightness = g_value_get_float (value);
      break;
    case PROP_SHARPNESS:
      self->sharpness = g_value_get_float (value);
      break;
    case PROP_PATIENCE:
      self->patience = g_value_get_int (value);
      break;
    case PROP_MEMBERS:
      self->members = g_value_get_int (value);
      break;
    case PROP_THRESHOLD_TOLERANCE:
      self->threshold_tolerance = g_value_get_double (value);
      break;
    case PROP_OOD_QUANTILE:
      self->ood_quantile = g_value_get_double (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_ONLINE:
      self->online = g_value_get_boolean (value);
      break;
    case PROP_REPLAY_SIZE:
      self->replay_size = g_value_get_uint (value);
      break;
    case PROP_MAX_CACHED_FRAMES:
      self->max_cached_frames = g_value_get_uint (value);
      break;
    case PROP_PROGRESS_INTERVAL:
      self->progress_interval = g_value_get_uint (value);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      self->checkpoint_interval = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_train_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_OUTPUT:
      g_value_set_string (value, self->output);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_CLASSES:
      g_value_set_string (value, self->classes);
      break;
    case PROP_ARCHITECTURE:
      g_value_set_string (value, self->architecture);
      break;
    case PROP_FILM_NORMALIZATION:
      g_value_set_enum (value, self->film_normalization);
      break;
    case PROP_INPUT_BLUR:
      g_value_set_float (value, self->input_blur);
      break;
    case PROP_MEMBER_OFFSETS:
      g_value_set_boolean (value, self->member_offsets);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_SITE_THRESHOLD:
      g_value_set_enum (value, self->site_threshold);
      break;
    case PROP_FOLDS:
      g_value_set_int (value, self->folds);
      break;
    case PROP_EPOCHS:
      g_value_set_int (value, self->epochs);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_int (value, self->batch_size);
      break;
    case PROP_LEARNING_RATE:
      g_value_set_float (value, self->learning_rate);
      break;
    case PROP_WEIGHT_DECAY:
      g_value_set_float (value, self->weight_decay);
      break;
    case PROP_VALIDATION_FRACTION:
      g_value_set_double (value, self->validation_fraction);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_CLASS_WEIGHTING:
      g_value_set_enum (value, self->class_weighting);
      break;
    case PROP_SCHEDULE:
      g_value_set_enum (value, self->schedule);
      break;
    case PROP_ROTATION:
      g_value_set_float (value, self->rotation);
      break;
    case PROP_SHIFT:
      g_value_set_float (value, self->shift);
      break;
    case PROP_ZOOM:
      g_value_set_float (value, self->zoom);
      break;
    case PROP_ASPECT:
      g_value_set_float (value, self->aspect);
      break;
    case PROP_GAMMA:
      g_value_set_float (value, self->gamma);
      break;
    case PROP_CONTRAST:
      g_value_set_float (value, self->contrast);
      break;
    case PROP_BRIGHTNESS:
      g_value_set_float (value, self->brightness);
      break;
    case PROP_SHARPNESS:
      g_value_set_float (value, self->sharpness);
      break;
    case PROP_PATIENCE:
      g_value_set_int (value, self->patience);
      break;
    case PROP_MEMBERS:
      g_value_set_int (value, self->members);
      break;
    case PROP_THRESHOLD_TOLERANCE:
      g_value_set_double (value, self->threshold_tolerance);
      break;
    case PROP_OOD_QUANTILE:
      g_value_set_double (value, self->ood_quantile);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    case PROP_REPLAY_SIZE:
      g_value_set_uint (value, self->replay_size);
      break;
    case PROP_MAX_CACHED_FRAMES:
      g_value_set_uint (value, self->max_cached_frames);
      break;
    case PROP_PROGRESS_INTERVAL:
      g_value_set_uint (value, self->progress_interval);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      g_value_set_uint (value, self->checkpoint_interval);
      break;
    case PROP_EPOCH:
      g_value_set_int (value, self->epoch);
      break;
    case PROP_STEP:
      g_value_set_uint64 (value, self->step);
      break;
    case PROP_LOSS:
      g_value_set_double (value, self->loss);
      break;
    case PROP_ACCURACY:
      g_value_set_double (value, self->accuracy);
      break;
    case PROP_VAL_AUC:
      g_value_set_double (value, self->val_auc);
      break;
    case PROP_VAL_ACCURACY:
      g_value_set_double (value, self->val_accuracy);
      break;
    case PROP_IMAGES_PER_SECOND:
      g_value_set_double (value, self->images_per_second);
      break;
    case PROP_FRAMES_CACHED:
      g_value_set_uint64 (value, self->frames_cached);
      break;
    case PROP_FRAMES_SKIPPED:
      g_value_set_uint64 (value, self->frames_skipped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_train_finalize (GObject * object)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  g_free (self->model_path);
  g_free (self->output);
  g_free (self->label);
  g_free (self->classes);
  g_free (self->architecture);
  g_timer_destroy (self->timer);
  G_OBJECT_CLASS (gst_cxr_train_parent_class)->finalize (object);
}

/* read-only figures */
static GParamSpec *
figure (const gchar * name, const gchar * nick, const gchar * blurb)
{
  return g_param_spec_double (name, nick, blurb, -G_MAXDOUBLE, G_MAXDOUBLE,
      0.0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
gst_cxr_train_class_init (GstCxrTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);
  CxrTrainConfig d;
  const GParamFlags rw_ready = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  /* the property defaults are the training loop's */
  cxr_train_config_init (&d);

  gobject_class->set_property = gst_cxr_train_set_property;
  gobject_class->get_property = gst_cxr_train_get_property;
  gobject_class->finalize = gst_cxr_train_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model file to start from (resume or fine-tune); its architecture "
          "and classes are kept. Unset: a new model (architecture, classes)",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_OUTPUT,
      g_param_spec_string ("output", "Output",
          "Where the trained model is written (safetensors), after every "
          "epoch and at the end; each write replaces the file atomically",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_LABEL,
      g_param_spec_string ("label", "Label",
          "Class name of frames that carry no label meta (a stream whose "
          "frames all show one class)", NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes",
          "Comma-separated class names of a new model, the positive class "
          "last; ignored with model=", DEFAULT_CLASSES, rw_ready));
  g_object_class_install_property (gobject_class, PROP_ARCHITECTURE,
      g_param_spec_string ("architecture", "Architecture",
          "Network of a new model: \"default\", \"seed\" (the seed "
          "notebook's) or a layer spec such as \"conv:16,same,bn relu "
          "maxpool:2 gap dense:1 sigmoid\"; ignored with model=",
          DEFAULT_ARCHITECTURE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_FILM_NORMALIZATION,
      g_param_spec_enum ("film-normalization", "Film normalization",
          "Per-film intensity normalisation of a new model, before its mean "
          "and std; kept in the model file, so cxrclassify applies it too. "
          "Ignored with model=", GST_TYPE_CXR_FILM_NORMALIZATION,
          CXR_FILM_NONE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_INPUT_BLUR,
      g_param_spec_float ("input-blur", "Input blur",
          "Sigma in pixels of a Gaussian low-pass of a new model's input, "
          "after the film normalisation (0: none); kept in the model file, "
          "so cxrclassify applies it too. Ignored with model=", 0.0f,
          CXR_MAX_INPUT_BLUR, 0.0f, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MEMBER_OFFSETS,
      g_param_spec_boolean ("member-offsets", "Member offsets",
          "Where the ensemble is used (its validation figures and threshold, "
          "cxrclassify), each member sees the film moved by half a pixel "
          "towards a different diagonal, so that their average varies less "
          "with where the film's detail falls on the pixel grid; kept in "
          "the model file. New models with members > 1; ignored with model=",
          FALSE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "train: train the network. calibrate, fine-tune: fit model= to a "
          "site's labelled films (at least 20 of each class), judged by "
          "patient-wise cross-validation; written once, at the end",
          GST_TYPE_CXR_TRAIN_MODE, MODE_TRAIN, rw_ready));
  g_object_class_install_property (gobject_class, PROP_SITE_THRESHOLD,
      g_param_spec_enum ("site-threshold", "Site threshold",
          "calibrate, fine-tune: how the threshold is set on the site's "
          "calibrated probabilities", GST_TYPE_CXR_SITE_THRESHOLD,
          CXR_SITE_THRESHOLD_AUTO, rw_ready));
  g_object_class_install_property (gobject_class, PROP_FOLDS,
      g_param_spec_int ("folds", "Folds",
          "calibrate, fine-tune: patient-wise cross-validation folds", 2,
          CXR_MAX_FOLDS, 5, rw_ready));
  g_object_class_install_property (gobject_class, PROP_EPOCHS,
      g_param_spec_int ("epochs", "Epochs",
          "Passes over the cached frames", 1, G_MAXINT, d.epochs, rw_ready));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size",
          "Frames per optimiser step", 1, 4096, d.batch_size, rw_ready));
  g_object_class_install_property (gobject_class, PROP_LEARNING_RATE,
      g_param_spec_float ("learning-rate", "Learning rate",
          "Peak learning rate of AdamW", 1e-12f, G_MAXFLOAT, d.learning_rate,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_WEIGHT_DECAY,
      g_param_spec_float ("weight-decay", "Weight decay",
          "Decoupled weight decay of AdamW (weights only)", 0.0f, G_MAXFLOAT,
          d.weight_decay, rw_ready));
  g_object_class_install_property (gobject_class, PROP_VALIDATION_FRACTION,
      g_param_spec_double ("validation-fraction", "Validation fraction",
          "Part of the frames held out to score each epoch, patient by "
          "patient when file names carry patient ids; 0: no validation (the "
          "last epoch is kept, threshold 0.5)", 0.0, 0.95,
          d.validation_fraction, rw_ready));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of everything random: initial weights, split, shuffling, "
          "augmentation, dropout", 0, G_MAXUINT64, d.seed, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CLASS_WEIGHTING,
      g_param_spec_enum ("class-weighting", "Class weighting",
          "Weight of each class in the loss", GST_TYPE_CXR_CLASS_WEIGHTING,
          d.class_weighting, rw_ready));
  g_object_class_install_property (gobject_class, PROP_SCHEDULE,
      g_param_spec_enum ("schedule", "Schedule",
          "Learning rate over the run (online mode: always constant)",
          GST_TYPE_CXR_SCHEDULE, d.schedule, rw_ready));
  g_object_class_install_property (gobject_class, PROP_ROTATION,
      g_param_spec_float ("rotation", "Rotation",
          "Augmentation: random rotation up to this many degrees", 0.0f,
          180.0f, d.augment.rotation_deg, rw_ready));
  g_object_class_install_property (gobject_class, PROP_SHIFT,
      g_param_spec_float ("shift", "Shift",
          "Augmentation: random shift up to this fraction of the size", 0.0f,
          1.0f, d.augment.shift_frac, rw_ready));
  g_object_class_install_property (gobject_class, PROP_ZOOM,
      g_param_spec_float ("zoom", "Zoom",
          "Augmentation: random zoom by up to this fraction", 0.0f, 0.9f,
          d.augment.zoom_frac, rw_ready));
  g_object_class_install_property (gobject_class, PROP_ASPECT,
      g_param_spec_float ("aspect", "Aspect",
          "Augmentation: random stretch of width against height, by a "
          "factor between 1 / (1 + a) and 1 + a (films of other shapes, "
          "squashed to a square)", 0.0f, 2.0f, d.augment.aspect, rw_ready));
  g_object_class_install_property (gobject_class, PROP_GAMMA,
      g_param_spec_float ("gamma", "Gamma",
          "Augmentation: random gamma between 1 / (1 + g) and 1 + g "
          "(other exposures and processing)", 0.0f, 4.0f,
          d.augment.gamma_frac, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CONTRAST,
      g_param_spec_float ("contrast", "Contrast",
          "Augmentation: random contrast about mid-grey by up to this "
          "fraction", 0.0f, 0.9f, d.augment.contrast_frac, rw_ready));
  g_object_class_install_property (gobject_class, PROP_BRIGHTNESS,
      g_param_spec_float ("brightness", "Brightness",
          "Augmentation: random brightness offset up to this (grey levels "
          "as a fraction of full scale)", 0.0f, 0.5f, d.augment.brightness,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_SHARPNESS,
      g_param_spec_float ("sharpness", "Sharpness",
          "Augmentation: random blur (down to a 3x3 binomial blur) or "
          "unsharp-mask sharpening by up to this amount (films of other "
          "resolutions and edge enhancement)", 0.0f, 2.0f,
          d.augment.sharpness, rw_ready));
  g_object_class_install_property (gobject_class, PROP_PATIENCE,
      g_param_spec_int ("patience", "Patience",
          "Stop after this many epochs without a better validation (each "
          "ensemble member on its own); 0: never", 0, G_MAXINT, d.patience,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_MEMBERS,
      g_param_spec_int ("members", "Members",
          "Train an ensemble of this many networks, one after the other, "
          "each from its own seed on the same split; cxrclassify averages "
          "their logits. The run takes this many times as long. A model= "
          "with more members trains them all", 1, CXR_MAX_MEMBERS,
          d.members, rw_ready));
  g_object_class_install_property (gobject_class, PROP_OOD_QUANTILE,
      g_param_spec_double ("ood-quantile", "Out-of-distribution quantile",
          "When training ends, the statistics of the training films' "
          "features are kept in the model, and cxrclassify refuses frames "
          "scoring above this quantile of the validation films' scores "
          "(0: no statistics are fitted)", 0.0, 1.0, d.ood_quantile,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD_TOLERANCE,
      g_param_spec_double ("threshold-tolerance", "Threshold tolerance",
          "The decision threshold is the highest one whose validation "
          "Youden's J (sensitivity + specificity - 1) is within this of the "
          "best; 0: the best J. A margin for data on which the first class "
          "scores higher than in validation", 0.0, 0.5,
          d.threshold_tolerance, rw_ready));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Arithmetic of training (validation always runs in fp32)",
          GST_TYPE_CXR_PRECISION, d.precision, rw_ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads for training; 0: all cores (or OMP_NUM_THREADS)", 0,
          1024, 0, rw_ready));
  g_object_class_install_property (gobject_class, PROP_ONLINE,
      g_param_spec_boolean ("online", "Online",
          "Live stream: step the optimiser every batch-size new frames on a "
          "mini-batch from a replay buffer, instead of epochs at EOS", FALSE,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_REPLAY_SIZE,
      g_param_spec_uint ("replay-size", "Replay size",
          "Online mode: the newest frames kept to draw mini-batches from", 2,
          1 << 20, DEFAULT_REPLAY_SIZE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MAX_CACHED_FRAMES,
      g_param_spec_uint ("max-cached-frames", "Max cached frames",
          "Epoch mode: the most labelled frames kept for training (each "
          "takes 2 bytes a pixel at the model's input size); more is an "
          "error", 1, G_MAXINT, DEFAULT_MAX_CACHED_FRAMES, rw_ready));
  g_object_class_install_property (gobject_class, PROP_PROGRESS_INTERVAL,
      g_param_spec_uint ("progress-interval", "Progress interval",
          "Steps between \"cxrtrain-progress\" messages (each epoch's last "
          "step always has one)", 1, G_MAXUINT, DEFAULT_PROGRESS_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_uint ("checkpoint-interval", "Checkpoint interval",
          "Online mode: steps between checkpoints (epoch mode writes one "
          "every epoch)", 1, G_MAXUINT, DEFAULT_CHECKPOINT_INTERVAL,
          rw_ready));

  g_object_class_install_property (gobject_class, PROP_EPOCH,
      g_param_spec_int ("epoch", "Epoch", "Epoch in progress (from 1; 0 "
          "online)", 0, G_MAXINT, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STEP,
      g_param_spec_uint64 ("step", "Step", "Optimiser steps taken in this "
          "run, all epochs together", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_LOSS,
      figure ("loss", "Loss", "Training loss, running mean over the epoch "
          "(online: since the last progress message); NaN before training"));
  g_object_class_install_property (gobject_class, PROP_ACCURACY,
      figure ("accuracy", "Accuracy", "Training accuracy at 0.5, like loss"));
  g_object_class_install_property (gobject_class, PROP_VAL_AUC,
      figure ("val-auc", "Validation AUC", "ROC AUC of the last class on "
          "validation, latest epoch; NaN without validation"));
  g_object_class_install_property (gobject_class, PROP_VAL_ACCURACY,
      figure ("val-accuracy", "Validation accuracy", "Accuracy at 0.5 on "
          "validation, latest epoch; NaN without validation"));
  g_object_class_install_property (gobject_class, PROP_IMAGES_PER_SECOND,
      figure ("images-per-second", "Images per second", "Training images "
          "per second since training started"));
  g_object_class_install_property (gobject_class, PROP_FRAMES_CACHED,
      g_param_spec_uint64 ("frames-cached", "Frames cached", "Labelled "
          "frames taken in (epoch mode: cached for training)", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64 ("frames-skipped", "Frames skipped", "Frames "
          "without a usable label (none, or a class the model lacks)", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray CNN trainer", "Sink/Analyzer/Video",
      "Trains the chest X-ray classifier on labelled frames (epochs at EOS, "
      "or online) and writes checkpoints that cxrclassify picks up",
      "The gst-cxr authors");

  sink_class->start = GST_DEBUG_FUNCPTR (gst_cxr_train_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_train_stop);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_cxr_train_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_cxr_train_unlock_stop);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_cxr_train_set_caps);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_cxr_train_event);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_cxr_train_render);

  gst_type_mark_as_plugin_api (GST_TYPE_CXR_PRECISION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CXR_CLASS_WEIGHTING, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CXR_SCHEDULE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CXR_FILM_NORMALIZATION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CXR_SITE_THRESHOLD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CXR_TRAIN_MODE, 0);
  GST_DEBUG_CATEGORY_INIT (cxr_train_debug, "cxrtrain", 0,
      "chest X-ray CNN trainer");
}

static void
gst_cxr_train_init (GstCxrTrain * self)
{
  CxrTrainConfig d;

  cxr_train_config_init (&d);
  self->classes = g_strdup (DEFAULT_CLASSES);
  self->architecture = g_strdup (DEFAULT_ARCHITECTURE);
  self->mode = MODE_TRAIN;
  self->folds = 5;
  self->site_threshold = CXR_SITE_THRESHOLD_AUTO;
  self->epochs = d.epochs;
  self->batch_size = d.batch_size;
  self->learning_rate = d.learning_rate;
  self->weight_decay = d.weight_decay;
  self->validation_fraction = d.validation_fraction;
  self->seed = d.seed;
  self->class_weighting = d.class_weighting;
  self->schedule = d.schedule;
  self->rotation = d.augment.rotation_deg;
  self->shift = d.augment.shift_frac;
  self->zoom = d.augment.zoom_frac;
  self->aspect = d.augment.aspect;
  self->gamma = d.augment.gamma_frac;
  self->contrast = d.augment.contrast_frac;
  self->brightness = d.augment.brightness;
  self->sharpness = d.augment.sharpness;
  self->patience = d.patience;
  self->members = d.members;
  self->threshold_tolerance = d.threshold_tolerance;
  self->ood_quantile = d.ood_quantile;
  self->precision = d.precision;
  self->replay_size = DEFAULT_REPLAY_SIZE;
  self->max_cached_frames = DEFAULT_MAX_CACHED_FRAMES;
  self->progress_interval = DEFAULT_PROGRESS_INTERVAL;
  self->checkpoint_interval = DEFAULT_CHECKPOINT_INTERVAL;
  self->loss = self->accuracy = self->val_auc = self->val_accuracy = NAN;
  self->timer = g_timer_new ();
  /* training is not paced by the clock, and a frame is done with once it
   * is cached: no need to keep the last one (a full-size X-ray) alive */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}
