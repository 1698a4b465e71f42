/* model.c — CxrModel to and from safetensors, with every check. */
#include "model.h"
#include "number.h"
#include "heatmap.h"
#include "error.h"
#include "net.h"
#include "augment.h"
#include "ood.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CxrModel *
model_alloc (CxrNetSpec *spec)
{
  CxrModel *m = g_new0 (CxrModel, 1);
  m->spec = spec;
  m->n_members = 1;
  m->params = g_new0 (float, spec->n_floats);
  m->threshold = 0.5f;
  m->norm.mean = 0.0f;
  m->norm.std = 1.0f;
  m->logit_scale = 1.0f;
  m->provenance = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return m;
}

CxrModel *
cxr_model_new_named (const char *architecture, const char *classes, int side,
    uint64_t seed, GError **error)
{
  const char *spec = !g_strcmp0 (architecture, "default") ? CXR_SPEC_DEFAULT :
      !g_strcmp0 (architecture, "seed") ? CXR_SPEC_SEED : architecture;
  char **names = g_strsplit (classes ? classes : "", ",", -1);
  CxrModel *model;

  for (int i = 0; names[i]; i++)
    g_strstrip (names[i]);
  model = cxr_model_new (spec ? spec : "", 1, side, side,
      (const char *const *) names, seed, error);
  g_strfreev (names);
  return model;
}

void
cxr_model_free (CxrModel *m)
{
  if (!m)
    return;
  cxr_net_spec_free (m->spec);
  g_free (m->params);
  g_strfreev (m->classes);
  g_hash_table_unref (m->provenance);
  cxr_feature_stats_free (m->ood);
  g_free (m);
}

static gboolean
check_classes (char **classes, const CxrNetSpec *spec, const char *name,
    GError **error)
{
  guint n = classes ? g_strv_length (classes) : 0;

  if ((int) n != spec->n_classes) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: %u class names for a network with %d classes", name, n,
        spec->n_classes);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    if (!classes[i][0] || strchr (classes[i], ',')
        || !g_utf8_validate (classes[i], -1, NULL)) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
          "%s: class name %u is empty, contains a comma or is not UTF-8",
          name, i);
      return FALSE;
    }
    for (guint j = 0; j < i; j++)
      if (strcmp (classes[i], classes[j]) == 0) {
        g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
            "%s: class name '%s' appears twice", name, classes[i]);
        return FALSE;
      }
  }
  return TRUE;
}

void
cxr_model_update_id (CxrModel *m)
{
  /* FNV-1a over the weights: the same weights always show the same id */
  guint64 h = 0xcbf29ce484222325ull;
  const guint8 *b = (const guint8 *) m->params;
  size_t n = m->n_members * m->spec->n_floats * sizeof (float);
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  g_snprintf (m->id, sizeof m->id, "%08x", (guint32) (h ^ (h >> 32)));
}

void
cxr_model_set_members (CxrModel *m, int n)
{
  size_t floats = m->spec->n_floats;

  g_return_if_fail (n >= 1 && n <= CXR_MAX_MEMBERS);
  m->params = g_renew (float, m->params, n * floats);
  for (int k = m->n_members; k < n; k++)
    memcpy (cxr_model_member (m, k), m->params, floats * sizeof (float));
  /* statistics of other members say nothing of these */
  if (n != m->n_members) {
    cxr_feature_stats_free (m->ood);
    m->ood = NULL;
  }
  m->n_members = n;
  cxr_model_update_id (m);
}

/* a member's tensor name: plain for a single network */
static char *
member_tensor_name (int n_members, int k, const char *name)
{
  return n_members == 1 ? g_strdup (name) :
      g_strdup_printf ("member%d.%s", k, name);
}

