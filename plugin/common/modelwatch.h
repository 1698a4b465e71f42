/* modelwatch.h — a model file watched while a pipeline plays: looked at
 * now and then, each new version loaded in a thread of its own, and handed
 * to the element between two frames. A version that cannot be used is
 * warned about once (on the element's bus) and not read again until the
 * file changes; the element keeps the model it has. */
#pragma once
#include <gst/gst.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* The model file an element uses: the one its property names, else the
 * one $CXR_MODEL_PATH names (a build folder's tests and recipes set it),
 * else the default model installed with the plugin. Free with g_free. */
gchar *gst_cxr_model_path (const gchar * property);

/* Loads the model at path for element; NULL with an error. */
typedef gpointer (*GstCxrModelLoad) (GstElement * element, const gchar * path,
    GError ** error);

typedef struct {
  GstElement *element;
  GstCxrModelLoad load;
  GDestroyNotify free;
  gchar *(*path) (GstElement * element);        /* the file, newly allocated */

  /* the loader thread leaves its result in pending */
  GMutex lock;
  GThread *loader;
  gpointer pending;
  gboolean loader_done;
  struct stat tried;            /* the version last loaded or tried */
  gint64 next_check;            /* monotonic time */
} GstCxrModelWatch;

void gst_cxr_model_watch_init (GstCxrModelWatch * watch, GstElement * element,
    GstCxrModelLoad load, GDestroyNotify free_model,
    gchar * (*path) (GstElement * element));
void gst_cxr_model_watch_clear (GstCxrModelWatch * watch);

/* The element loaded the version described by loaded (at start, or a
 * model poll gave it): watch from now. */
void gst_cxr_model_watch_start (GstCxrModelWatch * watch,
    const struct stat *loaded);

/* The element stops: any load in progress is waited for and dropped. */
void gst_cxr_model_watch_stop (GstCxrModelWatch * watch);

/* Between two frames: a newly loaded model to swap in (the caller's to
 * free, and to pass its version to gst_cxr_model_watch_start), or NULL;
 * without one, when it is time, a look at the file, which starts a load
 * when it holds a version not tried yet. */
gpointer gst_cxr_model_watch_poll (GstCxrModelWatch * watch);

G_END_DECLS
