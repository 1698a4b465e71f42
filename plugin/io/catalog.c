/* catalog.c — the images of a data set: folder walk or manifest, classes,
 * patients, order (see catalog.h). */
#include "catalog.h"
#include "manifest.h"
#include "patient.h"
#include "rng.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK (cxr-catalog-error-quark, cxr_catalog_error)

/* A walk over folders: each file and folder once, by device and inode. */
typedef struct {
  CxrCatalog *catalog;
  GHashTable *seen;             /* "dev:inode" of every folder and file taken */
  gboolean recursive;
} Walk;

static CxrCatalogFile *
catalog_file_new (gchar * path, gchar * source)
{
  CxrCatalogFile *file = g_new0 (CxrCatalogFile, 1);

  file->path = path;
  file->source = source;
  file->class_index = -1;
  return file;
}

static void
catalog_file_free (gpointer data)
{
  CxrCatalogFile *file = data;

  g_free (file->path);
  g_free (file->source);
  g_free (file->label);
  g_free (file->patient);
  g_free (file);
}

void
cxr_catalog_free (CxrCatalog * catalog)
{
  if (catalog == NULL)
    return;
  g_ptr_array_unref (catalog->files);
  g_ptr_array_unref (catalog->class_names);
  g_free (catalog);
}

/* Whether path leads to a file or folder the walk has not taken yet, and
 * from now on it has. A path that cannot be followed counts as new. */
static gboolean
first_visit (Walk * walk, const gchar * path)
{
  GStatBuf st;
  gchar *key;

  if (g_stat (path, &st) != 0)
    return TRUE;
  key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
      (guint64) st.st_dev, (guint64) st.st_ino);
  if (g_hash_table_contains (walk->seen, key)) {
    g_free (key);
    return FALSE;
  }
  g_hash_table_add (walk->seen, key);
  return TRUE;
}

/* By extension; a file without one is looked into, since DICOM files often
 * have none (the "DICM" magic at byte 128). */
static gboolean
is_image_file (const gchar * path, const gchar * name)
{
  const gchar *dot = strrchr (name, '.');
  gchar magic[132];
  gboolean dicom = FALSE;
  FILE *f;

  /* a FIFO or a device would block the open, or the read, for ever */
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  if (dot)
    return g_ascii_strcasecmp (dot, ".jpg") == 0
        || g_ascii_strcasecmp (dot, ".jpeg") == 0
        || g_ascii_strcasecmp (dot, ".png") == 0
        || g_ascii_strcasecmp (dot, ".dcm") == 0;
  f = g_fopen (path, "rb");
  if (f) {
    dicom = fread (magic, 1, sizeof magic, f) == sizeof magic
        && memcmp (magic + 128, "DICM", 4) == 0;
    fclose (f);
  }
  return dicom;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

static gint
compare_sources (gconstpointer a, gconstpointer b)
{
  const CxrCatalogFile *fa = *(const CxrCatalogFile * const *) a;
  const CxrCatalogFile *fb = *(const CxrCatalogFile * const *) b;

  return strcmp (fa->source, fb->source);
}

/* The visible entries of a folder in byte order: readdir order differs
 * between file systems, and the output order must not. */
static GPtrArray *
list_folder (const gchar * path, GError ** error)
{
  GDir *dir = g_dir_open (path, 0, error);
  GPtrArray *names;
  const gchar *name;

  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)))
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_strings);
  return names;
}

/* An image file, once: added to files (taking path and source), or freed
 * when it is a file already listed. */
static void
take_image (Walk * walk, gchar * path, gchar * source, GPtrArray * files)
{
  if (first_visit (walk, path)) {
    g_ptr_array_add (files, catalog_file_new (path, source));
  } else {
    walk->catalog->n_duplicates++;
    g_free (path);
    g_free (source);
  }
}

/* Adds the images in folder (source names prefix/NAME) to files, going into
 * subfolders when the walk is recursive. */
