/* test_modelfile.c — kernels/model/modelfile.c: round trips, the atomic writer, and
 * one hand-built bad file for each way the reader must refuse a file. */
#include "modelfile.h"
#include "error.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define BAD "bad.safetensors"

/* ---- helpers ---- */

static guint32
float_bits (float f)
{
  guint32 b;

  memcpy (&b, &f, sizeof (b));
  return b;
}

static float
bits_float (guint32 b)
{
  float f;

  memcpy (&f, &b, sizeof (f));
  return f;
}

/* Assembles a file: 8-byte little-endian header_len, the header text, then
 * data_len data bytes. header_len need not be the header's length, so bad
 * lengths can be built too. Returns an allocation of exactly *len bytes so
 * that valgrind sees any read past the end. */
static guint8 *
assemble_raw (guint64 header_len, const char *header, const void *data,
    gsize data_len, gsize * len)
{
  gsize hlen = strlen (header);
  guint64 le = GUINT64_TO_LE (header_len);
  guint8 *buf;

  *len = 8 + hlen + data_len;
  buf = g_malloc (*len);
  memcpy (buf, &le, 8);
  memcpy (buf + 8, header, hlen);
  if (data_len > 0)
    memcpy (buf + 8 + hlen, data, data_len);
  return buf;
}

static guint8 *
assemble (const char *header, const void *data, gsize data_len, gsize * len)
{
  return assemble_raw (strlen (header), header, data, data_len, len);
}

/* Little-endian bytes of some floats, for data regions. */
static guint8 *
floats_le (const float *v, gsize n)
{
  guint8 *out = g_malloc (MAX (n, 1) * 4);
  gsize i;

  for (i = 0; i < n; i++) {
    guint32 b = GUINT32_TO_LE (float_bits (v[i]));

    memcpy (out + 4 * i, &b, 4);
  }
  return out;
}

/* Parses and expects failure with the given code and a message that names
 * the file and contains phrase. */
static void
expect_bytes_error (const guint8 * bytes, gsize len, gint code,
    const char *phrase)
{
  GError *err = NULL;
  CxrModelFile *m = cxr_model_file_parse (bytes, len, BAD, &err);

  g_assert_null (m);
  g_assert_error (err, CXR_ERROR, code);
  g_test_message ("message: %s", err->message);
  g_assert_true (g_str_has_prefix (err->message, BAD ": "));
  g_assert_nonnull (strstr (err->message, phrase));
  g_error_free (err);
}

/* The same, for a header with data bytes. */
static void
expect_error (const char *header, const void *data, gsize data_len,
    gint code, const char *phrase)
{
  gsize len;
  guint8 *bytes = assemble (header, data, data_len, &len);

  expect_bytes_error (bytes, len, code, phrase);
  g_free (bytes);
}

static void
expect_corrupt (const char *header, const void *data, gsize data_len,
    const char *phrase)
{
  expect_error (header, data, data_len, CXR_ERROR_CORRUPT, phrase);
}

/* Data bytes for headers that need some. */
static const guint8 zeros[64];

static gchar *
tmp_dir (void)
{
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("test_modelfile-XXXXXX", &err);

  g_assert_no_error (err);
  return dir;
}

/* Removes a directory holding only plain files. */
static void
rm_dir (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *p = g_build_filename (dir, name, NULL);

    g_assert_cmpint (g_remove (p), ==, 0);
    g_free (p);
  }
  g_dir_close (d);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* g_ptr_array_sort passes pointers to the elements. */
static int
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The sorted names in a directory, joined with spaces. */
static gchar *
dir_listing (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  gchar *joined;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  g_ptr_array_sort (names, cmp_str_ptr);
  g_ptr_array_add (names, NULL);
  joined = g_strjoinv (" ", (gchar **) names->pdata);
  g_ptr_array_unref (names);
  return joined;
}

