/* cxrtrain in pipelines: labels from metas and from the label property,
 * skipped frames, settings errors, messages and figures, resuming, a kill
 * during checkpoints, divergence, interruption, pausing, patients from the
 * label metas, online mode, hand-off to a
 * playing cxrclassify, and learning on real chest X-rays.
 *
 * Frames come from appsrc with label metas made here; the real-data test
 * decodes the JPEGs itself (CXR_DATA_DIR, default ../shared/data) so it does
 * not depend on cxrdatasetsrc. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>

#include "gst/cxr/cxrmeta.h"
#include "model.h"
#include "testdata.h"

/* a small network, so that most tests train in well under a second */
#define TINY "conv:8,s2,same,bn relu maxpool:2 conv:16,same,bn relu " \
  "maxpool:2 gap dense:1 sigmoid"
#define SIDE 64
#define CAPS "video/x-raw,format=GRAY8,width=64,height=64,framerate=0/1"

static const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };
static gchar *tmp_dir;

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("cxrtrain-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
}

static void
teardown (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (tmp_dir, name, NULL);
    g_remove (path);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
}

static gchar *
tmp_path (const gchar * name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* ---- frames ---- */

/* A noisy SIDE x SIDE grey frame; class 1 has a bright blob near the centre,
 * class 0 does not: easy to learn, not trivial to the first pixel. */
static GstBuffer *
frame (int cls, int k)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, SIDE * SIDE, NULL);
  GRand *rand = g_rand_new_with_seed (k * 2 + cls);
  int cx = SIDE / 2 + g_rand_int_range (rand, -8, 9);
  int cy = SIDE / 2 + g_rand_int_range (rand, -8, 9);
  GstMapInfo map;

  g_assert (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++) {
      int v = 40 + x / 2 + g_rand_int_range (rand, 0, 40);
      int dx = x - cx, dy = y - cy;
      if (cls == 1 && dx * dx + dy * dy < 12 * 12)
        v += 110;
      map.data[y * SIDE + x] = (guint8) MIN (v, 255);
    }
  gst_buffer_unmap (buf, &map);
  g_rand_free (rand);
  return buf;
}

/* a patient-style file name, so that validation is split by patient */
static gchar *
file_name (int cls, int k)
{
  return cls ? g_strdup_printf ("person%d_virus_1.jpeg", k) :
      g_strdup_printf ("IM-%04d-0001.jpeg", k);
}

/* frame k of class cls with a label meta naming it */
static GstBuffer *
labelled (int cls, int k)
{
  GstBuffer *buf = frame (cls, k);
  gchar *name = file_name (cls, k);

  gst_buffer_add_cxr_label_meta (buf, -1, classes[cls], name);
  g_free (name);
  return buf;
}

static void
push (GstElement * appsrc, GstBuffer * buf)
{
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (appsrc), buf),
      GST_FLOW_OK);
}

/* n frames of each class, alternating */
static void
push_labelled (GstElement * appsrc, int n)
{
  for (int k = 0; k < n; k++) {
    push (appsrc, labelled (0, k));
    push (appsrc, labelled (1, k));
  }
}

/* ---- running a pipeline ---- */

typedef struct {
  GstElement *pipeline;
  GstElement *src, *train;
  GPtrArray *messages;          /* GstStructure *: cxrtrain's element messages */
  GPtrArray *warnings;          /* gchar * */
  gchar *error;                 /* the first error's text, or NULL */
  gchar *error_debug;
  gboolean eos;
} Run;

/* "appsrc caps=<caps> ! cxrtrain <props>" */
static Run *
run_new_with_caps (const gchar * caps, const gchar * props)
{
  Run *r = g_new0 (Run, 1);
  gchar *launch = g_strdup_printf ("appsrc name=src caps=\"%s\" format=time "
      "! cxrtrain name=train %s", caps, props);
  GError *error = NULL;

  r->pipeline = gst_parse_launch (launch, &error);
  fail_unless (r->pipeline != NULL, "%s: %s", launch,
      error ? error->message : "");
  r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  r->train = gst_bin_get_by_name (GST_BIN (r->pipeline), "train");
  r->messages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_structure_free);
  r->warnings = g_ptr_array_new_with_free_func (g_free);
  g_free (launch);
  return r;
}

static Run *
run_new (const gchar * props)
{
  return run_new_with_caps (CAPS, props);
}

static gboolean
run_play (Run * r)
{
  return gst_element_set_state (r->pipeline, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE;
}

/* One bus message; FALSE once the run is over (EOS or error) or on
 * timeout. */
static gboolean
run_handle (Run * r, GstClockTime timeout)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (r->pipeline),
      timeout, GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING |
      GST_MESSAGE_ELEMENT);
  GError *error = NULL;
  gchar *debug = NULL;
  gboolean more = TRUE;

  if (!msg)
    return FALSE;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      r->eos = TRUE;
      more = FALSE;
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      if (!r->error) {
        r->error = g_strdup (error->message);
        r->error_debug = g_strdup (debug);
      }
      more = FALSE;
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, &debug);
      g_ptr_array_add (r->warnings, g_strdup (error->message));
      break;
    case GST_MESSAGE_ELEMENT:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (r->train))
        g_ptr_array_add (r->messages,
            gst_structure_copy (gst_message_get_structure (msg)));
      break;
    default:
      break;
  }
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);
  return more;
}

/* EOS into the source, then messages until the end; the deadline only
 * catches a run that hangs (under the sanitizers, on a busy 2-core
 * machine, a short run has taken over a minute) */
static void
run_finish (Run * r)
{
  gint64 deadline = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;

  gst_app_src_end_of_stream (GST_APP_SRC (r->src));
  while (!r->eos && !r->error && g_get_monotonic_time () < deadline)
    run_handle (r, GST_SECOND);
  fail_unless (r->eos || r->error, "the run did not end within 300 s");
}

static void
run_free (Run * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->src);
  gst_object_unref (r->train);
  gst_object_unref (r->pipeline);
  g_ptr_array_unref (r->messages);
  g_ptr_array_unref (r->warnings);
  g_free (r->error);
  g_free (r->error_debug);
  g_free (r);
}

static guint
count_messages (Run * r, const gchar * name)
{
  guint n = 0;
  for (guint i = 0; i < r->messages->len; i++)
    n += gst_structure_has_name (g_ptr_array_index (r->messages, i), name);
  return n;
}

/* the nth (from 0) message of that name, or NULL */
static const GstStructure *
nth_message (Run * r, const gchar * name, guint nth)
{
  for (guint i = 0; i < r->messages->len; i++) {
    const GstStructure *s = g_ptr_array_index (r->messages, i);
    if (gst_structure_has_name (s, name) && nth-- == 0)
      return s;
  }
  return NULL;
}

