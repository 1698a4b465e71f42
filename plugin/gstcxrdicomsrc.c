/* gst-cxr: cxrdicomsrc
 * SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-cxrdicomsrc
 * @title: cxrdicomsrc
 *
 * A DICOM node (a storage SCP, plugin/io/dicomlistener.h): modalities and
 * routers send it films by C-STORE, and it pushes each object it receives
 * downstream as one buffer of application/dicom (framed: one whole Part 10
 * file per buffer, its meta information naming the sender in Source
 * Application Entity Title), for cxrdicomdec. Each buffer carries the
 * film's header meta (GstCxrLabelMeta: its SOP Instance UID as source, its
 * modality and body part, its data set without the pixels), as cxrdicomdec
 * gives each frame. It is a live source, and it
 * runs until it is stopped (or `num-buffers` films have come).
 *
 * It answers to the called AE title `ae-title` on `port`, to the calling AE
 * titles of `allowed-callers` (any, when it is empty), and C-ECHO. It
 * takes CR, DX and Secondary Capture images in the uncompressed transfer
 * syntaxes, JPEG, JPEG-LS and RLE, and refuses other SOP classes and
 * syntaxes at association. Up to `max-associations` senders at once.
 *
 * A film is answered success only once it is in the spool folder
 * (`spool-location`), synced to disk, and read back as an image that can
 * be decoded; otherwise with a failure status, and the sender keeps it. It
 * stays in the spool until cxrdicomsink, downstream, says its results are
 * out (the "cxr-film-done" upstream event: stored, or nothing to store for
 * it); films still there when the node starts, after a stop or a crash,
 * are pushed again first. So a film accepted gets its results, once the
 * pipeline has run long enough, whatever happens to the process.
 *
 * Each film kept is announced by an element message "cxrdicomsrc" with
 * `sop-instance-uid` and `pending` (films kept whose results are not out);
 * each refusal by a warning that says why (AE titles, the SOP Instance UID
 * and the status, never anything of the patient's).
 *
 * |[
 * gst-launch-1.0 -e cxrdicomsrc port=11112 ae-title=CXR \
 *     allowed-callers=ORTHANC ! cxrdicomdec ! cxrclassify ! \
 *     cxrdicomsink url=dicom://PACS@pacs.example:104 ae-title=CXR
 * ]|
 */
#include "config.h"
#include "gstcxrdicomsrc.h"
#include "dicom.h"
#include "dicomlistener.h"
#include "filmdone.h"
#include "properties.h"
#include "gst/cxr/cxrmeta.h"

#include <errno.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (gst_cxr_dicom_src_debug);
#define GST_CAT_DEFAULT gst_cxr_dicom_src_debug

enum
{
  PROP_0,
  PROP_PORT,
  PROP_AE_TITLE,
  PROP_ALLOWED_CALLERS,
  PROP_SPOOL_LOCATION,
  PROP_MAX_ASSOCIATIONS,
};

/* the registered DICOM port (104 needs root) */
#define DEFAULT_PORT 11112
/* the AE title gst-cxr answers to (and calls as: cxrdicomsink's) */
#define DEFAULT_AE_TITLE "GSTCXR"
#define DEFAULT_MAX_ASSOCIATIONS 16

struct _GstCxrDicomSrc
{
  GstPushSrc parent;
  /* properties, under the object lock */
  guint port;
  gchar *ae_title;
  gchar *allowed_callers;       /* comma-separated; NULL or "": any */
  gchar *spool_location;        /* NULL: the user's state folder */
  guint max_associations;

  /* while started */
  CxrDicomListener *listener;
  gchar *spool;                 /* the spool folder in use */
  GMutex lock;                  /* guards what follows */
  GCond arrived;                /* a film queued, or flushing */
  GQueue films;                 /* SOP Instance UIDs to push, oldest first */
  GHashTable *pending;          /* UIDs kept whose results are not out */
  gboolean flushing;
};

