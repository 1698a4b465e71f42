/* cxrdatasetsrc: walks a chest X-ray data set and pushes each image as a
 * labelled raw video frame. See gstcxrdatasetsrc.c for the behaviour. */
#pragma once
#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_CXR_DATASET_SRC (gst_cxr_dataset_src_get_type ())
G_DECLARE_FINAL_TYPE (GstCxrDatasetSrc, gst_cxr_dataset_src, GST, CXR_DATASET_SRC,
    GstPushSrc)

struct _GstCxrDatasetSrc
{
  GstPushSrc parent;

  /* properties, under the object lock; all but target-size and
   * skip-corrupt are read once, in start () */
  gchar *location;
  gchar *classes;
  gboolean recursive;
  gboolean shuffle;
  guint64 seed;
  gint target_size;
  gboolean skip_corrupt;
  gchar *patient_pattern;
  guint decode_threads;         /* 0: one per core */
  gchar *shard;                 /* "K/N"; NULL: the process's share */

  /* built by start (), then used by the streaming thread only */
  struct _CxrCatalog *catalog;  /* the files, in output order */
  guint next;                   /* index in files of the next file to ask
                                 * the decoders for */
  guint end;                    /* past the last file of this share */
  gboolean sharing;             /* a share of the files, not all */
  struct _CxrDecodePool *decoders;
  guint64 n_frames;             /* buffers produced so far */
  GstVideoInfo info;            /* of the last buffer; format UNKNOWN before */

  /* read-only properties, under the object lock; kept after stop () so
   * they can be read once the pipeline is done */
  guint n_files;
  guint n_skipped;
};

GST_ELEMENT_REGISTER_DECLARE (cxrdatasetsrc);

G_END_DECLS
