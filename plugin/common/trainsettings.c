/* trainsettings.c — the table of cxrtrain's properties: each row says
 * where its value lives in GstCxrTrainSettings (or, for a read-only figure,
 * in GstCxrTrainFigures); the default is what the struct holds after
 * gst_cxr_train_settings_init. Last, what the settings ask of a run: the
 * model it starts from, checked against them, and its calibration. */
#include "trainsettings.h"
#include "provenance.h"
#include "settings.h"
#include "frame.h"

#include <string.h>

#define DEFAULT_CLASSES "NORMAL,PNEUMONIA"
#define DEFAULT_ARCHITECTURE "default"
#define DEFAULT_REPLAY_SIZE 512
/* 3 GB of 124x124 frames at 16 bits: 19 times the official train split */
#define DEFAULT_MAX_CACHED_FRAMES 100000
#define DEFAULT_PROGRESS_INTERVAL 10
#define DEFAULT_CHECKPOINT_INTERVAL 50
/* new models take the 124x124 input the project's architectures are made
 * for */
#define NEW_MODEL_SIDE 124

/* ---- the enumerations ---- */

#define DEFINE_ENUM(func, name, ...)                                    \
  static GType                                                          \
  func (void)                                                           \
  {                                                                     \
    static GType type;                                                  \
    static const GEnumValue values[] = { __VA_ARGS__, {0, NULL, NULL} }; \
    if (g_once_init_enter (&type))                                      \
      g_once_init_leave (&type, g_enum_register_static (name, values)); \
    return type;                                                        \
  }

DEFINE_ENUM (class_weighting_type, "GstCxrTrainClassWeighting",
    {CXR_CLASS_WEIGHTING_BALANCED, "Each class counts as much as the others "
          "in the loss, however many images it has", "balanced"},
    {CXR_CLASS_WEIGHTING_NONE, "Every image counts the same", "none"});

DEFINE_ENUM (schedule_type, "GstCxrTrainSchedule",
    {CXR_SCHEDULE_COSINE, "Warm-up over the first epoch, then cosine decay "
          "to 0 at the last step", "cosine"},
    {CXR_SCHEDULE_NONE, "Constant learning rate", "constant"});

DEFINE_ENUM (site_threshold_type, "GstCxrTrainSiteThreshold",
    {CXR_SITE_THRESHOLD_YOUDEN, "The best Youden's J on the site's films",
        "youden"},
    {CXR_SITE_THRESHOLD_FEWEST_ERRORS, "0.5 on the calibrated probability: "
          "the fewest errors at the site's mix of classes", "fewest-errors"},
    {CXR_SITE_THRESHOLD_MODEL, "The model's own decisions: its threshold "
          "carried onto the calibrated probabilities", "model"},
    {CXR_SITE_THRESHOLD_AUTO, "Whichever of model, fewest-errors and youden "
          "has the best cross-validated accuracy", "auto"});

DEFINE_ENUM (film_normalization_type, "GstCxrTrainFilmNormalization",
    {CXR_FILM_NONE, "The film's grey values as they are", "none"},
    {CXR_FILM_EQUALIZE, "Histogram equalisation of each film", "equalize"},
    {CXR_FILM_PERCENTILE, "Each film's 1st to 99th percentile stretched "
          "to 0..1", "percentile"});

DEFINE_ENUM (mode_type, "GstCxrTrainMode",
    {GST_CXR_TRAIN_MODE_TRAIN, "Train the network (from model=, or a new "
          "one)", "train"},
    {GST_CXR_TRAIN_MODE_CALIBRATE, "Keep model='s weights; fit its logit "
          "scale and offset and its threshold to the frames (a site's "
          "labelled films)", "calibrate"},
    {GST_CXR_TRAIN_MODE_FINE_TUNE, "Also move model='s weights a little "
          "toward the frames; calibrate instead when cross-validation finds "
          "that no better", "fine-tune"});

