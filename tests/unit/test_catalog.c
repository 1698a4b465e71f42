/* test_catalog.c — plugin/io/catalog.c without GStreamer: the folder walk
 * takes each file once whatever links the folder holds, classes and
 * manifests, the shuffle, and errors that say what is wrong. */
/* symlink, link */
#define _POSIX_C_SOURCE 200809L
#include "catalog.h"
#include "testdata.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* The image files are named .jpeg but are not decoded here: a few bytes. */
static void
touch (const gchar * dir, const gchar * relative)
{
  gchar *path = g_build_filename (dir, relative, NULL);
  gchar *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  g_free (parent);
  g_free (path);
}

static void
link_to (const gchar * dir, const gchar * target, const gchar * relative)
{
  gchar *path = g_build_filename (dir, relative, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
  g_free (path);
}

static CxrCatalog *
open_folder (const gchar * dir, gboolean recursive, GError ** error)
{
  CxrCatalogOptions options = {.location = dir,.recursive = recursive };

  return cxr_catalog_new (&options, error);
}

/* the sources, joined by spaces */
static gchar *
sources (const CxrCatalog * catalog)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < catalog->files->len; i++) {
    const CxrCatalogFile *f = g_ptr_array_index (catalog->files, i);
    g_string_append_printf (s, "%s%s", i ? " " : "", f->source);
  }
  return g_string_free (s, FALSE);
}

/* A folder that holds a link back to one of its own parents: each film
 * once, and the walk ends. */
static void
test_link_cycle (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL), *got;
  CxrCatalog *catalog;

  touch (dir, "NORMAL/a.jpeg");
  touch (dir, "NORMAL/deeper/b.jpeg");
  touch (dir, "PNEUMONIA/c.jpeg");
  link_to (dir, "..", "NORMAL/deeper/up");      /* back to NORMAL */
  link_to (dir, "../..", "NORMAL/deeper/root"); /* back to the root */
  link_to (dir, ".", "PNEUMONIA/self");

  catalog = open_folder (dir, TRUE, NULL);
  g_assert_nonnull (catalog);
  got = sources (catalog);
  g_assert_cmpstr (got, ==, "NORMAL/a.jpeg NORMAL/deeper/b.jpeg "
      "PNEUMONIA/c.jpeg");
  g_assert_cmpuint (catalog->class_names->len, ==, 2);
  g_free (got);
  cxr_catalog_free (catalog);
  test_remove_tree (dir);
  g_free (dir);
}

/* Two links to one file, and a class folder linked in twice: the file
 * once, under the first path of the walk. */
static void
test_two_links_to_one_file (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL), *got;
  CxrCatalog *catalog;

  touch (dir, "NORMAL/a.jpeg");
  touch (dir, "PNEUMONIA/p.jpeg");
  link_to (dir, "a.jpeg", "NORMAL/b.jpeg");
  link_to (dir, "a.jpeg", "NORMAL/c.jpeg");
  link_to (dir, "../PNEUMONIA", "NORMAL/again");
  link_to (dir, "p.jpeg", "PNEUMONIA/q.jpeg");

  catalog = open_folder (dir, TRUE, NULL);
  g_assert_nonnull (catalog);
  got = sources (catalog);
  /* NORMAL is walked first: its link to PNEUMONIA takes p.jpeg there */
  g_assert_cmpstr (got, ==, "NORMAL/a.jpeg NORMAL/again/p.jpeg");
  g_assert_cmpuint (catalog->n_duplicates, ==, 3);
  g_free (got);
  cxr_catalog_free (catalog);

  /* a flat folder: a hard link and a symbolic link to one film */
  test_remove_tree (dir);
  touch (dir, "one.jpeg");
  touch (dir, "two.jpeg");
  {
    gchar *one = g_build_filename (dir, "one.jpeg", NULL);
    gchar *hard = g_build_filename (dir, "hard.jpeg", NULL);
    g_assert_cmpint (link (one, hard), ==, 0);
    g_free (one);
    g_free (hard);
  }
  link_to (dir, "two.jpeg", "soft.jpeg");
  catalog = open_folder (dir, TRUE, NULL);
  got = sources (catalog);
  g_assert_cmpstr (got, ==, "hard.jpeg soft.jpeg");
  g_assert_cmpuint (catalog->class_names->len, ==, 0);
  g_free (got);
  cxr_catalog_free (catalog);
  test_remove_tree (dir);
  g_free (dir);
}

/* A link that leads nowhere is not an image file: left out. */
static void
test_dangling_link (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL), *got;
  CxrCatalog *catalog;

  touch (dir, "a.jpeg");
  link_to (dir, "missing.jpeg", "b.jpeg");
  catalog = open_folder (dir, TRUE, NULL);
  got = sources (catalog);
  g_assert_cmpstr (got, ==, "a.jpeg");
  g_free (got);
  cxr_catalog_free (catalog);
  test_remove_tree (dir);
  g_free (dir);
}