G_DEFINE_TYPE (GstCxrDicomSrc, gst_cxr_dicom_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (cxrdicomsrc, "cxrdicomsrc", GST_RANK_NONE,
    GST_TYPE_CXR_DICOM_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("application/dicom, framed = (boolean) true"));

static gchar *
film_path (GstCxrDicomSrc * self, const gchar * uid)
{
  gchar *name = g_strconcat (uid, ".dcm", NULL);
  gchar *path = g_build_filename (self->spool, name, NULL);
  g_free (name);
  return path;
}

/* uid to push, unless it is already on its way; under the lock */
static guint
queue_film (GstCxrDicomSrc * self, const gchar * uid)
{
  if (!g_hash_table_contains (self->pending, uid)) {
    g_hash_table_add (self->pending, g_strdup (uid));
    g_queue_push_tail (&self->films, g_strdup (uid));
    g_cond_signal (&self->arrived);
  }
  return g_hash_table_size (self->pending);
}

/* the listener's, in an association's thread */
static void
film_received (const gchar * path, const gchar * uid, gpointer data)
{
  GstCxrDicomSrc *self = data;
  guint pending;

  (void) path;
  g_mutex_lock (&self->lock);
  pending = queue_film (self, uid);
  g_mutex_unlock (&self->lock);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("cxrdicomsrc", "sop-instance-uid", G_TYPE_STRING,
              uid, "pending", G_TYPE_UINT, pending, NULL)));
}

static void
film_refused (const gchar * why, gpointer data)
{
  GstCxrDicomSrc *self = data;

  GST_ELEMENT_WARNING (self, RESOURCE, READ, ("Refused %s", why), (NULL));
}

static void
listening_stopped (const gchar * why, gpointer data)
{
  GstCxrDicomSrc *self = data;

  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("The DICOM node stopped "
          "listening: %s", why), (NULL));
}

/* films left in the spool by an earlier run, oldest first; half-written
 * ones (never answered success: their senders still hold them) removed */
static void
queue_spool (GstCxrDicomSrc * self)
{
  GDir *dir = g_dir_open (self->spool, 0, NULL);
  GList *films = NULL;
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (self->spool, name, NULL);
    GStatBuf st;

    if (g_str_has_suffix (name, ".part"))
      g_unlink (path);
    else if (g_str_has_suffix (name, ".dcm") && g_stat (path, &st) == 0) {
      gchar *uid = g_strndup (name, strlen (name) - 4);
      if (cxr_dicom_uid_is_valid (uid))
        films = g_list_prepend (films, g_strdup_printf ("%020" G_GINT64_FORMAT
                " %s", (gint64) st.st_mtime, uid));
      g_free (uid);
    }
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  films = g_list_sort (films, (GCompareFunc) g_strcmp0);
  for (GList * f = films; f; f = f->next)
    queue_film (self, strchr (f->data, ' ') + 1);
  if (films)
    GST_INFO_OBJECT (self, "%u films from the spool pushed again",
        g_list_length (films));
  g_list_free_full (films, g_free);
}

static gboolean
gst_cxr_dicom_src_start (GstBaseSrc * src)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);
  GError *error = NULL;
  gchar **callers;

  GST_OBJECT_LOCK (self);
  if (self->spool_location && *self->spool_location)
    self->spool = g_strdup (self->spool_location);
  else {
    gchar *port = g_strdup_printf ("%u", self->port);
    self->spool = g_build_filename (g_get_user_state_dir (), "gst-cxr",
        "dicomsrc", port, NULL);
    g_free (port);
  }
  callers = g_strsplit (self->allowed_callers ? self->allowed_callers : "",
      ",", -1);
  GST_OBJECT_UNLOCK (self);

  /* the patient's data: for the owner alone */
  if (g_mkdir_with_parents (self->spool, 0700) != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot make the spool folder \"%s\": %s", self->spool,
            g_strerror (errno)), (NULL));
    g_strfreev (callers);
    return FALSE;
  }
  for (gchar ** c = callers; *c; c++)
    g_strstrip (*c);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  self->flushing = FALSE;
  queue_spool (self);

  CxrDicomListenerSettings set = {
    .port = self->port,
    .ae_title = self->ae_title,
    .allowed_callers = (const gchar * const *) callers,
    .spool = self->spool,
    .max_associations = self->max_associations,
    .received = film_received,
    .refused = film_refused,
    .stopped = listening_stopped,
    .user_data = self,
  };
  /* "" splits into no title at all: any caller */
  self->listener = cxr_dicom_listener_new (&set, &error);
  g_strfreev (callers);
  if (!self->listener) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
    g_error_free (error);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "a DICOM node, %s on port %u, spool %s",
      self->ae_title, self->port, self->spool);
  return TRUE;
}

