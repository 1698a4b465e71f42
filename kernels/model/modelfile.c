/* modelfile.c — reading and writing F32 safetensors files.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then
 * the data region. Every tensor's data_offsets are relative to the start
 * of the data region.
 *
 * The reader checks every number before it is used to index or allocate:
 * the header length against the file, each shape against overflow, each
 * data_offsets pair against the data region and against its shape, and
 * that the tensors tile the data region exactly (no overlap, no gap, no
 * trailing bytes), as the official safetensors loader does. Only then is
 * tensor memory allocated, and every allocation is bounded by the file
 * size. Tensors come back in data order (ascending data_offsets), which
 * for files from cxr_model_file_write is the order they were added.
 *
 * Duplicate keys: json-glib silently keeps the last of two equal keys, so
 * the parser's "object-member" signal is used to see each key as it is
 * parsed; any key repeated inside one JSON object (tensor names, fields of
 * a tensor, metadata keys) is rejected. */
#define _POSIX_C_SOURCE 200809L

#include "modelfile.h"
#include "error.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* We refuse to read more than this: larger is surely not one of our models,
 * and the whole file is held in memory. */
#define CXR_MODEL_MAX_FILE ((gint64) 2 * 1024 * 1024 * 1024)
/* JSON integers longer than this many digits may not fit in an int64;
 * json-glib would silently saturate them, so they are refused up front. */
#define MAX_INT_DIGITS 18
#define MAX_NESTING 8
/* Floats converted per write() when streaming tensor data. */
#define WRITE_CHUNK 16384

/* ---- byte order: the format is little-endian whatever the machine ---- */

static guint64
get_u64_le (const uint8_t * p)
{
  guint64 v;

  memcpy (&v, p, sizeof (v));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  v = GUINT64_SWAP_LE_BE (v);
#endif
  return v;
}

static void
put_u64_le (uint8_t * p, guint64 v)
{
#if G_BYTE_ORDER == G_BIG_ENDIAN
  v = GUINT64_SWAP_LE_BE (v);
#endif
  memcpy (p, &v, sizeof (v));
}

static float
get_f32_le (const uint8_t * p)
{
  guint32 bits;
  float f;

  memcpy (&bits, p, sizeof (bits));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  bits = GUINT32_SWAP_LE_BE (bits);
#endif
  memcpy (&f, &bits, sizeof (f));
  return f;
}

static void
put_f32_le (uint8_t * p, float f)
{
  guint32 bits;

  memcpy (&bits, &f, sizeof (bits));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  bits = GUINT32_SWAP_LE_BE (bits);
#endif
  memcpy (p, &bits, sizeof (bits));
}

/* ---- the model in memory ---- */

static void
tensor_free (gpointer p)
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

  m->tensors = g_ptr_array_new_with_free_func (tensor_free);
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
static int64_t
shape_numel (int ndim, const int64_t * shape)
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

static gboolean
name_is_valid (const char *name)
{
  size_t len = strlen (name);

  return len > 0 && len <= CXR_MODEL_MAX_NAME
      && g_utf8_validate (name, -1, NULL) && strcmp (name, "__metadata__") != 0;
}

/* Builds a tensor with zeroed data; NULL if the shape is invalid or the
 * memory is not available. */