/* ---- the table ---- */

typedef enum {
  KIND_INT, KIND_UINT, KIND_UINT64, KIND_FLOAT, KIND_DOUBLE, KIND_BOOLEAN,
  KIND_STRING, KIND_ENUM,
} Kind;

typedef enum {
  SET_BEFORE_PLAYING,           /* read when the run starts */
  SET_ANY_TIME,                 /* also read while playing */
  FIGURE,                       /* read-only, in GstCxrTrainFigures */
} Access;

typedef struct {
  const gchar *name, *nick, *blurb;
  Kind kind;
  gsize offset;
  gdouble min, max;             /* a training setting's come from the core */
  GType (*enum_type) (void);
  Access access;
} Property;

#define S(field) G_STRUCT_OFFSET (GstCxrTrainSettings, field)
#define F(field) G_STRUCT_OFFSET (GstCxrTrainFigures, field)

static const Property properties[] = {
  {"model", "Model", "Model file to start from (resume or fine-tune); its "
        "architecture and classes are kept. Unset: a new model "
        "(architecture, classes)", .kind = KIND_STRING, .offset = S (model)},
  {"output", "Output", "Where the trained model is written (safetensors), "
        "after every epoch and at the end; each write replaces the file "
        "atomically", .kind = KIND_STRING, .offset = S (output)},
  {"label", "Label", "Class name of frames that carry no label meta (a "
        "stream whose frames all show one class)", .kind = KIND_STRING,
      .offset = S (label)},
  {"classes", "Classes", "Comma-separated class names of a new model, the "
        "positive class last; ignored with model=", .kind = KIND_STRING,
      .offset = S (classes)},
  {"architecture", "Architecture", "Network of a new model: \"default\", "
        "\"seed\" (the seed notebook's) or a layer spec such as \"conv:16,"
        "same,bn relu maxpool:2 gap dense:1 sigmoid\"; ignored with model=",
      .kind = KIND_STRING, .offset = S (architecture)},
  {"film-normalization", "Film normalization", "Per-film intensity "
        "normalisation of a new model, before its mean and std; kept in the "
        "model file, so cxrclassify applies it too. Ignored with model=",
      .kind = KIND_ENUM, .offset = S (film_normalization),
      .enum_type = film_normalization_type},
  {"input-blur", "Input blur", "Sigma in pixels of a Gaussian low-pass of a "
        "new model's input, after the film normalisation (0: none); kept in "
        "the model file, so cxrclassify applies it too. Ignored with model=",
      .kind = KIND_FLOAT, .offset = S (input_blur), .min = 0.0,
      .max = CXR_MAX_INPUT_BLUR},
  {"member-offsets", "Member offsets", "Where the ensemble is used (its "
        "validation figures and threshold, cxrclassify), each member sees "
        "the film moved by half a pixel towards a different diagonal, so "
        "that their average varies less with where the film's detail falls "
        "on the pixel grid; kept in the model file. New models with members "
        "> 1; ignored with model=", .kind = KIND_BOOLEAN,
      .offset = S (member_offsets)},
  {"mode", "Mode", "train: train the network. calibrate, fine-tune: fit "
        "model= to a site's labelled films (at least 20 of each class), "
        "judged by patient-wise cross-validation; written once, at the end",
      .kind = KIND_ENUM, .offset = S (mode), .enum_type = mode_type},
  {"site-threshold", "Site threshold", "calibrate, fine-tune: how the "
        "threshold is set on the site's calibrated probabilities",
      .kind = KIND_ENUM, .offset = S (calibrate.threshold_rule),
      .enum_type = site_threshold_type},
  {"folds", "Folds", "calibrate, fine-tune: patient-wise cross-validation "
        "folds", .kind = KIND_INT, .offset = S (calibrate.folds), .min = 2,
      .max = CXR_MAX_FOLDS},
  {"epochs", "Epochs", "Passes over the cached frames", .kind = KIND_INT,
      .offset = S (train.epochs)},
  {"batch-size", "Batch size", "Frames per optimiser step", .kind = KIND_INT,
      .offset = S (train.batch_size)},
  {"learning-rate", "Learning rate", "Peak learning rate of AdamW",
      .kind = KIND_FLOAT, .offset = S (train.learning_rate)},
  {"weight-decay", "Weight decay", "Decoupled weight decay of AdamW "
        "(weights only)", .kind = KIND_FLOAT, .offset = S (train.weight_decay)},
  {"validation-fraction", "Validation fraction", "Part of the frames held "
        "out to score each epoch, patient by patient where the label metas "
        "name patients; 0: no validation (the last epoch is kept, threshold "
        "0.5)", .kind = KIND_DOUBLE, .offset = S (train.validation_fraction)},
  {"seed", "Seed", "Seed of everything random: initial weights, split, "
        "shuffling, augmentation, dropout", .kind = KIND_UINT64,
      .offset = S (train.seed), .min = 0, .max = (gdouble) G_MAXUINT64},
  {"label-smoothing", "Label smoothing", "The loss aims at (1 - e) + e / K "
        "for a film's own class and e / K for each other of the K classes "
        "(1 - e / 2 and e / 2 for two) instead of 1 and 0, so that the "
        "network's answers stay short of certainty",
      .kind = KIND_FLOAT, .offset = S (train.label_smoothing)},
  {"class-weighting", "Class weighting", "Weight of each class in the loss",
      .kind = KIND_ENUM, .offset = S (train.class_weighting),
      .enum_type = class_weighting_type},
  {"schedule", "Schedule", "Learning rate over the run (online mode: always "
        "constant)", .kind = KIND_ENUM, .offset = S (train.schedule),
      .enum_type = schedule_type},
  {"rotation", "Rotation", "Augmentation: random rotation up to this many "
        "degrees", .kind = KIND_FLOAT, .offset = S (train.augment.rotation_deg)},
  {"shift", "Shift", "Augmentation: random shift up to this fraction of the "
        "size", .kind = KIND_FLOAT, .offset = S (train.augment.shift_frac)},
  {"zoom", "Zoom", "Augmentation: random zoom by up to this fraction",
      .kind = KIND_FLOAT, .offset = S (train.augment.zoom_frac)},
  {"aspect", "Aspect", "Augmentation: random stretch of width against "
        "height, by a factor between 1 / (1 + a) and 1 + a (films of other "
        "shapes, squashed to a square)", .kind = KIND_FLOAT,
      .offset = S (train.augment.aspect)},
  {"gamma", "Gamma", "Augmentation: random gamma between 1 / (1 + g) and "
        "1 + g (other exposures and processing)", .kind = KIND_FLOAT,
      .offset = S (train.augment.gamma_frac)},
  {"contrast", "Contrast", "Augmentation: random contrast about mid-grey by "
        "up to this fraction", .kind = KIND_FLOAT,
      .offset = S (train.augment.contrast_frac)},
  {"brightness", "Brightness", "Augmentation: random brightness offset up "
        "to this (grey levels as a fraction of full scale)", .kind = KIND_FLOAT,
      .offset = S (train.augment.brightness)},
  {"sharpness", "Sharpness", "Augmentation: random blur (down to a 3x3 "
        "binomial blur) or unsharp-mask sharpening by up to this amount "
        "(films of other resolutions and edge enhancement)", .kind = KIND_FLOAT,
      .offset = S (train.augment.sharpness)},
  {"patience", "Patience", "Stop after this many epochs without a better "
        "validation (each ensemble member on its own); 0: never",
      .kind = KIND_INT,
      .offset = S (train.patience)},
  {"members", "Members", "Train an ensemble of this many networks, one after "
        "the other, each from its own seed on the same split; cxrclassify "
        "averages their logits. The run takes this many times as long. A "
        "model= with more members trains them all", .kind = KIND_INT,
      .offset = S (train.members)},
  {"ood-quantile", "Out-of-distribution quantile", "When training ends, the "
        "statistics of the training films' features are kept in the model, "
        "and cxrclassify refuses frames scoring above this quantile of the "
        "validation films' scores (0: no statistics are fitted)",
      .kind = KIND_DOUBLE, .offset = S (train.ood_quantile)},
  {"threshold-tolerance", "Threshold tolerance", "The decision threshold is "
        "the highest one whose validation Youden's J (sensitivity + "
        "specificity - 1) is within this of the best; 0: the best J. A "
        "margin for data on which the first class scores higher than in "
        "validation", .kind = KIND_DOUBLE,
      .offset = S (train.threshold_tolerance)},
  {"precision", "Precision", "Arithmetic of training (validation always runs "
        "in fp32)", .kind = KIND_ENUM, .offset = S (train.precision),
      .enum_type = gst_cxr_precision_get_type},
  {"threads", "Threads", "CPU threads for training; 0: all cores (or "
        "OMP_NUM_THREADS)", .kind = KIND_INT, .offset = S (threads), .min = 0,
      .max = 1024},
  {"online", "Online", "Live stream: step the optimiser every batch-size new "
        "frames on a mini-batch from a replay buffer, instead of epochs at "
        "EOS", .kind = KIND_BOOLEAN, .offset = S (online)},
  {"replay-size", "Replay size", "Online mode: the newest frames kept to "
        "draw mini-batches from", .kind = KIND_UINT, .offset = S (replay_size),
      .min = 2, .max = 1 << 20},
  {"max-cached-frames", "Max cached frames", "Epoch mode: the most labelled "
        "frames kept for training (each takes 2 bytes a pixel at the "
        "model's input size); more is an error", .kind = KIND_UINT,
      .offset = S (max_cached_frames), .min = 1, .max = G_MAXINT},
  {"progress-interval", "Progress interval", "Steps between "
        "\"cxrtrain-progress\" messages (each epoch's last step always has "
        "one)", .kind = KIND_UINT, .offset = S (progress_interval), .min = 1,
      .max = G_MAXUINT, .access = SET_ANY_TIME},
  {"checkpoint-interval", "Checkpoint interval", "Online mode: steps "
        "between checkpoints (epoch mode writes one every epoch)",
      .kind = KIND_UINT,
      .offset = S (checkpoint_interval), .min = 1, .max = G_MAXUINT},

  {"epoch", "Epoch", "Epoch in progress (from 1; 0 online)", .kind = KIND_INT,
      .offset = F (epoch), .min = 0, .max = G_MAXINT, .access = FIGURE},
  {"step", "Step", "Optimiser steps taken in this run, all epochs together",
      .kind = KIND_UINT64, .offset = F (step), .min = 0,
      .max = (gdouble) G_MAXUINT64, .access = FIGURE},
  {"loss", "Loss", "Training loss, running mean over the epoch (online: "
        "since the last progress message); NaN before training",
      .kind = KIND_DOUBLE,
      .offset = F (loss), .min = -G_MAXDOUBLE, .max = G_MAXDOUBLE,
      .access = FIGURE},
  {"accuracy", "Accuracy", "Training accuracy at 0.5, like loss",
      .kind = KIND_DOUBLE, .offset = F (accuracy), .min = -G_MAXDOUBLE,
      .max = G_MAXDOUBLE, .access = FIGURE},
  {"val-auc", "Validation AUC", "ROC AUC of the last class on validation, "
        "latest epoch; NaN without validation", .kind = KIND_DOUBLE,
      .offset = F (val_auc), .min = -G_MAXDOUBLE, .max = G_MAXDOUBLE,
      .access = FIGURE},
  {"val-accuracy", "Validation accuracy", "Accuracy at 0.5 on validation, "
        "latest epoch; NaN without validation", .kind = KIND_DOUBLE,
      .offset = F (val_accuracy), .min = -G_MAXDOUBLE, .max = G_MAXDOUBLE,
      .access = FIGURE},
  {"images-per-second", "Images per second", "Training images per second "
        "since training started", .kind = KIND_DOUBLE,
      .offset = F (images_per_second), .min = -G_MAXDOUBLE, .max = G_MAXDOUBLE,
      .access = FIGURE},
  {"frames-cached", "Frames cached", "Labelled frames taken in (epoch mode: "
        "cached for training)", .kind = KIND_UINT64,
      .offset = F (frames_cached),
      .min = 0, .max = (gdouble) G_MAXUINT64, .access = FIGURE},
  {"frames-skipped", "Frames skipped", "Frames without a usable label "
        "(none, or a class the model lacks)", .kind = KIND_UINT64,
      .offset = F (frames_skipped), .min = 0, .max = (gdouble) G_MAXUINT64,
      .access = FIGURE},
};