/* A small model exercising the awkward float values. */
static CxrModelFile *
sample_model (void)
{
  CxrModelFile *m = cxr_model_file_new ();
  const int64_t s23[] = { 2, 3 }, s3[] = { 3 }, s04[] = { 0, 4 };
  const float w[] = { -0.0f, bits_float (0x00000001), bits_float (0x00400000),
    FLT_MAX, -FLT_MIN, 1.0f / 3.0f
  };
  const float b[] = { 1.5f, -2.25f, 0.0f };
  const float scalar[] = { 42.0f };

  /* Added out of alphabetical order: the file must keep this order. */
  g_assert_nonnull (cxr_model_file_add (m, "z.conv1.weight", 2, s23, w));
  g_assert_nonnull (cxr_model_file_add (m, "a.bias", 1, s3, b));
  g_assert_nonnull (cxr_model_file_add (m, "m.scalar", 0, NULL, scalar));
  g_assert_nonnull (cxr_model_file_add (m, "empty", 2, s04, NULL));
  g_assert_nonnull (cxr_model_file_add (m, "zeros", 1, s3, NULL));
  cxr_model_file_set_meta (m, "format", "pt");
  cxr_model_file_set_meta (m, "note", "quotes \" and \\ and \xc3\xa9");
  return m;
}

static void
assert_models_equal (const CxrModelFile * a, const CxrModelFile * b)
{
  GHashTableIter iter;
  gpointer k, v;
  guint i;

  g_assert_cmpuint (a->tensors->len, ==, b->tensors->len);
  for (i = 0; i < a->tensors->len; i++) {
    const CxrTensor *x = g_ptr_array_index (a->tensors, i);
    const CxrTensor *y = g_ptr_array_index (b->tensors, i);
    int64_t j;

    g_assert_cmpstr (x->name, ==, y->name);
    g_assert_cmpint (x->ndim, ==, y->ndim);
    g_assert_cmpmem (x->shape, x->ndim * sizeof (int64_t), y->shape,
        y->ndim * sizeof (int64_t));
    g_assert_cmpint (x->numel, ==, y->numel);
    /* Bits, not values: -0.0 == 0.0 would hide a lost sign. */
    for (j = 0; j < x->numel; j++)
      g_assert_cmphex (float_bits (x->data[j]), ==, float_bits (y->data[j]));
  }
  g_assert_cmpuint (g_hash_table_size (a->metadata), ==,
      g_hash_table_size (b->metadata));
  g_hash_table_iter_init (&iter, a->metadata);
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_assert_cmpstr (cxr_model_file_get_meta (b, k), ==, v);
}

/* ---- the model API ---- */

static void
test_add_find_meta (void)
{
  CxrModelFile *m = cxr_model_file_new ();
  const int64_t s2[] = { 2 }, neg[] = { -1 }, huge[] = { G_MAXINT64, 2 };
  gchar *long_name = g_strnfill (CXR_MODEL_MAX_NAME + 1, 'x');
  CxrTensor *t;

  t = cxr_model_file_add (m, "w", 1, s2, NULL);
  g_assert_nonnull (t);
  g_assert_cmpint (t->numel, ==, 2);
  g_assert_cmpfloat (t->data[0], ==, 0.0f);
  g_assert_true (cxr_model_file_find (m, "w") == t);
  g_assert_null (cxr_model_file_find (m, "v"));
  /* Things the writer could not write are refused up front. */
  g_assert_null (cxr_model_file_add (m, "w", 1, s2, NULL));
  g_assert_null (cxr_model_file_add (m, "", 1, s2, NULL));
  g_assert_null (cxr_model_file_add (m, "__metadata__", 1, s2, NULL));
  g_assert_null (cxr_model_file_add (m, long_name, 1, s2, NULL));
  g_assert_null (cxr_model_file_add (m, "neg", 1, neg, NULL));
  g_assert_null (cxr_model_file_add (m, "huge", 2, huge, NULL));
  g_assert_cmpuint (m->tensors->len, ==, 1);

  g_assert_null (cxr_model_file_get_meta (m, "k"));
  cxr_model_file_set_meta (m, "k", "v1");
  cxr_model_file_set_meta (m, "k", "v2");
  g_assert_cmpstr (cxr_model_file_get_meta (m, "k"), ==, "v2");
  g_free (long_name);
  cxr_model_file_free (m);
}

