/**
 * SECTION:element-cxrdatasetsrc
 * @title: cxrdatasetsrc
 *
 * Walks a chest X-ray data set and pushes every JPEG, PNG or DICOM image in
 * it as one raw video frame carrying a #GstCxrLabelMeta (ground-truth
 * class, the file's path and the patient).
 *
 * `location` is one of three layouts, told apart when the element starts:
 *
 * - a file ending in `.csv`: a manifest, one `path,label` line per image.
 *   Relative paths are relative to the manifest's folder; a `path,label`
 *   header line (and a UTF-8 byte order mark) is optional; an empty label
 *   (or no comma at all) means unlabelled; empty lines are ignored. A line
 *   with more than one comma or without a path is an error (no quoting, so
 *   paths may not contain commas).
 *   Images come in manifest order.
 * - a folder with subfolders that hold images ("ImageFolder"): each
 *   top-level subfolder is a class, named after the folder. With
 *   `recursive` (the default) images in nested folders under a class folder
 *   belong to that class; without it only images directly inside the class
 *   folder count, and a subfolder whose images are all nested deeper is not
 *   a class. Images lying directly in `location` next to class folders are
 *   ignored (logged at WARNING level), as torchvision's ImageFolder does.
 * - any other folder: a flat, unlabelled set of the images directly in it
 *   (by the rule above none of its subfolders hold images).
 *
 * Image files are recognised by extension (.jpg, .jpeg, .png, .dcm, any
 * case), and files without an extension by the DICOM magic ("DICM" at byte
 * 128); DICOM files give their first frame (cxrdicomdec handles cine);
 * names starting with '.' are ignored, files and folders alike. Folders are
 * listed in byte order, so runs are reproducible whatever the locale. Each
 * file is read once however many links lead to it, and a link back to a
 * folder above is not followed (plugin/io/catalog.h).
 *
 * Class order: `classes` when set, otherwise the sorted class folder names
 * (or sorted distinct labels of a manifest). With `classes` set, a class
 * folder or manifest label not in the list is an error at start, listing
 * what was found; a listed class with no images is fine (a small split may
 * lack one). A flat folder is unlabelled whatever `classes` says.
 *
 * Order: folders give files sorted by path (byte order), manifests keep
 * their order; `shuffle` replaces either by a permutation that depends only
 * on `seed` and the file list (SplitMix64 + Fisher-Yates, so the same seed
 * gives the same order on every machine and GLib version).
 *
 * Output: video/x-raw GRAY8 for grey JPEGs and 8-bit (or gray+alpha) PNGs,
 * GRAY16_LE for 16-bit grey PNGs, RGB for colour and palette images (alpha
 * dropped); width and height of the decoded image, framerate 0/1,
 * pixel-aspect-ratio 1/1. New caps are set before any buffer whose size or
 * format differs from the previous one. Buffer n (counting only pushed
 * frames) has PTS n seconds, duration 1 second and offset n: a data set has
 * no time, but sinks that sync or mux want monotonic timestamps. A sink
 * with sync=true therefore shows one image per second; use sync=false to
 * run at decoding speed.
 *
 * Shares: started by mpirun (Open MPI) as one of N processes, each
 * process reads only its share of the files: the list split into N runs
 * of consecutive files, process k taking the k-th; `shard` ("K/N", K from
 * 1 to N) picks the K-th share for schedulers that start processes
 * themselves (Slurm job arrays, GNU parallel). Every process lists the
 * same files in the same order (the same folder, or a copy at the same
 * path), and in a share buffer offsets are file positions in the whole
 * list, so that the shares can be put back in order (cxrtrain and
 * cxrmetasink do).
 *
 * Files are decoded on `decode-threads` threads (default: one per core),
 * at most two files a thread ahead of the frame pushed, and pushed in
 * order.
 *
 * `target-size` > 0 makes JPEGs decode at the smallest DCT scale (n/8) whose
 * output is still at least target-size on both sides: several times faster
 * for large X-rays. Nothing is resized beyond that; cxrclassify does the
 * exact resize. PNGs always decode at full size.
 *
 * A file that cannot be read or decoded is skipped: the element posts a
 * "cxrdatasetsrc-skipped" element message (fields: file, the full path, and
 * reason), a GST_ELEMENT_WARNING, and counts it in `n-skipped`. With
 * `skip-corrupt` false it is a fatal error instead. A missing or unset
 * location, a folder without images, or a bad manifest line is an error
 * from start. EOS follows the last file; `num-buffers` works as for any
 * #GstBaseSrc.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m cxrdatasetsrc location=chest_xray/val target-size=124 ! \
 *     fakesink sync=false
 * gst-launch-1.0 cxrdatasetsrc location=val.csv classes=NORMAL,PNEUMONIA ! \
 *     cxrclassify ! cxrmetasink
 * ]|
 */