/* ---- the settings ---- */

void
gst_cxr_train_settings_init (GstCxrTrainSettings * s)
{
  memset (s, 0, sizeof *s);
  s->classes = g_strdup (DEFAULT_CLASSES);
  s->architecture = g_strdup (DEFAULT_ARCHITECTURE);
  s->film_normalization = CXR_FILM_NONE;
  s->mode = GST_CXR_TRAIN_MODE_TRAIN;
  cxr_calibrate_config_init (&s->calibrate);
  cxr_train_config_init (&s->train);
  s->replay_size = DEFAULT_REPLAY_SIZE;
  s->max_cached_frames = DEFAULT_MAX_CACHED_FRAMES;
  s->progress_interval = DEFAULT_PROGRESS_INTERVAL;
  s->checkpoint_interval = DEFAULT_CHECKPOINT_INTERVAL;
}

void
gst_cxr_train_figures_init (GstCxrTrainFigures * f)
{
  memset (f, 0, sizeof *f);
  f->loss = f->accuracy = f->val_auc = f->val_accuracy = NAN;
}

static gchar **
string_at (const GstCxrTrainSettings * s, const Property * p)
{
  return G_STRUCT_MEMBER_P (s, p->offset);
}

void
gst_cxr_train_settings_copy (GstCxrTrainSettings * dst,
    const GstCxrTrainSettings * src)
{
  *dst = *src;
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    if (properties[i].kind == KIND_STRING)
      *string_at (dst, &properties[i]) =
          g_strdup (*string_at (src, &properties[i]));
}

