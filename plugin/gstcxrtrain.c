/**
 * SECTION:element-cxrtrain
 * @title: cxrtrain
 *
 * Trains the chest X-ray CNN on labelled frames and writes the model file
 * that cxrclassify uses. A frame's class comes from its #GstCxrLabelMeta
 * (or the label property, for a stream of one class); the patient the meta
 * names keeps that patient's films on one side of the validation split.
 * Frames without a usable label are counted and skipped, with a warning.
 *
 * Epoch mode (the default) caches the frames at the model's input size and
 * trains at EOS (kernels/trainer.h): epochs of shuffled, augmented,
 * class-weighted mini-batches, validation after each, the best epoch kept.
 * Online mode (online=true) steps every batch-size frames on a replay
 * buffer, in the streaming thread (kernels/online.h). mode=calibrate and
 * mode=fine-tune fit model= to a site's labelled films at EOS
 * (kernels/calibrate.h).
 *
 * Training at EOS runs in a thread of its own while the EOS is held back:
 * the EOS message comes once the model is final. Pausing the pipeline
 * pauses training, playing resumes it with the same result; READY, NULL or
 * a flush stops it within a step, `output` keeping the last checkpoint.
 * Every write of `output` (a checkpoint after each epoch, the final model)
 * is atomic; a divergence leaves the last good model there.
 *
 * Element messages: cxrtrain-progress (member, members, epoch, epochs,
 * step, steps-per-epoch, loss, accuracy, images-per-second, eta-seconds),
 * cxrtrain-epoch (member, members, epoch, epochs, train-loss,
 * train-accuracy, val-loss, val-accuracy, val-auc, threshold, best),
 * cxrtrain-checkpoint (location, epoch, step, model-id), cxrtrain-done
 * (location, model-id, members, best-epoch, val-auc, seconds),
 * cxrtrain-calibrate-progress (done, total) and cxrtrain-calibrated
 * (method, base-model, images, cv-before, cv-after, threshold,
 * threshold-rule, fine-tune-kept).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m cxrdatasetsrc location=chest_xray/train ! \
 *     cxrtrain output=my.safetensors epochs=20
 * gst-launch-1.0 -m cxrdatasetsrc location=new_cases/ ! \
 *     cxrtrain model=my.safetensors output=tuned.safetensors epochs=5
 * ]|
 */
#include "gstcxrtrain.h"
#include "gstcxrelements.h"
#include "gstcxrframe.h"
#include "gstcxrtrainsettings.h"
#include "gst/cxr/cxrmeta.h"
#include "error.h"
#include "online.h"

#include <gst/video/video.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_train_debug);
#define GST_CAT_DEFAULT gst_cxr_train_debug

/* new models take the 124x124 input the project's architectures are made
 * for */
#define NEW_MODEL_SIDE 124

struct _GstCxrTrain {
  GstBaseSink parent;

  /* under the object lock: the properties, and the latest figures (kept
   * after stop (), to be read once the pipeline is done) */
  GstCxrTrainSettings settings;
  GstCxrTrainFigures figures;

  /* a run: set up in start (), then the streaming thread's, and the
   * training thread's while it runs */
  GstCxrTrainSettings run;      /* the settings as the run started */
  CxrModel *model;
  gint label_index;             /* of the label property; -1: none */
  CxrDataset *cache;            /* epoch mode and calibration */
  CxrOnlineTrainer *online;     /* online mode */
  float *frame01;               /* the frame at the model's input, [0, 1] */
  GstVideoInfo info;
  GHashTable *unknown_names;    /* class names warned about already */
  gboolean warned_unlabelled;
  gboolean checkpointed;        /* this run has put a model at output */
  gboolean failed;              /* an error is posted: stop */
  GTimer *timer;

  /* under the preroll lock, signalled on its cond: what the training
   * thread is told, and what it tells */
  gboolean paused;
  gboolean stopping;
  gboolean trained;
};

G_DEFINE_TYPE (GstCxrTrain, gst_cxr_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrtrain, "cxrtrain", GST_RANK_NONE,
    GST_TYPE_CXR_TRAIN);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_CXR_VIDEO_FORMATS)));

/* ---- what the training thread is told ---- */