static gdouble
get_double (const GstStructure * s, const gchar * field)
{
  gdouble v = NAN;
  fail_unless (gst_structure_get_double (s, field, &v), "%s has no %s",
      gst_structure_get_name (s), field);
  return v;
}

static gint
get_int (const GstStructure * s, const gchar * field)
{
  gint v = -1;
  fail_unless (gst_structure_get_int (s, field, &v), "%s has no %s",
      gst_structure_get_name (s), field);
  return v;
}

static gboolean
has_warning (Run * r, const gchar * text)
{
  for (guint i = 0; i < r->warnings->len; i++)
    if (strstr (g_ptr_array_index (r->warnings, i), text))
      return TRUE;
  return FALSE;
}

static gboolean
params_finite (const CxrModel * m)
{
  for (size_t i = 0; i < m->spec->n_floats; i++)
    if (!isfinite (m->params[i]))
      return FALSE;
  return TRUE;
}

static CxrModel *
load (const gchar * path)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_load (path, &error);
  fail_unless (m != NULL, "%s", error ? error->message : "");
  return m;
}

static const gchar *
provenance (const CxrModel * m, const gchar * key)
{
  return g_hash_table_lookup (m->provenance, key);
}

/* ---- tests ---- */

GST_START_TEST (test_messages_and_figures)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=3 batch-size=8 learning-rate=0.01 validation-fraction=0.25 progress-interval=1 "
      "patience=0 seed=3 aspect=0.25 sharpness=0.5 gamma=0.2 "
      "threshold-tolerance=0.05", out, TINY);
  Run *r = run_new (props);
  const GstStructure *s;
  CxrModel *m;
  gdouble auc;
  guint64 cached, skipped, step;
  gint epoch;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless (r->eos);

  /* one epoch message and one checkpoint per epoch, progress each step */
  fail_unless_equals_int (count_messages (r, "cxrtrain-epoch"), 3);
  fail_unless_equals_int (count_messages (r, "cxrtrain-checkpoint"), 3);
  fail_unless_equals_int (count_messages (r, "cxrtrain-done"), 1);
  fail_unless (count_messages (r, "cxrtrain-progress") >= 3);
  s = nth_message (r, "cxrtrain-progress", 0);
  fail_unless_equals_int (get_int (s, "epoch"), 1);
  fail_unless_equals_int (get_int (s, "epochs"), 3);
  fail_unless_equals_int (get_int (s, "step"), 1);
  fail_unless (get_int (s, "steps-per-epoch") >= 3);
  fail_unless (isfinite (get_double (s, "loss")));
  fail_unless (get_double (s, "accuracy") >= 0);
  fail_unless (get_double (s, "images-per-second") > 0);
  fail_unless (get_double (s, "eta-seconds") >= 0);
  s = nth_message (r, "cxrtrain-epoch", 2);
  fail_unless_equals_int (get_int (s, "epoch"), 3);
  auc = get_double (s, "val-auc");
  fail_unless (auc >= 0 && auc <= 1);
  fail_unless (isfinite (get_double (s, "val-loss")));
  fail_unless (isfinite (get_double (s, "threshold")));
  fail_unless (gst_structure_has_field (s, "best"));
  s = nth_message (r, "cxrtrain-checkpoint", 0);
  fail_unless_equals_string (gst_structure_get_string (s, "location"), out);
  fail_unless_equals_int (get_int (s, "epoch"), 1);

  /* the final model is on disk, with a threshold and its provenance */
  s = nth_message (r, "cxrtrain-done", 0);
  m = load (out);
  fail_unless_equals_string (gst_structure_get_string (s, "model-id"), m->id);
  fail_unless_equals_string (m->classes[1], "PNEUMONIA");
  fail_unless_equals_string (m->spec->text, TINY);
  fail_unless_equals_string (provenance (m, "epochs_run"), "3");
  fail_unless_equals_string (provenance (m, "val_images"), "10");
  /* the augmentation properties reach the training and its record */
  fail_unless_equals_string (provenance (m, "augment"),
      "rotation=10 shift=0.1 zoom=0.1 aspect=0.25");
  fail_unless_equals_string (provenance (m, "augment_sharpness"), "0.5");
  fail_unless_equals_string (provenance (m, "threshold_method"),
      "youden-within:0.05");
  fail_unless_equals_string (provenance (m, "augment_intensity"),
      "gamma=0.2 contrast=0 brightness=0");
  fail_unless (m->threshold > 0 && m->threshold < 1);
  fail_unless (get_int (s, "best-epoch") >= 1);
  fail_unless (fabs (get_double (s, "val-auc")
          - g_ascii_strtod (provenance (m, "val_auc"), NULL)) < 1e-5);
  /* an easy task: the blob is found */
  fail_unless (get_double (s, "val-auc") > 0.9, "val AUC %f",
      get_double (s, "val-auc"));
  cxr_model_free (m);

  /* the readable figures */
  g_object_get (r->train, "frames-cached", &cached, "frames-skipped",
      &skipped, "epoch", &epoch, "step", &step, "val-auc", &auc, NULL);
  fail_unless_equals_uint64 (cached, 40);
  fail_unless_equals_uint64 (skipped, 0);
  fail_unless_equals_int (epoch, 3);
  fail_unless_equals_uint64 (step, 3 * 3);      /* 30 training / 8 */
  fail_unless (auc >= 0 && auc <= 1);

  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* Frames of one stream labelled by the property, frames with a class index
 * only, frames with a class name: all are taken, with the right classes. */
GST_START_TEST (test_label_property)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=3 batch-size=8 learning-rate=0.01 validation-fraction=0.25 label=PNEUMONIA "
      "patience=0", out, TINY);
  Run *r = run_new (props);
  guint64 cached, skipped;
  const GstStructure *s;

  fail_unless (run_play (r));
  for (int k = 0; k < 20; k++) {
    GstBuffer *normal = frame (0, k), *pneumonia = frame (1, k);
    gchar *n0 = file_name (0, k);
    /* NORMAL by index (no name) or by name; PNEUMONIA by the property */
    gst_buffer_add_cxr_label_meta (normal, k % 2 ? 0 : -1,
        k % 2 ? NULL : "NORMAL", n0);
    push (r->src, normal);
    push (r->src, pneumonia);
    g_free (n0);
  }
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  g_object_get (r->train, "frames-cached", &cached, "frames-skipped",
      &skipped, NULL);
  fail_unless_equals_uint64 (cached, 40);
  fail_unless_equals_uint64 (skipped, 0);
  fail_unless_equals_int (r->warnings->len, 0);
  /* had the labels been wrong (all one class), there would be no AUC, and
   * swapped classes would score far below chance */
  s = nth_message (r, "cxrtrain-done", 0);
  fail_unless (s != NULL);
  fail_unless (get_double (s, "val-auc") > 0.9, "val AUC %f",
      get_double (s, "val-auc"));
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

