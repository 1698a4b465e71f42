/* split.c — patient-wise splits and folds of the image cache (see
 * split.h). */
#include "split.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;             /* NULL: an image with no known patient */
  int first;                    /* its first image, for a stable order */
  int size;
  int label;                    /* the class of most of its images */
  int counts[CXR_MAX_CLASSES];
} Group;

/* named patients by name, so that the split does not depend on the order
 * images arrived in; unnamed images after them, in order */
static int
group_order (const void *a, const void *b)
{
  const Group *x = a, *y = b;

  if (x->name && y->name)
    return strcmp (x->name, y->name);
  if (x->name || y->name)
    return x->name ? -1 : 1;
  return (x->first > y->first) - (x->first < y->first);
}

/* Images into patients: fills groups (at least ds->n of them) in
 * group_order and group_of (ds->n: each image's patient); returns how many
 * patients there are. */
static int
group_patients (const CxrDataset *ds, Group *groups, int *group_of)
{
  GHashTable *by_name = g_hash_table_new (g_str_hash, g_str_equal);
  int n_groups = 0;
  int *remap = g_new0 (int, MAX (ds->n, 1));    /* old number -> sorted */

  for (int i = 0; i < ds->n; i++) {
    const char *name = ds->patients[i];
    gpointer found;
    int g;

    if (name && g_hash_table_lookup_extended (by_name, name, NULL, &found))
      g = GPOINTER_TO_INT (found);
    else {
      g = n_groups++;
      groups[g].name = name;
      groups[g].first = i;
      if (name)
        g_hash_table_insert (by_name, (gpointer) name, GINT_TO_POINTER (g));
    }
    groups[g].size++;
    groups[g].counts[ds->labels[i]]++;
    group_of[i] = g;
  }
  for (int g = 0; g < n_groups; g++) {
    groups[g].label = 0;
    for (int c = 1; c < CXR_MAX_CLASSES; c++)
      if (groups[g].counts[c] > groups[g].counts[groups[g].label])
        groups[g].label = c;
  }

  /* sort the patients, then renumber the images' groups to match; a
   * group's first image identifies it */
  qsort (groups, n_groups, sizeof (Group), group_order);
  for (int g = 0; g < n_groups; g++)
    remap[group_of[groups[g].first]] = g;
  for (int i = 0; i < ds->n; i++)
    group_of[i] = remap[group_of[i]];
  g_hash_table_unref (by_name);
  g_free (remap);
  return n_groups;
}

void
cxr_dataset_split (const CxrDataset *ds, double validation_fraction,
    uint64_t seed, int **train_idx, int *n_train, int **val_idx, int *n_val)
{
  int n = MAX (ds->n, 1);
  Group *groups = g_new0 (Group, n);    /* n_groups (<= n) patients */
  int *work = g_new0 (int, 3 * n);
  int *group_of = work;         /* n: each image's patient */
  int *pick = work + n;         /* n_groups: one class's patients, shuffled */
  int *in_val = work + 2 * n;   /* n_groups: 1 if in validation */
  int n_groups = group_patients (ds, groups, group_of);

  /* per class, whole patients in a seeded order, each taken when it brings
   * the class's validation count closer to its target */
  if (validation_fraction > 0.0) {
    for (int c = 0; c < CXR_MAX_CLASSES; c++) {
      int n_pick = 0, images = 0, taken = 0;
      double target;
      CxrRng rng;

      for (int g = 0; g < n_groups; g++)
        if (groups[g].label == c) {
          pick[n_pick++] = g;
          images += groups[g].size;
        }
      if (!n_pick)
        continue;
      target = validation_fraction * images;
      cxr_rng_init (&rng, cxr_stream_seed (seed, CXR_STREAM_SPLIT, c));
      cxr_rng_shuffle (&rng, pick, n_pick);
      for (int k = 0; k < n_pick; k++) {
        int size = groups[pick[k]].size;
        if (fabs (taken + size - target) < fabs (taken - target)) {
          in_val[pick[k]] = 1;
          taken += size;
        }
      }
    }
  }

  /* indices, ascending */
  *train_idx = g_new (int, n);
  *val_idx = g_new (int, n);
  *n_train = *n_val = 0;
  for (int i = 0; i < ds->n; i++) {
    if (in_val[group_of[i]])
      (*val_idx)[(*n_val)++] = i;
    else
      (*train_idx)[(*n_train)++] = i;
  }

  g_free (groups);
  g_free (work);
}

int
cxr_dataset_folds (const CxrDataset *ds, int k, uint64_t seed, int *fold)
{
  g_return_val_if_fail (k >= 2 && k <= CXR_MAX_FOLDS, 0);

  int n = MAX (ds->n, 1), fewest = G_MAXINT;
  Group *groups = g_new0 (Group, n);
  int *group_of = g_new0 (int, n);
  int *pick = g_new0 (int, n);
  int *group_fold = g_new0 (int, n);
  int n_groups = group_patients (ds, groups, group_of);

  /* per class, whole patients in a seeded order, each to the fold that has
   * the fewest images of that class so far */
  for (int c = 0; c < CXR_MAX_CLASSES; c++) {
    int n_pick = 0, images[CXR_MAX_FOLDS] = { 0 }, patients[CXR_MAX_FOLDS] =
        { 0 };
    CxrRng rng;

    for (int g = 0; g < n_groups; g++)
      if (groups[g].label == c)
        pick[n_pick++] = g;
    if (!n_pick)
      continue;
    cxr_rng_init (&rng, cxr_stream_seed (seed, CXR_STREAM_FOLDS, c));
    cxr_rng_shuffle (&rng, pick, n_pick);
    for (int j = 0; j < n_pick; j++) {
      int f = 0;
      for (int i = 1; i < k; i++)
        if (images[i] < images[f])
          f = i;
      group_fold[pick[j]] = f;
      images[f] += groups[pick[j]].size;
      patients[f]++;
    }
    for (int i = 0; i < k; i++)
      fewest = MIN (fewest, patients[i]);
  }
  for (int i = 0; i < ds->n; i++)
    fold[i] = group_fold[group_of[i]];

  g_free (groups);
  g_free (group_of);
  g_free (pick);
  g_free (group_fold);
  return fewest == G_MAXINT ? 0 : fewest;
}
