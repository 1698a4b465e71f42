/* cxrclassify in a GstHarness: every input format, size changes, interval
 * and stale results, QoS, model swap under load, bad models and properties. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "gst/cxr/cxrmeta.h"
#include "ensemble.h"
#include "model.h"

static const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };
static gchar *tmp_dir, *model_a, *model_b;

static gchar *
write_model (const char *name, uint64_t seed)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, seed,
      &error);
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  fail_unless (m != NULL);
  /* statistics that are not the identity, so batch-norm folding matters */
  for (int i = 0; i < m->spec->n_params; i++)
    if (m->spec->params[i].kind == CXR_PARAM_BN_SHIFT)
      for (int j = 0; j < m->spec->params[i].numel; j++)
        m->params[m->spec->params[i].offset + j] = 0.05f * (j % 7) - 0.1f;
  m->threshold = 0.5f;
  fail_unless (cxr_model_save (m, path, &error));
  cxr_model_free (m);
  return path;
}

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("cxrclassify-XXXXXX", NULL);
  model_a = write_model ("a.safetensors", 1);
  model_b = write_model ("b.safetensors", 2);
}

static void
teardown (void)
{
  g_remove (model_a);
  g_remove (model_b);
  g_rmdir (tmp_dir);
  g_free (model_a);
  g_free (model_b);
  g_free (tmp_dir);
}

/* extra: more properties, e.g. "interval=3" */
static GstHarness *
classifier_with (const gchar * model, const gchar * caps, const gchar * extra)
{
  /* the harness starts the element at once: set everything first */
  gchar *launch = g_strdup_printf ("cxrclassify model=\"%s\" %s", model,
      extra);
  GstHarness *h = gst_harness_new_parse (launch);
  gst_harness_set_src_caps_str (h, caps);
  g_free (launch);
  return h;
}

static GstHarness *
classifier (const gchar * model, const gchar * caps)
{
  return classifier_with (model, caps, "");
}

/* the classifier inside the harness's bin */
static GstElement *
element_of (GstHarness * h)
{
  GstElement *e = gst_harness_find_element (h, "cxrclassify");
  gst_object_unref (e);         /* the bin keeps it alive */
  return e;
}

/* A grey test picture: a ramp with a bright disc, w x h, in the given
 * format; the same grey levels in every format. */
static GstBuffer *
picture (const gchar * format, int w, int h)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstVideoFormat f = gst_video_format_from_string (format);
  GstBuffer *buf;

  gst_video_info_set_format (&info, f, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, 128, GST_VIDEO_INFO_SIZE (&info));
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (int y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, 0);
    for (int x = 0; x < w; x++) {
      int dx = x - w / 2, dy = y - h / 3;
      guint8 g = (guint8) (x * 200 / w + (dx * dx + dy * dy < h * h / 16 ? 55 : 0));
      if (f == GST_VIDEO_FORMAT_GRAY16_LE) {
        row[2 * x] = g;         /* g * 257: the same level on 16 bits */
        row[2 * x + 1] = g;
      } else if (pstride >= 3) {
        for (int c = 0; c < 3; c++)
          row[x * pstride + GST_VIDEO_FRAME_COMP_OFFSET (&frame, c)] = g;
      } else {
        row[x] = g;
      }
    }
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

static gchar *
caps_for (const gchar * format, int w, int h)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=30/1", format, w, h);
}

static GstBuffer *
push_pull (GstHarness * h, GstBuffer * in)
{
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  return gst_harness_pull (h);
}

GST_START_TEST (test_every_format)
{
  static const gchar *formats[] = { "GRAY8", "GRAY16_LE", "RGB", "BGR",
    "RGBx", "BGRx", "RGBA", "BGRA", "I420", "NV12"
  };
  gfloat first = -1.0f;

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *caps = caps_for (formats[i], 320, 240);
    GstHarness *h = classifier (model_a, caps);
    GstBuffer *in = picture (formats[i], 320, 240), *out;
    GstMapInfo before, after;
    GBytes *copy;
    GstCxrClassificationMeta *m;

    fail_unless (gst_buffer_map (in, &before, GST_MAP_READ));
    copy = g_bytes_new (before.data, before.size);
    gst_buffer_unmap (in, &before);
    out = push_pull (h, in);
    m = gst_buffer_get_cxr_classification_meta (out);
    fail_unless (m != NULL, "%s: no result", formats[i]);
    fail_unless_equals_int (m->n_classes, 2);
    fail_unless_equals_string (m->class_names[1], "PNEUMONIA");
    fail_unless (fabsf (m->probabilities[0] + m->probabilities[1] - 1) < 1e-5);
    fail_unless_equals_int (m->predicted, m->probabilities[1] >= 0.5f);
    fail_if (gst_cxr_classification_meta_is_stale (m));
    /* the video is untouched */
    fail_unless (gst_buffer_map (out, &after, GST_MAP_READ));
    fail_unless (g_bytes_get_size (copy) == after.size
        && memcmp (g_bytes_get_data (copy, NULL), after.data, after.size) == 0,
        "%s: frame changed", formats[i]);
    gst_buffer_unmap (out, &after);
    /* the same grey picture gives the same answer in every format */
    if (first < 0)
      first = m->probabilities[1];
    fail_unless (fabsf (m->probabilities[1] - first) < 2e-3,
        "%s: %f vs %f", formats[i], m->probabilities[1], first);
    g_bytes_unref (copy);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    g_free (caps);
  }
}