CxrModel *
cxr_model_new (const char *layers, int in_c, int in_h, int in_w,
    const char *const *classes, uint64_t seed, GError **error)
{
  CxrNetSpec *spec = cxr_net_spec_parse (layers, in_c, in_h, in_w, error);
  CxrModel *m;

  if (!spec)
    return NULL;
  m = model_alloc (spec);
  m->classes = g_strdupv ((char **) classes);
  if (!check_classes (m->classes, spec, "new model", error)) {
    cxr_model_free (m);
    return NULL;
  }
  cxr_net_spec_init_params (spec, m->params, seed);
  cxr_model_update_id (m);
  return m;
}

int
cxr_model_class_index (const CxrModel *m, const char *name)
{
  for (int i = 0; m->classes[i]; i++)
    if (strcmp (m->classes[i], name) == 0)
      return i;
  return -1;
}

static gboolean
parse_float (const char *s, float *out)
{
  char *end;
  double v;

  if (!s)
    return FALSE;
  /* the file's numbers have a '.' whatever the locale */
  v = g_ascii_strtod (s, &end);
  *out = (float) v;
  return end != s && *end == '\0' && isfinite (*out);
}

static const char *required[] = { "format", "layers", "input", "normalization",
  "classes", "threshold", NULL
};

/* tensor `tname` of the file if it has exactly ndim dims of these sizes */
static const CxrTensor *
find_shaped (const CxrModelFile *f, const char *tname, int ndim,
    const int64_t *shape)
{
  const CxrTensor *t = cxr_model_file_find (f, tname);

  if (!t || t->ndim != ndim)
    return NULL;
  for (int d = 0; d < ndim; d++)
    if (t->shape[d] != shape[d])
      return NULL;
  return t;
}

/* TRUE if the file has every member's tensors with the exact shapes the
 * spec gives them. Checked before the weights are allocated, so that the
 * metadata of a small file cannot ask for gigabytes. */
static gboolean
check_members (const CxrNetSpec *spec, int n_members, const CxrModelFile *f,
    const char *name, GError **error)
{
  for (int k = 0; k < n_members; k++)
    for (int i = 0; i < spec->n_params; i++) {
      const CxrParamInfo *p = &spec->params[i];
      char *tname = member_tensor_name (n_members, k, p->name);
      gboolean found = find_shaped (f, tname, p->ndim, p->shape) != NULL;

      if (!found)
        g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
            !cxr_model_file_find (f, tname) ?
            "%s: tensor '%s' that the layer spec needs is missing" :
            "%s: tensor '%s' does not have the shape the layer spec gives it",
            name, tname);
      g_free (tname);
      if (!found)
        return FALSE;
    }
  return TRUE;
}

/* copies every member's tensors, which check_members has found; *used: how
 * many that is */
static gboolean
read_members (CxrModel *m, const CxrModelFile *f, const char *name,
    guint *used, GError **error)
{
  const CxrNetSpec *spec = m->spec;

  for (int k = 0; k < m->n_members; k++)
    for (int i = 0; i < spec->n_params; i++) {
      const CxrParamInfo *p = &spec->params[i];
      char *tname = member_tensor_name (m->n_members, k, p->name);
      const CxrTensor *t = cxr_model_file_find (f, tname);
      float *dst = cxr_model_member (m, k) + p->offset;

      memcpy (dst, t->data, p->numel * sizeof (float));
      if (p->kind == CXR_PARAM_BN_VAR)
        for (int64_t j = 0; j < p->numel; j++)
          if (t->data[j] < 0.0f) {
            g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
                "%s: tensor '%s' holds a negative variance", name, tname);
            g_free (tname);
            return FALSE;
          }
      g_free (tname);
      (*used)++;
    }
  return TRUE;
}

/* The out-of-distribution statistics, when the file has them: tensors
 * ood.mean [members, dim] and ood.precision [members, dim, dim], dim the
 * pooled features of the spec, and metadata ood_threshold; *used counts
 * the tensors. */
