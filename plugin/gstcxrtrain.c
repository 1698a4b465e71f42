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
 * trains at EOS (kernels/train/trainer.h): epochs of shuffled, augmented,
 * class-weighted mini-batches, validation after each, the best epoch kept.
 * Online mode (online=true) steps every batch-size frames on a replay
 * buffer, in the streaming thread (kernels/train/online.h). mode=calibrate and
 * mode=fine-tune fit model= to a site's labelled films at EOS
 * (kernels/train/calibrate.h).
 *
 * Training at EOS runs in a thread of its own while the EOS is held back:
 * the EOS message comes once the model is final. Pausing the pipeline
 * pauses training, playing resumes it with the same result; READY, NULL or
 * a flush stops it within a step, `output` keeping the last checkpoint.
 * Every write of `output` (a checkpoint after each epoch, the final model)
 * is atomic; a divergence leaves the last good model there.
 *
 * Under mpirun (Open MPI) each process caches its share of the files; at
 * EOS the caches are exchanged into the file list's order, and every batch
 * is split among the processes, which take the same step
 * (kernels/train/trainer.h). Process 0 alone posts the messages below and
 * writes `output`, once, when every process has finished, and no
 * checkpoint on the way. Online training runs in one process.
 *
 * Element messages (their fields are listed in trainmessages.h):
 * cxrtrain-progress every progress-interval steps, cxrtrain-epoch after
 * each epoch's validation, cxrtrain-checkpoint after each write of output,
 * cxrtrain-done at the end, and for mode=calibrate or fine-tune
 * cxrtrain-calibrate-progress and cxrtrain-calibrated.
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
#include "properties.h"
#include "frame.h"
#include "sinkjob.h"
#include "trainmessages.h"
#include "trainsettings.h"
#include "gst/cxr/cxrmeta.h"
#include "error.h"
#include "online.h"
#include "dist.h"
#include "gather.h"

#include <gst/video/video.h>
#include <omp.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_train_debug);
#define GST_CAT_DEFAULT gst_cxr_train_debug

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
  GArray *keys;                 /* guint64: each cached frame's offset,
                                 * its order among every process's */
  gboolean shared;              /* one of several processes */
  CxrOnlineTrainer *online;     /* online mode */
  float *frame01;               /* the frame at the model's input, [0, 1] */
  GstVideoInfo info;
  GHashTable *unknown_names;    /* class names warned about already */
  gboolean warned_unlabelled;
  gboolean checkpointed;        /* this run has put a model at output */
  gboolean failed;              /* an error is posted: stop */
  GTimer *timer;
  GstCxrSinkJob job;            /* training at EOS */
};

G_DEFINE_TYPE (GstCxrTrain, gst_cxr_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (cxrtrain, "cxrtrain", GST_RANK_NONE,
    GST_TYPE_CXR_TRAIN);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_CXR_VIDEO_FORMATS)));

/* between two steps of training at EOS: waits while the pipeline is
 * paused; FALSE once it stops or flushes, or an error is posted */
static gboolean
keep_going (GstCxrTrain * self)
{
  return gst_cxr_sink_job_keep_going (&self->job) && !self->failed;
}

/* ---- messages and figures ---- */

static void
post (GstCxrTrain * self, GstStructure * s)
{
  /* one process speaks for a run over several */
  if (cxr_dist_rank () > 0) {
    gst_structure_free (s);
    return;
  }
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* an error that says what to set, as GStreamer's error message */
static void
post_error (GstCxrTrain * self, GError * error)
{
  gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR,
      error->domain, error->code, g_strdup (error->message), NULL, __FILE__,
      GST_FUNCTION, __LINE__);
  g_error_free (error);
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
  post (self, gst_cxr_train_checkpoint_new (self->run.output, epoch, step,
          model));
  return TRUE;
}

/* The model at the end of a run, to output: alone, at once; over several
 * processes, by process 0 once every process has come this far (the
 * "any" below), closing the run's collective job (dist.h). */
static gboolean
save_final (GstCxrTrain * self)
{
  if (self->shared) {
    cxr_dist_any (FALSE);
    if (cxr_dist_rank () > 0) {
      cxr_dist_end ();
      return TRUE;
    }
  }
  if (!save_model (self, self->model))
    return FALSE;
  if (self->shared)
    cxr_dist_end ();
  return TRUE;
}

static void
post_done (GstCxrTrain * self)
{
  post (self, gst_cxr_train_done_new (self->run.output, self->model,
          g_timer_elapsed (self->timer, NULL)));
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
    post (self, gst_cxr_train_progress_new (r));
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
  post (self, gst_cxr_train_epoch_new (r));
  return keep_going (self);
}

