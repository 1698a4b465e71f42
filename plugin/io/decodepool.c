/* decodepool — see decodepool.h. A GThreadPool decodes; the requests wait
 * in a queue in the order they were made, and the taker waits for the
 * one at its head. */
#include "decodepool.h"

#include <string.h>

typedef struct {
  const gchar *path;
  guint target_size;
  gpointer tag;
  gboolean done, ok;            /* done: under the pool's lock */
  CxrImage image;
  GError *error;
} Request;

struct _CxrDecodePool {
  GThreadPool *threads;
  guint ahead;
  GMutex lock;
  GCond decoded;
  GQueue requests;              /* oldest first; the taker's alone */
};

static void
request_free (Request * r)
{
  cxr_image_clear (&r->image);
  g_clear_error (&r->error);
  g_free (r);
}

static void
decode (gpointer data, gpointer user_data)
{
  Request *r = data;
  CxrDecodePool *pool = user_data;
  GError *error = NULL;
  CxrImage image;
  gboolean ok = cxr_image_decode_file (r->path, r->target_size, &image,
      &error);

  g_mutex_lock (&pool->lock);
  r->image = image;
  r->error = error;
  r->ok = ok;
  r->done = TRUE;
  g_cond_broadcast (&pool->decoded);
  g_mutex_unlock (&pool->lock);
}

CxrDecodePool *
cxr_decode_pool_new (guint threads, guint ahead)
{
  CxrDecodePool *pool = g_new0 (CxrDecodePool, 1);

  threads = MAX (threads, 1);
  pool->ahead = MAX (ahead, threads);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->decoded);
  g_queue_init (&pool->requests);
  /* not exclusive: GLib's shared threads; a pool of threads is made only
   * as far as there is work for them */
  pool->threads = g_thread_pool_new (decode, pool, threads, FALSE, NULL);
  return pool;
}

gboolean
cxr_decode_pool_has_room (CxrDecodePool * pool)
{
  return g_queue_get_length (&pool->requests) < pool->ahead;
}

guint
cxr_decode_pool_pending (CxrDecodePool * pool)
{
  return g_queue_get_length (&pool->requests);
}

void
cxr_decode_pool_add (CxrDecodePool * pool, const gchar * path,
    guint target_size, gpointer tag)
{
  Request *r = g_new0 (Request, 1);

  r->path = path;
  r->target_size = target_size;
  r->tag = tag;
  g_queue_push_tail (&pool->requests, r);
  /* requests are begun in the order they are pushed */
  g_thread_pool_push (pool->threads, r, NULL);
}

gboolean
cxr_decode_pool_take (CxrDecodePool * pool, CxrImage * image,
    gpointer * tag, GError ** error)
{
  Request *r = g_queue_pop_head (&pool->requests);
  gboolean ok;

  g_return_val_if_fail (r != NULL, FALSE);
  g_mutex_lock (&pool->lock);
  while (!r->done)
    g_cond_wait (&pool->decoded, &pool->lock);
  g_mutex_unlock (&pool->lock);
  ok = r->ok;
  *tag = r->tag;
  *image = r->image;
  memset (&r->image, 0, sizeof r->image);
  if (r->error) {
    g_propagate_error (error, r->error);
    r->error = NULL;
  }
  request_free (r);
  return ok;
}

void
cxr_decode_pool_free (CxrDecodePool * pool)
{
  if (!pool)
    return;
  /* immediately: what has not begun is dropped; waiting: what runs ends */
  g_thread_pool_free (pool->threads, TRUE, TRUE);
  g_queue_clear_full (&pool->requests, (GDestroyNotify) request_free);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->decoded);
  g_free (pool);
}