static gboolean
read_feature_stats (CxrModel *m, const CxrModelFile *f, const char *name,
    guint *used, GError **error)
{
  const char *threshold = cxr_model_file_get_meta (f, "ood_threshold");
  int layer = cxr_model_feature_layer (m);
  int64_t dim = layer >= 0 ? m->spec->layers[layer].out_c : 0;
  int64_t mean_shape[2] = { m->n_members, dim };
  int64_t precision_shape[3] = { m->n_members, dim, dim };
  const CxrTensor *mean, *precision;
  float t;

  if (!threshold && !cxr_model_file_find (f, "ood.mean")
      && !cxr_model_file_find (f, "ood.precision"))
    return TRUE;                /* written without them */
  mean = find_shaped (f, "ood.mean", 2, mean_shape);
  precision = find_shaped (f, "ood.precision", 3, precision_shape);
  if (layer < 0 || !mean || !precision || !parse_float (threshold, &t)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: the out-of-distribution statistics are incomplete: they need "
        "tensors ood.mean [%d, %" G_GINT64_FORMAT "] and ood.precision [%d, %"
        G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] and a number ood_threshold%s",
        name, m->n_members, dim, m->n_members, dim, dim,
        layer < 0 ? ", and a spec with a global-average-pool layer" : "");
    return FALSE;
  }
  m->ood = cxr_feature_stats_new (m->n_members, (int) dim, mean->data,
      precision->data, t, error);
  if (!m->ood) {
    g_prefix_error (error, "%s: ", name);
    return FALSE;
  }
  *used += 2;
  return TRUE;
}

/* "DX,DY DX,DY ...": one pair for each of m's members, each within a pixel */
static gboolean
parse_member_offsets (CxrModel *m, const char *text, const char *name,
    GError **error)
{
  char **pairs = g_strsplit (text, " ", -1);
  gboolean ok = (int) g_strv_length (pairs) == m->n_members;

  for (int k = 0; ok && k < m->n_members; k++) {
    char **xy = g_strsplit (pairs[k], ",", -1);

    ok = g_strv_length (xy) == 2;
    for (int i = 0; ok && i < 2; i++)
      ok = parse_float (xy[i], &m->member_offset[k][i])
          && fabsf (m->member_offset[k][i]) <= 1.0f;
    g_strfreev (xy);
  }
  g_strfreev (pairs);
  if (!ok)
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: member_offsets '%s' is not %d pairs DX,DY within a pixel", name,
        text, m->n_members);
  return ok;
}

/* a single network is never moved: the offsets are an ensemble's */
gboolean
cxr_model_has_member_offsets (const CxrModel *m)
{
  for (int k = 0; m->n_members > 1 && k < m->n_members; k++)
    if (m->member_offset[k][0] != 0.0f || m->member_offset[k][1] != 0.0f)
      return TRUE;
  return FALSE;
}

