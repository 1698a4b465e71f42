/**
 * SECTION:element-cxroverlay
 * @title: cxroverlay
 *
 * Draws what cxrclassify concluded onto the frames: the heatmap of its
 * #GstCxrHeatmapMeta (cxrclassify heatmap=true) as a colour map, from blue
 * where the network found little evidence for the class to red where it
 * found the most, blended into the film by `alpha` times the map's value
 * (so places without evidence keep the film as it is); and the label with
 * its probability, or why the frame got no diagnosis, in a box at the top
 * left (Pango on Cairo, as textoverlay does). Grey frames get the colour
 * map's brightness. Frames without a classification or heatmap meta pass
 * untouched.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 cxrdatasetsrc location=xrays/ ! cxrclassify heatmap=true ! \
 *     cxroverlay ! videoconvert ! autovideosink
 * gst-launch-1.0 cxrdatasetsrc location=xrays/ ! cxrclassify heatmap=true ! \
 *     cxroverlay alpha=0.5 ! videoconvert ! pngenc ! \
 *     multifilesink location=explained-%05d.png
 * ]|
 */
#include "gstcxroverlay.h"
#include "gstcxrelements.h"
#include "gst/cxr/cxrmeta.h"

#include <gst/video/video.h>
#include <math.h>
#include <pango/pangocairo.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_overlay_debug);
#define GST_CAT_DEFAULT gst_cxr_overlay_debug

#define DEFAULT_ALPHA 0.5
#define DEFAULT_SHOW_LABEL TRUE

#define OVERLAY_FORMATS "{ GRAY8, RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, " \
    "BGRA, ARGB, ABGR }"

struct _GstCxrOverlay {
  GstVideoFilter parent;
  gdouble alpha;                /* under the object lock */
  gboolean show_label;
};

enum {
  PROP_0,
  PROP_ALPHA,
  PROP_SHOW_LABEL,
};

G_DEFINE_TYPE (GstCxrOverlay, gst_cxr_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (cxroverlay, "cxroverlay", GST_RANK_NONE,
    GST_TYPE_CXR_OVERLAY);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)));

/* ---- one pixel of any format ---- */

typedef struct {
  guint8 *row;
  gint pstride;
  gint offset[3];               /* of R, G, B; offset[0] alone for grey */
  gboolean grey;
} Pixels;

static void
pixels_of (GstVideoFrame * frame, gint y, Pixels * px)
{
  px->row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0)
      + y * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  px->pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  px->grey = GST_VIDEO_INFO_IS_GRAY (&frame->info);
  for (gint c = 0; c < (px->grey ? 1 : 3); c++)
    px->offset[c] = GST_VIDEO_FRAME_COMP_OFFSET (frame, c);
}

/* pixel x of the row to (1 - a) of itself and a of colour rgb */
static void
blend (const Pixels * px, gint x, const gdouble rgb[3], gdouble a)
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
  gdouble u = (fx - m->left) / (m->right - m->left) * m->width - 0.5;
  gdouble v = (fy - m->top) / (m->bottom - m->top) * m->height - 0.5;
  gint x0, y0, x1, y1;
  gdouble tx, ty, top, bottom;

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

static void
draw_heatmap (GstVideoFrame * frame, const GstCxrHeatmapMeta * m,
    gdouble alpha)
{
  gint w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);

  for (gint y = 0; y < h; y++) {
    Pixels px;
    pixels_of (frame, y, &px);
    for (gint x = 0; x < w; x++) {
      gdouble v = map_at (m, (x + 0.5) / w, (y + 0.5) / h), rgb[3];
      if (v <= 0.0)
        continue;
      colour_of (v, rgb);
      blend (&px, x, rgb, alpha * v);
    }
  }
}

/* ---- the label ---- */

static gchar *
label_text (const GstCxrClassificationMeta * m)
{
  if (gst_cxr_classification_meta_is_abstained (m))
    return g_strdup_printf ("not classified: %s",
        gst_cxr_abstain_reason_name (m->abstain_reason));
  return g_strdup_printf ("%s %.2f%s", gst_cxr_classification_meta_get_label
      (m), gst_cxr_classification_meta_get_probability (m, m->predicted),
      gst_cxr_classification_meta_is_stale (m) ? " (stale)" : "");
}

/* The text in white on a dark box, drawn by Pango into an ARGB32 surface
 * of its own, then laid onto the frame at (margin, margin), whatever the
 * frame's format. */