/* ---- writing ---- */

static void
test_round_trip (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  CxrModelFile *m = sample_model (), *r;
  GError *err = NULL;
  CxrTensor *t;

  g_assert_true (cxr_model_file_write (m, path, &err));
  g_assert_no_error (err);
  r = cxr_model_file_read (path, &err);
  g_assert_no_error (err);
  g_assert_nonnull (r);
  assert_models_equal (m, r);

  /* Spot checks that do not go through assert_models_equal. */
  t = g_ptr_array_index (r->tensors, 0);
  g_assert_cmpstr (t->name, ==, "z.conv1.weight");
  g_assert_cmphex (float_bits (t->data[0]), ==, 0x80000000);    /* -0.0 */
  g_assert_cmphex (float_bits (t->data[1]), ==, 0x00000001);    /* denormal */
  g_assert_cmphex (float_bits (t->data[2]), ==, 0x00400000);
  t = cxr_model_file_find (r, "m.scalar");
  g_assert_cmpint (t->ndim, ==, 0);
  g_assert_cmpint (t->numel, ==, 1);
  g_assert_cmpfloat (t->data[0], ==, 42.0f);
  g_assert_cmpstr (cxr_model_file_get_meta (r, "note"), ==,
      "quotes \" and \\ and \xc3\xa9");

  cxr_model_file_free (r);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_layout (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  CxrModelFile *m = sample_model ();
  GError *err = NULL;
  gchar *contents, *header;
  gsize len, i;
  guint64 hlen;
  int64_t data_bytes = 0;

  g_assert_true (cxr_model_file_write (m, path, &err));
  g_assert_no_error (err);
  g_assert_true (g_file_get_contents (path, &contents, &len, &err));
  g_assert_no_error (err);

  g_assert_cmpuint (len, >=, 8);
  /* Little-endian u64, built by hand rather than by a helper under test. */
  hlen = 0;
  for (i = 0; i < 8; i++)
    hlen |= (guint64) (guint8) contents[i] << (8 * i);
  g_assert_cmpuint ((8 + hlen) % 8, ==, 0);
  for (i = 0; i < m->tensors->len; i++)
    data_bytes += ((CxrTensor *) g_ptr_array_index (m->tensors, i))->numel * 4;
  g_assert_cmpuint (len, ==, 8 + hlen + data_bytes);

  /* JSON object, then only space padding. */
  header = g_strndup (contents + 8, hlen);
  g_assert_cmpint (header[0], ==, '{');
  g_strchomp (header);
  g_assert_cmpint (header[strlen (header) - 1], ==, '}');
  g_assert_cmpuint (hlen - strlen (header), <, 8);
  g_assert_nonnull (strstr (header, "\"dtype\":\"F32\""));
  /* The first tensor's data comes first: -0.0 as bytes 00 00 00 80. */
  g_assert_cmphex ((guint8) contents[8 + hlen + 3], ==, 0x80);

  g_free (header);
  g_free (contents);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_atomic_overwrite (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  CxrModelFile *m = sample_model (), *m2 = cxr_model_file_new (), *r;
  const int64_t s1[] = { 1 };
  const float one[] = { 1.0f };
  GError *err = NULL;
  gchar *listing;

  /* An old file of any content is replaced. */
  g_assert_true (g_file_set_contents (path, "old contents", -1, NULL));
  g_assert_true (cxr_model_file_write (m, path, &err));
  g_assert_no_error (err);
  cxr_model_file_add (m2, "only", 1, s1, one);
  g_assert_true (cxr_model_file_write (m2, path, &err));
  g_assert_no_error (err);

  r = cxr_model_file_read (path, &err);
  g_assert_no_error (err);
  assert_models_equal (m2, r);
  listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "model.safetensors");

  g_free (listing);
  cxr_model_file_free (r);
  cxr_model_file_free (m2);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_write_missing_dir (void)
{
  gchar *dir = tmp_dir ();
  gchar *missing = g_build_filename (dir, "missing", NULL);
  gchar *path = g_build_filename (missing, "model.safetensors", NULL);
  CxrModelFile *m = sample_model ();
  GError *err = NULL;
  gchar *listing;

  g_assert_false (cxr_model_file_write (m, path, &err));
  g_assert_error (err, CXR_ERROR, CXR_ERROR_IO);
  g_assert_nonnull (strstr (err->message, path));
  g_assert_nonnull (strstr (err->message, g_strerror (ENOENT)));
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "");

  g_free (listing);
  g_error_free (err);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (path);
  g_free (missing);
  g_free (dir);
}

/* rename() over a non-empty directory fails after the temporary file is
 * written: the temporary file must go and the destination must stay. */
static void
test_write_rename_fails (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  gchar *inside = g_build_filename (path, "keep", NULL);
  CxrModelFile *m = sample_model ();
  GError *err = NULL;
  gchar *listing;

  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  g_assert_true (g_file_set_contents (inside, "x", -1, NULL));
  g_assert_false (cxr_model_file_write (m, path, &err));
  g_assert_error (err, CXR_ERROR, CXR_ERROR_IO);
  g_assert_nonnull (strstr (err->message, path));
  listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "model.safetensors");
  g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));

  g_free (listing);
  g_error_free (err);
  g_assert_cmpint (g_remove (inside), ==, 0);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (inside);
  g_free (path);
  g_free (dir);
}