GST_END_TEST;

GST_START_TEST (test_size_change)
{
  gchar *small = caps_for ("GRAY8", 100, 80), *big = caps_for ("GRAY8", 1500, 1200);
  GstHarness *h = classifier (model_a, small);
  GstBuffer *out;

  out = push_pull (h, picture ("GRAY8", 100, 80));
  fail_unless (gst_buffer_get_cxr_classification_meta (out) != NULL);
  gst_buffer_unref (out);
  gst_harness_set_src_caps_str (h, big);
  out = push_pull (h, picture ("GRAY8", 1500, 1200));
  fail_unless (gst_buffer_get_cxr_classification_meta (out) != NULL);
  fail_unless_equals_int (gst_buffer_get_size (out), 1500 * 1200);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (small);
  g_free (big);
}

GST_END_TEST;

GST_START_TEST (test_interval_and_stale)
{
  gchar *caps = caps_for ("GRAY8", 200, 200);
  GstHarness *h = classifier_with (model_a, caps, "interval=3");
  gfloat fresh = 0;

  for (int i = 0; i < 7; i++) {
    /* a different picture each frame, so stale copies are recognisable */
    GstBuffer *in = picture ("GRAY8", 200, 200), *out;
    GstCxrClassificationMeta *m;
    gst_buffer_memset (in, 0, (guint8) (i * 30), 200 * 100);
    out = push_pull (h, in);
    m = gst_buffer_get_cxr_classification_meta (out);
    fail_unless (m != NULL, "frame %d has no result", i);
    if (i % 3 == 0) {
      fail_if (gst_cxr_classification_meta_is_stale (m), "frame %d", i);
      fail_if (i > 0 && m->probabilities[1] == fresh, "frame %d not new", i);
      fresh = m->probabilities[1];
    } else {
      fail_unless (gst_cxr_classification_meta_is_stale (m), "frame %d", i);
      fail_unless (m->probabilities[1] == fresh, "frame %d: not a copy", i);
    }
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_messages)
{
  gchar *caps = caps_for ("GRAY8", 64, 64);
  GstHarness *h = classifier_with (model_a, caps, "post-messages=true");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  const GstStructure *s;

  gst_element_set_bus (element_of (h), bus);
  gst_buffer_unref (push_pull (h, picture ("GRAY8", 64, 64)));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_has_name (s, "cxrclassify"));
  fail_unless (g_strv_contains (classes, gst_structure_get_string (s, "label")));
  fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (s,
              "probabilities")), 2);
  gst_message_unref (msg);
  gst_element_set_bus (element_of (h), NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  g_free (caps);
}

GST_END_TEST;

/* A late frame on a live stream is passed on with the last result instead
 * of waiting for a forward pass. */
GST_START_TEST (test_qos_late_frame)
{
  gchar *caps = caps_for ("GRAY8", 128, 128);
  GstHarness *h = classifier (model_a, caps);
  GstBuffer *in, *out;
  GstCxrClassificationMeta *m;

  in = picture ("GRAY8", 128, 128);
  GST_BUFFER_PTS (in) = 0;
  out = push_pull (h, in);
  fail_if (gst_cxr_classification_meta_is_stale
      (gst_buffer_get_cxr_classification_meta (out)));
  gst_buffer_unref (out);
  /* downstream says: we are 1 s behind at running time 1 s */
  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW, 2.0, GST_SECOND,
              GST_SECOND)));
  in = picture ("GRAY8", 128, 128);
  GST_BUFFER_PTS (in) = GST_SECOND / 2;
  out = push_pull (h, in);
  m = gst_buffer_get_cxr_classification_meta (out);
  fail_unless (m != NULL);
  fail_unless (gst_cxr_classification_meta_is_stale (m));
  gst_buffer_unref (out);
  /* a frame past the late window is classified again */
  in = picture ("GRAY8", 128, 128);
  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  out = push_pull (h, in);
  fail_if (gst_cxr_classification_meta_is_stale
      (gst_buffer_get_cxr_classification_meta (out)));
  gst_buffer_unref (out);
  /* late again, then a flush (a seek): running time starts over, and the
   * first frame after it is not late */
  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW, 2.0, GST_SECOND,
              10 * GST_SECOND)));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  }
  in = picture ("GRAY8", 128, 128);
  GST_BUFFER_PTS (in) = GST_SECOND;
  out = push_pull (h, in);
  fail_if (gst_cxr_classification_meta_is_stale
      (gst_buffer_get_cxr_classification_meta (out)));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
}