static CxrTensor *
tensor_new (const char *name, int ndim, const int64_t * shape)
{
  CxrTensor *t;
  int64_t numel = shape_numel (ndim, shape);

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

  if (!name_is_valid (name) || cxr_model_file_find (m, name) != NULL
      || m->tensors->len >= CXR_MODEL_MAX_TENSORS)
    return NULL;

  t = tensor_new (name, ndim, shape);
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
static void
set_error (GError ** error, CxrErrorCode code, const char *file,
    const char *format, ...)
G_GNUC_PRINTF (4, 5);

static void
set_error (GError ** error, CxrErrorCode code, const char *file,
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
static gchar *
shape_to_string (int ndim, const int64_t * shape)
{
  GString *s = g_string_new ("[");
  int i;

  for (i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* ---- reading ---- */

/* Finds repeated keys within one JSON object while json-glib parses: a
 * stack of key sets, one per object being parsed. "object-member" for an
 * object is emitted after its nested values have ended, so the top of the
 * stack is always the object that owns the member. */
typedef struct {
  GPtrArray *stack;             /* of GHashTable* (set of keys) */
  gchar *duplicate;             /* first repeated key, or NULL */
} DupCheck;

static void
dup_object_start (JsonParser * parser, gpointer user_data)
{
  DupCheck *d = user_data;

  (void) parser;
  g_ptr_array_add (d->stack, g_hash_table_new_full (g_str_hash, g_str_equal,
          g_free, NULL));
}

static void
dup_object_member (JsonParser * parser, JsonObject * object,
    const gchar * member_name, gpointer user_data)
{
  DupCheck *d = user_data;
  GHashTable *keys;

  (void) parser;
  (void) object;
  if (d->stack->len == 0)
    return;
  keys = g_ptr_array_index (d->stack, d->stack->len - 1);
  if (!g_hash_table_add (keys, g_strdup (member_name)) && d->duplicate == NULL)
    d->duplicate = g_strdup (member_name);
}

static void
dup_object_end (JsonParser * parser, JsonObject * object, gpointer user_data)
{
  DupCheck *d = user_data;

  (void) parser;
  (void) object;
  if (d->stack->len > 0)
    g_ptr_array_remove_index (d->stack, d->stack->len - 1);
}

/* NULL if the header text can go to the JSON parser, else why not: no
 * integer literal outside strings may have more than MAX_INT_DIGITS digits,
 * and arrays and objects may nest MAX_NESTING deep at most (a safetensors
 * header needs three; json-glib has no limit of its own and recurses, so
 * deep nesting would exhaust the stack). The text is valid UTF-8. */
static const char *
header_text_problem (const char *json, gsize len)
{
  gboolean in_string = FALSE;
  int digits = 0, depth = 0;
  gsize i;

  for (i = 0; i < len; i++) {
    char c = json[i];

    if (in_string) {
      if (c == '\\')
        i++;                    /* skip the escaped character */
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    digits = c >= '0' && c <= '9' ? digits + 1 : 0;
    if (digits > MAX_INT_DIGITS)
      return "a number too large to be a size or offset";
    if (c == '"')
      in_string = TRUE;
    else if ((c == '[' || c == '{') && ++depth > MAX_NESTING)
      return "arrays or objects nested deeper than a model needs";
    else if (c == ']' || c == '}')
      depth--;
  }
  return NULL;
}

/* Parses the header text into a JSON node; NULL on error. */
static JsonNode *
parse_header (const char *json, gsize len, const char *file, GError ** error)
{
  JsonParser *parser;
  DupCheck d;
  GError *err = NULL;
  JsonNode *root = NULL;
  const char *problem;

  if (!g_utf8_validate (json, len, NULL)) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "header is not valid UTF-8 text");
    return NULL;
  }
  if ((problem = header_text_problem (json, len)) != NULL) {
    set_error (error, CXR_ERROR_CORRUPT, file, "header contains %s", problem);
    return NULL;
  }

  d.stack = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_hash_table_unref);
  d.duplicate = NULL;
  parser = json_parser_new ();
  g_signal_connect (parser, "object-start", G_CALLBACK (dup_object_start), &d);
  g_signal_connect (parser, "object-member", G_CALLBACK (dup_object_member),
      &d);
  g_signal_connect (parser, "object-end", G_CALLBACK (dup_object_end), &d);

  if (!json_parser_load_from_data (parser, json, len, &err)) {
    set_error (error, CXR_ERROR_CORRUPT, file, "header is not valid JSON (%s)",
        err->message);
    g_error_free (err);
  } else if (d.duplicate != NULL) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "header has the key '%s' twice in one object", d.duplicate);
  } else if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    set_error (error, CXR_ERROR_CORRUPT, file, "header is not a JSON object");
  } else {
    root = json_node_copy (json_parser_get_root (parser));
  }

  g_object_unref (parser);
  g_ptr_array_unref (d.stack);
  g_free (d.duplicate);
  return root;
}

