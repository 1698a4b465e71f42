/* gather.h — the films each process of a run cached, put together. */
#pragma once
#include "cache.h"

#include <glib.h>

/* Every process's images in one new dataset on every process, in the order
 * of their keys (each image's position in the list the processes shared:
 * its file's index), images of one key in the order their process cached
 * them. Alone, a copy of mine. Called by every process of the run. NULL
 * with error set, on every process, when two processes hold images of one
 * key: they were not given shares of one list. */
CxrDataset *cxr_dataset_gather (const CxrDataset *mine, const guint64 *keys,
    GError **error);