static gboolean
gst_cxr_dicom_src_stop (GstBaseSrc * src)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);

  /* the films kept stay in the spool, for the next start */
  g_clear_pointer (&self->listener, cxr_dicom_listener_free);
  g_queue_clear_full (&self->films, g_free);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->spool, g_free);
  return TRUE;
}

static gboolean
gst_cxr_dicom_src_unlock (GstBaseSrc * src)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_signal (&self->arrived);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_cxr_dicom_src_unlock_stop (GstBaseSrc * src)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* the film's header meta, as cxrdicomdec gives its frames: where it comes
 * from (its SOP Instance UID), its modality and body part, and its data
 * set without the pixels; the header alone is read, nothing decoded */
static void
add_header_meta (GstCxrDicomSrc * self, GstBuffer * buf, const gchar * uid)
{
  CxrDicomOptions header_only = {.header_only = TRUE };
  GstCxrLabelMeta *label = gst_buffer_add_cxr_label_meta (buf, -1, NULL, uid);
  GError *error = NULL;
  GstMapInfo map;
  CxrDicom *film;
  GBytes *header;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  film = cxr_dicom_open_memory (map.data, map.size, &header_only, &error);
  gst_buffer_unmap (buf, &map);
  if (!film) {
    /* it was read back whole when it came: cxrdicomdec will say more */
    GST_WARNING_OBJECT (self, "film %s: no header: %s", uid, error->message);
    g_error_free (error);
    return;
  }
  gst_cxr_label_meta_set_dicom (label, cxr_dicom_get_modality (film),
      cxr_dicom_get_body_part (film));
  header = cxr_dicom_get_header (film, NULL);
  gst_cxr_label_meta_set_dicom_header (label, header, 0);
  if (header)
    g_bytes_unref (header);
  cxr_dicom_free (film);
}

/* the next film kept, whole */
static GstFlowReturn
gst_cxr_dicom_src_create (GstPushSrc * src, GstBuffer ** buf)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);
  GError *error = NULL;
  gchar *contents, *uid, *path;
  gsize size;

  for (;;) {
    g_mutex_lock (&self->lock);
    while (!self->flushing && g_queue_is_empty (&self->films))
      g_cond_wait (&self->arrived, &self->lock);
    if (self->flushing) {
      g_mutex_unlock (&self->lock);
      return GST_FLOW_FLUSHING;
    }
    uid = g_queue_pop_head (&self->films);
    g_mutex_unlock (&self->lock);

    path = film_path (self, uid);
    if (g_file_get_contents (path, &contents, &size, &error)) {
      *buf = gst_buffer_new_wrapped (contents, size);
      add_header_meta (self, *buf, uid);
      g_free (path);
      g_free (uid);
      return GST_FLOW_OK;
    }
    /* kept, and gone since: said, and the node goes on */
    GST_ELEMENT_WARNING (self, RESOURCE, READ, ("Film %s is no longer in "
            "the spool: %s", uid, error->message), (NULL));
    g_clear_error (&error);
    g_mutex_lock (&self->lock);
    g_hash_table_remove (self->pending, uid);
    g_mutex_unlock (&self->lock);
    g_free (path);
    g_free (uid);
  }
}

/* "cxr-film-done": the film's results are out, its spool copy goes */
static gboolean
gst_cxr_dicom_src_event (GstBaseSrc * src, GstEvent * event)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (src);
  gchar *uid = gst_cxr_film_done_parse (event);
  gboolean kept;

  if (!uid)
    return GST_BASE_SRC_CLASS (gst_cxr_dicom_src_parent_class)->event (src,
        event);
  g_mutex_lock (&self->lock);
  kept = self->pending && g_hash_table_remove (self->pending, uid);
  if (kept) {
    gchar *path = film_path (self, uid);
    if (g_unlink (path) != 0 && errno != ENOENT)
      GST_WARNING_OBJECT (self, "cannot remove %s: %s", path,
          g_strerror (errno));
    g_free (path);
  }
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "results of %s out%s", uid, kept ? "" :
      " (not a film of this node's)");
  g_free (uid);
  return TRUE;
}