static gboolean
node_is_int (JsonNode * node)
{
  return JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
parse_metadata (JsonNode * node, CxrModelFile * m, const char *file,
    GError ** error)
{
  JsonObject *obj;
  GList *keys, *l;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "__metadata__ is not a JSON object");
    return FALSE;
  }
  obj = json_node_get_object (node);
  keys = json_object_get_members (obj);
  for (l = keys; l != NULL && ok; l = l->next) {
    JsonNode *v = json_object_get_member (obj, l->data);

    if (!JSON_NODE_HOLDS_VALUE (v)
        || json_node_get_value_type (v) != G_TYPE_STRING) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "__metadata__ value of '%s' is not a string", (char *) l->data);
      ok = FALSE;
    } else {
      cxr_model_file_set_meta (m, l->data, json_node_get_string (v));
    }
  }
  g_list_free (keys);
  return ok;
}

/* One tensor entry of the header, checked, before its data is read. */
typedef struct {
  const char *name;             /* owned by the JSON tree */
  int ndim;
  int64_t shape[CXR_MODEL_MAX_DIMS];
  int64_t numel;
  int64_t begin, end;
  guint order;                  /* position in the header, to keep sorting stable */
} Entry;

static gboolean
parse_entry (const char *name, JsonNode * node, guint64 data_size,
    Entry * e, const char *file, GError ** error)
{
  JsonObject *obj;
  JsonNode *n;
  JsonArray *arr;
  const char *dtype;
  guint i, len;
  gchar *shape_str;

  e->name = name;
  if (name[0] == '\0') {
    set_error (error, CXR_ERROR_CORRUPT, file, "a tensor has an empty name");
    return FALSE;
  }
  if (strlen (name) > CXR_MODEL_MAX_NAME) {
    gchar *start = g_utf8_substring (name, 0, 32);

    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor name '%s...' is %" G_GSIZE_FORMAT " bytes long, more than "
        "the %d allowed", start, strlen (name), CXR_MODEL_MAX_NAME);
    g_free (start);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' is not a JSON object", name);
    return FALSE;
  }
  obj = json_node_get_object (node);

  /* dtype */
  n = json_object_get_member (obj, "dtype");
  if (n == NULL) {
    set_error (error, CXR_ERROR_CORRUPT, file, "tensor '%s' has no dtype",
        name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a dtype that is not a string", name);
    return FALSE;
  }
  dtype = json_node_get_string (n);
  if (strcmp (dtype, "F32") != 0) {
    set_error (error, CXR_ERROR_UNSUPPORTED, file,
        "tensor '%s' has dtype '%s', which is not supported (only F32 is)",
        name, dtype);
    return FALSE;
  }

  /* shape */
  n = json_object_get_member (obj, "shape");
  if (n == NULL) {
    set_error (error, CXR_ERROR_CORRUPT, file, "tensor '%s' has no shape",
        name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a shape that is not an array", name);
    return FALSE;
  }
  arr = json_node_get_array (n);
  len = json_array_get_length (arr);
  if (len > CXR_MODEL_MAX_DIMS) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a shape of %u dimensions, more than the %d allowed",
        name, len, CXR_MODEL_MAX_DIMS);
    return FALSE;
  }
  e->ndim = len;
  for (i = 0; i < len; i++) {
    n = json_array_get_element (arr, i);
    if (!node_is_int (n)) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' has shape dimension %u that is not an integer",
          name, i);
      return FALSE;
    }
    e->shape[i] = json_node_get_int (n);
    if (e->shape[i] < 0) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' has negative shape dimension %u (%" G_GINT64_FORMAT
          ")", name, i, e->shape[i]);
      return FALSE;
    }
  }
  e->numel = shape_numel (e->ndim, e->shape);
  if (e->numel < 0) {
    shape_str = shape_to_string (e->ndim, e->shape);
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has shape %s whose element count overflows", name,
        shape_str);
    g_free (shape_str);
    return FALSE;
  }

  /* data_offsets */
  n = json_object_get_member (obj, "data_offsets");
  if (n == NULL) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has no data_offsets", name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (json_node_get_array (n)) != 2
      || !node_is_int (json_array_get_element (json_node_get_array (n), 0))
      || !node_is_int (json_array_get_element (json_node_get_array (n), 1))) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets that are not two integers", name);
    return FALSE;
  }
  arr = json_node_get_array (n);
  e->begin = json_array_get_int_element (arr, 0);
  e->end = json_array_get_int_element (arr, 1);
  if (e->begin < 0 || e->end < 0) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has negative data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "]", name, e->begin, e->end);
    return FALSE;
  }
  if (e->begin > e->end) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] that begin after they end", name, e->begin, e->end);
    return FALSE;
  }
  if ((guint64) e->end > data_size) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] beyond the end of the %" G_GUINT64_FORMAT
        "-byte data region (is the file truncated?)", name, e->begin, e->end,
        data_size);
    return FALSE;
  }
  /* numel * 4 cannot overflow: shape_numel bounds numel by G_MAXINT64 / 4. */
  if (e->end - e->begin != e->numel * 4) {
    shape_str = shape_to_string (e->ndim, e->shape);
    set_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] but shape %s needs %" G_GINT64_FORMAT " bytes",
        name, e->begin, e->end, shape_str, e->numel * 4);
    g_free (shape_str);
    return FALSE;
  }
  return TRUE;
}