#include "gstcxrdatasetsrc.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "decodepool.h"
#include "properties.h"
#include "imagedecode.h"
#include "patient.h"
#include "gst/cxr/cxrmeta.h"
#include "dist.h"

GST_DEBUG_CATEGORY_STATIC (gst_cxr_dataset_src_debug);
#define GST_CAT_DEFAULT gst_cxr_dataset_src_debug

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_CLASSES,
  PROP_RECURSIVE,
  PROP_SHUFFLE,
  PROP_SEED,
  PROP_TARGET_SIZE,
  PROP_SKIP_CORRUPT,
  PROP_PATIENT_PATTERN,
  PROP_DECODE_THREADS,
  PROP_SHARD,
  PROP_N_FILES,
  PROP_N_SKIPPED,
};

#define DEFAULT_RECURSIVE TRUE
#define DEFAULT_SHUFFLE FALSE
#define DEFAULT_SEED 0
#define DEFAULT_TARGET_SIZE 0
#define DEFAULT_SKIP_CORRUPT TRUE
#define DEFAULT_DECODE_THREADS 0
/* decoded files a decoding thread may be ahead of the frame pushed */
#define AHEAD_PER_THREAD 2

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw, "
        "format = (string) { GRAY8, GRAY16_LE, RGB }, "
        "width = (int) [ 1, 65536 ], height = (int) [ 1, 65536 ], "
        "framerate = (fraction) 0/1, pixel-aspect-ratio = (fraction) 1/1"));