GST_START_TEST (test_skipped_frames)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=1 batch-size=8", out, TINY);
  Run *r = run_new (props);
  guint64 cached, skipped;

  fail_unless (run_play (r));
  push_labelled (r->src, 10);
  for (int k = 0; k < 3; k++)
    push (r->src, frame (0, 100 + k));  /* no label at all */
  for (int k = 0; k < 2; k++) {
    GstBuffer *buf = frame (1, 200 + k);
    gst_buffer_add_cxr_label_meta (buf, -1, "COVID", "scan.png");
    push (r->src, buf);
  }
  {
    /* an index out of range is no label either */
    GstBuffer *buf = frame (1, 300);
    gst_buffer_add_cxr_label_meta (buf, 7, NULL, NULL);
    push (r->src, buf);
  }
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  g_object_get (r->train, "frames-cached", &cached, "frames-skipped",
      &skipped, NULL);
  fail_unless_equals_uint64 (cached, 20);
  fail_unless_equals_uint64 (skipped, 6);
  /* one warning per kind, not per frame */
  fail_unless_equals_int (r->warnings->len, 2);
  fail_unless (has_warning (r, "without a label"));
  fail_unless (has_warning (r, "'COVID'"));
  fail_unless_equals_int (count_messages (r, "cxrtrain-done"), 1);
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* errors a user can act on, at start and at EOS */
GST_START_TEST (test_settings_errors)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *bad = tmp_path ("bad.safetensors");
  gchar *props;
  Run *r;

  /* no output */
  r = run_new ("");
  fail_if (run_play (r));
  run_handle (r, GST_SECOND);
  fail_unless (r->error && strstr (r->error, "Set output="), "%s", r->error);
  run_free (r);

  /* a starting model that is not one: the error names the file */
  fail_unless (g_file_set_contents (bad, "not a model", -1, NULL));
  props = g_strdup_printf ("output=\"%s\" model=\"%s\"", out, bad);
  r = run_new (props);
  fail_if (run_play (r));
  run_handle (r, GST_SECOND);
  fail_unless (r->error && strstr (r->error, bad), "%s", r->error);
  run_free (r);
  g_free (props);

  /* a label that is not a class */
  props = g_strdup_printf ("output=\"%s\" label=COVID", out);
  r = run_new (props);
  fail_if (run_play (r));
  run_handle (r, GST_SECOND);
  fail_unless (r->error && strstr (r->error, "COVID"), "%s", r->error);
  run_free (r);
  g_free (props);

  /* a bad architecture */
  props = g_strdup_printf ("output=\"%s\" architecture=\"conv:8 wobble\"", out);
  r = run_new (props);
  fail_if (run_play (r));
  run_handle (r, GST_SECOND);
  fail_unless (r->error && strstr (r->error, "architecture"), "%s", r->error);
  run_free (r);
  g_free (props);

  /* nothing labelled: an error at EOS, not an EOS, and no file */
  props = g_strdup_printf ("output=\"%s\" architecture=\"%s\"", out, TINY);
  r = run_new (props);
  fail_unless (run_play (r));
  push (r->src, frame (0, 1));
  run_finish (r);
  fail_unless (r->error && strstr (r->error, "No labelled frames"), "%s",
      r->error);
  fail_if (r->eos);
  fail_if (g_file_test (out, G_FILE_TEST_EXISTS));
  run_free (r);
  g_free (props);

  /* more frames than the cache may hold: an error that says what to set,
   * before EOS, and no file */
  props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "max-cached-frames=5", out, TINY);
  r = run_new (props);
  fail_unless (run_play (r));
  push_labelled (r->src, 3);
  while (run_handle (r, GST_SECOND));
  fail_unless (r->error && strstr (r->error, "max-cached-frames"), "%s",
      r->error);
  fail_if (r->eos);
  fail_if (g_file_test (out, G_FILE_TEST_EXISTS));
  run_free (r);
  g_free (props);

  g_free (bad);
  g_free (out);
}

GST_END_TEST;

static gdouble
first_val_loss (const gchar * props)
{
  Run *r = run_new (props);
  gdouble loss;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  loss = get_double (nth_message (r, "cxrtrain-epoch", 0), "val-loss");
  run_free (r);
  return loss;
}

/* A second run with model= starts where the first ended. */
GST_START_TEST (test_resume)
{
  gchar *a = tmp_path ("a.safetensors"), *b = tmp_path ("b.safetensors");
  gchar *c = tmp_path ("c.safetensors");
  gchar *first = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=30 batch-size=8 learning-rate=0.01 validation-fraction=0.25 patience=0 seed=5", a,
      TINY);
  gchar *fresh = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=1 batch-size=8 learning-rate=0.01 validation-fraction=0.25 seed=5", c, TINY);
  gchar *again = g_strdup_printf ("output=\"%s\" model=\"%s\" "
      "epochs=1 batch-size=8 learning-rate=0.01 validation-fraction=0.25 seed=5", b, a);
  gdouble loss_fresh, loss_resumed;
  CxrModel *ma, *mb;

  first_val_loss (first);
  loss_fresh = first_val_loss (fresh);
  loss_resumed = first_val_loss (again);
  GST_INFO ("first epoch's validation loss: fresh %.4f, resumed %.4f",
      loss_fresh, loss_resumed);
  fail_unless (loss_resumed < 0.5 * loss_fresh, "resumed %f, fresh %f",
      loss_resumed, loss_fresh);

  /* the provenance chains the models; architecture and classes carry on */
  ma = load (a);
  mb = load (b);
  fail_unless_equals_string (provenance (mb, "parent_model"), ma->id);
  fail_unless_equals_string (mb->spec->text, ma->spec->text);
  fail_unless_equals_string (provenance (mb, "epochs_run"), "1");
  cxr_model_free (ma);
  cxr_model_free (mb);
  g_free (first);
  g_free (fresh);
  g_free (again);
  g_free (a);
  g_free (b);
  g_free (c);
}

GST_END_TEST;

/* one epoch of the tiny network on 8 labelled frames into out; the run's
 * first error, or NULL */
static gchar *
train_once (const gchar * out)
{
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=1 batch-size=4 validation-fraction=0.25 seed=3", out, TINY);
  Run *r = run_new (props);
  gchar *error;

  fail_unless (run_play (r));
  push_labelled (r->src, 4);
  run_finish (r);
  error = g_strdup (r->error);
  fail_unless (error != NULL || r->eos);
  run_free (r);
  g_free (props);
  return error;
}

/* Training whose model cannot be written: an error that names the cause,
 * and the model already at `out` left as it was, byte for byte. */
static void
expect_write_refused (const gchar * out, const gchar * before, gsize size,
    const gchar * cause)
{
  gchar *error = train_once (out), *after = NULL;
  gsize after_size = 0;
  CxrModel *m;

  fail_unless (error && strstr (error, cause), "wanted '%s', got '%s'", cause,
      error);
  fail_unless (g_file_get_contents (out, &after, &after_size, NULL));
  fail_unless (after_size == size && memcmp (before, after, size) == 0,
      "the previous model was changed");
  m = load (out);
  cxr_model_free (m);
  g_free (after);
  g_free (error);
}

