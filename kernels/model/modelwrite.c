/* modelwrite.c — writing F32 safetensors files: the header by json-glib,
 * padded so that the data region is aligned; the file written beside its
 * destination, fsynced and renamed into place, so that a reader never sees
 * half a model. */
#define _POSIX_C_SOURCE 200809L

#include "modelfileprivate.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Floats converted per write() when streaming tensor data. */
#define WRITE_CHUNK 16384

/* ---- writing ---- */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (a, b);
}

/* The JSON header, padded with spaces so that 8 + its length is a multiple
 * of 8 and the data region is aligned, as Python's safetensors does. */
static gchar *
build_header (const CxrModelFile * m, gsize * out_len)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen;
  JsonNode *root;
  GString *s;
  gchar *json;
  gsize len;
  int64_t offset = 0;
  guint i;
  int d;

  json_builder_begin_object (b);
  if (g_hash_table_size (m->metadata) > 0) {
    /* Sorted keys make the output independent of hash order. */
    GList *keys = g_list_sort (g_hash_table_get_keys (m->metadata),
        compare_strings);
    GList *l;

    json_builder_set_member_name (b, "__metadata__");
    json_builder_begin_object (b);
    for (l = keys; l != NULL; l = l->next) {
      json_builder_set_member_name (b, l->data);
      json_builder_add_string_value (b,
          g_hash_table_lookup (m->metadata, l->data));
    }
    json_builder_end_object (b);
    g_list_free (keys);
  }
  for (i = 0; i < m->tensors->len; i++) {
    const CxrTensor *t = g_ptr_array_index (m->tensors, i);

    json_builder_set_member_name (b, t->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, "F32");
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (d = 0; d < t->ndim; d++)
      json_builder_add_int_value (b, t->shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, offset);
    json_builder_add_int_value (b, offset + t->numel * 4);
    json_builder_end_array (b);
    json_builder_end_object (b);
    offset += t->numel * 4;
  }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, &len);
  g_object_unref (gen);
  json_node_unref (root);
  g_object_unref (b);

  s = g_string_new_len (json, len);
  g_free (json);
  while (s->len % 8 != 0)
    g_string_append_c (s, ' ');
  *out_len = s->len;
  return g_string_free (s, FALSE);
}

/* Refuses models the reader would refuse, before touching the disk. */
static gboolean
check_writable (const CxrModelFile * m, const char *path, GError ** error)
{
  GHashTable *names;
  gboolean ok = TRUE;
  guint64 total = 0;
  guint i;
  GHashTableIter iter;
  gpointer key, value;

  /* The header is JSON text: it must be valid UTF-8. */
  g_hash_table_iter_init (&iter, m->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    if (!g_utf8_validate (key, -1, NULL) || !g_utf8_validate (value, -1, NULL)) {
      cxr_model_file_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "metadata holds text that is not valid UTF-8");
      return FALSE;
    }
  }
  if (m->tensors->len > CXR_MODEL_MAX_TENSORS) {
    cxr_model_file_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
        "model has %u tensors, more than the %d allowed", m->tensors->len,
        CXR_MODEL_MAX_TENSORS);
    return FALSE;
  }
  names = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; i < m->tensors->len && ok; i++) {
    const CxrTensor *t = g_ptr_array_index (m->tensors, i);
    int64_t j;

    if (t->name == NULL || !cxr_tensor_name_is_valid (t->name)
        || !g_hash_table_add (names, t->name)) {
      cxr_model_file_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "tensor %u has an empty, too long, reserved or repeated name", i);
      ok = FALSE;
      break;
    }
    if (t->ndim < 0 || t->ndim > CXR_MODEL_MAX_DIMS
        || cxr_shape_numel (t->ndim, t->shape) != t->numel
        || (t->numel > 0 && t->data == NULL)) {
      cxr_model_file_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "tensor '%s' has an inconsistent shape or no data", t->name);
      ok = FALSE;
      break;
    }
    total += t->numel * 4;
    if (total > (guint64) CXR_MODEL_MAX_FILE) {
      cxr_model_file_error (error, CXR_ERROR_TOO_LARGE, path,
          "tensor data exceeds the %" G_GINT64_FORMAT " bytes the reader "
          "accepts", CXR_MODEL_MAX_FILE);
      ok = FALSE;
      break;
    }
    for (j = 0; j < t->numel; j++) {
      if (!isfinite (t->data[j])) {
        cxr_model_file_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
            "tensor '%s' holds a non-finite value at element %"
            G_GINT64_FORMAT, t->name, j);
        ok = FALSE;
        break;
      }
    }
  }
  g_hash_table_unref (names);
  return ok;
}