static void
on_checkpoint (const CxrModel * best, void *user)
{
  GstCxrTrain *self = user;

  if (!self->failed && !self->shared)
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
  if (gst_cxr_sink_job_stopping (&self->job)) {
    warn_stopped (self, "Training");
    return FALSE;
  }
  /* the best epoch's weights with the provenance of the whole run */
  if (!save_final (self))
    return FALSE;
  post_done (self);
  return TRUE;
}

/* ---- site calibration ---- */

static void
on_calibrate_progress (int done, int total, void *user)
{
  post (user, gst_cxr_train_calibrate_progress_new (done, total));
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
  CxrCalibrateConfig cc;
  CxrCalibrateReport report;
  GError *error = NULL;

  gst_cxr_train_settings_calibrate_config (&self->run, &cc);
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
  if (!save_final (self))
    return FALSE;
  post (self, gst_cxr_train_calibrated_new (self->model, &report));
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

static gboolean
train_cached (gpointer data)
{
  GstCxrTrain *self = data;

  if (self->run.threads > 0)
    omp_set_num_threads (self->run.threads);
  g_timer_start (self->timer);
  return self->run.mode == GST_CXR_TRAIN_MODE_TRAIN ? train_epochs (self) :
      calibrate_site (self);
}

static GstFlowReturn
train_at_eos (GstCxrTrain * self)
{
  guint64 skipped;

  if (self->failed)
    return GST_FLOW_ERROR;
  if (self->online)
    return online_finish (self) ? GST_FLOW_OK : GST_FLOW_ERROR;
  if (self->shared) {
    GError *error = NULL;
    CxrDataset *all = cxr_dataset_gather (self->cache,
        (const guint64 *) self->keys->data, &error);
    if (!all) {
      post_error (self, error);
      return GST_FLOW_ERROR;
    }
    cxr_dataset_free (self->cache);
    self->cache = all;
  }
  if (self->cache->n > 0)
    return gst_cxr_sink_job_run (&self->job, train_cached, self);
  GST_OBJECT_LOCK (self);
  skipped = self->figures.frames_skipped;
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("No labelled frames to train on (%" G_GUINT64_FORMAT " frames "
          "without a usable label). Attach a GstCxrLabelMeta to each frame "
          "(cxrdatasetsrc does) or set label= to the class of the stream.",
          skipped), (NULL));
  return GST_FLOW_ERROR;
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

  gst_cxr_sink_job_event (&self->job, event);
  return GST_BASE_SINK_CLASS (gst_cxr_train_parent_class)->event (sink, event);
}

static GstStateChangeReturn
gst_cxr_train_change_state (GstElement * element, GstStateChange transition)
{
  GstCxrTrain *self = GST_CXR_TRAIN (element);

  gst_cxr_sink_job_change_state (&self->job, transition);
  return GST_ELEMENT_CLASS (gst_cxr_train_parent_class)->change_state
      (element, transition);
}

/* ---- setting up a run ---- */

static gboolean
set_up (GstCxrTrain * self)
{
  const GstCxrTrainSettings *s = &self->run;
  GError *error = NULL;

  self->model = gst_cxr_train_settings_model (s, &self->label_index, &error);
  if (!self->model) {
    post_error (self, error);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "training %s%s%s", self->model->id,
      s->model ? " from " : "", s->model ? s->model : "");
  if (!cxr_dist_init (&error)) {
    post_error (self, error);
    return FALSE;
  }
  self->shared = cxr_dist_size () > 1;
  if (self->shared && s->online) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Online training runs in "
            "one process, but this is one of %d (mpirun): train online "
            "without mpirun, or in epochs (online=false).", cxr_dist_size ()),
        (NULL));
    return FALSE;
  }
  if (self->shared)
    cxr_dist_begin ();          /* closed by save_final */
  if (s->online) {
    self->online = cxr_online_new (self->model, &s->train, s->replay_size,
        &error);
    if (!self->online) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot set up online training: %s", error->message), (NULL));
      g_error_free (error);
      return FALSE;
    }
  } else {
    self->cache = cxr_dataset_new (self->model->spec->in_h);
    self->keys = g_array_new (FALSE, FALSE, sizeof (guint64));
  }
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
  g_clear_pointer (&self->keys, g_array_unref);
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

  *patient = meta ? gst_cxr_label_meta_get_patient (meta) : NULL;
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
add_cached (GstCxrTrain * self, GstBuffer * buf, gint label,
    const gchar * patient)
{
  guint limit = self->run.max_cached_frames;
  guint64 key = GST_BUFFER_OFFSET (buf);

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
  g_array_append_val (self->keys, key);
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
          add_cached (self, buf, label, patient)))
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
  gst_cxr_sink_job_init (&self->job, GST_BASE_SINK (self));
  /* training is not paced by the clock, and a frame is done with once it
   * is cached: no need to keep the last one (a full-size X-ray) alive */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}