/* A full disk, as a file size limit: writing stops at a few kilobytes. */
GST_START_TEST (test_full_disk)
{
  gchar *out = tmp_path ("full.safetensors"), *before = NULL;
  gsize size = 0;
  struct rlimit limit, small;

  fail_unless (train_once (out) == NULL);
  fail_unless (g_file_get_contents (out, &before, &size, NULL));
  /* past the limit write () fails with EFBIG once SIGXFSZ is ignored */
  signal (SIGXFSZ, SIG_IGN);
  fail_unless (getrlimit (RLIMIT_FSIZE, &limit) == 0);
  small = limit;
  small.rlim_cur = 4096;
  fail_unless (setrlimit (RLIMIT_FSIZE, &small) == 0);
  expect_write_refused (out, before, size, g_strerror (EFBIG));
  fail_unless (setrlimit (RLIMIT_FSIZE, &limit) == 0);
  g_free (before);
  g_free (out);
}

GST_END_TEST;

/* A read-only output folder: a read-only file system (a tmpfs remounted
 * read-only) when running as root, whom permissions do not stop, else a
 * folder without write permission. */
GST_START_TEST (test_read_only_output)
{
  gchar *dir = tmp_path ("read-only"), *out, *before = NULL;
  gsize size = 0;
  gboolean mounted = FALSE;

  fail_unless (g_mkdir (dir, 0755) == 0);
  if (geteuid () == 0) {
    if (mount ("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
      /* main has said so, and a root that cannot mount cannot run this */
      g_rmdir (dir);
      g_free (dir);
      return;
    }
    mounted = TRUE;
  }
  out = g_build_filename (dir, "model.safetensors", NULL);
  fail_unless (train_once (out) == NULL);
  fail_unless (g_file_get_contents (out, &before, &size, NULL));
  if (mounted)
    fail_unless (mount ("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY,
            "size=1m") == 0, "%s", g_strerror (errno));
  else
    fail_unless (g_chmod (dir, 0555) == 0);
  expect_write_refused (out, before, size, mounted ? g_strerror (EROFS) :
      g_strerror (EACCES));
  if (mounted)
    fail_unless (umount (dir) == 0);
  else {
    g_chmod (dir, 0755);
    g_remove (out);
  }
  g_rmdir (dir);
  g_free (before);
  g_free (out);
  g_free (dir);
}

GST_END_TEST;

/* mode=calibrate: a base trained on the blob frames, then fitted to a
 * "site" of 25 + 25 other frames: the weights stay, the file says what was
 * done; too small a sample, or no model=, is refused and nothing is
 * written */
GST_START_TEST (test_calibrate)
{
  gchar *base = tmp_path ("base.safetensors");
  gchar *out = tmp_path ("calibrated.safetensors");
  gchar *train = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=3 batch-size=8 learning-rate=0.01 seed=3", base, TINY);
  gchar *calibrate = g_strdup_printf ("mode=calibrate model=\"%s\" "
      "output=\"%s\"", base, out);
  gchar *no_model = g_strdup_printf ("mode=calibrate output=\"%s\"", out);
  const GstStructure *s;
  CxrModel *mb, *mc;
  Run *r;

  r = run_new (train);
  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->eos, "%s", r->error ? r->error : "");
  run_free (r);

  /* 19 of each class: refused, nothing written */
  r = run_new (calibrate);
  fail_unless (run_play (r));
  for (int k = 0; k < 19; k++) {
    push (r->src, labelled (0, 1000 + k));
    push (r->src, labelled (1, 1000 + k));
  }
  run_finish (r);
  fail_unless (r->error != NULL);
  fail_unless (strstr (r->error, "at least 20") != NULL, "%s", r->error);
  fail_unless (strstr (r->error, "Nothing was written") != NULL, "%s",
      r->error);
  fail_if (g_file_test (out, G_FILE_TEST_EXISTS));
  run_free (r);

  /* without model= */
  r = run_new (no_model);
  fail_if (run_play (r) && (run_finish (r), r->error == NULL));
  run_free (r);

  r = run_new (calibrate);
  fail_unless (run_play (r));
  for (int k = 0; k < 25; k++) {
    push (r->src, labelled (0, 1000 + k));
    push (r->src, labelled (1, 1000 + k));
  }
  run_finish (r);
  fail_unless (r->eos, "%s", r->error ? r->error : "");
  s = nth_message (r, "cxrtrain-calibrated", 0);
  fail_unless (s != NULL);
  fail_unless_equals_int (get_int (s, "images"), 50);
  fail_unless (strstr (gst_structure_get_string (s, "cv-after"), "auc=")
      != NULL);
  mb = load (base);
  mc = load (out);
  /* the same weights, a new rule */
  fail_unless_equals_int (memcmp (mb->params, mc->params,
          mb->spec->n_floats * sizeof (float)), 0);
  fail_unless (mc->logit_scale > 0.0f);
  fail_unless (mc->logit_scale != 1.0f || mc->logit_offset != 0.0f);
  fail_unless_equals_string (provenance (mc, "calibration_base_model"),
      mb->id);
  fail_unless_equals_string (provenance (mc, "calibration_method"), "platt");
  fail_unless_equals_string (provenance (mc, "calibration_images"),
      "50 (25 NORMAL, 25 PNEUMONIA)");
  fail_unless (provenance (mc, "calibration_fingerprint") != NULL);
  fail_unless (provenance (mc, "calibration_cv_before") != NULL);
  fail_unless (provenance (mc, "calibration_cv_after") != NULL);
  /* the training provenance is the base's */
  fail_unless_equals_string (provenance (mc, "data_fingerprint"),
      provenance (mb, "data_fingerprint"));
  cxr_model_free (mb);
  cxr_model_free (mc);
  run_free (r);
  g_free (train);
  g_free (calibrate);
  g_free (no_model);
  g_free (base);
  g_free (out);
}

GST_END_TEST;

