/* draw.h — drawing onto video frames, as cxroverlay draws and as
 * cxrmetasink's pictures show: a pixel of any packed RGB or grey format,
 * the heatmap's colour map, and a film with its heatmap as a PNG. */
#pragma once
#include <gst/video/video.h>
#include "gst/cxr/cxrmeta.h"

G_BEGIN_DECLS

/* one row of a frame: where each pixel's R, G and B (or grey) bytes are */
typedef struct {
  guint8 *row;
  gint pstride;
  gint offset[3];               /* of R, G, B; offset[0] alone for grey */
  gboolean grey;
} GstCxrPixels;

void gst_cxr_pixels_of (GstVideoFrame * frame, gint y, GstCxrPixels * px);

/* pixel x of the row to (1 - a) of itself and a of colour rgb (0-255 a
 * channel); a grey frame takes the colour's brightness */
void gst_cxr_blend (const GstCxrPixels * px, gint x, const gdouble rgb[3],
    gdouble a);

/* The heatmap over the frame: its colour map (blue, cyan, green, yellow,
 * red from 0 to 1), interpolated between the cells' centres, blended by
 * alpha times its value. */
void gst_cxr_draw_heatmap (GstVideoFrame * frame, const GstCxrHeatmapMeta * m,
    gdouble alpha);

/* The frame (buf, as info says) in RGB, scaled so that its longer side is
 * at most max_side pixels, with the heatmap (if m is not NULL) drawn at
 * alpha, as a PNG file's
 * bytes; NULL with an error when the frame cannot be converted. */
GBytes *gst_cxr_heatmap_png (GstBuffer * buf, const GstVideoInfo * info,
    const GstCxrHeatmapMeta * m, gint max_side, gdouble alpha,
    GError ** error);

G_END_DECLS