GST_END_TEST;

static gfloat
probability_with (const gchar * model, GstBuffer * picture_buf)
{
  gchar *caps = caps_for ("GRAY8", 256, 256);
  GstHarness *h = classifier (model, caps);
  GstBuffer *out = push_pull (h, gst_buffer_ref (picture_buf));
  gfloat p = gst_buffer_get_cxr_classification_meta (out)->probabilities[1];
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  return p;
}

/* replaces the file as cxrtrain does: whole, by rename */
static void
replace_file (const gchar * path, const gchar * contents, gsize len)
{
  gchar *tmp = g_strconcat (path, ".next", NULL);

  fail_unless (g_file_set_contents (tmp, contents, len, NULL));
  fail_unless (g_rename (tmp, path) == 0);
  g_free (tmp);
}

/* Replace the model file under a running classifier: every frame is
 * classified wholly by the old model or wholly by the new one, the switch
 * happens once, and a model-updated message says so. */
GST_START_TEST (test_model_swap_under_load)
{
  gchar *live = g_build_filename (tmp_dir, "live.safetensors", NULL);
  gchar *caps = caps_for ("GRAY8", 256, 256);
  GstBuffer *pic = picture ("GRAY8", 256, 256);
  gfloat pa = probability_with (model_a, pic), pb = probability_with (model_b, pic);
  gchar *contents;
  gsize len;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  gboolean swapped = FALSE;
  int after_swap = 0;
  gchar *id_a = NULL, *id_b = NULL;

  fail_if (pa == pb);
  fail_unless (g_file_get_contents (model_a, &contents, &len, NULL));
  fail_unless (g_file_set_contents (live, contents, len, NULL));
  g_free (contents);
  h = classifier (live, caps);
  gst_element_set_bus (element_of (h), bus);
  for (int i = 0; i < 400 && after_swap < 20; i++) {
    GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
    GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (out);
    fail_unless (m->probabilities[1] == (swapped ? pb : pa)
        || m->probabilities[1] == pb, "frame %d: %f is neither model's", i,
        m->probabilities[1]);
    if (i == 0)
      id_a = g_strdup (m->model_id);
    if (m->probabilities[1] == pb && !swapped) {
      swapped = TRUE;
      id_b = g_strdup (m->model_id);
    }
    if (swapped) {
      fail_unless_equals_string (m->model_id, id_b);
      after_swap++;
    } else {
      fail_unless_equals_string (m->model_id, id_a);
    }
    if (i == 5) {
      fail_unless (g_file_get_contents (model_b, &contents, &len, NULL));
      replace_file (live, contents, len);
      g_free (contents);
    }
    gst_buffer_unref (out);
    g_usleep (10000);
  }
  fail_unless (swapped, "the new model was never used");
  fail_unless (strcmp (id_a, id_b) != 0);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  fail_unless (gst_structure_has_name (gst_message_get_structure (msg),
          "model-updated"));
  fail_unless_equals_string (gst_structure_get_string
      (gst_message_get_structure (msg), "model-id"), id_b);
  gst_message_unref (msg);
  gst_element_set_bus (element_of (h), NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_buffer_unref (pic);
  g_remove (live);
  g_free (live);
  g_free (caps);
  g_free (id_a);
  g_free (id_b);
}

GST_END_TEST;

static gboolean
count_classification (GstBuffer * buf, GstMeta ** meta, gpointer user_data)
{
  (void) buf;
  if ((*meta)->info->api == GST_CXR_CLASSIFICATION_META_API_TYPE)
    (*(int *) user_data)++;
  return TRUE;
}

/* Two classifiers in a row: the buffer leaves with one classification, the
 * second's, on every frame (fresh and stale alike). */
GST_START_TEST (test_two_classifiers)
{
  gchar *caps = caps_for ("GRAY8", 256, 256);
  gchar *second = g_strdup_printf ("interval=2 ! cxrclassify model=\"%s\"",
      model_b);
  GstBuffer *pic = picture ("GRAY8", 256, 256);
  gfloat pb = probability_with (model_b, pic);
  GstHarness *h = classifier_with (model_a, caps, second);

  for (int i = 0; i < 3; i++) {
    GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
    int n = 0;

    gst_buffer_foreach_meta (out, count_classification, &n);
    fail_unless_equals_int (n, 1);
    fail_unless (gst_buffer_get_cxr_classification_meta (out)->probabilities[1]
        == pb);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  gst_buffer_unref (pic);
  g_free (second);
  g_free (caps);
}

GST_END_TEST;

typedef struct {
  GstElement *element;
  int swaps;
} Swapper;

/* a stress thread's callback (its first argument is the thread) */
static void
alternate_model (gpointer thread, gpointer data)
{
  Swapper *s = data;

  (void) thread;
  g_object_set (s->element, "model", s->swaps++ % 2 ? model_a : model_b,
      NULL);
}

/* The threshold, the interval and the model file set from other threads
 * while frames flow: nothing crashes, and every frame leaves with one
 * result whose probability is one of the two models'. */
GST_START_TEST (test_stress_threads)
{
  gchar *caps = caps_for ("GRAY8", 256, 256);
  GstBuffer *pic = picture ("GRAY8", 256, 256);
  gfloat pa = probability_with (model_a, pic), pb = probability_with (model_b, pic);
  GstElement *e = gst_element_factory_make ("cxrclassify", NULL);
  GValue threshold = G_VALUE_INIT, interval = G_VALUE_INIT;
  GstHarnessThread *threads[3];
  GstHarness *h;
  Swapper swapper = { e, 0 };

  /* the stress threads set properties on the harness's element itself */
  g_object_set (e, "model", model_a, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, caps);
  g_value_init (&threshold, G_TYPE_FLOAT);
  g_value_set_float (&threshold, 0.3f);
  g_value_init (&interval, G_TYPE_UINT);
  g_value_set_uint (&interval, 2);
  threads[0] = gst_harness_stress_property_start_full (h, "threshold",
      &threshold, 100);
  threads[1] = gst_harness_stress_property_start_full (h, "interval",
      &interval, 100);
  threads[2] = gst_harness_stress_custom_start (h, NULL, alternate_model,
      &swapper, 50000);
  for (int i = 0; i < 400; i++) {
    GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
    GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (out);
    int n = 0;

    gst_buffer_foreach_meta (out, count_classification, &n);
    fail_unless_equals_int (n, 1);
    fail_unless (m->probabilities[1] == pa || m->probabilities[1] == pb,
        "frame %d: %f is neither model's", i, m->probabilities[1]);
    gst_buffer_unref (out);
    g_usleep (2000);
  }
  for (int t = 0; t < 3; t++)
    fail_unless (gst_harness_stress_thread_stop (threads[t]) > 0);
  g_value_unset (&threshold);
  g_value_unset (&interval);
  gst_harness_teardown (h);
  gst_object_unref (e);         /* the harness took its own reference */
  gst_buffer_unref (pic);
  g_free (caps);
}

GST_END_TEST;

static int
count_messages (GstBus * bus, GstMessageType type)
{
  GstMessage *msg;
  int n = 0;

  while ((msg = gst_bus_pop_filtered (bus, type)) != NULL) {
    n++;
    gst_message_unref (msg);
  }
  return n;
}

/* A broken replacement is tried once: the old weights go on, one warning
 * (not one every half second), and a good file after it is taken. */
GST_START_TEST (test_model_swap_broken)
{
  gchar *live = g_build_filename (tmp_dir, "live.safetensors", NULL);
  gchar *caps = caps_for ("GRAY8", 256, 256);
  GstBuffer *pic = picture ("GRAY8", 256, 256);
  gfloat pa = probability_with (model_a, pic), pb = probability_with (model_b, pic);
  gchar *contents;
  gsize len;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  gboolean swapped = FALSE;

  fail_unless (g_file_get_contents (model_a, &contents, &len, NULL));
  replace_file (live, contents, len);
  g_free (contents);
  h = classifier (live, caps);
  gst_element_set_bus (element_of (h), bus);
  count_messages (bus, GST_MESSAGE_WARNING);    /* none expected; not ours */
  replace_file (live, "not a model", 11);
  /* 2 s: four looks at the file */
  for (int i = 0; i < 200; i++) {
    GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
    GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (out);
    fail_unless (m->probabilities[1] == pa, "frame %d: not the old model", i);
    gst_buffer_unref (out);
    g_usleep (10000);
  }
  fail_unless_equals_int (count_messages (bus, GST_MESSAGE_WARNING), 1);

  fail_unless (g_file_get_contents (model_b, &contents, &len, NULL));
  replace_file (live, contents, len);
  g_free (contents);
  for (int i = 0; i < 300 && !swapped; i++) {
    GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
    swapped = gst_buffer_get_cxr_classification_meta (out)->probabilities[1]
        == pb;
    gst_buffer_unref (out);
    g_usleep (10000);
  }
  fail_unless (swapped, "the good file after the broken one was never used");
  fail_unless_equals_int (count_messages (bus, GST_MESSAGE_WARNING), 0);
  gst_element_set_bus (element_of (h), NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_buffer_unref (pic);
  g_remove (live);
  g_free (live);
  g_free (caps);
}

GST_END_TEST;

/* P(PNEUMONIA) and the model id in fp32 for one picture */
static gfloat
classify_fp32 (const gchar * model, GstBuffer * pic, gchar ** id)
{
  gchar *caps = caps_for ("GRAY8", 256, 256);
  GstHarness *h = classifier_with (model, caps, "precision=fp32");
  GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
  GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (out);
  gfloat p;

  fail_unless (m != NULL);
  p = m->probabilities[1];
  *id = g_strdup (m->model_id);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  return p;
}

static gdouble
logit (gdouble p)
{
  return log (p / (1.0 - p));
}

/* An ensemble file's probability is the sigmoid of the mean of its
 * members' logits, each member giving what it gives alone. */
GST_START_TEST (test_ensemble_mean_logit)
{
  enum { N = 3 };
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 20,
      &error);
  GstBuffer *pic = picture ("GRAY8", 256, 256);
  gchar *path = g_build_filename (tmp_dir, "ensemble.safetensors", NULL);
  const CxrParamInfo *out_bias;
  gchar *single[N], *ids[N], *id;
  gdouble z[N], mean = 0, mean_p = 0;
  gfloat p;

  fail_unless (m != NULL);
  out_bias = &m->spec->params[m->spec->n_params - 1];
  fail_unless (out_bias->kind == CXR_PARAM_BIAS && out_bias->numel == 1);
  cxr_model_set_members (m, N);
  for (int k = 0; k < N; k++) {
    cxr_net_spec_init_params (m->spec, cxr_model_member (m, k), 20 + k);
    /* spread the members' answers, so that averaging anything else, or
     * using one member, gives another answer */
    cxr_model_member (m, k)[out_bias->offset] = 1.5f * k - 1.5f;
  }
  cxr_model_update_id (m);
  m->threshold = 0.4f;
  fail_unless (cxr_model_save (m, path, &error));
  for (int k = 0; k < N; k++) {
    CxrModel *one = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 0,
        &error);
    gdouble p_k;
    fail_unless (one != NULL);
    memcpy (one->params, cxr_model_member (m, k),
        m->spec->n_floats * sizeof (float));
    cxr_model_update_id (one);
    one->threshold = m->threshold;
    single[k] = g_strdup_printf ("%s/member%d.safetensors", tmp_dir, k);
    fail_unless (cxr_model_save (one, single[k], &error));
    cxr_model_free (one);
    p_k = classify_fp32 (single[k], pic, &ids[k]);
    z[k] = logit (p_k);
    mean += z[k] / N;
    mean_p += p_k / N;
  }
  fail_unless (fabs (z[0] - mean) > 0.1 && fabs (logit (mean_p) - mean) > 1e-3,
      "the members agree too well to tell the mean logit apart");
  p = classify_fp32 (path, pic, &id);
  fail_unless (fabs (logit (p) - mean) < 1e-4, "ensemble logit %f, members' "
      "mean %f", logit (p), mean);
  for (int k = 0; k < N; k++) {
    fail_if (strcmp (id, ids[k]) == 0, "ensemble has member %d's id", k);
    g_remove (single[k]);
    g_free (single[k]);
    g_free (ids[k]);
  }
  g_remove (path);
  g_free (path);
  g_free (id);
  gst_buffer_unref (pic);
  cxr_model_free (m);
}

GST_END_TEST;

static void
expect_start_error (const gchar * model, const gchar * phrase)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=1 ! "
      "video/x-raw,format=GRAY8 ! cxrclassify name=c ! fakesink", NULL);
  GstElement *c = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  GError *error = NULL;

  g_object_set (c, "model", model, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (strstr (error->message, phrase) != NULL, "'%s' lacks '%s'",
      error->message, phrase);
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (c);
  gst_object_unref (pipeline);
}