/* sets one of the flags the training thread reads */
static void
tell (GstCxrTrain * self, gboolean * flag, gboolean value)
{
  GST_BASE_SINK_PREROLL_LOCK (self);
  *flag = value;
  GST_BASE_SINK_PREROLL_BROADCAST (self);
  GST_BASE_SINK_PREROLL_UNLOCK (self);
}

/* Between two steps: waits while the pipeline is paused; FALSE once it
 * stops or flushes, or an error is posted. */
static gboolean
keep_going (GstCxrTrain * self)
{
  gboolean go;

  GST_BASE_SINK_PREROLL_LOCK (self);
  while (self->paused && !self->stopping)
    GST_BASE_SINK_PREROLL_WAIT (self);
  go = !self->stopping && !self->failed;
  GST_BASE_SINK_PREROLL_UNLOCK (self);
  return go;
}

static gboolean
is_stopping (GstCxrTrain * self)
{
  gboolean stopping;

  GST_BASE_SINK_PREROLL_LOCK (self);
  stopping = self->stopping;
  GST_BASE_SINK_PREROLL_UNLOCK (self);
  return stopping;
}

/* ---- messages and figures ---- */

static void
post (GstCxrTrain * self, GstStructure * s)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Writes the model to output, atomically (cxr_model_save). */
static gboolean
save_model (GstCxrTrain * self, const CxrModel * model)
{
  GError *error = NULL;

  /* saving does not change the model; the cast is for the signature */
  if (!cxr_model_save ((CxrModel *) model, self->run.output, &error)) {
    /* the cause (a full disk, a read-only folder) is in the message; the
     * model already there is left as it was */
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Cannot write the model (%s). Check that the folder exists, is "
            "writable and has room; a model already at '%s' is unchanged.",
            error->message, self->run.output), (NULL));
    g_error_free (error);
    self->failed = TRUE;
    return FALSE;
  }
  self->checkpointed = TRUE;
  return TRUE;
}

/* a model of the run so far: saved, and said */
static gboolean
save_checkpoint (GstCxrTrain * self, const CxrModel * model)
{
  gint epoch;
  guint64 step;

  if (!save_model (self, model))
    return FALSE;
  GST_OBJECT_LOCK (self);
  epoch = self->figures.epoch;
  step = self->figures.step;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "checkpoint %s written", model->id);
  post (self, gst_structure_new ("cxrtrain-checkpoint",
          "location", G_TYPE_STRING, self->run.output,
          "epoch", G_TYPE_INT, epoch,
          "step", G_TYPE_UINT64, step,
          "model-id", G_TYPE_STRING, model->id, NULL));
  return TRUE;
}

static void
post_done (GstCxrTrain * self)
{
  const gchar *best = g_hash_table_lookup (self->model->provenance,
      "best_epoch");
  const gchar *auc = g_hash_table_lookup (self->model->provenance, "val_auc");

  post (self, gst_structure_new ("cxrtrain-done",
          "location", G_TYPE_STRING, self->run.output,
          "model-id", G_TYPE_STRING, self->model->id,
          "members", G_TYPE_INT, self->model->n_members,
          "best-epoch", G_TYPE_INT, best ? atoi (best) : 0,
          "val-auc", G_TYPE_DOUBLE, auc ? g_ascii_strtod (auc, NULL) : NAN,
          "seconds", G_TYPE_DOUBLE, g_timer_elapsed (self->timer, NULL),
          NULL));
}

/* progress-interval, which may change while playing */
static guint
progress_interval (GstCxrTrain * self)
{
  guint interval;

  GST_OBJECT_LOCK (self);
  interval = self->settings.progress_interval;
  GST_OBJECT_UNLOCK (self);
  return interval;
}

/* a step's figures, for the readable properties and, every interval steps
 * or when last is set, the message */