/* The writer refuses what the reader would refuse, writing nothing. */
static void
test_write_non_finite (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  CxrModelFile *m = cxr_model_file_new ();
  const int64_t s2[] = { 2 };
  const float v[] = { 1.0f, NAN };
  GError *err = NULL;

  cxr_model_file_add (m, "w", 1, s2, v);
  g_assert_false (cxr_model_file_write (m, path, &err));
  g_assert_error (err, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (err->message, "'w'"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_error_free (err);
  cxr_model_file_free (m);
  rm_dir (dir);
  g_free (path);
  g_free (dir);
}

/* ---- reading good files ---- */

static void
test_read_missing_file (void)
{
  GError *err = NULL;

  g_assert_null (cxr_model_file_read ("/nonexistent/model.safetensors", &err));
  g_assert_error (err, CXR_ERROR, CXR_ERROR_IO);
  g_assert_nonnull (strstr (err->message, "/nonexistent/model.safetensors"));
  g_error_free (err);
}

static void
test_read_empty_tensor_list (void)
{
  const char *headers[] = { "{}", "{}      ",
    "{\"__metadata__\":{\"a\":\"b\"}}"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (headers); i++) {
    GError *err = NULL;
    gsize len;
    guint8 *bytes = assemble (headers[i], NULL, 0, &len);
    CxrModelFile *m = cxr_model_file_parse (bytes, len, "x", &err);

    g_assert_no_error (err);
    g_assert_nonnull (m);
    g_assert_cmpuint (m->tensors->len, ==, 0);
    cxr_model_file_free (m);
    g_free (bytes);
  }
}

/* Tensors come back in data order, whatever the JSON key order. */
static void
test_read_data_order (void)
{
  const float v[] = { 1.0f, 2.0f, 3.0f };
  guint8 *data = floats_le (v, 3);
  const char *header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[4,12]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
  GError *err = NULL;
  gsize len;
  guint8 *bytes = assemble (header, data, 12, &len);
  CxrModelFile *m = cxr_model_file_parse (bytes, len, "x", &err);
  CxrTensor *t;

  g_assert_no_error (err);
  g_assert_cmpuint (m->tensors->len, ==, 2);
  t = g_ptr_array_index (m->tensors, 0);
  g_assert_cmpstr (t->name, ==, "a");
  g_assert_cmpfloat (t->data[0], ==, 1.0f);
  t = g_ptr_array_index (m->tensors, 1);
  g_assert_cmpstr (t->name, ==, "b");
  g_assert_cmpfloat (t->data[1], ==, 3.0f);

  cxr_model_file_free (m);
  g_free (bytes);
  g_free (data);
}

/* A name of exactly CXR_MODEL_MAX_NAME bytes is fine. */
static void
test_read_name_at_limit (void)
{
  gchar *name = g_strnfill (CXR_MODEL_MAX_NAME, 'n');
  gchar *header = g_strdup_printf ("{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}", name);
  GError *err = NULL;
  gsize len;
  guint8 *bytes = assemble (header, zeros, 4, &len);
  CxrModelFile *m = cxr_model_file_parse (bytes, len, "x", &err);

  g_assert_no_error (err);
  g_assert_nonnull (cxr_model_file_find (m, name));
  cxr_model_file_free (m);
  g_free (bytes);
  g_free (header);
  g_free (name);
}

/* ---- one test per corruption ---- */

static void
test_bad_short_file (void)
{
  const guint8 five[5] = { 1, 0, 0, 0, 0 };
  guint8 *copy = g_memdup2 (five, 5);

  expect_bytes_error (copy, 5, CXR_ERROR_CORRUPT, "too short");
  g_free (copy);
}

static void
test_bad_header_len_zero (void)
{
  gsize len;
  guint8 *bytes = assemble_raw (0, "{}", NULL, 0, &len);

  expect_bytes_error (bytes, len, CXR_ERROR_CORRUPT, "header length is 0");
  g_free (bytes);
}

static void
test_bad_header_len_over_limit (void)
{
  gsize len;
  guint8 *bytes = assemble_raw ((guint64) CXR_MODEL_MAX_HEADER + 1, "{}",
      NULL, 0, &len);

  expect_bytes_error (bytes, len, CXR_ERROR_CORRUPT, "larger than the limit");
  g_free (bytes);
  /* All ones: must not wrap around in size arithmetic. */
  bytes = assemble_raw (G_MAXUINT64, "{}", NULL, 0, &len);
  expect_bytes_error (bytes, len, CXR_ERROR_CORRUPT, "larger than the limit");
  g_free (bytes);
}

static void
test_bad_header_len_beyond_file (void)
{
  gsize len;
  guint8 *bytes = assemble_raw (100, "{}", zeros, 8, &len);

  expect_bytes_error (bytes, len, CXR_ERROR_CORRUPT,
      "header length 100 but only 10 bytes follow");
  g_free (bytes);
}

static void
test_bad_header_not_utf8 (void)
{
  gsize len;
  guint8 *bytes;

  expect_corrupt ("{\"w\xff\":{}}", NULL, 0, "not valid UTF-8");
  /* A NUL inside the header is not text either. */
  bytes = assemble_raw (4, "{", "\0}  ", 3, &len);
  expect_bytes_error (bytes, len, CXR_ERROR_CORRUPT, "not valid UTF-8");
  g_free (bytes);
}

static void
test_bad_header_not_json (void)
{
  expect_corrupt ("{\"w\": ", NULL, 0, "not valid JSON");
  expect_corrupt ("{\"w\":{}} trailing", NULL, 0, "not valid JSON");
}

static void
test_bad_header_not_object (void)
{
  expect_corrupt ("[1, 2]", NULL, 0, "not a JSON object");
  expect_corrupt ("\"F32\"", NULL, 0, "not a JSON object");
}

/* json-glib would silently saturate this to -1 or G_MAXINT64. */
static void
test_bad_number_too_large (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[18446744073709551616,18446744073709551620]}}",
      zeros, 4, "number too large");
}