static int
entry_compare (const void *a, const void *b)
{
  const Entry *x = a, *y = b;

  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order);
}

/* Entries sorted by offset must tile [0, data_size) exactly. */
static gboolean
check_coverage (const Entry * entries, guint count, guint64 data_size,
    const char *file, GError ** error)
{
  int64_t pos = 0;
  guint i;

  for (i = 0; i < count; i++) {
    const Entry *e = &entries[i];

    if (e->begin < pos) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "tensors '%s' and '%s' overlap (data_offsets [%" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT "] and [%" G_GINT64_FORMAT ", %"
          G_GINT64_FORMAT "])", entries[i - 1].name, e->name,
          entries[i - 1].begin, entries[i - 1].end, e->begin, e->end);
      return FALSE;
    }
    if (e->begin > pos) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "bytes %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT " of the data "
          "region belong to no tensor (a gap before tensor '%s')",
          pos, e->begin, e->name);
      return FALSE;
    }
    pos = e->end;
  }
  if ((guint64) pos != data_size) {
    set_error (error, CXR_ERROR_CORRUPT, file,
        "the data region has %" G_GUINT64_FORMAT " bytes but the tensors "
        "cover only %" G_GINT64_FORMAT " (trailing bytes belong to no tensor)",
        data_size, pos);
    return FALSE;
  }
  return TRUE;
}

/* Copies one tensor's checked bytes into a new tensor, refusing NaN/Inf. */
static CxrTensor *
load_tensor (const Entry * e, const uint8_t * data, const char *file,
    GError ** error)
{
  CxrTensor *t = tensor_new (e->name, e->ndim, e->shape);
  int64_t i;

  if (t == NULL) {
    set_error (error, CXR_ERROR_TOO_LARGE, file,
        "not enough memory for tensor '%s'", e->name);
    return NULL;
  }
  for (i = 0; i < e->numel; i++) {
    float v = get_f32_le (data + e->begin + 4 * i);

    if (!isfinite (v)) {
      set_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' holds a non-finite value (%s) at element %"
          G_GINT64_FORMAT, e->name, isnan (v) ? "NaN" : v > 0 ? "+Inf" :
          "-Inf", i);
      tensor_free (t);
      return NULL;
    }
    t->data[i] = v;
  }
  return t;
}