#define gst_cxr_dataset_src_parent_class parent_class
G_DEFINE_TYPE (GstCxrDatasetSrc, gst_cxr_dataset_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (cxrdatasetsrc, "cxrdatasetsrc", GST_RANK_NONE,
    GST_TYPE_CXR_DATASET_SRC);

static void gst_cxr_dataset_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_cxr_dataset_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_cxr_dataset_src_finalize (GObject * object);
static gboolean gst_cxr_dataset_src_start (GstBaseSrc * bsrc);
static gboolean gst_cxr_dataset_src_stop (GstBaseSrc * bsrc);
static gboolean gst_cxr_dataset_src_negotiate (GstBaseSrc * bsrc);
static gboolean gst_cxr_dataset_src_is_seekable (GstBaseSrc * bsrc);
static GstFlowReturn gst_cxr_dataset_src_create (GstPushSrc * psrc,
    GstBuffer ** buf);

static void
gst_cxr_dataset_src_class_init (GstCxrDatasetSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_dataset_src_debug, "cxrdatasetsrc", 0,
      "chest X-ray data set source");

  gobject_class->set_property = gst_cxr_dataset_src_set_property;
  gobject_class->get_property = gst_cxr_dataset_src_get_property;
  gobject_class->finalize = gst_cxr_dataset_src_finalize;

  /* each property's blurb is its documentation, as gst-inspect-1.0 shows
   * it; the README's table for cxrdatasetsrc says the same, checked */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Folder of images (one subfolder per class, or a flat unlabelled "
          "folder) or a .csv manifest of 'path,label' lines (paths relative "
          "to the manifest's folder, optional 'path,label' header, empty "
          "label = unlabelled)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes",
          "Comma-separated class names giving the class order (e.g. "
          "'NORMAL,PNEUMONIA'); unset: sorted class folder names or manifest "
          "labels. A class folder or label not listed is an error", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_RECURSIVE,
      g_param_spec_boolean ("recursive", "Recursive",
          "Count images in folders nested inside a class folder as that "
          "class (a flat folder's own subfolders never hold images, else "
          "they would be classes)", DEFAULT_RECURSIVE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_SHUFFLE,
      g_param_spec_boolean ("shuffle", "Shuffle",
          "Push files in a random order fixed by 'seed' (otherwise folders "
          "give path order, manifests their own order)", DEFAULT_SHUFFLE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of the shuffle: the same seed and file list always give the "
          "same order", 0, G_MAXUINT64, DEFAULT_SEED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_TARGET_SIZE,
      g_param_spec_int ("target-size", "Target size",
          "0: decode at full size. > 0: decode JPEGs at the smallest DCT "
          "scale (n/8) keeping both sides >= this many pixels (much faster; "
          "not resized further, PNGs stay full size)", 0, G_MAXINT,
          DEFAULT_TARGET_SIZE, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_DECODE_THREADS,
      g_param_spec_uint ("decode-threads", "Decode threads",
          "Threads decoding files (0: one per core); frames are pushed in "
          "order, at most 2 a thread decoded ahead", 0, 256,
          DEFAULT_DECODE_THREADS, G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY
          | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_SHARD,
      g_param_spec_string ("shard", "Shard",
          "K/N: read only the K-th of N equal runs of consecutive files "
          "(K from 1 to N). Unset: every file, or under mpirun this "
          "process's share", NULL,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_SKIP_CORRUPT,
      g_param_spec_boolean ("skip-corrupt", "Skip corrupt",
          "Skip an unreadable or corrupt file with a warning and a "
          "'cxrdatasetsrc-skipped' element message (fields: file, reason); "
          "false: stop with an error", DEFAULT_SKIP_CORRUPT,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_PATIENT_PATTERN,
      g_param_spec_string ("patient-pattern", "Patient pattern",
          "Regular expression over each file's base name: its first capture "
          "group (or the whole match) is the patient, who keeps all their "
          "films on one side of a training split; a manifest's 'patient' "
          "column comes first. Default: the Kermany data set's names "
          "(IM-0117-0001.jpeg, person1_virus_6.jpeg); empty: no patients",
          CXR_KERMANY_PATIENT_PATTERN, G_PARAM_READWRITE |
          GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_N_FILES,
      g_param_spec_uint ("n-files", "Number of files",
          "Images this element reads: those found in the data set when it "
          "started, or its share of them", 0,
          G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_N_SKIPPED,
      g_param_spec_uint ("n-skipped", "Number skipped",
          "Files skipped so far as unreadable or corrupt (kept after the "
          "element stops, reset when it starts)", 0, G_MAXUINT, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray data set source", "Source/Video",
      "Reads a folder of JPEG, PNG and DICOM images (one subfolder per "
      "class, or flat) or a CSV manifest, decodes each image to raw video "
      "and attaches its ground-truth label and file name as GstCxrLabelMeta",
      "The gst-cxr authors");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_cxr_dataset_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_dataset_src_stop);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_cxr_dataset_src_negotiate);
  basesrc_class->is_seekable =
      GST_DEBUG_FUNCPTR (gst_cxr_dataset_src_is_seekable);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_cxr_dataset_src_create);
}

static void
gst_cxr_dataset_src_init (GstCxrDatasetSrc * self)
{
  self->recursive = DEFAULT_RECURSIVE;
  self->shuffle = DEFAULT_SHUFFLE;
  self->seed = DEFAULT_SEED;
  self->target_size = DEFAULT_TARGET_SIZE;
  self->skip_corrupt = DEFAULT_SKIP_CORRUPT;
  self->patient_pattern = g_strdup (CXR_KERMANY_PATIENT_PATTERN);
  gst_video_info_init (&self->info);
  /* buffers are stamped n seconds, so segments are in time */
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
gst_cxr_dataset_src_finalize (GObject * object)
{
  GstCxrDatasetSrc *self = GST_CXR_DATASET_SRC (object);

  g_free (self->location);
  g_free (self->classes);
  g_free (self->patient_pattern);
  g_free (self->shard);
  g_clear_pointer (&self->catalog, cxr_catalog_free);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_cxr_dataset_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrDatasetSrc *self = GST_CXR_DATASET_SRC (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_CLASSES:
      g_free (self->classes);
      self->classes = g_value_dup_string (value);
      break;
    case PROP_RECURSIVE:
      self->recursive = g_value_get_boolean (value);
      break;
    case PROP_SHUFFLE:
      self->shuffle = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_TARGET_SIZE:
      self->target_size = g_value_get_int (value);
      break;
    case PROP_SKIP_CORRUPT:
      self->skip_corrupt = g_value_get_boolean (value);
      break;
    case PROP_DECODE_THREADS:
      self->decode_threads = g_value_get_uint (value);
      break;
    case PROP_PATIENT_PATTERN:
      g_free (self->patient_pattern);
      self->patient_pattern = g_value_dup_string (value);
      break;
    case PROP_SHARD:
      g_free (self->shard);
      self->shard = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_dataset_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstCxrDatasetSrc *self = GST_CXR_DATASET_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_CLASSES:
      g_value_set_string (value, self->classes);
      break;
    case PROP_RECURSIVE:
      g_value_set_boolean (value, self->recursive);
      break;
    case PROP_SHUFFLE:
      g_value_set_boolean (value, self->shuffle);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_TARGET_SIZE:
      g_value_set_int (value, self->target_size);
      break;
    case PROP_SKIP_CORRUPT:
      g_value_set_boolean (value, self->skip_corrupt);
      break;
    case PROP_DECODE_THREADS:
      g_value_set_uint (value, self->decode_threads);
      break;
    case PROP_PATIENT_PATTERN:
      g_value_set_string (value, self->patient_pattern);
      break;
    case PROP_SHARD:
      g_value_set_string (value, self->shard);
      break;
    case PROP_N_FILES:
      g_value_set_uint (value, self->n_files);
      break;
    case PROP_N_SKIPPED:
      g_value_set_uint (value, self->n_skipped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
clear_state (GstCxrDatasetSrc * self)
{
  /* before the files whose paths it decodes */
  g_clear_pointer (&self->decoders, cxr_decode_pool_free);
  g_clear_pointer (&self->catalog, cxr_catalog_free);
  self->next = self->end = 0;
  self->sharing = FALSE;
  self->n_frames = 0;
  gst_video_info_init (&self->info);
}

static GstResourceError
resource_error (const GError * error)
{
  switch (error->code) {
    case CXR_CATALOG_ERROR_NOT_FOUND:
      return GST_RESOURCE_ERROR_NOT_FOUND;
    case CXR_CATALOG_ERROR_READ:
      return GST_RESOURCE_ERROR_READ;
    default:
      return GST_RESOURCE_ERROR_SETTINGS;
  }
}

/* The share [*lo, *hi) of n files this element reads: shard's ("K/N"),
 * else under mpirun this process's, else all. FALSE with error set when
 * shard is not K/N with 1 <= K <= N, or MPI cannot start. */
static gboolean
find_share (const gchar * shard, guint n, guint * lo, guint * hi,
    GError ** error)
{
  guint64 k, of;
  gchar **parts;
  gboolean ok;
  size_t from, to;

  if (!cxr_dist_init (error))
    return FALSE;
  if (shard == NULL || shard[0] == '\0') {
    k = cxr_dist_rank () + 1;
    of = cxr_dist_size ();
  } else if (cxr_dist_size () > 1) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "shard is set, and this is one of %d processes (mpirun), which "
        "share the files by themselves: leave shard unset under mpirun",
        cxr_dist_size ());
    return FALSE;
  } else {
    parts = g_strsplit (shard, "/", 2);
    ok = g_strv_length (parts) == 2
        && g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXUINT, &k, NULL)
        && g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXUINT, &of, NULL)
        && k <= of;
    g_strfreev (parts);
    if (!ok) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "shard is '%s'; it takes K/N, the K-th of N shares, K from 1 to N "
          "(1/4, 2/4, 3/4, 4/4)", shard);
      return FALSE;
    }
  }
  cxr_dist_part (n, (int) k - 1, (int) of, &from, &to);
  *lo = (guint) from;
  *hi = (guint) to;
  return TRUE;
}

static gboolean
gst_cxr_dataset_src_start (GstBaseSrc * bsrc)
{
  GstCxrDatasetSrc *self = GST_CXR_DATASET_SRC (bsrc);
  CxrCatalogOptions options;
  GError *error = NULL;
  gchar *location, *classes, *pattern, *names, *shard;
  guint threads;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  classes = g_strdup (self->classes);
  pattern = g_strdup (self->patient_pattern);
  shard = g_strdup (self->shard);
  options = (CxrCatalogOptions) {
  .location = location,.classes = classes,.recursive = self->recursive,
        .patient_pattern = pattern,.shuffle = self->shuffle,.seed =
        self->seed};
  threads = self->decode_threads ? self->decode_threads :
      g_get_num_processors ();
  self->n_files = 0;
  self->n_skipped = 0;
  GST_OBJECT_UNLOCK (self);

  clear_state (self);
  if (location == NULL || location[0] == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No location set: give cxrdatasetsrc a folder of images or a .csv "
            "manifest."), (NULL));
  } else if (!(self->catalog = cxr_catalog_new (&options, &error))) {
    gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR,
        GST_RESOURCE_ERROR, resource_error (error), g_strdup (error->message),
        NULL, __FILE__, GST_FUNCTION, __LINE__);
    g_error_free (error);
  }
  if (self->catalog && !find_share (shard, self->catalog->files->len,
          &self->next, &self->end, &error)) {
    gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR,
        GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        g_strdup (error->message), NULL, __FILE__, GST_FUNCTION, __LINE__);
    g_error_free (error);
    g_clear_pointer (&self->catalog, cxr_catalog_free);
  }
  if (self->catalog) {
    self->sharing = self->end - self->next < self->catalog->files->len;
    if (self->sharing)
      GST_INFO_OBJECT (self, "reading files %u to %u of %u", self->next + 1,
          self->end, self->catalog->files->len);
    if (self->catalog->n_ignored > 0)
      GST_WARNING_OBJECT (self, "ignoring %u images directly in '%s': with "
          "class subfolders, only images inside them count",
          self->catalog->n_ignored, location);
    if (self->catalog->n_duplicates > 0)
      GST_WARNING_OBJECT (self, "%u paths lead to images already listed "
          "(links): each image is read once", self->catalog->n_duplicates);
    names = cxr_catalog_class_list (self->catalog);
    GST_INFO_OBJECT (self, "%u images in '%s', classes [%s], %s",
        self->catalog->files->len, location, names,
        options.shuffle ? "shuffled" : "in order");
    g_free (names);
    GST_OBJECT_LOCK (self);
    self->n_files = self->end - self->next;
    GST_OBJECT_UNLOCK (self);
    self->decoders = cxr_decode_pool_new (threads,
        threads * AHEAD_PER_THREAD);
  }
  g_free (location);
  g_free (classes);
  g_free (pattern);
  g_free (shard);
  return self->catalog != NULL;
}