static void
report_step (GstCxrTrain * self, const CxrStepReport * r, guint interval,
    gboolean last)
{
  GST_OBJECT_LOCK (self);
  self->figures.epoch = r->epoch;
  self->figures.step++;
  self->figures.loss = r->loss;
  self->figures.accuracy = r->accuracy;
  self->figures.images_per_second = r->images_per_second;
  GST_OBJECT_UNLOCK (self);
  if (r->step % interval == 0 || last)
    post (self, gst_structure_new ("cxrtrain-progress",
            "member", G_TYPE_INT, r->member,
            "members", G_TYPE_INT, r->members,
            "epoch", G_TYPE_INT, r->epoch,
            "epochs", G_TYPE_INT, r->epochs,
            "step", G_TYPE_INT, r->step,
            "steps-per-epoch", G_TYPE_INT, r->steps_per_epoch,
            "loss", G_TYPE_DOUBLE, r->loss,
            "accuracy", G_TYPE_DOUBLE, r->accuracy,
            "images-per-second", G_TYPE_DOUBLE, r->images_per_second,
            "eta-seconds", G_TYPE_DOUBLE, r->eta_seconds, NULL));
}

/* A training or calibration error: said, and, for divergence before any
 * checkpoint, output gets the model training started from (which the
 * trainer has put back), so that it holds a usable model. */
static void
training_failed (GstCxrTrain * self, const GError * error)
{
  if (!g_error_matches (error, CXR_ERROR, CXR_ERROR_DIVERGED)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training failed: %s.",
            error->message), (NULL));
    return;
  }
  if (!self->checkpointed
      && !g_file_test (self->run.output, G_FILE_TEST_EXISTS)
      && !cxr_model_save (self->model, self->run.output, NULL))
    GST_WARNING_OBJECT (self, "cannot write the starting model");
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("Training diverged: the loss or the weights stopped being finite "
          "numbers. '%s' keeps the last good model. Lower learning-rate "
          "(now %g).", self->run.output, self->run.train.learning_rate),
      ("%s", error->message));
}

/* ---- epoch mode: cxr_train's callbacks ---- */

/* called after every step (step_interval 1): a stop or a pause takes
 * effect within one step */
static gboolean
on_step (const CxrStepReport * r, void *user)
{
  GstCxrTrain *self = user;

  report_step (self, r, progress_interval (self),
      r->step == r->steps_per_epoch);
  return keep_going (self);
}

static gboolean
on_epoch (const CxrEpochReport * r, void *user)
{
  GstCxrTrain *self = user;

  GST_INFO_OBJECT (self, "member %d/%d epoch %d/%d: loss %.4f, val loss "
      "%.4f, val AUC %.4f%s", r->member, r->members, r->epoch, r->epochs,
      r->train_loss, r->val_loss, r->val_auc, r->is_best ? " (best)" : "");
  GST_OBJECT_LOCK (self);
  self->figures.val_auc = r->val_auc;
  self->figures.val_accuracy = r->val_accuracy;
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
  return keep_going (self);
}

static void
on_checkpoint (const CxrModel * best, void *user)
{
  GstCxrTrain *self = user;

  if (!self->failed)
    save_checkpoint (self, best);
}

static void
warn_stopped (GstCxrTrain * self, const gchar * what)
{
  if (self->checkpointed)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("%s stopped because the "
            "pipeline was stopped or flushed. '%s' holds the last checkpoint; "
            "to go on, train again with model= set to it.", what,
            self->run.output), (NULL));
  else
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("%s stopped because the "
            "pipeline was stopped or flushed; '%s' was not written.", what,
            self->run.output), (NULL));
}

