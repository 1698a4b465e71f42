/* modelread.c — reading F32 safetensors files, trusting nothing in them.
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

#include "modelfileprivate.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "header is not valid UTF-8 text");
    return NULL;
  }
  if ((problem = header_text_problem (json, len)) != NULL) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "header contains %s", problem);
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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "header is not valid JSON (%s)",
        err->message);
    g_error_free (err);
  } else if (d.duplicate != NULL) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "header has the key '%s' twice in one object", d.duplicate);
  } else if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "header is not a JSON object");
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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "__metadata__ is not a JSON object");
    return FALSE;
  }
  obj = json_node_get_object (node);
  keys = json_object_get_members (obj);
  for (l = keys; l != NULL && ok; l = l->next) {
    JsonNode *v = json_object_get_member (obj, l->data);

    if (!JSON_NODE_HOLDS_VALUE (v)
        || json_node_get_value_type (v) != G_TYPE_STRING) {
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "a tensor has an empty name");
    return FALSE;
  }
  if (strlen (name) > CXR_MODEL_MAX_NAME) {
    gchar *start = g_utf8_substring (name, 0, 32);

    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor name '%s...' is %" G_GSIZE_FORMAT " bytes long, more than "
        "the %d allowed", start, strlen (name), CXR_MODEL_MAX_NAME);
    g_free (start);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' is not a JSON object", name);
    return FALSE;
  }
  obj = json_node_get_object (node);

  /* dtype */
  n = json_object_get_member (obj, "dtype");
  if (n == NULL) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has no dtype",
        name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a dtype that is not a string", name);
    return FALSE;
  }
  dtype = json_node_get_string (n);
  if (strcmp (dtype, "F32") != 0) {
    cxr_model_file_error (error, CXR_ERROR_UNSUPPORTED, file,
        "tensor '%s' has dtype '%s', which is not supported (only F32 is)",
        name, dtype);
    return FALSE;
  }

  /* shape */
  n = json_object_get_member (obj, "shape");
  if (n == NULL) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has no shape",
        name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a shape that is not an array", name);
    return FALSE;
  }
  arr = json_node_get_array (n);
  len = json_array_get_length (arr);
  if (len > CXR_MODEL_MAX_DIMS) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has a shape of %u dimensions, more than the %d allowed",
        name, len, CXR_MODEL_MAX_DIMS);
    return FALSE;
  }
  e->ndim = len;
  for (i = 0; i < len; i++) {
    n = json_array_get_element (arr, i);
    if (!node_is_int (n)) {
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' has shape dimension %u that is not an integer",
          name, i);
      return FALSE;
    }
    e->shape[i] = json_node_get_int (n);
    if (e->shape[i] < 0) {
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' has negative shape dimension %u (%" G_GINT64_FORMAT
          ")", name, i, e->shape[i]);
      return FALSE;
    }
  }
  e->numel = cxr_shape_numel (e->ndim, e->shape);
  if (e->numel < 0) {
    shape_str = cxr_shape_to_string (e->ndim, e->shape);
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has shape %s whose element count overflows", name,
        shape_str);
    g_free (shape_str);
    return FALSE;
  }

  /* data_offsets */
  n = json_object_get_member (obj, "data_offsets");
  if (n == NULL) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has no data_offsets", name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (json_node_get_array (n)) != 2
      || !node_is_int (json_array_get_element (json_node_get_array (n), 0))
      || !node_is_int (json_array_get_element (json_node_get_array (n), 1))) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets that are not two integers", name);
    return FALSE;
  }
  arr = json_node_get_array (n);
  e->begin = json_array_get_int_element (arr, 0);
  e->end = json_array_get_int_element (arr, 1);
  if (e->begin < 0 || e->end < 0) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has negative data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "]", name, e->begin, e->end);
    return FALSE;
  }
  if (e->begin > e->end) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] that begin after they end", name, e->begin, e->end);
    return FALSE;
  }
  if ((guint64) e->end > data_size) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
        "tensor '%s' has data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] beyond the end of the %" G_GUINT64_FORMAT
        "-byte data region (is the file truncated?)", name, e->begin, e->end,
        data_size);
    return FALSE;
  }
  /* numel * 4 cannot overflow: shape_numel bounds numel by G_MAXINT64 / 4. */
  if (e->end - e->begin != e->numel * 4) {
    shape_str = cxr_shape_to_string (e->ndim, e->shape);
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
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
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
          "tensors '%s' and '%s' overlap (data_offsets [%" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT "] and [%" G_GINT64_FORMAT ", %"
          G_GINT64_FORMAT "])", entries[i - 1].name, e->name,
          entries[i - 1].begin, entries[i - 1].end, e->begin, e->end);
      return FALSE;
    }
    if (e->begin > pos) {
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
          "bytes %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT " of the data "
          "region belong to no tensor (a gap before tensor '%s')",
          pos, e->begin, e->name);
      return FALSE;
    }
    pos = e->end;
  }
  if ((guint64) pos != data_size) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
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
  CxrTensor *t = cxr_tensor_new (e->name, e->ndim, e->shape);
  int64_t i;

  if (t == NULL) {
    cxr_model_file_error (error, CXR_ERROR_TOO_LARGE, file,
        "not enough memory for tensor '%s'", e->name);
    return NULL;
  }
  for (i = 0; i < e->numel; i++) {
    float v = get_f32_le (data + e->begin + 4 * i);

    if (!isfinite (v)) {
      cxr_model_file_error (error, CXR_ERROR_CORRUPT, file,
          "tensor '%s' holds a non-finite value (%s) at element %"
          G_GINT64_FORMAT, e->name, isnan (v) ? "NaN" : v > 0 ? "+Inf" :
          "-Inf", i);
      cxr_tensor_free (t);
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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, name,
        "file is %" G_GSIZE_FORMAT " bytes long, too short to hold the "
        "8-byte header length", size);
    return NULL;
  }
  header_len = get_u64_le (bytes);
  if (header_len == 0) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, name, "header length is 0");
    return NULL;
  }
  if (header_len > CXR_MODEL_MAX_HEADER) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, name,
        "header length %" G_GUINT64_FORMAT " is larger than the limit of %d "
        "bytes", header_len, CXR_MODEL_MAX_HEADER);
    return NULL;
  }
  if (header_len > size - 8) {
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, name,
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
    cxr_model_file_error (error, CXR_ERROR_CORRUPT, name,
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
    cxr_model_file_io_error (error, "cannot open", path, errno);
    return NULL;
  }
  if (fstat (fd, &st) != 0) {
    errsv = errno;
    close (fd);
    cxr_model_file_io_error (error, "cannot stat", path, errsv);
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
      cxr_model_file_io_error (error, "cannot read", path, errsv);
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