static void
gst_cxr_dicom_src_set_property (GObject * object, guint id,
    const GValue * value, GParamSpec * pspec)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (object);

  if (!gst_cxr_property_may_change (object, pspec))
    return;
  GST_OBJECT_LOCK (self);
  switch (id) {
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_AE_TITLE:
      g_free (self->ae_title);
      self->ae_title = g_value_dup_string (value);
      break;
    case PROP_ALLOWED_CALLERS:
      g_free (self->allowed_callers);
      self->allowed_callers = g_value_dup_string (value);
      break;
    case PROP_SPOOL_LOCATION:
      g_free (self->spool_location);
      self->spool_location = g_value_dup_string (value);
      break;
    case PROP_MAX_ASSOCIATIONS:
      self->max_associations = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_dicom_src_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (id) {
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_AE_TITLE:
      g_value_set_string (value, self->ae_title);
      break;
    case PROP_ALLOWED_CALLERS:
      g_value_set_string (value, self->allowed_callers);
      break;
    case PROP_SPOOL_LOCATION:
      g_value_set_string (value, self->spool_location);
      break;
    case PROP_MAX_ASSOCIATIONS:
      g_value_set_uint (value, self->max_associations);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cxr_dicom_src_finalize (GObject * object)
{
  GstCxrDicomSrc *self = GST_CXR_DICOM_SRC (object);

  g_free (self->ae_title);
  g_free (self->allowed_callers);
  g_free (self->spool_location);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->arrived);
  G_OBJECT_CLASS (gst_cxr_dicom_src_parent_class)->finalize (object);
}

static void
gst_cxr_dicom_src_class_init (GstCxrDicomSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *push_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
      | GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_cxr_dicom_src_set_property;
  gobject_class->get_property = gst_cxr_dicom_src_get_property;
  gobject_class->finalize = gst_cxr_dicom_src_finalize;

  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_uint ("port", "Port",
          "TCP port the node listens on (all interfaces)", 1, 65535,
          DEFAULT_PORT, flags));
  g_object_class_install_property (gobject_class, PROP_AE_TITLE,
      g_param_spec_string ("ae-title", "AE title",
          "Called AE title the node answers to (1 to 16 characters); "
          "associations calling another are refused", DEFAULT_AE_TITLE,
          flags));
  g_object_class_install_property (gobject_class, PROP_ALLOWED_CALLERS,
      g_param_spec_string ("allowed-callers", "Allowed callers",
          "Calling AE titles the node takes films from, comma-separated; "
          "empty: any (AE titles are names, not credentials: who may reach "
          "the port is the network's to decide)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_SPOOL_LOCATION,
      g_param_spec_string ("spool-location", "Spool location",
          "Folder the films are kept in until their results are out, and "
          "pushed again from on start (default: gst-cxr/dicomsrc/PORT in "
          "the user's state folder, $XDG_STATE_HOME or ~/.local/state)",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_ASSOCIATIONS,
      g_param_spec_uint ("max-associations", "Max associations",
          "Senders served at once; more are refused (busy) and try again",
          1, 1024, DEFAULT_MAX_ASSOCIATIONS, flags));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Chest X-ray DICOM node", "Source/Network",
      "Receives films by DICOM C-STORE and pushes each downstream, kept on "
      "disk until its results are out", "gst-cxr");

  base_class->start = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_stop);
  base_class->unlock = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_unlock);
  base_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_unlock_stop);
  base_class->event = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_event);
  push_class->create = GST_DEBUG_FUNCPTR (gst_cxr_dicom_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_cxr_dicom_src_debug, "cxrdicomsrc", 0,
      "chest X-ray DICOM node");
}

static void
gst_cxr_dicom_src_init (GstCxrDicomSrc * self)
{
  self->port = DEFAULT_PORT;
  self->ae_title = g_strdup (DEFAULT_AE_TITLE);
  self->max_associations = DEFAULT_MAX_ASSOCIATIONS;
  g_mutex_init (&self->lock);
  g_cond_init (&self->arrived);
  g_queue_init (&self->films);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}