/* every epoch, then the final model */
static gboolean
train_epochs (GstCxrTrain * self)
{
  CxrTrainCallbacks cb = { on_step, on_epoch, on_checkpoint, 1 };
  GError *error = NULL;

  GST_INFO_OBJECT (self, "training on %d cached frames, %d epochs",
      self->cache->n, self->run.train.epochs);
  if (!cxr_train (self->model, self->cache, &self->run.train, &cb, self,
          &error)) {
    training_failed (self, error);
    g_error_free (error);
    return FALSE;
  }
  if (self->failed)
    return FALSE;
  if (is_stopping (self)) {
    warn_stopped (self, "Training");
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
  post (user, gst_structure_new ("cxrtrain-calibrate-progress",
          "done", G_TYPE_INT, done, "total", G_TYPE_INT, total, NULL));
}

static gboolean
calibrate_should_stop (void *user)
{
  return !keep_going (user);
}

/* the fit, then the model, once */
static gboolean
calibrate_site (GstCxrTrain * self)
{
  CxrCalibrateConfig cc = self->run.calibrate;
  CxrCalibrateReport report;
  GError *error = NULL;
  GHashTable *p = self->model->provenance;

  cc.method = self->run.mode == GST_CXR_TRAIN_MODE_FINE_TUNE ?
      CXR_CALIBRATE_FINE_TUNE : CXR_CALIBRATE_PLATT;
  /* fine-tuning keeps calibrate's few gentle epochs; the rest as set */
  cc.train.seed = self->run.train.seed;
  cc.train.batch_size = self->run.train.batch_size;
  cc.train.augment = self->run.train.augment;
  cc.train.class_weighting = self->run.train.class_weighting;
  cc.train.precision = self->run.train.precision;
  cc.on_progress = on_calibrate_progress;
  cc.should_stop = calibrate_should_stop;
  cc.user = self;
  GST_INFO_OBJECT (self, "calibrating %s on %d frames", self->model->id,
      self->cache->n);
  if (!cxr_calibrate (self->model, self->cache, &cc, &report, &error)) {
    if (g_error_matches (error, CXR_ERROR, CXR_ERROR_CANCELLED))
      warn_stopped (self, "Calibration");
    else
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot calibrate: %s. "
              "Nothing was written to '%s'.", error->message,
              self->run.output), (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!save_model (self, self->model))
    return FALSE;
  post (self, gst_structure_new ("cxrtrain-calibrated",
          "method", G_TYPE_STRING,
          g_hash_table_lookup (p, "calibration_method"),
          "base-model", G_TYPE_STRING,
          g_hash_table_lookup (p, "calibration_base_model"),
          "images", G_TYPE_INT, report.n,
          "cv-before", G_TYPE_STRING,
          g_hash_table_lookup (p, "calibration_cv_before"),
          "cv-after", G_TYPE_STRING,
          g_hash_table_lookup (p, "calibration_cv_after"),
          "threshold", G_TYPE_FLOAT, self->model->threshold,
          "threshold-rule", G_TYPE_STRING,
          cxr_site_threshold_name (report.threshold_rule),
          "fine-tune-kept", G_TYPE_BOOLEAN,
          report.used == CXR_CALIBRATE_FINE_TUNE, NULL));
  post_done (self);
  return TRUE;
}

/* ---- online mode ---- */

static gboolean
online_checkpoint (GstCxrTrain * self)
{
  cxr_online_update_model (self->online);
  return save_checkpoint (self, self->model);
}

/* after each online step: the figures, and a checkpoint when it is due */
static gboolean
online_stepped (GstCxrTrain * self)
{
  CxrStepReport r;
  guint interval = progress_interval (self);

  /* one reading for both: the figures start over when the message goes */
  cxr_online_report (self->online, interval, &r);
  report_step (self, &r, interval, FALSE);
  if (r.step % self->run.checkpoint_interval == 0)
    return online_checkpoint (self);
  return TRUE;
}

static gboolean
online_finish (GstCxrTrain * self)
{
  guint64 steps = cxr_online_steps (self->online);

  if (steps == 0) {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("The stream ended before one training step: online training needs "
            "batch-size (%d) labelled frames per step. '%s' was not written.",
            cxr_online_batch (self->online), self->run.output), (NULL));
    return TRUE;
  }
  if (steps % self->run.checkpoint_interval != 0
      && !online_checkpoint (self))
    return FALSE;
  post_done (self);
  return TRUE;
}

/* ---- training at EOS, in a thread of its own ---- */

static gpointer
training_thread (gpointer data)
{
  GstCxrTrain *self = data;
  gboolean ok;

  if (self->cache->n == 0) {
    guint64 skipped;
    GST_OBJECT_LOCK (self);
    skipped = self->figures.frames_skipped;
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("No labelled frames to train on (%" G_GUINT64_FORMAT " frames "
            "without a usable label). Attach a GstCxrLabelMeta to each frame "
            "(cxrdatasetsrc does) or set label= to the class of the stream.",
            skipped), (NULL));
    ok = FALSE;
  } else {
    if (self->run.threads > 0)
      omp_set_num_threads (self->run.threads);
    g_timer_start (self->timer);
    ok = self->run.mode == GST_CXR_TRAIN_MODE_TRAIN ? train_epochs (self) :
        calibrate_site (self);
  }
  GST_BASE_SINK_PREROLL_LOCK (self);
  self->trained = TRUE;
  GST_BASE_SINK_PREROLL_BROADCAST (self);
  GST_BASE_SINK_PREROLL_UNLOCK (self);
  return GINT_TO_POINTER (ok);
}