/* a DEFAULT model whose feature statistics say every frame is far (its
 * threshold 0), unless the property raises it */
static gchar *
write_model_with_stats (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_load (model_a, &error);
  int dim = m->spec->layers[cxr_model_feature_layer (m)].out_c;
  float *f = g_new (float, 8 * dim);
  gchar *path = g_build_filename (tmp_dir, "stats.safetensors", NULL);

  fail_unless (m != NULL);
  for (int i = 0; i < 8 * dim; i++)
    f[i] = (float) ((i * 31) % 17) / 17.0f;
  m->ood = cxr_feature_stats_fit (f, 8, 1, dim, &error);
  fail_unless (m->ood != NULL);
  m->ood->threshold = 0.0f;
  fail_unless (cxr_model_save (m, path, &error));
  cxr_model_free (m);
  g_free (f);
  return path;
}

static GstCxrClassificationMeta *
result_of (GstBuffer * out)
{
  GstCxrClassificationMeta *m = gst_buffer_get_cxr_classification_meta (out);
  fail_unless (m != NULL);
  return m;
}

static void
push_tags (GstHarness * h, const gchar * modality, const gchar * body_part)
{
  GstTagList *tags = gst_tag_list_new ("dicom-modality", modality, NULL);
  if (body_part)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, "dicom-body-part",
        body_part, NULL);
  fail_unless (gst_harness_push_event (h, gst_event_new_tag (tags)));
}