CxrModel *
cxr_model_from_file (const CxrModelFile *f, const char *name, GError **error)
{
  const char *format = cxr_model_file_get_meta (f, "format");
  const char *input = cxr_model_file_get_meta (f, "input");
  const char *norm = cxr_model_file_get_meta (f, "normalization");
  const char *members = cxr_model_file_get_meta (f, "members");
  const char *film = cxr_model_file_get_meta (f, "film_normalization");
  const char *calibration = cxr_model_file_get_meta (f, "logit_calibration");
  const char *input_blur = cxr_model_file_get_meta (f, "input_blur");
  const char *offsets = cxr_model_file_get_meta (f, "member_offsets");
  float logit_scale = 1.0f, logit_offset = 0.0f, blur = 0.0f;
  int film_kind = CXR_FILM_NONE;
  int in_c, in_h, in_w, n_members = 1;
  char extra;
  float mean, std, threshold;
  char **parts;
  CxrNetSpec *spec;
  CxrModel *m;

  for (int i = 0; required[i]; i++)
    if (!cxr_model_file_get_meta (f, required[i])) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
          "%s: not a gst-cxr model (metadata '%s' is missing)", name,
          required[i]);
      return NULL;
    }
  if (strcmp (format, CXR_MODEL_FORMAT) != 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "%s: model format '%s' is not '%s'", name, format, CXR_MODEL_FORMAT);
    return NULL;
  }
  if (sscanf (input, "%dx%dx%d%c", &in_c, &in_h, &in_w, &extra) != 3) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: input shape '%s' is not CxHxW", name, input);
    return NULL;
  }
  parts = g_strsplit (norm, " ", -1);
  gboolean norm_ok = g_strv_length (parts) == 2 && parse_float (parts[0], &mean)
      && parse_float (parts[1], &std) && std > 0.0f;
  g_strfreev (parts);
  if (!norm_ok) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: normalization '%s' is not 'MEAN STD' with STD > 0", name, norm);
    return NULL;
  }
  /* absent in files written before it existed: no film step */
  if (film && (film_kind = cxr_film_normalization_from_name (film)) < 0) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_UNSUPPORTED,
        "%s: film_normalization '%s' is not none, equalize or percentile",
        name, film);
    return NULL;
  }
  /* likewise: no blur */
  if (input_blur && (!parse_float (input_blur, &blur) || blur < 0.0f
          || blur > CXR_MAX_INPUT_BLUR)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: input_blur '%s' is not a sigma from 0 to %g pixels", name,
        input_blur, CXR_MAX_INPUT_BLUR);
    return NULL;
  }
  if (calibration) {
    parts = g_strsplit (calibration, " ", -1);
    gboolean calibration_ok = g_strv_length (parts) == 2
        && parse_float (parts[0], &logit_scale)
        && parse_float (parts[1], &logit_offset) && logit_scale > 0.0f;
    g_strfreev (parts);
    if (!calibration_ok) {
      g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
          "%s: logit_calibration '%s' is not 'SCALE OFFSET' with SCALE > 0",
          name, calibration);
      return NULL;
    }
  }
  if (!parse_float (cxr_model_file_get_meta (f, "threshold"), &threshold)
      || threshold < 0.0f || threshold > 1.0f) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: threshold is not a number between 0 and 1", name);
    return NULL;
  }
  if (members && (sscanf (members, "%d%c", &n_members, &extra) != 1
          || n_members < 2 || n_members > CXR_MAX_MEMBERS)) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: members '%s' is not a number from 2 to %d", name, members,
        CXR_MAX_MEMBERS);
    return NULL;
  }
  spec = cxr_net_spec_parse (cxr_model_file_get_meta (f, "layers"), in_c, in_h,
      in_w, error);
  if (!spec) {
    g_prefix_error (error, "%s: ", name);
    return NULL;
  }
  if (!check_members (spec, n_members, f, name, error)) {
    cxr_net_spec_free (spec);
    return NULL;
  }
  m = model_alloc (spec);
  m->norm.mean = mean;
  m->norm.std = std;
  m->norm.film = film_kind;
  m->norm.blur = blur;
  m->logit_scale = logit_scale;
  m->logit_offset = logit_offset;
  m->threshold = threshold;
  m->classes = g_strsplit (cxr_model_file_get_meta (f, "classes"), ",", -1);
  if (!check_classes (m->classes, spec, name, error))
    goto fail;

  cxr_model_set_members (m, n_members);
  if (offsets && !parse_member_offsets (m, offsets, name, error))
    goto fail;
  guint used = 0;
  if (!read_members (m, f, name, &used, error)
      || !read_feature_stats (m, f, name, &used, error))
    goto fail;
  if (used != f->tensors->len) {
    g_set_error (error, CXR_ERROR, CXR_ERROR_CORRUPT,
        "%s: %u tensors in the file, but the model uses %u", name,
        f->tensors->len, used);
    goto fail;
  }

  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, f->metadata);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (!g_strv_contains (required, key) && strcmp (key, "members") != 0
        && strcmp (key, "film_normalization") != 0
        && strcmp (key, "input_blur") != 0
        && strcmp (key, "member_offsets") != 0
        && strcmp (key, "ood_threshold") != 0
        && strcmp (key, "logit_calibration") != 0)
      g_hash_table_insert (m->provenance, g_strdup (key), g_strdup (value));
  cxr_model_update_id (m);
  return m;