void
gst_cxr_train_settings_clear (GstCxrTrainSettings * s)
{
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    if (properties[i].kind == KIND_STRING)
      g_clear_pointer (string_at (s, &properties[i]), g_free);
}

/* ---- the properties ---- */

static GParamSpec *
param_spec (const Property * p, const GstCxrTrainSettings * d,
    const GstCxrTrainFigures * f)
{
  gconstpointer at = p->access == FIGURE ?
      G_STRUCT_MEMBER_P (f, p->offset) : G_STRUCT_MEMBER_P (d, p->offset);
  /* a training setting's range is the core's, which checks it */
  const CxrTrainSetting *core = cxr_train_setting (p->name);
  gdouble min = core ? core->min : p->min, max = core ? core->max : p->max;
  GParamFlags flags = G_PARAM_STATIC_STRINGS | (p->access == FIGURE ?
      G_PARAM_READABLE : G_PARAM_READWRITE | (p->access == SET_ANY_TIME ?
          GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));

  switch (p->kind) {
    case KIND_INT:
      return g_param_spec_int (p->name, p->nick, p->blurb, min, max,
          *(const gint *) at, flags);
    case KIND_UINT:
      return g_param_spec_uint (p->name, p->nick, p->blurb, min, max,
          *(const guint *) at, flags);
    case KIND_UINT64:
      return g_param_spec_uint64 (p->name, p->nick, p->blurb, min,
          max == (gdouble) G_MAXUINT64 ? G_MAXUINT64 : max,
          *(const guint64 *) at, flags);
    case KIND_FLOAT:
      return g_param_spec_float (p->name, p->nick, p->blurb, min, max,
          *(const gfloat *) at, flags);
    case KIND_DOUBLE:
      /* a figure's default is 0; NaN is outside every range */
      return g_param_spec_double (p->name, p->nick, p->blurb, min, max,
          p->access == FIGURE ? 0.0 : *(const gdouble *) at, flags);
    case KIND_BOOLEAN:
      return g_param_spec_boolean (p->name, p->nick, p->blurb,
          *(const gboolean *) at, flags);
    case KIND_STRING:
      return g_param_spec_string (p->name, p->nick, p->blurb,
          *(gchar * const *) at, flags);
    case KIND_ENUM:
      gst_type_mark_as_plugin_api (p->enum_type (), 0);
      return g_param_spec_enum (p->name, p->nick, p->blurb, p->enum_type (),
          *(const gint *) at, flags);
  }
  g_assert_not_reached ();
}