CxrModelFile *
cxr_model_file_parse (const uint8_t * bytes, size_t size, const char *name,
    GError ** error)
{
  guint64 header_len, data_size;
  const uint8_t *data;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *meta;
  GList *members, *l;
  Entry *entries;
  guint count, i;
  CxrModelFile *m = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (bytes != NULL || size == 0, NULL);
  if (name == NULL)
    name = "<memory>";

  if (size < 8) {
    set_error (error, CXR_ERROR_CORRUPT, name,
        "file is %" G_GSIZE_FORMAT " bytes long, too short to hold the "
        "8-byte header length", size);
    return NULL;
  }
  header_len = get_u64_le (bytes);
  if (header_len == 0) {
    set_error (error, CXR_ERROR_CORRUPT, name, "header length is 0");
    return NULL;
  }
  if (header_len > CXR_MODEL_MAX_HEADER) {
    set_error (error, CXR_ERROR_CORRUPT, name,
        "header length %" G_GUINT64_FORMAT " is larger than the limit of %d "
        "bytes", header_len, CXR_MODEL_MAX_HEADER);
    return NULL;
  }
  if (header_len > size - 8) {
    set_error (error, CXR_ERROR_CORRUPT, name,
        "header length %" G_GUINT64_FORMAT " but only %" G_GSIZE_FORMAT
        " bytes follow it (file truncated?)", header_len, size - 8);
    return NULL;
  }
  data = bytes + 8 + header_len;
  data_size = size - 8 - header_len;

  root = parse_header ((const char *) bytes + 8, header_len, name, error);
  if (root == NULL)
    return NULL;
  obj = json_node_get_object (root);

  /* Count before looking at any entry, so a huge header costs nothing. */
  meta = json_object_get_member (obj, "__metadata__");
  count = json_object_get_size (obj) - (meta != NULL ? 1 : 0);
  if (count > CXR_MODEL_MAX_TENSORS) {
    set_error (error, CXR_ERROR_CORRUPT, name,
        "header lists %u tensors, more than the %d allowed", count,
        CXR_MODEL_MAX_TENSORS);
    json_node_unref (root);
    return NULL;
  }

  m = cxr_model_file_new ();
  if (meta != NULL && !parse_metadata (meta, m, name, error)) {
    cxr_model_file_free (m);
    json_node_unref (root);
    return NULL;
  }

  entries = g_new0 (Entry, MAX (count, 1));
  members = json_object_get_members (obj);
  i = 0;
  for (l = members; l != NULL && ok; l = l->next) {
    const char *key = l->data;

    if (strcmp (key, "__metadata__") == 0)
      continue;
    entries[i].order = i;
    ok = parse_entry (key, json_object_get_member (obj, key), data_size,
        &entries[i], name, error);
    i++;
  }
  g_list_free (members);

  if (ok) {
    qsort (entries, count, sizeof (Entry), entry_compare);
    ok = check_coverage (entries, count, data_size, name, error);
  }
  for (i = 0; i < count && ok; i++) {
    CxrTensor *t = load_tensor (&entries[i], data, name, error);

    if (t == NULL)
      ok = FALSE;
    else
      g_ptr_array_add (m->tensors, t);
  }

  g_free (entries);
  json_node_unref (root);
  if (!ok) {
    cxr_model_file_free (m);
    return NULL;
  }
  return m;
}

static void
set_io_error (GError ** error, const char *what, const char *path, int errsv)
{
  g_set_error (error, CXR_ERROR, CXR_ERROR_IO, "%s: %s: %s", path, what,
      g_strerror (errsv));
}