static gboolean
collect_images (Walk * walk, const gchar * folder, const gchar * prefix,
    GPtrArray * files, GError ** error)
{
  GPtrArray *names = list_folder (folder, error);
  gboolean ok = TRUE;

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len && ok; i++) {
    const gchar *name = g_ptr_array_index (names, i);
    gchar *path = g_build_filename (folder, name, NULL);
    gchar *source = g_build_filename (prefix, name, NULL);

    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      if (walk->recursive && first_visit (walk, path))
        ok = collect_images (walk, path, source, files, error);
      g_free (path);
      g_free (source);
    } else if (is_image_file (path, name)) {
      take_image (walk, path, source, files);
    } else {
      g_free (path);
      g_free (source);
    }
  }
  g_ptr_array_unref (names);
  return ok;
}

/* "a, b,c" -> [a, b, c]. NULL when unset; FALSE when a name is empty or
 * repeated. */
static gboolean
parse_classes (const gchar * classes, GPtrArray ** out, GError ** error)
{
  gchar **parts;

  *out = NULL;
  if (classes == NULL || classes[0] == '\0')
    return TRUE;
  parts = g_strsplit (classes, ",", -1);
  *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; parts[i]; i++) {
    gchar *name = g_strstrip (parts[i]);

    if (name[0] == '\0' || g_ptr_array_find_with_equal_func (*out, name,
            g_str_equal, NULL)) {
      g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
          "Invalid 'classes' property \"%s\": %s.", classes,
          name[0] ? "a class is listed twice" : "a class name is empty");
      g_strfreev (parts);
      g_clear_pointer (out, g_ptr_array_unref);
      return FALSE;
    }
    g_ptr_array_add (*out, g_strdup (name));
  }
  g_strfreev (parts);
  return TRUE;
}

static gpointer
copy_string (gconstpointer src, gpointer data)
{
  (void) data;
  return g_strdup (src);
}

static gint
class_index_of (GPtrArray * class_names, const gchar * name)
{
  guint index;

  if (g_ptr_array_find_with_equal_func (class_names, name, g_str_equal,
          &index))
    return index;
  return -1;
}

static gchar *
join_names (GPtrArray * names)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "",
        (const gchar *) g_ptr_array_index (names, i));
  return g_string_free (s, FALSE);
}

gchar *
cxr_catalog_class_list (const CxrCatalog * catalog)
{
  return join_names (catalog->class_names);
}

/* The class folders found, in the order listed (or found); FALSE when one
 * is not listed. */
static gboolean
set_folder_classes (CxrCatalog * catalog, const gchar * root,
    GPtrArray * found, GPtrArray * listed, GError ** error)
{
  if (listed) {
    GPtrArray *unknown = g_ptr_array_new ();

    for (guint i = 0; i < found->len; i++)
      if (class_index_of (listed, g_ptr_array_index (found, i)) < 0)
        g_ptr_array_add (unknown, g_ptr_array_index (found, i));
    if (unknown->len > 0) {
      gchar *u = join_names (unknown), *f = join_names (found);

      g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
          "Class folders in '%s' not listed in the 'classes' property: %s. "
          "Classes found: %s.", root, u, f);
      g_free (u);
      g_free (f);
      g_ptr_array_unref (unknown);
      return FALSE;
    }
    g_ptr_array_unref (unknown);
    g_ptr_array_extend (catalog->class_names, listed, copy_string, NULL);
  } else {
    g_ptr_array_extend (catalog->class_names, found, copy_string, NULL);
  }
  return TRUE;
}