static void
draw_label (GstVideoFrame * frame, const gchar * text)
{
  gint w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  gint size = MAX (8, h / 24), pad = MAX (1, size / 4), margin = pad;
  cairo_surface_t *probe = cairo_image_surface_create (CAIRO_FORMAT_ARGB32,
      1, 1), *surface;
  cairo_t *cr = cairo_create (probe);
  PangoLayout *layout = pango_cairo_create_layout (cr);
  PangoFontDescription *font = pango_font_description_new ();
  PangoRectangle ink, logical;
  gint bw, bh, stride;
  guint8 *data;

  pango_font_description_set_family (font, "Sans");
  pango_font_description_set_weight (font, PANGO_WEIGHT_BOLD);
  pango_font_description_set_absolute_size (font, size * PANGO_SCALE);
  pango_layout_set_font_description (layout, font);
  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_extents (layout, &ink, &logical);
  bw = MIN (logical.width + 2 * pad, w - margin);
  bh = MIN (logical.height + 2 * pad, h - margin);
  cairo_destroy (cr);
  cairo_surface_destroy (probe);
  if (bw <= 0 || bh <= 0)
    goto done;

  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, bw, bh);
  cr = cairo_create (surface);
  cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, 0.65);
  cairo_paint (cr);
  cairo_move_to (cr, pad, pad);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  pango_cairo_update_layout (cr, layout);
  pango_cairo_show_layout (cr, layout);
  cairo_destroy (cr);
  cairo_surface_flush (surface);

  /* premultiplied ARGB in native-endian words: over the frame */
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (gint y = 0; y < bh; y++) {
    const guint32 *src = (const guint32 *) (data + y * stride);
    Pixels px;
    pixels_of (frame, margin + y, &px);
    for (gint x = 0; x < bw; x++) {
      guint32 p = src[x];
      gdouble a = (p >> 24) / 255.0, rgb[3];
      if (a <= 0.0)
        continue;
      rgb[0] = ((p >> 16) & 0xff) / a;
      rgb[1] = ((p >> 8) & 0xff) / a;
      rgb[2] = (p & 0xff) / a;
      blend (&px, margin + x, rgb, a);
    }
  }
  cairo_surface_destroy (surface);
done:
  pango_font_description_free (font);
  g_object_unref (layout);
}

/* ---- the element ---- */

static GstFlowReturn
gst_cxr_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  GstCxrOverlay *self = GST_CXR_OVERLAY (filter);
  GstCxrClassificationMeta *cm =
      gst_buffer_get_cxr_classification_meta (frame->buffer);
  GstCxrHeatmapMeta *hm = gst_buffer_get_cxr_heatmap_meta (frame->buffer);
  gdouble alpha;
  gboolean show_label;

  GST_OBJECT_LOCK (self);
  alpha = self->alpha;
  show_label = self->show_label;
  GST_OBJECT_UNLOCK (self);
  if (hm && alpha > 0.0)
    draw_heatmap (frame, hm, alpha);
  if (cm && show_label) {
    gchar *text = label_text (cm);
    draw_label (frame, text);
    g_free (text);
  }
  return GST_FLOW_OK;
}

static void
gst_cxr_overlay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrOverlay *self = GST_CXR_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ALPHA:
      self->alpha = g_value_get_double (value);
      break;
    case PROP_SHOW_LABEL:
      self->show_label = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_overlay_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstCxrOverlay *self = GST_CXR_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ALPHA:
      g_value_set_double (value, self->alpha);
      break;
    case PROP_SHOW_LABEL:
      g_value_set_boolean (value, self->show_label);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_overlay_class_init (GstCxrOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = gst_cxr_overlay_set_property;
  gobject_class->get_property = gst_cxr_overlay_get_property;
  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_double ("alpha", "Alpha",
          "Opacity of the heatmap where its value is 1 (it is alpha times "
          "the value elsewhere); 0: no heatmap", 0.0, 1.0, DEFAULT_ALPHA,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SHOW_LABEL,
      g_param_spec_boolean ("show-label", "Show label",
          "Draw the label and its probability (or why there is none)",
          DEFAULT_SHOW_LABEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray result overlay", "Filter/Effect/Video",
      "Draws cxrclassify's heatmap and label onto the frames",
      "The gst-cxr authors");
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_cxr_overlay_transform_frame_ip);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_overlay_debug, "cxroverlay", 0,
      "chest X-ray result overlay");
}

static void
gst_cxr_overlay_init (GstCxrOverlay * self)
{
  self->alpha = DEFAULT_ALPHA;
  self->show_label = DEFAULT_SHOW_LABEL;
}