CxrModelFile *
cxr_model_file_read (const char *path, GError ** error)
{
  struct stat st;
  uint8_t *bytes;
  size_t size, got = 0;
  CxrModelFile *m;
  int fd, errsv;

  g_return_val_if_fail (path != NULL, NULL);

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_io_error (error, "cannot open", path, errno);
    return NULL;
  }
  if (fstat (fd, &st) != 0) {
    errsv = errno;
    close (fd);
    set_io_error (error, "cannot stat", path, errsv);
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    close (fd);
    g_set_error (error, CXR_ERROR, CXR_ERROR_IO, "%s: not a regular file",
        path);
    return NULL;
  }
  if (st.st_size > CXR_MODEL_MAX_FILE) {
    close (fd);
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "%s: file is %" G_GINT64_FORMAT " bytes, larger than the %"
        G_GINT64_FORMAT " bytes we agree to read", path,
        (gint64) st.st_size, CXR_MODEL_MAX_FILE);
    return NULL;
  }

  size = st.st_size;
  bytes = g_try_malloc (MAX (size, 1));
  if (bytes == NULL) {
    close (fd);
    g_set_error (error, CXR_ERROR, CXR_ERROR_TOO_LARGE,
        "%s: not enough memory to read %" G_GSIZE_FORMAT " bytes", path, size);
    return NULL;
  }
  /* If the file shrinks while we read, parse what we got: the checks
   * report it as truncated. */
  while (got < size) {
    ssize_t r = read (fd, bytes + got, size - got);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      errsv = errno;
      close (fd);
      g_free (bytes);
      set_io_error (error, "cannot read", path, errsv);
      return NULL;
    }
    if (r == 0)
      break;
    got += r;
  }
  close (fd);

  m = cxr_model_file_parse (bytes, got, path, error);
  g_free (bytes);
  if (m)
    m->source = st;
  return m;
}

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
      set_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "metadata holds text that is not valid UTF-8");
      return FALSE;
    }
  }
  if (m->tensors->len > CXR_MODEL_MAX_TENSORS) {
    set_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
        "model has %u tensors, more than the %d allowed", m->tensors->len,
        CXR_MODEL_MAX_TENSORS);
    return FALSE;
  }
  names = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; i < m->tensors->len && ok; i++) {
    const CxrTensor *t = g_ptr_array_index (m->tensors, i);
    int64_t j;

    if (t->name == NULL || !name_is_valid (t->name)
        || !g_hash_table_add (names, t->name)) {
      set_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "tensor %u has an empty, too long, reserved or repeated name", i);
      ok = FALSE;
      break;
    }
    if (t->ndim < 0 || t->ndim > CXR_MODEL_MAX_DIMS
        || shape_numel (t->ndim, t->shape) != t->numel
        || (t->numel > 0 && t->data == NULL)) {
      set_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
          "tensor '%s' has an inconsistent shape or no data", t->name);
      ok = FALSE;
      break;
    }
    total += t->numel * 4;
    if (total > (guint64) CXR_MODEL_MAX_FILE) {
      set_error (error, CXR_ERROR_TOO_LARGE, path,
          "tensor data exceeds the %" G_GINT64_FORMAT " bytes the reader "
          "accepts", CXR_MODEL_MAX_FILE);
      ok = FALSE;
      break;
    }
    for (j = 0; j < t->numel; j++) {
      if (!isfinite (t->data[j])) {
        set_error (error, CXR_ERROR_INVALID_ARGUMENT, path,
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
    set_error (error, CXR_ERROR_TOO_LARGE, path,
        "header would be %" G_GSIZE_FORMAT " bytes, more than the %d the "
        "reader accepts (too much metadata?)", header_len,
        CXR_MODEL_MAX_HEADER);
    g_free (header);
    return FALSE;
  }

  tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    set_io_error (error, "cannot create a temporary file beside it", path,
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
    set_io_error (error, what, path, errsv);
    return FALSE;
  }
  g_free (tmp);

  dir = g_path_get_dirname (path);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || (fsync (dfd) != 0 && errno != EINVAL)) {
    set_io_error (error, "written, but cannot fsync its directory", path,
        errno);
    ok = FALSE;
  }
  if (dfd >= 0)
    close (dfd);
  g_free (dir);
  return ok;
}