/* json-glib recurses without a limit: 400 KB of '[' overflowed the stack */
static void
test_bad_deep_nesting (void)
{
  gchar *deep = g_strnfill (400000, '[');
  gchar *nine = g_strdup ("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":"
      "{\"g\":{\"h\":{}}}}}}}}}");

  expect_corrupt (deep, NULL, 0, "nested deeper");
  expect_corrupt (nine, NULL, 0, "nested deeper");
  /* brackets inside strings do not count */
  expect_corrupt ("{\"[[[[[[[[[[\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,8]}}", zeros, 4, "beyond");
  g_free (deep);
  g_free (nine);
}

static void
test_bad_tensor_not_object (void)
{
  expect_corrupt ("{\"w\":[1,2]}", NULL, 0, "tensor 'w' is not a JSON object");
}

static void
test_bad_dtype_missing (void)
{
  expect_corrupt ("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4,
      "tensor 'w' has no dtype");
}

static void
test_bad_dtype_not_string (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}",
      zeros, 4, "tensor 'w' has a dtype that is not a string");
}

static void
test_bad_dtype_unsupported (void)
{
  expect_error ("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],"
      "\"data_offsets\":[0,4]}}", zeros, 4, CXR_ERROR_UNSUPPORTED,
      "tensor 'w' has dtype 'F16', which is not supported");
}