static gboolean
gst_cxr_dataset_src_stop (GstBaseSrc * bsrc)
{
  clear_state (GST_CXR_DATASET_SRC (bsrc));
  return TRUE;
}

/* Caps depend on each decoded file, so create () sets them, before the
 * first buffer and whenever they change. Nothing to fixate up front. */
static gboolean
gst_cxr_dataset_src_negotiate (GstBaseSrc * bsrc)
{
  (void) bsrc;
  return TRUE;
}

static gboolean
gst_cxr_dataset_src_is_seekable (GstBaseSrc * bsrc)
{
  (void) bsrc;
  return FALSE;
}

/* Returns TRUE when the file was skipped, FALSE when it is fatal (error
 * posted). */
static gboolean
handle_bad_file (GstCxrDatasetSrc * self, const CxrCatalogFile * file,
    const GError * err)
{
  gboolean unreadable = err->domain == G_FILE_ERROR;
  gboolean skip;

  GST_OBJECT_LOCK (self);
  skip = self->skip_corrupt;
  if (skip)
    self->n_skipped++;
  GST_OBJECT_UNLOCK (self);

  if (!skip) {
    if (unreadable)
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Could not read image file '%s': %s", file->path, err->message),
          ("skip-corrupt=false; set it to true to skip such files"));
    else
      GST_ELEMENT_ERROR (self, STREAM, DECODE,
          ("Could not decode image file '%s': %s", file->path, err->message),
          ("skip-corrupt=false; set it to true to skip such files"));
    return FALSE;
  }

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("cxrdatasetsrc-skipped",
              "file", G_TYPE_STRING, file->path,
              "reason", G_TYPE_STRING, err->message, NULL)));
  if (unreadable)
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Skipped unreadable image file '%s': %s", file->path, err->message),
        (NULL));
  else
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Skipped corrupt image file '%s': %s", file->path, err->message),
        (NULL));
  return TRUE;
}

