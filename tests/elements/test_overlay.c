/* cxroverlay in a GstHarness: every format, alpha 0 and a frame without a
 * meta leave the pixels as they were, the heatmap colours the places it
 * marks and no others, and the label is drawn in its corner. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include "gst/cxr/cxrmeta.h"

#define W 160
#define H 120

static const gchar *classes[] = { "NORMAL", "PNEUMONIA" };

/* a grey ramp in the format, the same level in every channel */
static GstBuffer *
ramp (const GstVideoInfo * info)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info),
      NULL);
  GstVideoFrame frame;

  fail_unless (gst_video_frame_map (&frame, (GstVideoInfo *) info, buf,
          GST_MAP_WRITE));
  for (gint y = 0; y < H; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (gint i = 0; i < W * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, 0); i++)
      row[i] = (guint8) (40 + (i / GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, 0))
          + y / 2);
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* a classification, and a 4x2 heatmap that is 1 in its top right cell
 * (x 120-159, y 0-59 of the frame) and 0 elsewhere */
static void
add_metas (GstBuffer * buf, gboolean heatmap)
{
  const gfloat probs[2] = { 0.1f, 0.9f };
  const gfloat map[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };

  gst_buffer_add_cxr_classification_meta (buf, 2, classes, probs, 1, 0.5f,
      "1234abcd", 0, GST_CXR_CLASSIFICATION_FLAG_NONE);
  if (heatmap)
    gst_buffer_add_cxr_heatmap_meta (buf, 4, 2, map, 1);
}

static GstHarness *
overlay (const gchar * format, const gchar * props)
{
  gchar *launch = g_strdup_printf ("cxroverlay %s", props);
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=1/1", format, W, H);
  GstHarness *h = gst_harness_new_parse (launch);

  gst_harness_set_src_caps_str (h, caps);
  g_free (launch);
  g_free (caps);
  return h;
}

/* the number of bytes of rows y0 to y1, columns x0 to x1 of the frame that
 * differ between a and b */
static gint
changed (const GstVideoInfo * info, GstBuffer * a, GstBuffer * b, gint x0,
    gint x1, gint y0, gint y1)
{
  GstMapInfo ma, mb;
  gint n = 0, stride = GST_VIDEO_INFO_PLANE_STRIDE (info, 0);
  gint ps = GST_VIDEO_INFO_COMP_PSTRIDE (info, 0);

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  for (gint y = y0; y < y1; y++)
    for (gint i = x0 * ps; i < x1 * ps; i++)
      n += ma.data[y * stride + i] != mb.data[y * stride + i];
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return n;
}

/* a byte of that part of the frame brighter than 200 (the label's white
 * text: the ramp under its dark box is below 100) */
static gboolean
has_bright (const GstVideoInfo * info, GstBuffer * b, gint x0, gint x1,
    gint y0, gint y1)
{
  GstMapInfo m;
  gboolean bright = FALSE;
  gint stride = GST_VIDEO_INFO_PLANE_STRIDE (info, 0);
  gint ps = GST_VIDEO_INFO_COMP_PSTRIDE (info, 0);

  fail_unless (gst_buffer_map (b, &m, GST_MAP_READ));
  for (gint y = y0; y < y1; y++)
    for (gint i = x0 * ps; i < x1 * ps; i++)
      bright |= m.data[y * stride + i] > 200;
  gst_buffer_unmap (b, &m);
  return bright;
}

static void
set (GstHarness * h, const gchar * property, const GValue * value)
{
  GstElement *e = gst_harness_find_element (h, "cxroverlay");

  g_object_set_property (G_OBJECT (e), property, value);
  gst_object_unref (e);
}

static GstBuffer *
run (GstHarness * h, GstBuffer * in)
{
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_copy (in)),
      GST_FLOW_OK);
  return gst_harness_pull (h);
}