void
gst_cxr_train_install_properties (GObjectClass * klass)
{
  GstCxrTrainSettings defaults;
  GstCxrTrainFigures figures;

  gst_cxr_train_settings_init (&defaults);
  gst_cxr_train_figures_init (&figures);
  for (guint i = 0; i < G_N_ELEMENTS (properties); i++)
    g_object_class_install_property (klass, i + 1,
        param_spec (&properties[i], &defaults, &figures));
  gst_cxr_train_settings_clear (&defaults);
}

void
gst_cxr_train_settings_set (GstCxrTrainSettings * s, guint prop_id,
    const GValue * value)
{
  const Property *p;
  gpointer at;

  g_return_if_fail (prop_id >= 1 && prop_id <= G_N_ELEMENTS (properties));
  p = &properties[prop_id - 1];
  g_return_if_fail (p->access != FIGURE);
  at = G_STRUCT_MEMBER_P (s, p->offset);
  switch (p->kind) {
    case KIND_INT:
      *(gint *) at = g_value_get_int (value);
      break;
    case KIND_UINT:
      *(guint *) at = g_value_get_uint (value);
      break;
    case KIND_UINT64:
      *(guint64 *) at = g_value_get_uint64 (value);
      break;
    case KIND_FLOAT:
      *(gfloat *) at = g_value_get_float (value);
      break;
    case KIND_DOUBLE:
      *(gdouble *) at = g_value_get_double (value);
      break;
    case KIND_BOOLEAN:
      *(gboolean *) at = g_value_get_boolean (value);
      break;
    case KIND_STRING:
      g_free (*(gchar **) at);
      *(gchar **) at = g_value_dup_string (value);
      break;
    case KIND_ENUM:
      *(gint *) at = g_value_get_enum (value);
      break;
  }
}