/* Each reason on its own: a blank frame and a saturated one; a DICOM
 * stream of another modality or body part (and the lists that accept
 * them); a model whose features call everything far. A frame not
 * classified has no label and NAN probabilities where the network did not
 * run. */
GST_START_TEST (test_abstain)
{
  gchar *caps = caps_for ("GRAY8", 200, 200);
  gchar *stats = write_model_with_stats ();
  GstHarness *h = classifier (model_a, caps);
  GstBuffer *in, *out;
  GstCxrClassificationMeta *m;

  in = picture ("GRAY8", 200, 200);
  gst_buffer_memset (in, 0, 0, 200 * 200);
  out = push_pull (h, in);
  m = result_of (out);
  fail_unless_equals_int (m->abstain_reason, GST_CXR_ABSTAIN_BLANK);
  fail_unless (gst_cxr_classification_meta_get_label (m) == NULL);
  fail_unless (isnan (m->probabilities[1]));
  gst_buffer_unref (out);

  in = picture ("GRAY8", 200, 200);
  gst_buffer_memset (in, 0, 0, 200 * 100);
  gst_buffer_memset (in, 200 * 100, 255, 200 * 100);
  out = push_pull (h, in);
  fail_unless_equals_int (result_of (out)->abstain_reason,
      GST_CXR_ABSTAIN_SATURATED);
  gst_buffer_unref (out);

  /* an old model without statistics answers a picture, with no score */
  out = push_pull (h, picture ("GRAY8", 200, 200));
  m = result_of (out);
  fail_if (gst_cxr_classification_meta_is_abstained (m));
  fail_unless (gst_cxr_classification_meta_get_label (m) != NULL);
  fail_unless (isnan (m->ood_score));
  gst_buffer_unref (out);

  push_tags (h, "CT", NULL);
  out = push_pull (h, picture ("GRAY8", 200, 200));
  fail_unless_equals_int (result_of (out)->abstain_reason,
      GST_CXR_ABSTAIN_MODALITY);
  gst_buffer_unref (out);
  push_tags (h, "CR", "ABDOMEN");
  out = push_pull (h, picture ("GRAY8", 200, 200));
  fail_unless_equals_int (result_of (out)->abstain_reason,
      GST_CXR_ABSTAIN_BODY_PART);
  gst_buffer_unref (out);
  push_tags (h, "DX", "CHEST");
  out = push_pull (h, picture ("GRAY8", 200, 200));
  fail_if (gst_cxr_classification_meta_is_abstained (result_of (out)));
  gst_buffer_unref (out);
  g_object_set (element_of (h), "modalities", "", "body-parts", "", NULL);
  push_tags (h, "CT", "HEAD");
  out = push_pull (h, picture ("GRAY8", 200, 200));
  fail_if (gst_cxr_classification_meta_is_abstained (result_of (out)));
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* the feature statistics: everything is far at threshold 0 ... */
  h = classifier (stats, caps);
  out = push_pull (h, picture ("GRAY8", 200, 200));
  m = result_of (out);
  fail_unless_equals_int (m->abstain_reason,
      GST_CXR_ABSTAIN_OUT_OF_DISTRIBUTION);
  fail_unless (m->ood_score > 0.0f);
  fail_unless_equals_float (m->ood_threshold, 0.0f);
  /* the network ran: its probabilities are kept, without a label */
  fail_unless (m->probabilities[1] >= 0.0f && m->probabilities[1] <= 1.0f);
  fail_unless (gst_cxr_classification_meta_get_label (m) == NULL);
  gst_buffer_unref (out);
  /* ... and nothing is with the threshold raised */
  g_object_set (element_of (h), "ood-threshold", 1e30f, NULL);
  out = push_pull (h, picture ("GRAY8", 200, 200));
  m = result_of (out);
  fail_if (gst_cxr_classification_meta_is_abstained (m));
  fail_unless (m->ood_score > 0.0f && isfinite (m->ood_score));
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  g_remove (stats);
  g_free (stats);
  g_free (caps);
}

