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
#include "draw.h"
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
    GstCxrPixels px;
    gst_cxr_pixels_of (frame, margin + y, &px);
    for (gint x = 0; x < bw; x++) {
      guint32 p = src[x];
      gdouble a = (p >> 24) / 255.0, rgb[3];
      if (a <= 0.0)
        continue;
      rgb[0] = ((p >> 16) & 0xff) / a;
      rgb[1] = ((p >> 8) & 0xff) / a;
      rgb[2] = (p & 0xff) / a;
      gst_cxr_blend (&px, margin + x, rgb, a);
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
    gst_cxr_draw_heatmap (frame, hm, alpha);
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