/* With the preroll lock: trains while this thread waits with the lock let
 * go, so that state changes and flushes get through; then waits for the
 * pipeline to play, so that EOS goes on, as it would have, while playing. */
static GstFlowReturn
train_at_eos (GstCxrTrain * self)
{
  GThread *thread;
  GError *error = NULL;
  gboolean ok;

  if (self->failed)
    return GST_FLOW_ERROR;
  if (self->online)
    return online_finish (self) ? GST_FLOW_OK : GST_FLOW_ERROR;
  self->trained = FALSE;
  thread = g_thread_try_new ("cxrtrain", training_thread, self, &error);
  if (!thread) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot start training: %s",
            error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  while (!self->trained)
    GST_BASE_SINK_PREROLL_WAIT (self);
  ok = GPOINTER_TO_INT (g_thread_join (thread));
  while (ok && self->paused && !self->stopping)
    GST_BASE_SINK_PREROLL_WAIT (self);
  if (self->stopping)
    return GST_FLOW_FLUSHING;
  return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}

static GstFlowReturn
gst_cxr_train_wait_event (GstBaseSink * sink, GstEvent * event)
{
  GstFlowReturn ret =
      GST_BASE_SINK_CLASS (gst_cxr_train_parent_class)->wait_event (sink,
      event);

  if (ret != GST_FLOW_OK || GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return ret;
  return train_at_eos (GST_CXR_TRAIN (sink));
}

static gboolean
gst_cxr_train_event (GstBaseSink * sink, GstEvent * event)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START)
    tell (self, &self->stopping, TRUE);
  else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP)
    tell (self, &self->stopping, FALSE);
  return GST_BASE_SINK_CLASS (gst_cxr_train_parent_class)->event (sink, event);
}

static GstStateChangeReturn
gst_cxr_train_change_state (GstElement * element, GstStateChange transition)
{
  GstCxrTrain *self = GST_CXR_TRAIN (element);

  /* before the base class, which waits for the streaming thread when it
   * deactivates the pad */
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      tell (self, &self->stopping, FALSE);
      tell (self, &self->paused, TRUE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      tell (self, &self->paused, FALSE);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      tell (self, &self->paused, TRUE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      tell (self, &self->stopping, TRUE);
      break;
    default:
      break;
  }
  return GST_ELEMENT_CLASS (gst_cxr_train_parent_class)->change_state
      (element, transition);
}

/* ---- setting up a run ---- */

/* the model training starts from: the model file, or a new one */
static CxrModel *
starting_model (GstCxrTrain * self)
{
  const GstCxrTrainSettings *s = &self->run;
  GError *error = NULL;
  CxrModel *model;

  if (s->model) {
    model = cxr_model_load (s->model, &error);
    if (!model) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Cannot start training from model '%s': %s", s->model,
              error->message), (NULL));
      g_error_free (error);
      return NULL;
    }
    /* the chain of models, for whoever reads the provenance */
    g_hash_table_replace (model->provenance, g_strdup ("parent_model"),
        g_strdup (model->id));
    GST_INFO_OBJECT (self, "resuming from %s (%s)", s->model, model->id);
    return model;
  }

  model = cxr_model_new_named (s->architecture, s->classes, NEW_MODEL_SIDE,
      s->train.seed, &error);
  if (!model) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot make a new model with architecture '%s' and classes '%s': "
            "%s. Set architecture= to default, seed or a layer spec, and "
            "classes= to as many names as it has outputs.", s->architecture,
            s->classes, error->message), (NULL));
    g_error_free (error);
    return NULL;
  }
  model->norm.film = s->film_normalization;
  model->norm.blur = s->input_blur;
  if (s->member_offsets && s->train.members > 1)
    cxr_model_set_member_offsets (model);
  return model;
}