/* learning-rate 1e6: an error saying so, and a usable model at output */
GST_START_TEST (test_divergence)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=5 batch-size=8 learning-rate=1e6 schedule=constant", out, TINY);
  Run *r = run_new (props);
  CxrModel *m;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->error != NULL);
  fail_unless (strstr (r->error, "diverged") != NULL, "%s", r->error);
  fail_unless (strstr (r->error, "learning-rate") != NULL, "%s", r->error);
  fail_if (r->eos);
  fail_unless_equals_int (count_messages (r, "cxrtrain-done"), 0);
  m = load (out);
  fail_unless (params_finite (m));
  cxr_model_free (m);
  run_free (r);
  g_free (props);

  /* online, likewise: the stream stops with the error */
  g_remove (out);
  props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" online=true "
      "batch-size=8 learning-rate=1e6", out, TINY);
  r = run_new (props);
  fail_unless (run_play (r));
  for (int k = 0; k < 100 && !r->error; k++) {
    GstBuffer *buf = labelled (k % 2, k);
    gst_app_src_push_buffer (GST_APP_SRC (r->src), buf);
    while (run_handle (r, 0));
  }
  run_finish (r);
  fail_unless (r->error && strstr (r->error, "diverged"), "%s", r->error);
  m = load (out);
  fail_unless (params_finite (m));
  cxr_model_free (m);
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* Going to NULL while training stops it within a step or so; the last
 * checkpoint stays, and no EOS is posted. */
GST_START_TEST (test_interrupt)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=100000 batch-size=8 patience=0", out, TINY);
  Run *r = run_new (props);
  gint64 start;
  CxrModel *m;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  gst_app_src_end_of_stream (GST_APP_SRC (r->src));
  while (count_messages (r, "cxrtrain-checkpoint") == 0)
    fail_unless (run_handle (r, 20 * GST_SECOND), "no checkpoint within 20 s");
  start = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (r->pipeline, GST_STATE_NULL)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC,
      "stopping took %.1f s", (g_get_monotonic_time () - start) / 1e6);
  /* going to NULL flushes the bus: the warning is not there to see */
  while (run_handle (r, 0));
  fail_if (r->eos);
  fail_unless_equals_int (count_messages (r, "cxrtrain-done"), 0);
  m = load (out);
  cxr_model_free (m);
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* A whole run, paused for a few seconds once training is under way when
 * pause is set; the model it ends with. */
static CxrModel *
train_pausing (const gchar * name, gboolean pause)
{
  gchar *out = tmp_path (name);
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=40 batch-size=8 patience=0 seed=11 progress-interval=1 "
      "threads=1", out, TINY);
  Run *r = run_new (props);
  CxrModel *m;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  gst_app_src_end_of_stream (GST_APP_SRC (r->src));
  if (pause) {
    guint steps;
    while (count_messages (r, "cxrtrain-progress") < 10)
      fail_unless (run_handle (r, 20 * GST_SECOND), "no progress in 20 s");
    fail_unless (gst_element_set_state (r->pipeline, GST_STATE_PAUSED)
        == GST_STATE_CHANGE_SUCCESS);
    /* the step under way when it paused may still report */
    g_usleep (G_USEC_PER_SEC / 2);
    while (run_handle (r, 0));
    fail_if (r->eos || count_messages (r, "cxrtrain-done") > 0,
        "the run ended before it could be paused");
    steps = count_messages (r, "cxrtrain-progress");
    g_usleep (3 * G_USEC_PER_SEC);
    while (run_handle (r, 0));
    fail_unless_equals_int (count_messages (r, "cxrtrain-progress"), steps);
    fail_if (r->eos);
    fail_unless (run_play (r));
  }
  run_finish (r);
  fail_unless (r->eos, "%s", r->error);
  /* EOS comes once the model is final */
  fail_unless_equals_int (count_messages (r, "cxrtrain-done"), 1);
  m = load (out);
  run_free (r);
  g_free (props);
  g_free (out);
  return m;
}

GST_START_TEST (test_pause_resume)
{
  CxrModel *straight = train_pausing ("straight.safetensors", FALSE);
  CxrModel *paused = train_pausing ("paused.safetensors", TRUE);

  fail_unless_equals_string (paused->id, straight->id);
  fail_unless (memcmp (paused->params, straight->params,
          straight->spec->n_floats * sizeof (float)) == 0);
  cxr_model_free (straight);
  cxr_model_free (paused);
}

GST_END_TEST;

/* The patient on the label metas keeps a patient's films on one side of
 * the validation split: 4 patients of 5 films per class, 30% held out,
 * give whole patients (a multiple of 5 films) where films on their own
 * would give 12. */
static gint
validation_images (gboolean with_patients)
{
  gchar *out = tmp_path ("patients.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=1 batch-size=8 validation-fraction=0.3", out, TINY);
  Run *r = run_new (props);
  CxrModel *m;
  gint n;

  fail_unless (run_play (r));
  for (int k = 0; k < 20; k++)
    for (int cls = 0; cls < 2; cls++) {
      GstBuffer *buf = frame (cls, k);
      GstCxrLabelMeta *meta = gst_buffer_add_cxr_label_meta (buf, -1,
          classes[cls], "film.png");
      gchar *patient = g_strdup_printf ("%s-%d", classes[cls], k / 5);
      if (with_patients)
        gst_cxr_label_meta_set_patient (meta, patient);
      g_free (patient);
      push (r->src, buf);
    }
  run_finish (r);
  fail_unless (r->eos, "%s", r->error);
  m = load (out);
  n = atoi (provenance (m, "val_images"));
  cxr_model_free (m);
  run_free (r);
  g_free (props);
  g_free (out);
  return n;
}

GST_START_TEST (test_patients)
{
  gint with = validation_images (TRUE), without = validation_images (FALSE);

  fail_unless (with > 0 && with % 5 == 0, "%d validation films", with);
  fail_unless_equals_int (without, 12);
}

GST_END_TEST;

GST_START_TEST (test_online)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "online=true batch-size=8 replay-size=32 checkpoint-interval=2 "
      "progress-interval=1 seed=4", out, TINY);
  Run *r = run_new (props);
  CxrModel *m, *start;
  const GstStructure *s;
  guint64 step;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);   /* 40 frames: 5 steps */
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (count_messages (r, "cxrtrain-progress"), 5);
  /* steps 2 and 4, and the rest at EOS */
  fail_unless_equals_int (count_messages (r, "cxrtrain-checkpoint"), 3);
  fail_unless_equals_int (count_messages (r, "cxrtrain-epoch"), 0);
  s = nth_message (r, "cxrtrain-progress", 4);
  fail_unless_equals_int (get_int (s, "step"), 5);
  fail_unless (isfinite (get_double (s, "loss")));
  g_object_get (r->train, "step", &step, NULL);
  fail_unless_equals_uint64 (step, 5);

  m = load (out);
  fail_unless_equals_string (provenance (m, "training"), "online");
  fail_unless_equals_string (provenance (m, "online_steps"), "5");
  fail_unless_equals_string (gst_structure_get_string (nth_message (r,
              "cxrtrain-done", 0), "model-id"), m->id);
  /* the weights moved from where they started */
  start = cxr_model_new (TINY, 1, 124, 124, classes, 4, NULL);
  fail_unless (start != NULL);
  fail_unless (strcmp (start->id, m->id) != 0);
  cxr_model_free (start);
  cxr_model_free (m);
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* members=2 trains an ensemble of two, one after the other, and the
 * messages say which member they are about; online training refuses it. */