GST_START_TEST (test_formats)
{
  static const gchar *formats[] = { "GRAY8", "RGB", "BGR", "RGBx", "BGRx",
    "xRGB", "xBGR", "RGBA", "BGRA", "ARGB", "ABGR"
  };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoInfo info;
    GstHarness *h = overlay (formats[f], "alpha=0.8");
    GstBuffer *in, *out;

    gst_video_info_set_format (&info,
        gst_video_format_from_string (formats[f]), W, H);
    in = ramp (&info);
    add_metas (in, TRUE);
    out = run (h, in);
    /* the hot cell is coloured, the cold cells away from the label and the
     * blending's edge are not */
    fail_unless (changed (&info, in, out, 130, 160, 10, 50) > 0, "%s: the "
        "heatmap's hot cell is unchanged", formats[f]);
    fail_unless_equals_int (changed (&info, in, out, 0, 90, 70, 120), 0);
    /* the label in the top left corner */
    fail_unless (changed (&info, in, out, 0, 60, 0, 12) > 0, "%s: no label",
        formats[f]);
    fail_unless (has_bright (&info, out, 0, 60, 0, 12), "%s: no text",
        formats[f]);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_alpha_zero_and_no_meta)
{
  GstVideoInfo info;
  GstHarness *h = overlay ("BGRx", "alpha=0");
  GstBuffer *in, *out, *bare;
  GValue v = G_VALUE_INIT;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, W, H);
  in = ramp (&info);
  bare = ramp (&info);
  add_metas (in, TRUE);
  out = run (h, in);
  /* the label alone: below its box nothing moved */
  fail_unless (changed (&info, in, out, 0, 60, 0, 12) > 0);
  fail_unless_equals_int (changed (&info, in, out, 0, W, 30, H), 0);
  fail_unless_equals_int (changed (&info, in, out, 100, W, 0, H), 0);
  gst_buffer_unref (out);

  /* no meta: the frame as it came */
  g_value_init (&v, G_TYPE_DOUBLE);
  g_value_set_double (&v, 1.0);
  set (h, "alpha", &v);
  g_value_unset (&v);
  out = run (h, bare);
  fail_unless_equals_int (changed (&info, bare, out, 0, W, 0, H), 0);
  gst_buffer_unref (out);

  /* show-label=false: the heatmap alone */
  g_value_init (&v, G_TYPE_BOOLEAN);
  g_value_set_boolean (&v, FALSE);
  set (h, "show-label", &v);
  g_value_unset (&v);
  out = run (h, in);
  fail_unless_equals_int (changed (&info, in, out, 0, 60, 0, 12), 0);
  fail_unless (changed (&info, in, out, 130, 160, 10, 50) > 0);
  gst_buffer_unref (out);

  gst_buffer_unref (in);
  gst_buffer_unref (bare);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A frame that starts 64 bytes into its buffer (a GstVideoMeta saying
 * so): the bytes before it stay as they were, and the drawing lands on the
 * frame, not 64 bytes past it. */
GST_START_TEST (test_frame_with_offset)
{
  GstVideoInfo info;
  GstHarness *h = overlay ("BGRx", "alpha=1");
  GstBuffer *plain, *in, *out;
  GstMapInfo src, dst;
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 64 };
  gint strides[GST_VIDEO_MAX_PLANES];

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, W, H);
  strides[0] = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);
  plain = ramp (&info);
  in = gst_buffer_new_allocate (NULL, 64 + GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (in, 0, 7, 64);
  fail_unless (gst_buffer_map (plain, &src, GST_MAP_READ));
  gst_buffer_fill (in, 64, src.data, src.size);
  gst_buffer_unmap (plain, &src);
  gst_buffer_add_video_meta_full (in, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_BGRx, W, H, 1, offsets, strides);
  add_metas (in, TRUE);
  add_metas (plain, TRUE);
  out = run (h, in);
  fail_unless (gst_buffer_map (out, &dst, GST_MAP_READ));
  for (gint i = 0; i < 64; i++)
    fail_unless_equals_int (dst.data[i], 7);
  gst_buffer_unmap (out, &dst);
  /* the same drawing as on the plain frame, 64 bytes in */
  {
    GstBuffer *want = run (h, plain);
    GstMapInfo w;
    fail_unless (gst_buffer_map (want, &w, GST_MAP_READ));
    fail_unless (gst_buffer_map (out, &dst, GST_MAP_READ));
    fail_unless (memcmp (dst.data + 64, w.data, w.size) == 0);
    gst_buffer_unmap (out, &dst);
    gst_buffer_unmap (want, &w);
    gst_buffer_unref (want);
  }
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_buffer_unref (plain);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
overlay_suite (void)
{
  Suite *s = suite_create ("cxroverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_alpha_zero_and_no_meta);
  tcase_add_test (tc, test_frame_with_offset);
  return s;
}

GST_CHECK_MAIN (overlay);
