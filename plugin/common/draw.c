/* draw.c — drawing onto frames (see draw.h). */
#include "draw.h"

#include <math.h>
#include <png.h>

/* ---- one pixel of any format ---- */

void
gst_cxr_pixels_of (GstVideoFrame * frame, gint y, GstCxrPixels * px)
{
  px->row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0)
      + y * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  px->pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  px->grey = GST_VIDEO_INFO_IS_GRAY (&frame->info);
  /* within the pixel: the plane's data already starts at its offset */
  for (gint c = 0; c < (px->grey ? 1 : 3); c++)
    px->offset[c] = GST_VIDEO_FORMAT_INFO_POFFSET (frame->info.finfo, c);
}

void
gst_cxr_blend (const GstCxrPixels * px, gint x, const gdouble rgb[3], gdouble a)
{
  guint8 *p = px->row + x * px->pstride;

  if (px->grey) {
    gdouble luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
    p[px->offset[0]] = (guint8) lround ((1.0 - a) * p[px->offset[0]]
        + a * luma);
    return;
  }
  for (gint c = 0; c < 3; c++)
    p[px->offset[c]] = (guint8) lround ((1.0 - a) * p[px->offset[c]]
        + a * rgb[c]);
}

/* ---- the heatmap ---- */

/* blue, cyan, green, yellow, red for 0 to 1 (0-255 a channel) */
static void
colour_of (gdouble v, gdouble rgb[3])
{
  rgb[0] = 255.0 * CLAMP (1.5 - fabs (4.0 * v - 3.0), 0.0, 1.0);
  rgb[1] = 255.0 * CLAMP (1.5 - fabs (4.0 * v - 2.0), 0.0, 1.0);
  rgb[2] = 255.0 * CLAMP (1.5 - fabs (4.0 * v - 1.0), 0.0, 1.0);
}

/* the map at a point of the frame (fractions of its size), bilinear
 * between the cells' centres */
static gdouble
map_at (const GstCxrHeatmapMeta * m, gdouble fx, gdouble fy)
{
  gdouble u, v, tx, ty, top, bottom;
  gint x0, y0, x1, y1;

  if (!(m->right > m->left && m->bottom > m->top))
    return 0.0;
  u = (fx - m->left) / (m->right - m->left) * m->width - 0.5;
  v = (fy - m->top) / (m->bottom - m->top) * m->height - 0.5;
  if (u < -0.5 || u > m->width - 0.5 || v < -0.5 || v > m->height - 0.5)
    return 0.0;
  u = CLAMP (u, 0.0, m->width - 1.0);
  v = CLAMP (v, 0.0, m->height - 1.0);
  x0 = (gint) u;
  y0 = (gint) v;
  x1 = MIN (x0 + 1, (gint) m->width - 1);
  y1 = MIN (y0 + 1, (gint) m->height - 1);
  tx = u - x0;
  ty = v - y0;
  top = gst_cxr_heatmap_meta_get_value (m, x0, y0) * (1.0 - tx)
      + gst_cxr_heatmap_meta_get_value (m, x1, y0) * tx;
  bottom = gst_cxr_heatmap_meta_get_value (m, x0, y1) * (1.0 - tx)
      + gst_cxr_heatmap_meta_get_value (m, x1, y1) * tx;
  return top * (1.0 - ty) + bottom * ty;
}

void
gst_cxr_draw_heatmap (GstVideoFrame * frame, const GstCxrHeatmapMeta * m,
    gdouble alpha)
{
  gint w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);

  for (gint y = 0; y < h; y++) {
    GstCxrPixels px;
    gst_cxr_pixels_of (frame, y, &px);
    for (gint x = 0; x < w; x++) {
      gdouble v = map_at (m, (x + 0.5) / w, (y + 0.5) / h), rgb[3];
      if (v <= 0.0)
        continue;
      colour_of (v, rgb);
      gst_cxr_blend (&px, x, rgb, alpha * v);
    }
  }
}

/* ---- a picture ---- */

static void
png_append (png_structp png, png_bytep data, png_size_t n)
{
  g_byte_array_append (png_get_io_ptr (png), data, n);
}

static void
png_flush_nothing (png_structp png)
{
  (void) png;
}

/* the RGB frame's rows as a PNG file's bytes */
static GBytes *
encode_png (GstVideoFrame * rgb, GError ** error)
{
  GByteArray *bytes = g_byte_array_new ();
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL,
      NULL, NULL);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  gint w = GST_VIDEO_FRAME_WIDTH (rgb), h = GST_VIDEO_FRAME_HEIGHT (rgb);

  if (!info || setjmp (png_jmpbuf (png))) {
    png_destroy_write_struct (&png, &info);
    g_byte_array_unref (bytes);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_ENCODE,
        "cannot encode the picture as PNG");
    return NULL;
  }
  png_set_write_fn (png, bytes, png_append, png_flush_nothing);
  png_set_IHDR (png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
      PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (gint y = 0; y < h; y++)
    png_write_row (png, (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (rgb, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (rgb, 0));
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  return g_byte_array_free_to_bytes (bytes);
}

GBytes *
gst_cxr_heatmap_png (GstBuffer * buf, const GstVideoInfo * info,
    const GstCxrHeatmapMeta * m, gint max_side, gdouble alpha,
    GError ** error)
{
  gint w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);
  gdouble scale = MIN (1.0, (gdouble) max_side / MAX (w, h));
  GstVideoInfo out_info;
  GstVideoFrame in, out;
  GstVideoConverter *convert;
  GstBuffer *out_buf;
  GBytes *png = NULL;

  gst_video_info_set_format (&out_info, GST_VIDEO_FORMAT_RGB,
      MAX (1, (gint) lround (w * scale)), MAX (1, (gint) lround (h * scale)));
  /* the converter changes the size and the format, nothing else */
  GST_VIDEO_INFO_FPS_N (&out_info) = GST_VIDEO_INFO_FPS_N (info);
  GST_VIDEO_INFO_FPS_D (&out_info) = GST_VIDEO_INFO_FPS_D (info);
  GST_VIDEO_INFO_INTERLACE_MODE (&out_info) =
      GST_VIDEO_INFO_INTERLACE_MODE (info);
  if (!gst_video_frame_map (&in, (GstVideoInfo *) info, buf, GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "cannot read the frame to draw its heatmap");
    return NULL;
  }
  out_buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out_info),
      NULL);
  if (!gst_video_frame_map (&out, &out_info, out_buf, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in);
    gst_buffer_unref (out_buf);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "cannot make a picture of the frame");
    return NULL;
  }
  convert = gst_video_converter_new ((GstVideoInfo *) info, &out_info, NULL);
  if (convert) {
    gst_video_converter_frame (convert, &in, &out);
    gst_video_converter_free (convert);
    if (m)
      gst_cxr_draw_heatmap (&out, m, alpha);
    png = encode_png (&out, error);
  } else {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "cannot convert a %s frame to RGB", GST_VIDEO_INFO_NAME (info));
  }
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  gst_buffer_unref (out_buf);
  return png;
}