/* write() until done; FALSE with errno set on failure. */
static gboolean
write_all (int fd, const uint8_t * buf, gsize len)
{
  while (len > 0) {
    ssize_t w = write (fd, buf, len);

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return FALSE;
    buf += w;
    len -= w;
  }
  return TRUE;
}

/* Writes the whole file to fd; FALSE with errno set on failure. */
static gboolean
write_contents (int fd, const CxrModelFile * m, const gchar * header,
    gsize header_len)
{
  uint8_t *chunk = g_new (uint8_t, WRITE_CHUNK * 4);
  uint8_t len_bytes[8];
  gboolean ok;
  guint i;

  put_u64_le (len_bytes, header_len);
  ok = write_all (fd, len_bytes, 8)
      && write_all (fd, (const uint8_t *) header, header_len);
  for (i = 0; i < m->tensors->len && ok; i++) {
    const CxrTensor *t = g_ptr_array_index (m->tensors, i);
    int64_t done = 0;

    while (done < t->numel && ok) {
      int64_t n = MIN (t->numel - done, WRITE_CHUNK), j;

      for (j = 0; j < n; j++)
        put_f32_le (chunk + 4 * j, t->data[done + j]);
      ok = write_all (fd, chunk, n * 4);
      done += n;
    }
  }
  g_free (chunk);
  return ok;
}

/* Writes to "<path>.tmp-XXXXXX" (created O_CREAT|O_EXCL by g_mkstemp_full,
 * in the destination's directory so rename() stays on one file system),
 * fsyncs, renames over path, then fsyncs the directory so the rename itself
 * is durable. Until the rename succeeds the destination is untouched and any
 * temporary file is removed. A failing directory fsync is reported although
 * the new file is then in place (EINVAL, "not supported here", is ignored). */
gboolean
cxr_model_file_write (const CxrModelFile * m, const char *path,
    GError ** error)
{
  gchar *header, *tmp, *dir;
  gsize header_len;
  gboolean ok;
  int fd, dfd, errsv = 0;
  const char *what = NULL;

  g_return_val_if_fail (m != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!check_writable (m, path, error))
    return FALSE;
  header = build_header (m, &header_len);
  if (header_len > CXR_MODEL_MAX_HEADER) {
    cxr_model_file_error (error, CXR_ERROR_TOO_LARGE, path,
        "header would be %" G_GSIZE_FORMAT " bytes, more than the %d the "
        "reader accepts (too much metadata?)", header_len,
        CXR_MODEL_MAX_HEADER);
    g_free (header);
    return FALSE;
  }

  tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    cxr_model_file_io_error (error, "cannot create a temporary file beside it",
        path,
        errno);
    g_free (header);
    g_free (tmp);
    return FALSE;
  }

  ok = write_contents (fd, m, header, header_len);
  if (!ok)
    what = "cannot write";
  if (ok && fsync (fd) != 0) {
    ok = FALSE;
    what = "cannot fsync";
  }
  if (!ok)
    errsv = errno;
  if (close (fd) != 0 && ok) {
    ok = FALSE;
    what = "cannot close";
    errsv = errno;
  }
  if (ok && rename (tmp, path) != 0) {
    ok = FALSE;
    what = "cannot rename the temporary file over it";
    errsv = errno;
  }
  g_free (header);
  if (!ok) {
    unlink (tmp);
    g_free (tmp);
    cxr_model_file_io_error (error, what, path, errsv);
    return FALSE;
  }
  g_free (tmp);

  dir = g_path_get_dirname (path);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || (fsync (dfd) != 0 && errno != EINVAL)) {
    cxr_model_file_io_error (error, "written, but cannot fsync its directory",
        path,
        errno);
    ok = FALSE;
  }
  if (dfd >= 0)
    close (dfd);
  g_free (dir);
  return ok;
}