fail:
  cxr_model_free (m);
  return NULL;
}

CxrModel *
cxr_model_copy (const CxrModel *model)
{
  const CxrNetSpec *spec = model->spec;
  CxrNetSpec *copy_spec = cxr_net_spec_parse (spec->text, spec->in_c,
      spec->in_h, spec->in_w, NULL);
  CxrModel *m;
  GHashTableIter it;
  gpointer key, value;

  g_return_val_if_fail (copy_spec != NULL, NULL);
  m = model_alloc (copy_spec);
  cxr_model_set_members (m, model->n_members);
  memcpy (m->params, model->params,
      (size_t) model->n_members * spec->n_floats * sizeof (float));
  m->classes = g_strdupv (model->classes);
  m->threshold = model->threshold;
  m->norm = model->norm;
  m->logit_scale = model->logit_scale;
  m->logit_offset = model->logit_offset;
  memcpy (m->member_offset, model->member_offset, sizeof m->member_offset);
  m->ood = cxr_feature_stats_copy (model->ood);
  g_hash_table_iter_init (&it, model->provenance);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_hash_table_insert (m->provenance, g_strdup (key), g_strdup (value));
  memcpy (m->id, model->id, sizeof m->id);
  return m;
}

void
cxr_model_clear_calibration (CxrModel *model)
{
  GHashTableIter it;
  gpointer key;

  model->logit_scale = 1.0f;
  model->logit_offset = 0.0f;
  g_hash_table_iter_init (&it, model->provenance);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (g_str_has_prefix (key, "calibration_"))
      g_hash_table_iter_remove (&it);
}

void
cxr_model_copy_calibration (CxrModel *dst, const CxrModel *src)
{
  GHashTableIter it;
  gpointer key, value;

  cxr_model_clear_calibration (dst);
  dst->logit_scale = src->logit_scale;
  dst->logit_offset = src->logit_offset;
  g_hash_table_iter_init (&it, src->provenance);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_str_has_prefix (key, "calibration_"))
      g_hash_table_replace (dst->provenance, g_strdup (key), g_strdup (value));
}

CxrModel *
cxr_model_load (const char *path, GError **error)
{
  CxrModelFile *f = cxr_model_file_read (path, error);
  CxrModel *m;

  if (!f)
    return NULL;
  m = cxr_model_from_file (f, path, error);
  cxr_model_file_free (f);
  return m;
}

