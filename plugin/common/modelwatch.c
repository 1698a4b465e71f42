/* modelwatch.c — a model file watched while a pipeline plays (see
 * modelwatch.h). */
/* st_mtim: nanosecond modification times */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "modelwatch.h"

#include <glib/gstdio.h>
#include <string.h>

/* how often the model file is looked at for a replacement */
#define CHECK_INTERVAL (500 * G_TIME_SPAN_MILLISECOND)

gchar *
gst_cxr_model_path (const gchar * property)
{
  const gchar *env = g_getenv ("CXR_MODEL_PATH");

  if (property)
    return g_strdup (property);
  /* an installed plugin knows only where its own model is installed; a
   * build folder's plugin is told where the source tree's is */
  return g_strdup (env && *env ? env : CXR_DEFAULT_MODEL);
}

void
gst_cxr_model_watch_init (GstCxrModelWatch * w, GstElement * element,
    GstCxrModelLoad load, GDestroyNotify free_model,
    gchar * (*path) (GstElement * element))
{
  memset (w, 0, sizeof *w);
  w->element = element;
  w->load = load;
  w->free = free_model;
  w->path = path;
  g_mutex_init (&w->lock);
}

void
gst_cxr_model_watch_clear (GstCxrModelWatch * w)
{
  gst_cxr_model_watch_stop (w);
  g_mutex_clear (&w->lock);
}

void
gst_cxr_model_watch_start (GstCxrModelWatch * w, const struct stat *loaded)
{
  w->tried = *loaded;
  w->next_check = g_get_monotonic_time () + CHECK_INTERVAL;
}

void
gst_cxr_model_watch_stop (GstCxrModelWatch * w)
{
  if (w->loader) {
    g_thread_join (w->loader);
    w->loader = NULL;
  }
  if (w->pending)
    w->free (w->pending);
  w->pending = NULL;
  w->loader_done = FALSE;
}

static gboolean
same_file_version (const struct stat *a, const struct stat *b)
{
  return a->st_ino == b->st_ino && a->st_size == b->st_size
      && a->st_mtim.tv_sec == b->st_mtim.tv_sec
      && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static gpointer
loader_thread (gpointer data)
{
  GstCxrModelWatch *w = data;
  GError *error = NULL;
  gchar *path = w->path (w->element);
  gpointer model = w->load (w->element, path, &error);

  if (!model) {
    /* keep classifying with the weights we have; say why once */
    GST_ELEMENT_WARNING (w->element, RESOURCE, READ,
        ("The replaced model file '%s' could not be used; keeping the "
            "previous model.", path), ("%s", error->message));
    g_error_free (error);
  }
  g_mutex_lock (&w->lock);
  w->pending = model;
  w->loader_done = TRUE;
  g_mutex_unlock (&w->lock);
  g_free (path);
  return NULL;
}

gpointer
gst_cxr_model_watch_poll (GstCxrModelWatch * w)
{
  gint64 now = g_get_monotonic_time ();
  gpointer fresh = NULL;
  gboolean done;
  struct stat st;
  gchar *path;

  g_mutex_lock (&w->lock);
  done = w->loader_done;
  if (done) {
    fresh = w->pending;
    w->pending = NULL;
  }
  g_mutex_unlock (&w->lock);
  if (done) {
    g_thread_join (w->loader);
    w->loader = NULL;
    w->loader_done = FALSE;
  }

  /* the element takes it and starts watching from its version */
  if (fresh || w->loader || now < w->next_check)
    return fresh;
  w->next_check = now + CHECK_INTERVAL;
  /* each version of the file is tried once: a broken one is not read (and
   * warned about) again until it is replaced */
  path = w->path (w->element);
  if (g_stat (path, &st) == 0 && !same_file_version (&st, &w->tried)) {
    w->tried = st;
    w->loader = g_thread_new ("cxr-model-load", loader_thread, w);
  }
  g_free (path);
  return fresh;
}