static GstVideoFormat
video_format (CxrImageFormat format)
{
  switch (format) {
    case CXR_IMAGE_FORMAT_GRAY8:
      return GST_VIDEO_FORMAT_GRAY8;
    case CXR_IMAGE_FORMAT_GRAY16_LE:
      return GST_VIDEO_FORMAT_GRAY16_LE;
    case CXR_IMAGE_FORMAT_RGB:
      return GST_VIDEO_FORMAT_RGB;
  }
  return GST_VIDEO_FORMAT_UNKNOWN;
}

/* The decoder pads rows exactly as GstVideoInfo does, so the pixels are
 * handed over without a copy; the row-by-row copy is a safety net should
 * the two ever disagree. Takes image->data. */
static GstBuffer *
image_to_buffer (CxrImage * image, const GstVideoInfo * info)
{
  GstBuffer *buf;
  GstMapInfo map;
  gsize row = (gsize) image->width * cxr_image_format_bpp (image->format);
  gsize stride = GST_VIDEO_INFO_PLANE_STRIDE (info, 0);

  if (stride == image->stride && GST_VIDEO_INFO_SIZE (info) <= image->size) {
    buf = gst_buffer_new_wrapped_full (0, image->data, image->size, 0,
        GST_VIDEO_INFO_SIZE (info), image->data, g_free);
    image->data = NULL;
    return buf;
  }

  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, 0, map.size);
  for (guint y = 0; y < image->height; y++)
    memcpy (map.data + GST_VIDEO_INFO_PLANE_OFFSET (info, 0) + y * stride,
        image->data + y * image->stride, row);
  gst_buffer_unmap (buf, &map);
  cxr_image_clear (image);
  return buf;
}