GST_END_TEST;

/* the heatmap cxrclassify attaches to one picture (49 values for the
 * default architecture), through the rest of launch ("" or more elements
 * after the classifier) */
static void
heatmap_of (const gchar * model, GstBuffer * pic, const gchar * after,
    gfloat map[49])
{
  gchar *caps = caps_for ("GRAY8", 256, 256);
  gchar *rest = g_strdup_printf ("heatmap=true %s", after);
  GstHarness *h = classifier_with (model, caps, rest);
  GstBuffer *out = push_pull (h, gst_buffer_ref (pic));
  GstCxrHeatmapMeta *m = gst_buffer_get_cxr_heatmap_meta (out);
  gfloat left, top, right, bottom, top_value = 0.0f;
  guint w, hh;

  fail_unless (m != NULL);
  gst_cxr_heatmap_meta_get_size (m, &w, &hh);
  fail_unless_equals_int (w, 7);
  fail_unless_equals_int (hh, 7);
  gst_cxr_heatmap_meta_get_region (m, &left, &top, &right, &bottom);
  fail_unless (left == 0.0f && top == 0.0f && right == 1.0f
      && bottom == 1.0f);
  fail_unless_equals_int (m->class_index, 1);
  for (guint i = 0; i < 49; i++) {
    map[i] = gst_cxr_heatmap_meta_get_value (m, i % 7, i / 7);
    fail_unless (map[i] >= 0.0f && map[i] <= 1.0f);
    top_value = MAX (top_value, map[i]);
  }
  /* the cell a point of the frame falls in */
  fail_unless_equals_float (gst_cxr_heatmap_meta_value_at (m, 0.99, 0.5),
      map[3 * 7 + 6]);
  fail_unless_equals_float (gst_cxr_heatmap_meta_value_at (m, 1.0, 0.5),
      0.0f);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (rest);
  g_free (caps);
}

