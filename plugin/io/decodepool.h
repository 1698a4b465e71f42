/* decodepool — image files decoded on a pool of threads and handed back in
 * the order they were asked for, with at most a few decoded ahead: what
 * lets cxrdatasetsrc keep every core decoding while it pushes frames in
 * order with bounded memory. */
#pragma once

#include "imagedecode.h"

G_BEGIN_DECLS

typedef struct _CxrDecodePool CxrDecodePool;

/* threads decoding (at least 1); ahead: how many files may be asked for,
 * decoding or decoded, before the first is taken (at least threads) */
CxrDecodePool *cxr_decode_pool_new (guint threads, guint ahead);

/* whether another file may be asked for now */
gboolean cxr_decode_pool_has_room (CxrDecodePool * pool);

/* asks for path (borrowed: it must outlive the request) to be decoded, as
 * cxr_image_decode_file (path, target_size, ...) does; tag comes back with
 * it */
void cxr_decode_pool_add (CxrDecodePool * pool, const gchar * path,
    guint target_size, gpointer tag);

/* The first file asked for and not yet taken, once it is decoded: TRUE
 * with *image filled, or FALSE with *error; *tag is what it was asked with.
 * Must not be called with nothing asked for. */
gboolean cxr_decode_pool_take (CxrDecodePool * pool, CxrImage * image,
    gpointer * tag, GError ** error);

/* how many files are asked for and not yet taken */
guint cxr_decode_pool_pending (CxrDecodePool * pool);

/* Stops: decodes not yet begun are dropped, those running finished and
 * thrown away. */
void cxr_decode_pool_free (CxrDecodePool * pool);

G_END_DECLS