/* what cannot work is refused before any frame is taken */
static gboolean
check_run (GstCxrTrain * self)
{
  const GstCxrTrainSettings *s = &self->run;
  const CxrNetSpec *spec = self->model->spec;

  if (spec->in_c != 1 || spec->in_h != spec->in_w) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' takes %dx%dx%d input; cxrtrain trains models with one "
            "square grey channel.", s->model, spec->in_c, spec->in_h,
            spec->in_w), (NULL));
    return FALSE;
  }
  self->label_index = s->label ?
      cxr_model_class_index (self->model, s->label) : -1;
  if (s->label && self->label_index < 0) {
    gchar *known = g_strjoinv (", ", self->model->classes);
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("label '%s' is not one of the model's classes (%s).", s->label,
            known), (NULL));
    g_free (known);
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_up (GstCxrTrain * self)
{
  const GstCxrTrainSettings *s = &self->run;
  GError *error = NULL;

  if (!s->output) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Set output= to where the trained model should be written."),
        (NULL));
    return FALSE;
  }
  if (s->mode != GST_CXR_TRAIN_MODE_TRAIN && (!s->model || s->online)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("mode=%s fits an existing model to a site's films: set model= to "
            "the base model%s.", s->mode == GST_CXR_TRAIN_MODE_CALIBRATE ?
            "calibrate" : "fine-tune", s->online ?
            " and leave online= false" : ""), (NULL));
    return FALSE;
  }
  if (!(self->model = starting_model (self)) || !check_run (self))
    return FALSE;
  if (s->online) {
    self->online = cxr_online_new (self->model, &s->train, s->replay_size,
        &error);
    if (!self->online) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot set up online training: %s", error->message), (NULL));
      g_error_free (error);
      return FALSE;
    }
  } else
    self->cache = cxr_dataset_new (self->model->spec->in_h);
  self->frame01 = g_new (float, self->model->spec->in_h *
      self->model->spec->in_w);
  self->unknown_names = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  self->warned_unlabelled = self->checkpointed = self->failed = FALSE;
  gst_video_info_init (&self->info);
  g_timer_start (self->timer);
  return TRUE;
}

static gboolean gst_cxr_train_stop (GstBaseSink * sink);

static gboolean
gst_cxr_train_start (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  GST_OBJECT_LOCK (self);
  gst_cxr_train_settings_copy (&self->run, &self->settings);
  gst_cxr_train_figures_init (&self->figures);
  GST_OBJECT_UNLOCK (self);
  if (set_up (self))
    return TRUE;
  /* the base class calls stop () only after a start () that succeeded */
  gst_cxr_train_stop (sink);
  return FALSE;
}

static gboolean
gst_cxr_train_stop (GstBaseSink * sink)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  g_clear_pointer (&self->online, cxr_online_free);
  g_clear_pointer (&self->cache, cxr_dataset_free);
  g_clear_pointer (&self->model, cxr_model_free);
  g_clear_pointer (&self->frame01, g_free);
  g_clear_pointer (&self->unknown_names, g_hash_table_unref);
  gst_cxr_train_settings_clear (&self->run);
  return TRUE;
}

/* ---- the frames ---- */

static gboolean
gst_cxr_train_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);

  return gst_video_info_from_caps (&self->info, caps);
}