GST_START_TEST (test_ensemble)
{
  gchar *out = tmp_path ("out.safetensors");
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=2 batch-size=8 validation-fraction=0.25 patience=0 seed=3 "
      "members=2", out, TINY);
  Run *r = run_new (props);
  const GstStructure *s;
  CxrModel *m;

  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  fail_unless_equals_int (count_messages (r, "cxrtrain-epoch"), 4);
  for (guint i = 0; i < 4; i++) {
    s = nth_message (r, "cxrtrain-epoch", i);
    fail_unless_equals_int (get_int (s, "member"), 1 + i / 2);
    fail_unless_equals_int (get_int (s, "members"), 2);
    fail_unless_equals_int (get_int (s, "epoch"), 1 + i % 2);
  }
  s = nth_message (r, "cxrtrain-progress", count_messages (r,
          "cxrtrain-progress") - 1);
  fail_unless_equals_int (get_int (s, "member"), 2);
  /* each member's epochs are checkpointed */
  fail_unless_equals_int (count_messages (r, "cxrtrain-checkpoint"), 4);
  s = nth_message (r, "cxrtrain-done", 0);
  fail_unless_equals_int (get_int (s, "members"), 2);
  m = load (out);
  fail_unless_equals_int (m->n_members, 2);
  fail_unless_equals_string (gst_structure_get_string (s, "model-id"), m->id);
  fail_unless_equals_string (provenance (m, "epochs_run"), "2,2");
  cxr_model_free (m);
  run_free (r);
  g_free (props);

  props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" online=true "
      "members=2", out, TINY);
  r = run_new (props);
  run_play (r);
  push_labelled (r->src, 2);
  run_finish (r);
  fail_unless (r->error && strstr (r->error, "ensemble"), "%s", r->error);
  run_free (r);
  g_free (props);
  g_free (out);
}

GST_END_TEST;

/* A cxrclassify playing with model=OUT takes up what cxrtrain writes to
 * OUT, and says so. */
GST_START_TEST (test_hand_off)
{
  gchar *out = tmp_path ("live.safetensors");
  gchar *launch = g_strdup_printf ("appsrc name=csrc caps=\"%s\" format=time "
      "! cxrclassify name=classify model=\"%s\" ! appsink name=sink "
      "sync=false", CAPS, out);
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=3 batch-size=8 patience=0", out, TINY);
  CxrModel *initial = cxr_model_new (TINY, 1, 124, 124, classes, 77, NULL);
  GstElement *classifier, *csrc, *sink;
  const gchar *final_id;
  gboolean updated = FALSE, now_final = FALSE;
  Run *r;

  fail_unless (initial != NULL);
  fail_unless (cxr_model_save (initial, out, NULL));
  classifier = gst_parse_launch (launch, NULL);
  fail_unless (classifier != NULL);
  csrc = gst_bin_get_by_name (GST_BIN (classifier), "csrc");
  sink = gst_bin_get_by_name (GST_BIN (classifier), "sink");
  fail_unless (gst_element_set_state (classifier, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE);

  /* the classifier runs the initial model */
  for (int k = 0; k < 2; k++) {
    GstSample *sample;
    GstCxrClassificationMeta *meta;
    push (csrc, frame (1, k));
    sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    meta = gst_buffer_get_cxr_classification_meta (
        gst_sample_get_buffer (sample));
    fail_unless (meta != NULL);
    fail_unless_equals_string (meta->model_id, initial->id);
    gst_sample_unref (sample);
  }

  /* train, checkpointing into the classifier's model file */
  r = run_new (props);
  fail_unless (run_play (r));
  push_labelled (r->src, 20);
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);
  final_id = gst_structure_get_string (nth_message (r, "cxrtrain-done", 0),
      "model-id");
  fail_unless (strcmp (final_id, initial->id) != 0);

  /* frames keep coming; within a few seconds they carry the new model */
  for (int k = 0; k < 100 && !now_final; k++) {
    GstSample *sample;
    GstCxrClassificationMeta *meta;
    GstMessage *msg;

    g_usleep (100 * 1000);
    push (csrc, frame (1, k));
    sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    meta = gst_buffer_get_cxr_classification_meta (
        gst_sample_get_buffer (sample));
    fail_unless (meta != NULL);
    now_final = strcmp (meta->model_id, final_id) == 0;
    gst_sample_unref (sample);
    while ((msg = gst_bus_pop_filtered (GST_ELEMENT_BUS (classifier),
                GST_MESSAGE_ELEMENT))) {
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "model-updated"))
        updated = TRUE;
      gst_message_unref (msg);
    }
  }
  fail_unless (updated, "no model-updated message");
  fail_unless (now_final, "the classifier never used the trained model");

  run_free (r);
  gst_element_set_state (classifier, GST_STATE_NULL);
  gst_object_unref (csrc);
  gst_object_unref (sink);
  gst_object_unref (classifier);
  cxr_model_free (initial);
  g_free (props);
  g_free (launch);
  g_free (out);
}

GST_END_TEST;

/* ---- a kill at any instant leaves a loadable model ---- */

/* The child: trains for ever on tiny epochs, checkpointing after each one,
 * until it is killed. */