/* heatmap=true: a 7x7 map over the whole frame, in [0, 1], that an
 * ensemble makes as the mean of its members' maps (each member alone
 * giving its own), that videoconvert and videoscale keep, that stale frames
 * carry, and that frames without a diagnosis and heatmap=false lack. */
GST_START_TEST (test_heatmap)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 30,
      &error);
  GstBuffer *pic = picture ("GRAY8", 256, 256), *out;
  gchar *path = g_build_filename (tmp_dir, "heat.safetensors", NULL);
  gchar *single[2], *caps = caps_for ("GRAY8", 256, 256);
  gfloat maps[2][49], mean[49], scaled[49];
  gdouble differ = 0.0;
  GstHarness *h;

  fail_unless (m != NULL);
  cxr_model_set_members (m, 2);
  cxr_net_spec_init_params (m->spec, cxr_model_member (m, 1), 31);
  cxr_model_update_id (m);
  fail_unless (cxr_model_save (m, path, &error));
  for (int k = 0; k < 2; k++) {
    CxrModel *one = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 0,
        &error);
    memcpy (one->params, cxr_model_member (m, k),
        m->spec->n_floats * sizeof (float));
    cxr_model_update_id (one);
    single[k] = g_strdup_printf ("%s/heat%d.safetensors", tmp_dir, k);
    fail_unless (cxr_model_save (one, single[k], &error));
    cxr_model_free (one);
    heatmap_of (single[k], pic, "", maps[k]);
  }
  for (int i = 0; i < 49; i++)
    differ = MAX (differ, fabs (maps[0][i] - maps[1][i]));
  fail_unless (differ > 0.1, "the members' maps are too alike to tell "
      "their mean apart");
  heatmap_of (path, pic, "", mean);
  for (int i = 0; i < 49; i++)
    fail_unless (fabsf (mean[i] - (maps[0][i] + maps[1][i]) / 2) < 1e-5,
        "cell %d: %f, the members' mean %f", i, mean[i],
        (maps[0][i] + maps[1][i]) / 2);
  heatmap_of (path, pic, "! videoconvert ! videoscale ! capsfilter "
      "caps=\"video/x-raw,format=RGB,width=100,height=60\"", scaled);
  fail_unless (memcmp (scaled, mean, sizeof mean) == 0);

  /* stale frames carry the last map; a blank frame and heatmap=false get
   * none */
  h = classifier_with (path, caps, "heatmap=true interval=2");
  gst_buffer_unref (push_pull (h, gst_buffer_ref (pic)));
  out = push_pull (h, gst_buffer_ref (pic));
  fail_unless (gst_cxr_classification_meta_is_stale (result_of (out)));
  fail_unless (gst_buffer_get_cxr_heatmap_meta (out) != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  h = classifier_with (path, caps, "heatmap=true");
  out = gst_buffer_new_allocate (NULL, 256 * 256, NULL);
  gst_buffer_memset (out, 0, 0, 256 * 256);
  out = push_pull (h, out);
  fail_unless (gst_cxr_classification_meta_is_abstained (result_of (out)));
  fail_unless (gst_buffer_get_cxr_heatmap_meta (out) == NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  h = classifier (path, caps);
  out = push_pull (h, gst_buffer_ref (pic));
  fail_unless (gst_buffer_get_cxr_heatmap_meta (out) == NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  for (int k = 0; k < 2; k++) {
    g_remove (single[k]);
    g_free (single[k]);
  }
  g_remove (path);
  g_free (path);
  g_free (caps);
  gst_buffer_unref (pic);
  cxr_model_free (m);
}

GST_END_TEST;

GST_START_TEST (test_bad_models)
{
  gchar *garbage = g_build_filename (tmp_dir, "garbage.safetensors", NULL);
  gchar *absent = g_build_filename (tmp_dir, "absent.safetensors", NULL);

  fail_unless (g_file_set_contents (garbage, "not a model at all", -1, NULL));
  expect_start_error (absent, "not found");
  expect_start_error (garbage, "Cannot use the model");
  expect_start_error (tmp_dir, "Cannot use the model");
  g_remove (garbage);
  g_free (garbage);
  g_free (absent);
}

GST_END_TEST;

/* Out-of-range values are refused by the property specs, so the element
 * keeps a usable value. */
/* A setting read only at start, set while playing: a warning says so, and
 * the value stays; the model file, which may change, does change. */
GST_START_TEST (test_set_while_playing)
{
  gchar *caps = caps_for ("GRAY8", 64, 64);
  GstElement *e = gst_element_factory_make ("cxrclassify", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *msg;
  GError *error = NULL;
  gchar *model;
  gint precision;

  g_object_set (e, "model", model_a, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, caps);
  gst_element_set_bus (e, bus);
  gst_buffer_unref (push_pull (h, picture ("GRAY8", 64, 64)));
  gst_util_set_object_arg (G_OBJECT (e), "precision", "bf16");
  g_object_get (e, "precision", &precision, NULL);
  fail_unless_equals_int (precision, CXR_PRECISION_AUTO);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_parse_warning (msg, &error, NULL);
  fail_unless (strstr (error->message, "'precision' can be set only before")
      != NULL, "%s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  g_object_set (e, "model", model_b, NULL);
  g_object_get (e, "model", &model, NULL);
  fail_unless_equals_string (model, model_b);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);
  g_free (model);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_object_unref (e);         /* the harness took its own reference */
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_bad_properties)
{
  GstElement *c = gst_element_factory_make ("cxrclassify", NULL);
  struct {
    const gchar *name;
    GType type;
    gdouble bad;
  } cases[] = {
    {"interval", G_TYPE_UINT, 0}, {"threshold", G_TYPE_FLOAT, 1.5},
    {"threshold", G_TYPE_FLOAT, -2}, {"threads", G_TYPE_INT, -1},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (c),
        cases[i].name);
    GValue v = G_VALUE_INIT;
    g_value_init (&v, cases[i].type);
    if (cases[i].type == G_TYPE_UINT)
      g_value_set_uint (&v, (guint) cases[i].bad);
    else if (cases[i].type == G_TYPE_INT)
      g_value_set_int (&v, (gint) cases[i].bad);
    else
      g_value_set_float (&v, (gfloat) cases[i].bad);
    fail_unless (g_param_value_validate (spec, &v), "%s accepts %f",
        cases[i].name, cases[i].bad);
    g_value_unset (&v);
  }
  gst_util_set_object_arg (G_OBJECT (c), "precision", "bf16");
  {
    gint p;
    g_object_get (c, "precision", &p, NULL);
    fail_unless_equals_int (p, 2);
  }
  gst_object_unref (c);
}

GST_END_TEST;

static Suite *
cxrclassify_suite (void)
{
  Suite *s = suite_create ("cxrclassify");
  TCase *tc = tcase_create ("general");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_every_format);
  tcase_add_test (tc, test_size_change);
  tcase_add_test (tc, test_interval_and_stale);
  tcase_add_test (tc, test_messages);
  tcase_add_test (tc, test_qos_late_frame);
  tcase_add_test (tc, test_model_swap_under_load);
  tcase_add_test (tc, test_model_swap_broken);
  tcase_add_test (tc, test_two_classifiers);
  tcase_add_test (tc, test_stress_threads);
  tcase_add_test (tc, test_set_while_playing);
  tcase_add_test (tc, test_ensemble_mean_logit);
  tcase_add_test (tc, test_abstain);
  tcase_add_test (tc, test_heatmap);
  tcase_add_test (tc, test_bad_models);
  tcase_add_test (tc, test_bad_properties);
  return s;
}

GST_CHECK_MAIN (cxrclassify);