static void
test_bad_shape_missing (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", zeros,
      4, "tensor 'w' has no shape");
}

static void
test_bad_shape_not_array (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":1,"
      "\"data_offsets\":[0,4]}}", zeros, 4, "shape that is not an array");
}

static void
test_bad_shape_negative (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],"
      "\"data_offsets\":[0,0]}}", NULL, 0,
      "tensor 'w' has negative shape dimension 1 (-1)");
}

static void
test_bad_shape_not_integer (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "dimension 0 that is not an integer");
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "dimension 0 that is not an integer");
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,[1]],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "dimension 1 that is not an integer");
}

static void
test_bad_shape_too_many_dims (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "9 dimensions, more than the 8");
}

static void
test_bad_shape_overflow (void)
{
  /* 2^32 * 2^32 = 2^64 elements, and with a zero after it, 0 elements but
   * an overflowing partial product. */
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
      "\"data_offsets\":[0,0]}}", NULL, 0, "element count overflows");
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\","
      "\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", NULL, 0,
      "element count overflows");
}

static void
test_bad_offsets_missing (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", zeros, 4,
      "tensor 'w' has no data_offsets");
}

static void
test_bad_offsets_not_two_integers (void)
{
  const char *offsets[] = { "0", "[4]", "[0,4,8]", "[0,\"4\"]", "[0,4.0]",
    "[null,4]"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (offsets); i++) {
    gchar *header = g_strdup_printf ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
        "\"data_offsets\":%s}}", offsets[i]);

    expect_corrupt (header, zeros, 4, "data_offsets that are not two integers");
    g_free (header);
  }
}

static void
test_bad_offsets_negative (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[-4,0]}}", zeros, 4, "negative data_offsets [-4, 0]");
}

static void
test_bad_offsets_begin_after_end (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[8,4]}}", zeros, 8,
      "data_offsets [8, 4] that begin after they end");
}

static void
test_bad_offsets_beyond_data (void)
{
  expect_corrupt ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]}}", zeros, 4,
      "data_offsets [0, 8] beyond the end of the 4-byte data region");
}

static void
test_bad_offsets_size_mismatch (void)
{
  guint8 *data = g_malloc0 (100);

  expect_corrupt ("{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[3,3],"
      "\"data_offsets\":[0,100]}}", data, 100,
      "tensor 'conv1.weight' has data_offsets [0, 100] but shape [3,3] "
      "needs 36 bytes");
  g_free (data);
}

static void
test_bad_tensors_overlap (void)
{
  expect_corrupt ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      zeros, 12, "tensors 'a' and 'b' overlap");
  /* The same bytes claimed twice. */
  expect_corrupt ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
      zeros, 8, "overlap");
}

static void
test_bad_tensors_gap (void)
{
  expect_corrupt ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
      zeros, 12, "bytes 4 to 8 of the data region belong to no tensor");
}

static void
test_bad_data_not_covered (void)
{
  expect_corrupt ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}", zeros, 8,
      "data region has 8 bytes but the tensors cover only 4");
  /* No tensors, yet data bytes. */
  expect_corrupt ("{}", zeros, 8, "cover only 0");
}

static void
test_bad_duplicate_name (void)
{
  expect_corrupt ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
      zeros, 8, "key 'a' twice");
  /* Inside a tensor and inside the metadata too. */
  expect_corrupt ("{\"a\":{\"dtype\":\"F16\",\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "key 'dtype' twice");
  expect_corrupt ("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", NULL, 0,
      "key 'k' twice");
}

