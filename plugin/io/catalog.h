/* catalog.h — the images of a data set, in the order they are read: a
 * folder walked (class subfolders, or flat and unlabelled) or a CSV
 * manifest read, their classes and patients, shuffled or not. No
 * GStreamer here: cxrdatasetsrc pushes what this lists.
 *
 * - A file ending in `.csv` is a manifest (manifest.h); relative paths are
 *   relative to its folder; images come in manifest order.
 * - A folder with subfolders that hold images ("ImageFolder"): each
 *   top-level subfolder is a class, named after the folder. With
 *   `recursive`, images in nested folders under a class folder belong to
 *   it; without, only images directly inside it count, and a subfolder
 *   whose images are all nested deeper is not a class. Images directly in
 *   the folder next to class folders are left out (counted in n_ignored).
 * - Any other folder: a flat, unlabelled set of the images directly in it.
 *
 * Image files are recognised by extension (.jpg, .jpeg, .png, .dcm, any
 * case), and files without an extension by the DICOM magic ("DICM" at byte
 * 128); names starting with '.' are left out, files and folders alike.
 * Folders are listed in byte order, and a folder's files come sorted by
 * path, whatever the locale and the file system.
 *
 * Each file and each folder is taken once, however many links lead to it:
 * a link back to a folder above is not followed, and of two paths to one
 * file only the first in the walk is listed (the others are counted in
 * n_duplicates). Only regular files are images: a link that leads nowhere,
 * a FIFO or a device is left out.
 *
 * Class order: `classes` when set, otherwise the sorted class folder names
 * (or the sorted distinct labels of a manifest). With `classes` set, a
 * class folder or label not in it is an error naming what was found.
 *
 * `shuffle` replaces the order by a permutation that depends only on
 * `seed` and the list (Fisher-Yates over rng.h's SplitMix64, so a seed
 * gives the same order on every machine). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *path;                  /* what is opened */
  gchar *source;                /* what is reported: relative to location */
  gint class_index;             /* -1: unlabelled */
  gchar *label;                 /* manifest label, NULL: none */
  gchar *patient;               /* NULL: unknown */
  guint index;                  /* in the catalog's reading order */
} CxrCatalogFile;

typedef struct {
  const gchar *location;        /* a folder or a .csv manifest */
  const gchar *classes;         /* comma-separated class order; NULL: found */
  gboolean recursive;
  const gchar *patient_pattern; /* patient.h; NULL or "": no patients */
  gboolean shuffle;
  guint64 seed;
} CxrCatalogOptions;

typedef struct _CxrCatalog {
  GPtrArray *files;             /* CxrCatalogFile *, in reading order */
  GPtrArray *class_names;       /* gchar *; position = class index */
  guint n_ignored;              /* images beside class folders, left out */
  guint n_duplicates;           /* paths to a file already listed */
} CxrCatalog;

#define CXR_CATALOG_ERROR (cxr_catalog_error_quark ())
typedef enum {
  CXR_CATALOG_ERROR_NOT_FOUND,  /* no location, or no images in it */
  CXR_CATALOG_ERROR_READ,       /* a folder or the manifest unreadable */
  CXR_CATALOG_ERROR_SETTINGS,   /* classes, pattern or manifest wrong */
} CxrCatalogError;
GQuark cxr_catalog_error_quark (void);

/* The catalog of options->location; NULL with an error a user can act on. */
CxrCatalog *cxr_catalog_new (const CxrCatalogOptions * options,
    GError ** error);
void cxr_catalog_free (CxrCatalog * catalog);

/* "A, B, C": the class names, for messages. Free with g_free. */
gchar *cxr_catalog_class_list (const CxrCatalog * catalog);

G_END_DECLS