static GstFlowReturn
push_image (GstCxrDatasetSrc * self, const CxrCatalogFile * file,
    CxrImage * image, GstBuffer ** outbuf)
{
  GstVideoInfo info;
  GstBuffer *buf;
  GstCxrLabelMeta *label;
  gchar *modality, *body_part;
  GBytes *header;

  gst_video_info_init (&info);
  if (!gst_video_info_set_format (&info, video_format (image->format),
          image->width, image->height)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Image file '%s' (%ux%u) cannot be described as raw video.",
            file->path, image->width, image->height), (NULL));
    cxr_image_clear (image);
    return GST_FLOW_ERROR;
  }
  /* set_format leaves framerate 0/1 and pixel-aspect-ratio 1/1 */

  if (!gst_video_info_is_equal (&info, &self->info)) {
    GstCaps *caps = gst_video_info_to_caps (&info);
    gboolean ok = gst_base_src_set_caps (GST_BASE_SRC (self), caps);

    GST_DEBUG_OBJECT (self, "caps for '%s': %" GST_PTR_FORMAT, file->source,
        caps);
    gst_caps_unref (caps);
    if (!ok) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Downstream does not accept %s %ux%u video (from '%s').",
              gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
              image->width, image->height, file->path),
          ("add videoconvert ! videoscale after cxrdatasetsrc"));
      cxr_image_clear (image);
      return GST_FLOW_NOT_NEGOTIATED;
    }
    self->info = info;
  }

  modality = g_steal_pointer (&image->modality);
  body_part = g_steal_pointer (&image->body_part);
  header = g_steal_pointer (&image->dicom_header);
  buf = image_to_buffer (image, &info);
  GST_BUFFER_PTS (buf) = self->n_frames * GST_SECOND;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  /* in a share, the file's place in the whole list (see above) */
  GST_BUFFER_OFFSET (buf) = self->sharing ? file->index : self->n_frames;
  GST_BUFFER_OFFSET_END (buf) = GST_BUFFER_OFFSET (buf) + 1;
  label = gst_buffer_add_cxr_label_meta (buf, file->class_index,
      file->class_index >= 0 ?
      g_ptr_array_index (self->catalog->class_names, file->class_index) : NULL,
      file->source);
  /* a DICOM file says what it is: cxrclassify's modality gate reads it */
  gst_cxr_label_meta_set_dicom (label, modality, body_part);
  /* a DICOM file's header, for a report of it (cxrdicomsink) */
  gst_cxr_label_meta_set_dicom_header (label, header, 0);
  gst_cxr_label_meta_set_patient (label, file->patient);
  if (header)
    g_bytes_unref (header);
  g_free (modality);
  g_free (body_part);
  self->n_frames++;
  *outbuf = buf;
  return GST_FLOW_OK;
}