static int
train_child (const gchar * out)
{
  /* no check assertions here: this is not a test case */
  gchar *launch = g_strdup_printf ("appsrc name=src caps=\"%s\" format=time "
      "! cxrtrain output=\"%s\" architecture=\"%s\" epochs=1000000 "
      "batch-size=8 patience=0 progress-interval=1000000", CAPS, out, TINY);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstElement *src;
  GstMessage *msg;

  g_assert (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_assert (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE);
  for (int k = 0; k < 8; k++)
    for (int c = 0; c < 2; c++) {
      GstBuffer *buf = frame (c, k);
      gchar *name = file_name (c, k);
      gst_buffer_add_cxr_label_meta (buf, -1, classes[c], name);
      gst_app_src_push_buffer (GST_APP_SRC (src), buf);
      g_free (name);
    }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  /* until killed; an error ends it early, and the parent notices */
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  g_printerr ("training child: unexpected %s\n",
      GST_MESSAGE_TYPE_NAME (msg));
  return 1;
}

static gboolean
file_version (const gchar * path, GStatBuf * st)
{
  return g_stat (path, st) == 0;
}

GST_START_TEST (test_kill_during_checkpoint)
{
  gchar *out = tmp_path ("killed.safetensors");
  GRand *rand = g_rand_new_with_seed (42);
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  int mid_write = 0;
  /* 10 here; the kill-loop benchmark asks for more */
  const gchar *env = g_getenv ("CXR_KILL_ROUNDS");
  int rounds = env ? MAX (1, atoi (env)) : 10;

  for (int round = 0; round < rounds; round++) {
    gchar *argv[] = { (gchar *) "/proc/self/exe", (gchar *) "--train-child",
      out, NULL
    };
    GStatBuf before, now;
    gboolean had = file_version (out, &before);
    GError *error = NULL;
    GPid pid;
    int status;
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    GDir *dir;
    const gchar *name;
    CxrModel *m;

    fail_unless (g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
            NULL, NULL, &pid, &error), "%s", error ? error->message : "");
    /* wait for its first checkpoint, then kill it at a random moment among
     * the next ones */
    while (!(file_version (out, &now) && (!had || now.st_ino != before.st_ino
                || now.st_mtime != before.st_mtime)))
      fail_unless (g_get_monotonic_time () < deadline,
          "no checkpoint within 20 s");
    g_usleep (g_rand_int_range (rand, 0, 400000));
    kill (pid, SIGKILL);
    fail_unless (waitpid (pid, &status, 0) == pid);
    fail_unless (WIFSIGNALED (status));
    g_spawn_close_pid (pid);

    m = load (out);
    fail_unless (params_finite (m));
    g_hash_table_add (ids, g_strdup (m->id));
    cxr_model_free (m);

    /* a temporary file left behind means the kill came mid-write */
    dir = g_dir_open (tmp_dir, 0, NULL);
    while ((name = g_dir_read_name (dir)))
      if (strstr (name, ".tmp-")) {
        gchar *path = tmp_path (name);
        mid_write++;
        g_remove (path);
        g_free (path);
      }
    g_dir_close (dir);
  }
  g_print ("kill test: %d kills, %d during a write, %u different models, "
      "every one loaded intact\n", rounds, mid_write,
      g_hash_table_size (ids));
  /* how many kills landed mid-write, or after later checkpoints, depends on
   * the machine's load: reported, not asserted (the loads above are) */
  g_hash_table_unref (ids);
  g_rand_free (rand);
  g_free (out);
}

GST_END_TEST;

/* ---- real chest X-rays ---- */

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* the sorted .jpeg names of a folder */
static GPtrArray *
list_folder (const gchar * folder)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".jpeg"))
      g_ptr_array_add (names, g_strdup (name));
  if (dir)
    g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* root can make a read-only folder only by mounting one */
static gboolean
can_make_read_only_folder (void)
{
  gchar *dir;
  gboolean ok;

  if (geteuid () != 0)
    return TRUE;
  dir = g_dir_make_tmp ("cxrtrain-mount-XXXXXX", NULL);
  ok = dir && mount ("tmpfs", dir, "tmpfs", 0, "size=64k") == 0;
  if (ok)
    umount (dir);
  if (dir)
    g_rmdir (dir);
  g_free (dir);
  return ok;
}

static gboolean
have_train_split (void)
{
  gchar *dir = g_build_filename (test_data_dir (), "chest_xray", "train",
      NULL);
  gboolean have = g_file_test (dir, G_FILE_TEST_IS_DIR);

  g_free (dir);
  return have;
}

GST_START_TEST (test_real_data)
{
  gchar *out = tmp_path ("real.safetensors");
  gchar *folders[2];
  GPtrArray *names[2];
  const int per_class = 150;
  /* the data set's train images are all 224x224 */
  const int width = 224, height = 224;
  GPtrArray *frames = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
  Run *r = NULL;
  const GstStructure *done;
  gchar *caps;
  int w, h;
  gdouble auc, ips;
  CxrModel *m;
  gchar *props;

  for (int c = 0; c < 2; c++) {
    folders[c] = g_build_filename (test_data_dir (), "chest_xray", "train",
        classes[c], NULL);
    names[c] = list_folder (folders[c]);
  }
  if (!have_train_split ())
    goto done;                  /* main has said so */
  fail_unless (names[0]->len > 0 && names[1]->len > 0,
      "the train split has a class without images");

  /* decoded first, so that the pipeline's caps are the images' size */
  for (int k = 0; k < per_class; k++)
    for (int c = 0; c < 2; c++) {
      /* spread over the sorted folder, as many patients as possible */
      const gchar *name = g_ptr_array_index (names[c],
          (guint) ((guint64) k * names[c]->len / per_class));
      gchar *path = g_build_filename (folders[c], name, NULL);
      int stride;
      guint8 *gray = test_jpeg_gray (path, &w, &h, &stride);
      GstBuffer *buf = gray ? gst_buffer_new_wrapped (gray,
          (gsize) stride * h) : NULL;

      fail_unless (buf != NULL, "cannot decode %s", path);
      fail_unless (w == width && h == height, "%s is %dx%d, not %dx%d", path,
          w, h, width, height);
      gst_buffer_add_cxr_label_meta (buf, -1, classes[c], name);
      g_ptr_array_add (frames, buf);
      g_free (path);
    }
  caps = g_strdup_printf ("video/x-raw,format=GRAY8,width=%d,height=%d,"
      "framerate=0/1", width, height);
  props = g_strdup_printf ("output=\"%s\" epochs=5 validation-fraction=0.2 "
      "seed=1 patience=0 progress-interval=100", out);
  r = run_new_with_caps (caps, props);
  g_free (props);
  g_free (caps);
  fail_unless (run_play (r));
  for (guint i = 0; i < frames->len; i++)
    push (r->src, gst_buffer_ref (g_ptr_array_index (frames, i)));
  run_finish (r);
  fail_unless (r->error == NULL, "%s", r->error);

  done = nth_message (r, "cxrtrain-done", 0);
  auc = get_double (done, "val-auc");
  g_object_get (r->train, "images-per-second", &ips, NULL);
  m = load (out);
  g_print ("real data: %d images, %s for validation, %s, best epoch %d of 5, "
      "val AUC %.4f, threshold %.3f, %.1f images/s, %.1f s of training\n",
      2 * per_class, provenance (m, "val_images"), provenance (m,
          "precision"), get_int (done, "best-epoch"), auc, m->threshold, ips,
      get_double (done, "seconds"));
  fail_unless (auc > 0.8, "validation AUC %f", auc);
  fail_unless_equals_string (provenance (m, "train_images"), "240");
  cxr_model_free (m);

done:
  if (r)
    run_free (r);
  g_ptr_array_unref (frames);
  for (int c = 0; c < 2; c++) {
    g_free (folders[c]);
    g_ptr_array_unref (names[c]);
  }
  g_free (out);
}

GST_END_TEST;

/* ---- where a trained network looks ---- */

/* a network ending at a 31x31 grid (124 / 4), fine enough to point */
#define POINTING "conv:8,same,bn relu maxpool:2 conv:16,same,bn relu " \
  "maxpool:2 conv:16,same,bn relu gap dense:1 sigmoid"
#define BLOB_RADIUS 6

/* noise, and for class 1 a bright disc anywhere in the frame, centred at
 * (*cx, *cy) */
