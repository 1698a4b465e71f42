/* gather.c — the films each process of a run cached, put together through
 * the run's collectives (dist.h), so that every process holds the data set
 * one process reading every file would have cached. */
#include "gather.h"
#include "dist.h"
#include "error.h"

#include <string.h>

/* what a process says of each image it holds, beside its pixels */
typedef struct {
  guint64 key;
  gint32 label;
  gint16 has_patient;           /* NULL (a patient of its own) or not */
  gint16 rank;                  /* of the process that holds it */
} Entry;

typedef struct {
  guint64 key;
  int index;                    /* in the concatenation, rank by rank */
  int rank;
} Place;

static int
by_key (const void *a, const void *b)
{
  const Place *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

CxrDataset *
cxr_dataset_gather (const CxrDataset *mine, const guint64 *keys,
    GError **error)
{
  size_t px = (size_t) mine->side * mine->side, n_bytes;
  Entry *entries = g_new0 (Entry, MAX (mine->n, 1)), *all_entries;
  GString *patients = g_string_new (NULL);
  guint16 *all_pixels;
  char *all_patients, *at, **patient_of;
  int *labels, *order, n;
  Place *places;
  CxrDataset *ordered;

  for (int i = 0; i < mine->n; i++) {
    entries[i] = (Entry) { keys[i], mine->labels[i],
    mine->patients[i] != NULL, (gint16) cxr_dist_rank ()};
    /* each patient NUL-terminated, those who are none left out */
    if (mine->patients[i])
      g_string_append_len (patients, mine->patients[i],
          strlen (mine->patients[i]) + 1);
  }
  all_entries = cxr_dist_gather (entries, mine->n * sizeof (Entry), &n_bytes);
  n = (int) (n_bytes / sizeof (Entry));
  all_pixels = cxr_dist_gather (mine->pixels, mine->n * px * sizeof (guint16),
      NULL);
  all_patients = cxr_dist_gather (patients->str, patients->len, NULL);

  labels = g_new (int, MAX (n, 1));
  patient_of = g_new (char *, MAX (n, 1));
  places = g_new (Place, MAX (n, 1));
  at = all_patients;
  for (int i = 0; i < n; i++) {
    labels[i] = all_entries[i].label;
    patient_of[i] = all_entries[i].has_patient ? at : NULL;
    if (all_entries[i].has_patient)
      at += strlen (at) + 1;
    places[i] = (Place) { all_entries[i].key, i, all_entries[i].rank};
  }
  qsort (places, n, sizeof (Place), by_key);
  /* one file's frames come from one process: the same place from two
   * means the processes were not given shares of one list */
  for (int i = 1; i < n; i++)
    if (places[i].key == places[i - 1].key
        && places[i].rank != places[i - 1].rank) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT,
          "processes %d and %d both hold frame %" G_GUINT64_FORMAT " of the "
          "list: over several processes each must read its own share of "
          "the files (cxrdatasetsrc does, by itself)", places[i - 1].rank,
          places[i].rank, places[i].key);
      n = -1;
      break;
    }
  order = g_new (int, MAX (n, 1));
  for (int i = 0; i < n; i++)
    order[i] = places[i].index;

  /* in the keys' order, copied once */
  ordered = n < 0 ? NULL : cxr_dataset_new_stored (mine->side, all_pixels,
      labels, patient_of, order, n);
  g_free (order);
  g_free (places);
  g_free (patient_of);
  g_free (labels);
  g_free (all_patients);
  g_free (all_pixels);
  g_free (all_entries);
  g_string_free (patients, TRUE);
  g_free (entries);
  return ordered;
}