/* the next files asked for, as far as the decoders have room */
static void
ask_ahead (GstCxrDatasetSrc * self)
{
  guint target_size;

  GST_OBJECT_LOCK (self);
  target_size = self->target_size;
  GST_OBJECT_UNLOCK (self);
  while (self->next < self->end
      && cxr_decode_pool_has_room (self->decoders)) {
    const CxrCatalogFile *file = g_ptr_array_index (self->catalog->files, self->next);
    cxr_decode_pool_add (self->decoders, file->path, target_size,
        (gpointer) file);
    self->next++;
  }
}

static GstFlowReturn
gst_cxr_dataset_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstCxrDatasetSrc *self = GST_CXR_DATASET_SRC (psrc);

  ask_ahead (self);
  while (cxr_decode_pool_pending (self->decoders) > 0) {
    const CxrCatalogFile *file;
    CxrImage image;
    GError *err = NULL;
    gpointer tag;
    gboolean ok = cxr_decode_pool_take (self->decoders, &image, &tag, &err);

    file = tag;
    /* the decoders go on while this frame is pushed */
    ask_ahead (self);
    if (ok)
      return push_image (self, file, &image, outbuf);

    GST_DEBUG_OBJECT (self, "'%s': %s", file->path, err->message);
    if (!handle_bad_file (self, file, err)) {
      g_error_free (err);
      return GST_FLOW_ERROR;
    }
    g_error_free (err);
  }

  GST_DEBUG_OBJECT (self, "all %u files done", self->catalog->files->len);
  return GST_FLOW_EOS;
}