static GstBuffer *
blob_frame (int cls, int k, int *cx, int *cy)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, SIDE * SIDE, NULL);
  GRand *rand = g_rand_new_with_seed (1000 + k * 2 + cls);
  GstMapInfo map;

  *cx = g_rand_int_range (rand, BLOB_RADIUS + 2, SIDE - BLOB_RADIUS - 2);
  *cy = g_rand_int_range (rand, BLOB_RADIUS + 2, SIDE - BLOB_RADIUS - 2);
  g_assert (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++) {
      int v = 60 + g_rand_int_range (rand, 0, 60);
      int dx = x - *cx, dy = y - *cy;
      if (cls == 1 && dx * dx + dy * dy <= BLOB_RADIUS * BLOB_RADIUS)
        v += 100;
      map.data[y * SIDE + x] = (guint8) MIN (v, 255);
    }
  gst_buffer_unmap (buf, &map);
  g_rand_free (rand);
  return buf;
}

/* A network of architecture arch trained through cxrtrain on frames whose
 * class is a bright blob at a random place; of n_test held-out frames with
 * a blob, how many have the peak of cxrclassify's heatmap (heatmap-refine
 * refine, each of the refines asked for) inside the blob. The grid's width
 * goes to *grid. */
static void
pointing (const gchar * name, const gchar * arch, const guint * refines,
    guint n_refines, gint n_test, gint * inside, guint * grid)
{
  gchar *out = tmp_path (name);
  gchar *props = g_strdup_printf ("output=\"%s\" architecture=\"%s\" "
      "epochs=6 batch-size=16 seed=5", out, arch);
  const int n_train = 200;
  int cx, cy;
  Run *r = run_new (props);

  fail_unless (run_play (r));
  for (int k = 0; k < n_train; k++)
    for (int cls = 0; cls < 2; cls++) {
      GstBuffer *buf = blob_frame (cls, k, &cx, &cy);
      gst_buffer_add_cxr_label_meta (buf, cls, NULL, NULL);
      push (r->src, buf);
    }
  run_finish (r);
  fail_unless (r->eos, "%s", r->error ? r->error : "");
  run_free (r);

  for (guint q = 0; q < n_refines; q++) {
    /* the synthetic frames are no films: no out-of-distribution gate */
    gchar *launch = g_strdup_printf ("cxrclassify model=\"%s\" heatmap=true "
        "heatmap-refine=%u ood-threshold=1e30", out, refines[q]);
    GstHarness *h = gst_harness_new_parse (launch);

    gst_harness_set_src_caps_str (h, CAPS);
    inside[q] = 0;
    for (int k = 0; k < n_test; k++) {
      GstBuffer *o = gst_harness_push_and_pull (h,
          blob_frame (1, n_train + k, &cx, &cy));
      GstCxrHeatmapMeta *m = gst_buffer_get_cxr_heatmap_meta (o);
      guint w, hh, best = 0;
      gdouble px, py;

      fail_unless (m != NULL);
      gst_cxr_heatmap_meta_get_size (m, &w, &hh);
      for (guint i = 1; i < w * hh; i++)
        if (m->values[i] > m->values[best])
          best = i;
      /* the peak cell's centre, in the frame's pixels */
      px = (best % w + 0.5) * SIDE / w;
      py = (best / w + 0.5) * SIDE / hh;
      inside[q] += (px - cx) * (px - cx) + (py - cy) * (py - cy)
          <= BLOB_RADIUS * BLOB_RADIUS;
      grid[q] = w;
      gst_buffer_unref (o);
    }
    gst_harness_teardown (h);
    g_print ("pointing, %s at %ux%u: the heatmap's peak is inside the blob "
        "in %d of %d held-out frames\n", name, grid[q], grid[q], inside[q],
        n_test);
    g_free (launch);
  }
  g_free (props);
  g_free (out);
}

/* a network ending at a 31x31 grid points at the blob in 90% of held-out
 * frames or more */
GST_START_TEST (test_heatmap_points_at_blob)
{
  const guint refine = 1;
  gint inside;
  guint grid;

  pointing ("fine.safetensors", POINTING, &refine, 1, 50, &inside, &grid);
  fail_unless_equals_int (grid, 31);
  fail_unless (inside >= 0.9 * 50, "the heatmap's peak is inside the blob "
      "in %d of 50 frames", inside);
}

GST_END_TEST;

/* The default architecture's own 7x7 grid is coarse for a blob; refined
 * twice each way (14x14, shift and stitch) its map points at the blob in
 * 90% of held-out frames or more, and more often than at 7x7. */
GST_START_TEST (test_refined_heatmap_points_at_blob)
{
  const guint refines[2] = { 1, 2 };
  gint inside[2];
  guint grid[2];

  pointing ("default.safetensors", CXR_SPEC_DEFAULT, refines, 2, 100, inside,
      grid);
  fail_unless_equals_int (grid[0], 7);
  fail_unless_equals_int (grid[1], 14);
  fail_unless (inside[1] >= 90 && inside[1] > inside[0], "refined, the "
      "peak is inside the blob in %d of 100 frames (%d at 7x7)", inside[1],
      inside[0]);
}

GST_END_TEST;

static Suite *
cxrtrain_suite (void)
{
  Suite *s = suite_create ("cxrtrain");
  TCase *tc = tcase_create ("general");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_messages_and_figures);
  tcase_add_test (tc, test_label_property);
  tcase_add_test (tc, test_skipped_frames);
  tcase_add_test (tc, test_settings_errors);
  tcase_add_test (tc, test_resume);
  tcase_add_test (tc, test_calibrate);
  tcase_add_test (tc, test_divergence);
  tcase_add_test (tc, test_interrupt);
  tcase_add_test (tc, test_pause_resume);
  tcase_add_test (tc, test_patients);
  tcase_add_test (tc, test_heatmap_points_at_blob);
  tcase_add_test (tc, test_refined_heatmap_points_at_blob);
  tcase_add_test (tc, test_online);
  tcase_add_test (tc, test_ensemble);
  tcase_add_test (tc, test_hand_off);
  tcase_add_test (tc, test_kill_during_checkpoint);
  tcase_add_test (tc, test_full_disk);
  tcase_add_test (tc, test_read_only_output);
  tcase_add_test (tc, test_real_data);
  return s;
}

int
main (int argc, char **argv)
{
  Suite *s;

  if (argc == 3 && strcmp (argv[1], "--train-child") == 0) {
    gst_init (NULL, NULL);
    return train_child (argv[2]);
  }
  gst_check_init (&argc, &argv);
  if (!have_train_split ())
    test_missing ("no chest_xray/train under CXR_DATA_DIR (default "
        "../shared/data): the real-data test did nothing");
  if (!can_make_read_only_folder ())
    test_missing ("running as root without the right to mount a tmpfs: the "
        "read-only output test did nothing");
  s = cxrtrain_suite ();
  return test_exit_status (gst_check_run_suite (s, "cxrtrain", __FILE__));
}