static void
skip_frame (GstCxrTrain * self, const gchar * unknown_name)
{
  GST_OBJECT_LOCK (self);
  self->figures.frames_skipped++;
  GST_OBJECT_UNLOCK (self);

  /* once per kind: a whole unlabelled stream must not flood the bus */
  if (unknown_name) {
    gchar *known;
    if (g_hash_table_contains (self->unknown_names, unknown_name))
      return;
    g_hash_table_add (self->unknown_names, g_strdup (unknown_name));
    known = g_strjoinv (", ", self->model->classes);
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

/* The class index of a frame, or -1 (counted and skipped); its patient,
 * when its meta names one. */
static gint
label_of (GstCxrTrain * self, GstBuffer * buf, const gchar ** patient)
{
  GstCxrLabelMeta *meta = gst_buffer_get_cxr_label_meta (buf);

  *patient = meta ? meta->patient : NULL;
  if (meta && meta->class_name) {
    gint index = cxr_model_class_index (self->model, meta->class_name);
    if (index < 0)
      skip_frame (self, meta->class_name);
    return index;
  }
  if (meta && meta->class_index >= 0
      && meta->class_index < self->model->spec->n_classes)
    return meta->class_index;
  if (self->label_index >= 0)
    return self->label_index;
  skip_frame (self, NULL);
  return -1;
}

/* into the replay buffer, stepping every batch-size frames */
static gboolean
add_online (GstCxrTrain * self, gint label)
{
  GError *error = NULL;
  gboolean stepped;

  if (self->run.threads > 0)
    omp_set_num_threads (self->run.threads);
  if (!cxr_online_add (self->online, self->frame01, label, &stepped, &error)) {
    training_failed (self, error);
    g_error_free (error);
    self->failed = TRUE;
    return FALSE;
  }
  return !stepped || online_stepped (self);
}

/* into the cache, for training at EOS */
static gboolean
add_cached (GstCxrTrain * self, gint label, const gchar * patient)
{
  guint limit = self->run.max_cached_frames;

  if ((guint) self->cache->n >= limit) {
    /* a live source would otherwise fill the memory */
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Epoch-mode training keeps every frame until the end of the stream, "
            "and %u frames are cached already: set max-cached-frames higher, "
            "or train a live stream with online=true.", limit), (NULL));
    return FALSE;
  }
  if (!cxr_dataset_add (self->cache, self->frame01, label, patient)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Not enough memory to cache frame %d for training: set "
            "max-cached-frames lower, or train with online=true.",
            self->cache->n + 1), (NULL));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn
gst_cxr_train_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstCxrTrain *self = GST_CXR_TRAIN (sink);
  const CxrNetSpec *spec = self->model->spec;
  /* the cache holds [0, 1]; the model's normalisation comes at each step */
  const CxrNormalization unit = { 0.0f, 1.0f, CXR_FILM_NONE, 0.0f };
  const gchar *patient;
  GError *error = NULL;
  gint label;

  if (self->failed)
    return GST_FLOW_ERROR;
  label = label_of (self, buf, &patient);
  if (label < 0)
    return GST_FLOW_OK;
  if (!gst_cxr_frame_to_input (buf, &self->info, &unit, spec->in_w,
          spec->in_h, self->frame01, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  if (!(self->online ? add_online (self, label) :
          add_cached (self, label, patient)))
    return GST_FLOW_ERROR;
  GST_OBJECT_LOCK (self);
  self->figures.frames_cached++;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

/* ---- the object ---- */

static void
gst_cxr_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  gst_cxr_train_settings_set (&self->settings, prop_id, value);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_train_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  (void) pspec;
  GST_OBJECT_LOCK (self);
  gst_cxr_train_settings_get (&self->settings, &self->figures, prop_id, value);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_train_finalize (GObject * object)
{
  GstCxrTrain *self = GST_CXR_TRAIN (object);

  gst_cxr_train_settings_clear (&self->settings);
  g_timer_destroy (self->timer);
  G_OBJECT_CLASS (gst_cxr_train_parent_class)->finalize (object);
}

static void
gst_cxr_train_class_init (GstCxrTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_cxr_train_set_property;
  gobject_class->get_property = gst_cxr_train_get_property;
  gobject_class->finalize = gst_cxr_train_finalize;
  gst_cxr_train_install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray CNN trainer", "Sink/Analyzer/Video",
      "Trains the chest X-ray classifier on labelled frames (epochs at EOS, "
      "or online) and writes checkpoints that cxrclassify picks up",
      "The gst-cxr authors");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_cxr_train_change_state);

  sink_class->start = GST_DEBUG_FUNCPTR (gst_cxr_train_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_train_stop);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_cxr_train_set_caps);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_cxr_train_event);
  sink_class->wait_event = GST_DEBUG_FUNCPTR (gst_cxr_train_wait_event);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_cxr_train_render);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_train_debug, "cxrtrain", 0,
      "chest X-ray CNN trainer");
}

static void
gst_cxr_train_init (GstCxrTrain * self)
{
  gst_cxr_train_settings_init (&self->settings);
  gst_cxr_train_figures_init (&self->figures);
  self->timer = g_timer_new ();
  /* training is not paced by the clock, and a frame is done with once it
   * is cached: no need to keep the last one (a full-size X-ray) alive */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}