static void
test_bad_too_many_tensors (void)
{
  GString *h = g_string_new ("{");
  int i;

  /* Zero-sized tensors, so only the count is wrong. */
  for (i = 0; i <= CXR_MODEL_MAX_TENSORS; i++)
    g_string_append_printf (h, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],"
        "\"data_offsets\":[0,0]}", i ? "," : "", i);
  g_string_append_c (h, '}');
  expect_corrupt (h->str, NULL, 0, "4097 tensors, more than the 4096 allowed");
  g_string_free (h, TRUE);
}

static void
test_bad_name_too_long (void)
{
  gchar *name = g_strnfill (CXR_MODEL_MAX_NAME + 1, 'n');
  gchar *header = g_strdup_printf ("{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}", name);

  expect_corrupt (header, zeros, 4, "257 bytes long, more than the 256 allowed");
  g_free (header);
  g_free (name);
}

static void
test_bad_name_empty (void)
{
  expect_corrupt ("{\"\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}", zeros, 4, "empty name");
}

static void
test_bad_metadata_not_object (void)
{
  expect_corrupt ("{\"__metadata__\":\"x\"}", NULL, 0,
      "__metadata__ is not a JSON object");
  expect_corrupt ("{\"__metadata__\":null}", NULL, 0,
      "__metadata__ is not a JSON object");
}

static void
test_bad_metadata_not_strings (void)
{
  expect_corrupt ("{\"__metadata__\":{\"ok\":\"1\",\"epochs\":10}}", NULL, 0,
      "__metadata__ value of 'epochs' is not a string");
  expect_corrupt ("{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", NULL, 0,
      "value of 'k' is not a string");
}

static void
test_bad_non_finite (void)
{
  const char *header = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[3],"
      "\"data_offsets\":[0,12]}}";
  const float values[][3] = {
    {1.0f, NAN, 2.0f},
    {1.0f, 2.0f, INFINITY},
    {-INFINITY, 0.0f, 0.0f},
  };
  const char *phrases[] = {
    "tensor 'fc.weight' holds a non-finite value (NaN) at element 1",
    "tensor 'fc.weight' holds a non-finite value (+Inf) at element 2",
    "tensor 'fc.weight' holds a non-finite value (-Inf) at element 0",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (values); i++) {
    guint8 *data = floats_le (values[i], 3);

    expect_corrupt (header, data, 12, phrases[i]);
    g_free (data);
  }
}

/* Every proper prefix of a valid file is refused cleanly: each is copied
 * into an allocation of exactly that size so valgrind sees over-reads. */