static void
test_classes_and_order (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL), *got;
  CxrCatalogOptions options = { 0 };
  CxrCatalog *catalog, *again;
  GError *error = NULL;

  touch (dir, "B/x.jpeg");
  touch (dir, "A/y.PNG");
  touch (dir, "A/nested/z.jpg");
  touch (dir, "A/notes.txt");
  touch (dir, "A/.hidden.jpeg");
  touch (dir, "loose.jpeg");
  options.location = dir;
  options.recursive = TRUE;
  options.classes = "B, A";
  catalog = cxr_catalog_new (&options, &error);
  g_assert_no_error (error);
  got = sources (catalog);
  g_assert_cmpstr (got, ==, "A/nested/z.jpg A/y.PNG B/x.jpeg");
  g_assert_cmpuint (catalog->n_ignored, ==, 1);
  g_assert_cmpint (((CxrCatalogFile *) catalog->files->pdata[2])->class_index,
      ==, 0);
  g_assert_cmpint (((CxrCatalogFile *) catalog->files->pdata[0])->class_index,
      ==, 1);
  g_free (got);
  cxr_catalog_free (catalog);

  /* the shuffle: the same seed, the same order; all files kept */
  options.shuffle = TRUE;
  options.seed = 7;
  catalog = cxr_catalog_new (&options, NULL);
  again = cxr_catalog_new (&options, NULL);
  got = sources (catalog);
  {
    gchar *got_again = sources (again);
    g_assert_cmpstr (got, ==, got_again);
    g_free (got_again);
  }
  g_assert_cmpuint (catalog->files->len, ==, 3);
  g_free (got);
  cxr_catalog_free (catalog);
  cxr_catalog_free (again);

  /* a class folder not listed */
  options.shuffle = FALSE;
  options.classes = "A";
  g_assert_null (cxr_catalog_new (&options, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS);
  g_assert_nonnull (strstr (error->message, "not listed in the 'classes'"));
  g_clear_error (&error);

  /* a class listed twice */
  options.classes = "A,A";
  g_assert_null (cxr_catalog_new (&options, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS);
  g_clear_error (&error);
  test_remove_tree (dir);
  g_free (dir);
}

static void
test_errors (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL);
  gchar *missing = g_build_filename (dir, "no-such-folder", NULL);
  gchar *text = g_build_filename (dir, "notes.txt", NULL);
  GError *error = NULL;

  g_assert_null (open_folder (missing, TRUE, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);

  g_assert_null (open_folder (dir, TRUE, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "No JPEG, PNG or DICOM images"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (text, "x", 1, NULL));
  g_assert_null (open_folder (text, TRUE, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS);
  g_clear_error (&error);
  test_remove_tree (dir);
  g_free (text);
  g_free (missing);
  g_free (dir);
}

static void
test_manifest (void)
{
  gchar *dir = g_dir_make_tmp ("catalog-XXXXXX", NULL), *got;
  gchar *csv = g_build_filename (dir, "list.csv", NULL);
  CxrCatalogOptions options = {.location = csv };
  CxrCatalog *catalog;
  GError *error = NULL;

  g_assert_true (g_file_set_contents (csv, "path,label,patient\n"
          "b/IM-0001-0001.jpeg,PNEUMONIA,\n"
          "a/person3_virus_1.jpeg,NORMAL,P9\n" "c/unlabelled.jpeg,\n", -1,
          NULL));
  options.patient_pattern = "^(IM-[0-9]+)";
  catalog = cxr_catalog_new (&options, &error);
  g_assert_no_error (error);
  got = sources (catalog);
  g_assert_cmpstr (got, ==, "b/IM-0001-0001.jpeg a/person3_virus_1.jpeg "
      "c/unlabelled.jpeg");
  g_assert_cmpstr (g_ptr_array_index (catalog->class_names, 0), ==, "NORMAL");
  g_assert_cmpint (((CxrCatalogFile *) catalog->files->pdata[0])->class_index,
      ==, 1);
  g_assert_cmpint (((CxrCatalogFile *) catalog->files->pdata[2])->class_index,
      ==, -1);
  g_assert_cmpstr (((CxrCatalogFile *) catalog->files->pdata[0])->patient, ==,
      "IM-0001");
  g_assert_cmpstr (((CxrCatalogFile *) catalog->files->pdata[1])->patient, ==,
      "P9");
  g_free (got);
  cxr_catalog_free (catalog);

  options.patient_pattern = "(unclosed";
  g_assert_null (cxr_catalog_new (&options, &error));
  g_assert_error (error, CXR_CATALOG_ERROR, CXR_CATALOG_ERROR_SETTINGS);
  g_assert_nonnull (strstr (error->message, "patient-pattern"));
  g_clear_error (&error);
  test_remove_tree (dir);
  g_free (csv);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/catalog/link-cycle", test_link_cycle);
  g_test_add_func ("/catalog/two-links-to-one-file",
      test_two_links_to_one_file);
  g_test_add_func ("/catalog/dangling-link", test_dangling_link);
  g_test_add_func ("/catalog/classes-and-order", test_classes_and_order);
  g_test_add_func ("/catalog/errors", test_errors);
  g_test_add_func ("/catalog/manifest", test_manifest);
  return g_test_run ();
}
