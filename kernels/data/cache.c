/* cache.c — the image cache training keeps: films at the network's size in
 * 16 bits (see cache.h). */
#include "cache.h"

#include <string.h>

CxrDataset *
cxr_dataset_new (int side)
{
  CxrDataset *ds;

  g_return_val_if_fail (side > 0 && side <= 4096, NULL);
  ds = g_new0 (CxrDataset, 1);
  ds->side = side;
  return ds;
}

void
cxr_dataset_free (CxrDataset *ds)
{
  if (!ds)
    return;
  for (int i = 0; i < ds->n; i++)
    g_free (ds->patients[i]);
  g_free (ds->patients);
  g_free (ds->labels);
  g_free (ds->pixels);
  g_free (ds);
}

/* image i's slot from image01, in the cache's 16 bits */
static void
store (CxrDataset *ds, int i, const float *image01, int label,
    const char *patient)
{
  size_t px = (size_t) ds->side * ds->side;
  guint16 *dst = ds->pixels + i * px;

  for (size_t j = 0; j < px; j++) {
    float v = image01[j];
    /* !(v > 0) also sends NaN to 0 */
    v = !(v > 0.0f) ? 0.0f : v > 1.0f ? 1.0f : v;
    dst[j] = (guint16) (v * 65535.0f + 0.5f);
  }
  ds->labels[i] = label;
  ds->patients[i] = g_strdup (patient);
  ds->counts[label]++;
}

gboolean
cxr_dataset_add (CxrDataset *ds, const float *image01, int label,
    const char *patient)
{
  size_t px;

  g_return_val_if_fail (ds != NULL && image01 != NULL, FALSE);
  if (label < 0 || label >= CXR_MAX_CLASSES)
    return FALSE;

  px = (size_t) ds->side * ds->side;
  if (ds->n == ds->capacity) {
    /* doubling keeps the copying linear in the number of images; what
     * cannot grow leaves the set as it was */
    int capacity = ds->capacity ? 2 * ds->capacity : 64;
    guint16 *pixels;
    int *labels;
    char **patients;

    if (ds->capacity > G_MAXINT / 2)
      return FALSE;
    if (!(pixels = g_try_renew (guint16, ds->pixels, capacity * px)))
      return FALSE;
    ds->pixels = pixels;
    if (!(labels = g_try_renew (int, ds->labels, capacity)))
      return FALSE;
    ds->labels = labels;
    if (!(patients = g_try_renew (char *, ds->patients, capacity)))
      return FALSE;
    ds->patients = patients;
    ds->capacity = capacity;
  }
  store (ds, ds->n, image01, label, patient);
  ds->n++;
  return TRUE;
}

void
cxr_dataset_set (CxrDataset *ds, int i, const float *image01, int label,
    const char *patient)
{
  g_return_if_fail (ds != NULL && i >= 0 && i < ds->n);
  g_return_if_fail (label >= 0 && label < CXR_MAX_CLASSES);
  ds->counts[ds->labels[i]]--;
  g_free (ds->patients[i]);
  store (ds, i, image01, label, patient);
}

void
cxr_dataset_get (const CxrDataset *ds, int i, float *image01)
{
  size_t px = (size_t) ds->side * ds->side;
  const guint16 *src = ds->pixels + i * px;

  for (size_t j = 0; j < px; j++)
    image01[j] = src[j] * (1.0f / 65535.0f);
}

char *
cxr_dataset_fingerprint (const CxrDataset *ds)
{
  guint64 h = 0xcbf29ce484222325ull;
  size_t n_px = (size_t) ds->n * ds->side * ds->side;

  /* byte by byte, little-endian, so every machine gets the same digits */
#define FNV_BYTE(b) (h = (h ^ (guint8) (b)) * 0x100000001b3ull)
  for (int k = 0; k < 4; k++)
    FNV_BYTE ((guint32) ds->side >> (8 * k));
  for (size_t i = 0; i < n_px; i++) {
    FNV_BYTE (ds->pixels[i]);
    FNV_BYTE (ds->pixels[i] >> 8);
  }
  for (int i = 0; i < ds->n; i++)
    FNV_BYTE (ds->labels[i]);
#undef FNV_BYTE
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);
}

/* a dataset with room for exactly n images, none held yet */
static CxrDataset *
new_sized (int side, int n)
{
  CxrDataset *ds = cxr_dataset_new (side);
  size_t px = (size_t) side * side;

  ds->capacity = MAX (n, 1);
  ds->pixels = g_new (guint16, ds->capacity * px);
  ds->labels = g_new (int, ds->capacity);
  ds->patients = g_new (char *, ds->capacity);
  return ds;
}

/* image j of ds from the stored pixels, label and patient */
static void
put_stored (CxrDataset *ds, int j, const guint16 *pixels, int label,
    const char *patient)
{
  size_t px = (size_t) ds->side * ds->side;

  memcpy (ds->pixels + j * px, pixels, px * sizeof (guint16));
  ds->labels[j] = label;
  ds->patients[j] = g_strdup (patient);
  ds->counts[label]++;
}

CxrDataset *
cxr_dataset_new_stored (int side, const guint16 *pixels, const int *labels,
    char *const *patients, const int *idx, int n)
{
  CxrDataset *ds;
  size_t px = (size_t) side * side;

  for (int j = 0; j < n; j++)
    g_return_val_if_fail (labels[idx[j]] >= 0
        && labels[idx[j]] < CXR_MAX_CLASSES, NULL);
  ds = new_sized (side, n);
  for (int j = 0; j < n; j++)
    put_stored (ds, j, pixels + idx[j] * px, labels[idx[j]],
        patients[idx[j]]);
  ds->n = n;
  return ds;
}

CxrDataset *
cxr_dataset_subset (const CxrDataset *ds, const int *idx, int n)
{
  return cxr_dataset_new_stored (ds->side, ds->pixels, ds->labels,
      ds->patients, idx, n);
}