static void
test_bad_truncated (void)
{
  gchar *dir = tmp_dir ();
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  CxrModelFile *m = sample_model (), *r;
  GError *err = NULL;
  gchar *contents;
  gsize len, n;

  g_assert_true (cxr_model_file_write (m, path, &err));
  g_assert_true (g_file_get_contents (path, &contents, &len, &err));
  g_assert_no_error (err);

  for (n = 0; n < len; n++) {
    guint8 *copy = g_memdup2 (contents, n);

    r = cxr_model_file_parse (copy, n, BAD, &err);

    g_assert_null (r);
    g_assert_error (err, CXR_ERROR, CXR_ERROR_CORRUPT);
    g_clear_error (&err);
    g_free (copy);
  }

  /* The untruncated file still parses, so the loop tested real prefixes. */
  r = cxr_model_file_parse ((guint8 *) contents, len, BAD, &err);
  g_assert_no_error (err);
  assert_models_equal (m, r);

  cxr_model_file_free (r);
  cxr_model_file_free (m);
  g_free (contents);
  rm_dir (dir);
  g_free (path);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/modelfile/add-find-meta", test_add_find_meta);
  g_test_add_func ("/modelfile/write/round-trip", test_round_trip);
  g_test_add_func ("/modelfile/write/layout", test_layout);
  g_test_add_func ("/modelfile/write/atomic-overwrite", test_atomic_overwrite);
  g_test_add_func ("/modelfile/write/missing-dir", test_write_missing_dir);
  g_test_add_func ("/modelfile/write/rename-fails", test_write_rename_fails);
  g_test_add_func ("/modelfile/write/non-finite", test_write_non_finite);
  g_test_add_func ("/modelfile/read/missing-file", test_read_missing_file);
  g_test_add_func ("/modelfile/read/empty-tensor-list",
      test_read_empty_tensor_list);
  g_test_add_func ("/modelfile/read/data-order", test_read_data_order);
  g_test_add_func ("/modelfile/read/name-at-limit", test_read_name_at_limit);

  g_test_add_func ("/modelfile/bad/short-file", test_bad_short_file);
  g_test_add_func ("/modelfile/bad/header-len-zero", test_bad_header_len_zero);
  g_test_add_func ("/modelfile/bad/header-len-over-limit",
      test_bad_header_len_over_limit);
  g_test_add_func ("/modelfile/bad/header-len-beyond-file",
      test_bad_header_len_beyond_file);
  g_test_add_func ("/modelfile/bad/header-not-utf8", test_bad_header_not_utf8);
  g_test_add_func ("/modelfile/bad/header-not-json", test_bad_header_not_json);
  g_test_add_func ("/modelfile/bad/header-not-object",
      test_bad_header_not_object);
  g_test_add_func ("/modelfile/bad/number-too-large",
      test_bad_number_too_large);
  g_test_add_func ("/modelfile/bad/deep-nesting", test_bad_deep_nesting);
  g_test_add_func ("/modelfile/bad/tensor-not-object",
      test_bad_tensor_not_object);
  g_test_add_func ("/modelfile/bad/dtype-missing", test_bad_dtype_missing);
  g_test_add_func ("/modelfile/bad/dtype-not-string",
      test_bad_dtype_not_string);
  g_test_add_func ("/modelfile/bad/dtype-unsupported",
      test_bad_dtype_unsupported);
  g_test_add_func ("/modelfile/bad/shape-missing", test_bad_shape_missing);
  g_test_add_func ("/modelfile/bad/shape-not-array", test_bad_shape_not_array);
  g_test_add_func ("/modelfile/bad/shape-negative", test_bad_shape_negative);
  g_test_add_func ("/modelfile/bad/shape-not-integer",
      test_bad_shape_not_integer);
  g_test_add_func ("/modelfile/bad/shape-too-many-dims",
      test_bad_shape_too_many_dims);
  g_test_add_func ("/modelfile/bad/shape-overflow", test_bad_shape_overflow);
  g_test_add_func ("/modelfile/bad/offsets-missing", test_bad_offsets_missing);
  g_test_add_func ("/modelfile/bad/offsets-not-two-integers",
      test_bad_offsets_not_two_integers);
  g_test_add_func ("/modelfile/bad/offsets-negative",
      test_bad_offsets_negative);
  g_test_add_func ("/modelfile/bad/offsets-begin-after-end",
      test_bad_offsets_begin_after_end);
  g_test_add_func ("/modelfile/bad/offsets-beyond-data",
      test_bad_offsets_beyond_data);
  g_test_add_func ("/modelfile/bad/offsets-size-mismatch",
      test_bad_offsets_size_mismatch);
  g_test_add_func ("/modelfile/bad/tensors-overlap", test_bad_tensors_overlap);
  g_test_add_func ("/modelfile/bad/tensors-gap", test_bad_tensors_gap);
  g_test_add_func ("/modelfile/bad/data-not-covered",
      test_bad_data_not_covered);
  g_test_add_func ("/modelfile/bad/duplicate-name", test_bad_duplicate_name);
  g_test_add_func ("/modelfile/bad/too-many-tensors",
      test_bad_too_many_tensors);
  g_test_add_func ("/modelfile/bad/name-too-long", test_bad_name_too_long);
  g_test_add_func ("/modelfile/bad/name-empty", test_bad_name_empty);
  g_test_add_func ("/modelfile/bad/metadata-not-object",
      test_bad_metadata_not_object);
  g_test_add_func ("/modelfile/bad/metadata-not-strings",
      test_bad_metadata_not_strings);
  g_test_add_func ("/modelfile/bad/non-finite", test_bad_non_finite);
  g_test_add_func ("/modelfile/bad/truncated", test_bad_truncated);

  return g_test_run ();
}
