/* modelfile.c — F32 safetensors files in memory: tensors and metadata,
 * and the errors the reader and writer give (modelread.c, modelwrite.c).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then
 * the data region. Every tensor's data_offsets are relative to the start
 * of the data region. */
#include "modelfileprivate.h"

#include <stdarg.h>

/* ---- the model in memory ---- */

void
cxr_tensor_free (gpointer p)
{
  CxrTensor *t = p;

  if (t == NULL)
    return;
  g_free (t->name);
  g_free (t->data);
  g_free (t);
}

CxrModelFile *
cxr_model_file_new (void)
{
  CxrModelFile *m = g_new0 (CxrModelFile, 1);

  m->tensors = g_ptr_array_new_with_free_func (cxr_tensor_free);
  m->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return m;
}

void
cxr_model_file_free (CxrModelFile * m)
{
  if (m == NULL)
    return;
  g_ptr_array_unref (m->tensors);
  g_hash_table_unref (m->metadata);
  g_free (m);
}

/* Element count of a shape, or -1 if a dimension is negative or the count
 * times 4 bytes would overflow an int64. */
int64_t
cxr_shape_numel (int ndim, const int64_t * shape)
{
  int64_t numel = 1;
  int i;

  for (i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return -1;
    if (shape[i] > 0 && numel > G_MAXINT64 / 4 / shape[i])
      return -1;
    numel *= shape[i];
  }
  return numel;
}

gboolean
cxr_tensor_name_is_valid (const char *name)
{
  size_t len = strlen (name);

  return len > 0 && len <= CXR_MODEL_MAX_NAME
      && g_utf8_validate (name, -1, NULL) && strcmp (name, "__metadata__") != 0;
}

/* Builds a tensor with zeroed data; NULL if the shape is invalid or the
 * memory is not available. */
CxrTensor *
cxr_tensor_new (const char *name, int ndim, const int64_t * shape)
{
  CxrTensor *t;
  int64_t numel = cxr_shape_numel (ndim, shape);

  if (numel < 0 || (guint64) numel > G_MAXSIZE / sizeof (float))
    return NULL;

  t = g_new0 (CxrTensor, 1);
  t->ndim = ndim;
  if (ndim > 0)
    memcpy (t->shape, shape, ndim * sizeof (int64_t));
  t->numel = numel;
  if (numel > 0) {
    t->data = g_try_new0 (float, numel);
    if (t->data == NULL) {
      g_free (t);
      return NULL;
    }
  }
  t->name = g_strdup (name);
  return t;
}

/* Returns NULL (and adds nothing) when the name is empty, longer than
 * CXR_MODEL_MAX_NAME, "__metadata__" or already present, when the shape has
 * a negative dimension or too many elements, or when the model already holds
 * CXR_MODEL_MAX_TENSORS tensors: such a model could not be written. */
CxrTensor *
cxr_model_file_add (CxrModelFile * m, const char *name, int ndim,
    const int64_t * shape, const float *data)
{
  CxrTensor *t;

  g_return_val_if_fail (m != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (ndim >= 0 && ndim <= CXR_MODEL_MAX_DIMS, NULL);
  g_return_val_if_fail (ndim == 0 || shape != NULL, NULL);

  if (!cxr_tensor_name_is_valid (name) || cxr_model_file_find (m, name) != NULL
      || m->tensors->len >= CXR_MODEL_MAX_TENSORS)
    return NULL;

  t = cxr_tensor_new (name, ndim, shape);
  if (t == NULL)
    return NULL;
  if (data != NULL && t->numel > 0)
    memcpy (t->data, data, t->numel * sizeof (float));
  g_ptr_array_add (m->tensors, t);
  return t;
}

CxrTensor *
cxr_model_file_find (const CxrModelFile * m, const char *name)
{
  guint i;

  g_return_val_if_fail (m != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (i = 0; i < m->tensors->len; i++) {
    CxrTensor *t = g_ptr_array_index (m->tensors, i);

    if (strcmp (t->name, name) == 0)
      return t;
  }
  return NULL;
}

/* A NULL value removes the key. */
void
cxr_model_file_set_meta (CxrModelFile * m, const char *key, const char *value)
{
  g_return_if_fail (m != NULL);
  g_return_if_fail (key != NULL);

  if (value == NULL)
    g_hash_table_remove (m->metadata, key);
  else
    g_hash_table_insert (m->metadata, g_strdup (key), g_strdup (value));
}

const char *
cxr_model_file_get_meta (const CxrModelFile * m, const char *key)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_hash_table_lookup (m->metadata, key);
}

/* ---- errors ---- */

/* Sets "<file>: <message>" in the CXR_ERROR domain. */
void
cxr_model_file_error (GError ** error, CxrErrorCode code, const char *file,
    const char *format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CXR_ERROR, code, "%s: %s", file, msg);
  g_free (msg);
}

/* "[3,3]" for messages. */
gchar *
cxr_shape_to_string (int ndim, const int64_t * shape)
{
  GString *s = g_string_new ("[");
  int i;

  for (i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

void
cxr_model_file_io_error (GError ** error, const char *what, const char *path,
    int errsv)
{
  g_set_error (error, CXR_ERROR, CXR_ERROR_IO, "%s: %s: %s", path, what,
      g_strerror (errsv));
}