/* ImageFolder or flat folder; see catalog.h. */
static gboolean
scan_folder (Walk * walk, const gchar * root, GPtrArray * listed,
    GError ** error)
{
  CxrCatalog *catalog = walk->catalog;
  GPtrArray *names, *found;
  GPtrArray *top_files = g_ptr_array_new_with_free_func (catalog_file_free);
  GPtrArray *class_files = g_ptr_array_new_with_free_func (catalog_file_free);
  GError *err = NULL;
  gboolean ok = TRUE;

  first_visit (walk, root);
  names = list_folder (root, &err);
  found = g_ptr_array_new_with_free_func (g_free);
  /* A top-level subfolder is a class when it holds images. */
  for (guint i = 0; names && i < names->len && ok; i++) {
    const gchar *name = g_ptr_array_index (names, i);
    gchar *path = g_build_filename (root, name, NULL);
    guint before = class_files->len;

    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      if (first_visit (walk, path))
        ok = collect_images (walk, path, name, class_files, &err);
      if (class_files->len > before)
        g_ptr_array_add (found, g_strdup (name));
      g_free (path);
    } else if (is_image_file (path, name)) {
      take_image (walk, path, g_strdup (name), top_files);
    } else {
      g_free (path);
    }
  }
  if (names == NULL || !ok) {
    g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_READ,
        "Could not read folder '%s': %s", root, err->message);
    g_error_free (err);
    ok = FALSE;
  } else if (found->len == 0) {
    /* flat: unlabelled images */
    g_ptr_array_extend_and_steal (catalog->files, top_files);
    top_files = NULL;
  } else {
    catalog->n_ignored = top_files->len;
    ok = set_folder_classes (catalog, root, found, listed, error);
    /* the class is the first component of the source path */
    for (guint i = 0; ok && i < class_files->len; i++) {
      CxrCatalogFile *file = g_ptr_array_index (class_files, i);
      gchar *class_name = g_strndup (file->source, strcspn (file->source,
              G_DIR_SEPARATOR_S));

      file->class_index = class_index_of (catalog->class_names, class_name);
      g_free (class_name);
    }
    if (ok) {
      g_ptr_array_extend_and_steal (catalog->files, class_files);
      class_files = NULL;
    }
  }
  if (names)
    g_ptr_array_unref (names);
  g_ptr_array_unref (found);
  if (top_files)
    g_ptr_array_unref (top_files);
  if (class_files)
    g_ptr_array_unref (class_files);
  return ok;
}

/* The labels' class order: as listed, or the sorted distinct labels. */
static void
set_manifest_classes (CxrCatalog * catalog, GPtrArray * listed)
{
  if (listed) {
    g_ptr_array_extend (catalog->class_names, listed, copy_string, NULL);
  } else {
    GPtrArray *labels = g_ptr_array_new ();

    for (guint i = 0; i < catalog->files->len; i++) {
      CxrCatalogFile *file = g_ptr_array_index (catalog->files, i);

      if (file->label && class_index_of (labels, file->label) < 0)
        g_ptr_array_add (labels, file->label);
    }
    g_ptr_array_sort (labels, compare_strings);
    g_ptr_array_extend (catalog->class_names, labels, copy_string, NULL);
    g_ptr_array_unref (labels);
  }
  for (guint i = 0; i < catalog->files->len; i++) {
    CxrCatalogFile *file = g_ptr_array_index (catalog->files, i);

    if (file->label)
      file->class_index = class_index_of (catalog->class_names, file->label);
  }
}

/* CSV manifest; see catalog.h. */
static gboolean
read_manifest (CxrCatalog * catalog, const gchar * location,
    GPtrArray * listed, GError ** error)
{
  gchar *contents, *dir;
  gsize length;
  GError *err = NULL;
  GPtrArray *entries;

  if (!g_file_get_contents (location, &contents, &length, &err)) {
    g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_READ,
        "Could not read manifest '%s': %s", location, err->message);
    g_error_free (err);
    return FALSE;
  }
  entries = cxr_manifest_parse (contents, length, location, &err);
  g_free (contents);
  if (!entries) {
    g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
        "%s.", err->message);
    g_error_free (err);
    return FALSE;
  }
  dir = g_path_get_dirname (location);
  for (guint i = 0; i < entries->len; i++) {
    const CxrManifestEntry *e = g_ptr_array_index (entries, i);
    CxrCatalogFile *file = catalog_file_new (g_path_is_absolute (e->path) ?
        g_strdup (e->path) : g_build_filename (dir, e->path, NULL),
        g_strdup (e->path));

    file->label = g_strdup (e->label);
    file->patient = g_strdup (e->patient);
    g_ptr_array_add (catalog->files, file);
    if (listed && file->label && class_index_of (listed, file->label) < 0) {
      gchar *l = join_names (listed);

      g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
          "Line %u of manifest '%s': label '%s' is not one of the classes "
          "given in the 'classes' property (%s).", e->line, location,
          file->label, l);
      g_free (l);
      g_free (dir);
      g_ptr_array_unref (entries);
      return FALSE;
    }
  }
  g_free (dir);
  g_ptr_array_unref (entries);
  set_manifest_classes (catalog, listed);
  return TRUE;
}