void
gst_cxr_train_settings_get (const GstCxrTrainSettings * s,
    const GstCxrTrainFigures * f, guint prop_id, GValue * value)
{
  const Property *p;
  gconstpointer at;

  g_return_if_fail (prop_id >= 1 && prop_id <= G_N_ELEMENTS (properties));
  p = &properties[prop_id - 1];
  at = p->access == FIGURE ? G_STRUCT_MEMBER_P (f, p->offset) :
      G_STRUCT_MEMBER_P (s, p->offset);
  switch (p->kind) {
    case KIND_INT:
      g_value_set_int (value, *(const gint *) at);
      break;
    case KIND_UINT:
      g_value_set_uint (value, *(const guint *) at);
      break;
    case KIND_UINT64:
      g_value_set_uint64 (value, *(const guint64 *) at);
      break;
    case KIND_FLOAT:
      g_value_set_float (value, *(const gfloat *) at);
      break;
    case KIND_DOUBLE:
      g_value_set_double (value, *(const gdouble *) at);
      break;
    case KIND_BOOLEAN:
      g_value_set_boolean (value, *(const gboolean *) at);
      break;
    case KIND_STRING:
      g_value_set_string (value, *(gchar * const *) at);
      break;
    case KIND_ENUM:
      g_value_set_enum (value, *(const gint *) at);
      break;
  }
}