gboolean
cxr_model_save (CxrModel *m, const char *path, GError **error)
{
  const CxrNetSpec *spec = m->spec;
  CxrModelFile *f = cxr_model_file_new ();
  char buf[CXR_NUMBER_SIZE * 2 + 2], a[CXR_NUMBER_SIZE], b[CXR_NUMBER_SIZE];
  char *s;
  gboolean ok;
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, m->provenance);
  while (g_hash_table_iter_next (&it, &key, &value))
    cxr_model_file_set_meta (f, key, value);
  cxr_model_file_set_meta (f, "format", CXR_MODEL_FORMAT);
  cxr_model_file_set_meta (f, "layers", spec->text);
  s = g_strdup_printf ("%dx%dx%d", spec->in_c, spec->in_h, spec->in_w);
  cxr_model_file_set_meta (f, "input", s);
  g_free (s);
  g_snprintf (buf, sizeof buf, "%s %s",
      cxr_number (a, CXR_NUMBER_FLOAT, m->norm.mean),
      cxr_number (b, CXR_NUMBER_FLOAT, m->norm.std));
  cxr_model_file_set_meta (f, "normalization", buf);
  s = g_strjoinv (",", m->classes);
  cxr_model_file_set_meta (f, "classes", s);
  g_free (s);
  cxr_model_file_set_meta (f, "threshold",
      cxr_number (buf, CXR_NUMBER_FLOAT, m->threshold));
  g_hash_table_remove (f->metadata, "film_normalization");
  if (m->norm.film != CXR_FILM_NONE)
    cxr_model_file_set_meta (f, "film_normalization",
        cxr_film_normalization_name (m->norm.film));
  g_hash_table_remove (f->metadata, "input_blur");
  if (m->norm.blur > 0.0f) {
    cxr_model_file_set_meta (f, "input_blur",
        cxr_number (buf, CXR_NUMBER_FLOAT, m->norm.blur));
  }
  g_hash_table_remove (f->metadata, "member_offsets");
  if (cxr_model_has_member_offsets (m)) {
    GString *text = g_string_new (NULL);

    for (int k = 0; k < m->n_members; k++)
      for (int i = 0; i < 2; i++) {
        g_string_append_printf (text, "%s%s", i ? "," : k ? " " : "",
            cxr_number (buf, CXR_NUMBER_FLOAT, m->member_offset[k][i]));
      }
    cxr_model_file_set_meta (f, "member_offsets", text->str);
    g_string_free (text, TRUE);
  }
  g_hash_table_remove (f->metadata, "logit_calibration");
  if (m->logit_scale != 1.0f || m->logit_offset != 0.0f) {
    g_snprintf (buf, sizeof buf, "%s %s",
        cxr_number (a, CXR_NUMBER_FLOAT, m->logit_scale),
        cxr_number (b, CXR_NUMBER_FLOAT, m->logit_offset));
    cxr_model_file_set_meta (f, "logit_calibration", buf);
  }
  g_hash_table_remove (f->metadata, "members");
  if (m->n_members > 1) {
    s = g_strdup_printf ("%d", m->n_members);
    cxr_model_file_set_meta (f, "members", s);
    g_free (s);
  }
  for (int k = 0; k < m->n_members; k++)
    for (int i = 0; i < spec->n_params; i++) {
      const CxrParamInfo *p = &spec->params[i];
      char *tname = member_tensor_name (m->n_members, k, p->name);
      cxr_model_file_add (f, tname, p->ndim, p->shape,
          cxr_model_member (m, k) + p->offset);
      g_free (tname);
    }
  g_hash_table_remove (f->metadata, "ood_threshold");
  if (m->ood) {
    int64_t mean_shape[2] = { m->ood->n_members, m->ood->dim };
    int64_t precision_shape[3] = { m->ood->n_members, m->ood->dim,
      m->ood->dim
    };
    cxr_model_file_add (f, "ood.mean", 2, mean_shape, m->ood->mean);
    cxr_model_file_add (f, "ood.precision", 3, precision_shape,
        m->ood->precision);
    cxr_model_file_set_meta (f, "ood_threshold",
        cxr_number (buf, CXR_NUMBER_FLOAT, m->ood->threshold));
  }
  ok = cxr_model_file_write (f, path, error);
  cxr_model_file_free (f);
  return ok;
}

void
cxr_model_set_member_offsets (CxrModel *m)
{
  static const float diagonal[4][2] = {
    {0.5f, 0.5f}, {-0.5f, -0.5f}, {0.5f, -0.5f}, {-0.5f, 0.5f}
  };

  for (int k = 0; k < CXR_MAX_MEMBERS; k++) {
    m->member_offset[k][0] = diagonal[k % 4][0];
    m->member_offset[k][1] = diagonal[k % 4][1];
  }
}

int
cxr_model_feature_layer (const CxrModel *m)
{
  for (int k = m->spec->n_layers - 1; k >= 0; k--)
    if (m->spec->layers[k].type == CXR_LAYER_GAP)
      return k;
  return -1;
}