/* the files in the order of a seeded shuffle of their positions */
static void
shuffle_files (GPtrArray * files, guint64 seed)
{
  int n = (int) files->len;
  int *order = g_new (int, MAX (n, 1));
  gpointer *before = g_memdup2 (files->pdata, sizeof (gpointer) * n);
  CxrRng rng;

  for (int i = 0; i < n; i++)
    order[i] = i;
  cxr_rng_init (&rng, seed);
  cxr_rng_shuffle (&rng, order, n);
  for (int i = 0; i < n; i++)
    files->pdata[i] = before[order[i]];
  g_free (before);
  g_free (order);
}

/* the patient of each file its manifest line does not name, from its name */
static gboolean
name_patients (CxrCatalog * catalog, const gchar * pattern, GError ** error)
{
  GError *err = NULL;
  GRegex *regex;

  if (!pattern || !pattern[0])
    return TRUE;
  if (!(regex = cxr_patient_regex_new (pattern, &err))) {
    g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
        "patient-pattern: %s.", err->message);
    g_error_free (err);
    return FALSE;
  }
  for (guint i = 0; i < catalog->files->len; i++) {
    CxrCatalogFile *file = g_ptr_array_index (catalog->files, i);
    if (!file->patient)
      file->patient = cxr_patient_from_name (regex, file->source);
  }
  g_regex_unref (regex);
  return TRUE;
}

static gboolean
is_manifest (const gchar * location)
{
  gsize n = strlen (location);

  return n > 4 && g_ascii_strcasecmp (location + n - 4, ".csv") == 0;
}

/* The files of a folder or a manifest, in path or manifest order. */
static gboolean
list_files (CxrCatalog * catalog, const CxrCatalogOptions * options,
    GPtrArray * listed, GError ** error)
{
  const gchar *location = options->location;

  if (g_file_test (location, G_FILE_TEST_IS_DIR)) {
    Walk walk = { catalog, g_hash_table_new_full (g_str_hash, g_str_equal,
          g_free, NULL), options->recursive };
    gboolean ok = scan_folder (&walk, location, listed, error);

    g_hash_table_unref (walk.seen);
    if (ok && catalog->files->len == 0) {
      g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_NOT_FOUND,
          "No JPEG, PNG or DICOM images in folder '%s' (looked for .jpg, "
          ".jpeg, .png, .dcm and DICOM files%s).", location,
          options->recursive ? ", also in nested folders of class folders" :
          "");
      return FALSE;
    }
    /* folders give path order whatever the listing gave */
    if (ok)
      g_ptr_array_sort (catalog->files, compare_sources);
    return ok;
  }
  if (is_manifest (location)) {
    if (!read_manifest (catalog, location, listed, error))
      return FALSE;
    if (catalog->files->len == 0) {
      g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_NOT_FOUND,
          "Manifest '%s' lists no images.", location);
      return FALSE;
    }
    return TRUE;
  }
  g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS,
      "'%s' is neither a folder nor a .csv manifest.", location);
  return FALSE;
}

CxrCatalog *
cxr_catalog_new (const CxrCatalogOptions * options, GError ** error)
{
  CxrCatalog *catalog;
  GPtrArray *listed;
  gboolean ok;

  if (!g_file_test (options->location, G_FILE_TEST_EXISTS)) {
    g_set_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_NOT_FOUND,
        "Data set location '%s' does not exist.", options->location);
    return NULL;
  }
  if (!parse_classes (options->classes, &listed, error))
    return NULL;
  catalog = g_new0 (CxrCatalog, 1);
  catalog->files = g_ptr_array_new_with_free_func (catalog_file_free);
  catalog->class_names = g_ptr_array_new_with_free_func (g_free);
  ok = list_files (catalog, options, listed, error)
      && name_patients (catalog, options->patient_pattern, error);
  if (listed)
    g_ptr_array_unref (listed);
  if (!ok) {
    cxr_catalog_free (catalog);
    return NULL;
  }
  if (options->shuffle)
    shuffle_files (catalog->files, options->seed);
  for (guint i = 0; i < catalog->files->len; i++)
    ((CxrCatalogFile *) g_ptr_array_index (catalog->files, i))->index = i;
  return catalog;
}