/* ---- what the settings ask of a run ---- */

/* the model a run trains: the model file, or a new one */
static CxrModel *
starting_model (const GstCxrTrainSettings * s, GError ** error)
{
  GError *cause = NULL;
  CxrModel *model;

  if (s->model) {
    if (!(model = cxr_model_load (s->model, &cause))) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "Cannot start training from model '%s': %s", s->model,
          cause->message);
      g_error_free (cause);
      return NULL;
    }
    /* the chain of models, for whoever reads the provenance */
    cxr_provenance_set (model, "parent_model", "%s", model->id);
    return model;
  }
  model = cxr_model_new_named (s->architecture, s->classes, NEW_MODEL_SIDE,
      s->train.seed, &cause);
  if (!model) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Cannot make a new model with architecture '%s' and classes '%s': "
        "%s. Set architecture= to default, seed or a layer spec, and "
        "classes= to as many names as it has outputs.", s->architecture,
        s->classes, cause->message);
    g_error_free (cause);
    return NULL;
  }
  model->norm.film = s->film_normalization;
  model->norm.blur = s->input_blur;
  if (s->member_offsets && s->train.members > 1)
    cxr_model_set_member_offsets (model);
  return model;
}

/* what the model cannot do with these settings */
static gboolean
check_model (const GstCxrTrainSettings * s, const CxrModel * model,
    gint * label_index, GError ** error)
{
  const CxrNetSpec *spec = model->spec;

  if (spec->in_c != 1 || spec->in_h != spec->in_w) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Model '%s' takes %dx%dx%d input; cxrtrain trains models with one "
        "square grey channel.", s->model, spec->in_c, spec->in_h,
        spec->in_w);
    return FALSE;
  }
  *label_index = s->label ? cxr_model_class_index (model, s->label) : -1;
  if (s->label && *label_index < 0) {
    gchar *known = g_strjoinv (", ", model->classes);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "label '%s' is not one of the model's classes (%s).", s->label,
        known);
    g_free (known);
    return FALSE;
  }
  return TRUE;
}

CxrModel *
gst_cxr_train_settings_model (const GstCxrTrainSettings * s,
    gint * label_index, GError ** error)
{
  CxrModel *model;

  if (!s->output) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "Set output= to where the trained model should be written.");
    return NULL;
  }
  if (s->mode != GST_CXR_TRAIN_MODE_TRAIN && (!s->model || s->online)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "mode=%s fits an existing model to a site's films: set model= to "
        "the base model%s.", s->mode == GST_CXR_TRAIN_MODE_CALIBRATE ?
        "calibrate" : "fine-tune", s->online ?
        " and leave online= false" : "");
    return NULL;
  }
  if (!(model = starting_model (s, error)))
    return NULL;
  if (!check_model (s, model, label_index, error)) {
    cxr_model_free (model);
    return NULL;
  }
  return model;
}

void
gst_cxr_train_settings_calibrate_config (const GstCxrTrainSettings * s,
    CxrCalibrateConfig * cc)
{
  *cc = s->calibrate;
  cc->method = s->mode == GST_CXR_TRAIN_MODE_FINE_TUNE ?
      CXR_CALIBRATE_FINE_TUNE : CXR_CALIBRATE_PLATT;
  /* fine-tuning keeps calibrate's few gentle epochs; the rest as set */
  cc->train.seed = s->train.seed;
  cc->train.batch_size = s->train.batch_size;
  cc->train.augment = s->train.augment;
  cc->train.class_weighting = s->train.class_weighting;
  cc->train.precision = s->train.precision;
}
