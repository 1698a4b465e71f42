/* Layer spec, model file checks and engine behaviour that PyTorch cannot
 * tell us: shapes, every way a model can be refused, determinism, batch
 * invariance. */
#include "error.h"
#include "ensemble.h"
#include "model.h"
#include "augment.h"
#include "loss.h"
#include "net.h"
#include "optim.h"

#include <glib/gstdio.h>
#include <math.h>
#include <omp.h>
#include <string.h>

static const char *classes[] = { "NORMAL", "PNEUMONIA", NULL };

static void
test_seed_shapes (void)
{
  GError *error = NULL;
  CxrNetSpec *s = cxr_net_spec_parse (CXR_SPEC_SEED, 1, 124, 124, &error);
  /* 124 -conv3-> 122 -pool-> 61 -conv3-> 59 -pool-> 29 -conv3-> 27 -pool-> 13 */
  static const int sides[] = { 122, 122, 61, 59, 59, 29, 27, 27, 13, 13, 1, 1 };

  g_assert_no_error (error);
  g_assert_cmpint (s->n_layers, ==, 12);
  for (int k = 0; k < s->n_layers; k++)
    g_assert_cmpint (s->layers[k].out_h, ==, sides[k]);
  g_assert_cmpint (s->layers[10].in_c * s->layers[10].in_h * s->layers[10].in_w,
      ==, 128 * 13 * 13);
  /* conv 32*9+32, 64*32*9+64, 128*64*9+128; dense 21632*128+128, 128+1 */
  g_assert_cmpint (cxr_net_spec_count_trainable (s), ==,
      320 + 18496 + 73856 + 2769024 + 129);
  g_assert_true (s->layers[0].relu);
  g_assert_cmpint (s->output, ==, CXR_OUTPUT_SIGMOID);
  g_assert_cmpint (s->n_classes, ==, 2);
  cxr_net_spec_free (s);
}

static void
test_default_shapes (void)
{
  GError *error = NULL;
  CxrNetSpec *s = cxr_net_spec_parse (CXR_SPEC_DEFAULT, 1, 124, 124, &error);

  g_assert_no_error (error);
  /* stride 2 with padding 1: (124 + 2 - 3) / 2 + 1 = 62 */
  g_assert_cmpint (s->layers[0].out_h, ==, 62);
  g_assert_cmpint (s->layers[2].out_h, ==, 31);
  g_assert_cmpint (s->layers[4].out_h, ==, 15);
  g_assert_cmpint (s->layers[6].out_h, ==, 7);
  g_assert_cmpint (s->layers[8].type, ==, CXR_LAYER_GAP);
  g_assert_cmpint (s->layers[8].out_h, ==, 1);
  g_assert_true (s->layers[0].batch_norm);
  /* batch-norm layers have no bias but four statistics tensors */
  g_assert_cmpint (s->layers[0].n_params, ==, 5);
  g_assert_cmpstr (s->params[0].name, ==, "layer0.weight");
  g_assert_false (s->params[3].trainable);      /* bn_mean */
  cxr_net_spec_free (s);
}

static void
test_bad_specs (void)
{
  static const char *bad[] = {
    "", "relu dense:1 sigmoid", "conv:8 relu", "conv:8 dense:2 sigmoid",
    "conv:8 dense:1 softmax", "conv:8 wobble dense:1 sigmoid",
    "conv:0 dense:1 sigmoid", "conv:8,k200 dense:1 sigmoid",
    "dropout:1 dense:1 sigmoid", "dropout:x dense:1 sigmoid",
    "maxpool:2,p2 dense:1 sigmoid", "dense:1 sigmoid dense:1",
    "dense:4 conv:8 dense:1 sigmoid", "dense:1 relu sigmoid",
    "conv:8,bn,bogus dense:1 sigmoid", "conv:4 gap dense:17 softmax",
    /* 77 million values out of one layer, for one image */
    "conv:5000,same gap dense:1 sigmoid", NULL
  };
  for (int i = 0; bad[i]; i++) {
    GError *error = NULL;
    CxrNetSpec *s = cxr_net_spec_parse (bad[i], 1, 124, 124, &error);
    if (s)
      g_error ("spec '%s' was accepted", bad[i]);
    g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, "layer spec: "));
    g_error_free (error);
  }
}

/* ---- model files ---- */

static char *
temp_path (const char *name)
{
  static char *dir;
  if (!dir)
    dir = g_dir_make_tmp ("cxr-test-XXXXXX", NULL);
  return g_build_filename (dir, name, NULL);
}

static void
test_model_round_trip (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 5,
      &error), *back;
  char *path = temp_path ("round.safetensors");

  g_assert_no_error (error);
  m->threshold = 0.37f;
  m->norm.mean = 0.48f;
  m->norm.std = 0.24f;
  g_hash_table_insert (m->provenance, g_strdup ("epochs"), g_strdup ("12"));
  g_assert_true (cxr_model_save (m, path, &error));
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->spec->text, ==, CXR_SPEC_DEFAULT);
  g_assert_cmpmem (back->params, back->spec->n_floats * sizeof (float),
      m->params, m->spec->n_floats * sizeof (float));
  g_assert_cmpstr (back->id, ==, m->id);
  g_assert_cmpfloat (back->threshold, ==, 0.37f);
  g_assert_cmpfloat (back->norm.mean, ==, 0.48f);
  g_assert_cmpfloat (back->norm.std, ==, 0.24f);
  g_assert_cmpstr (back->classes[1], ==, "PNEUMONIA");
  g_assert_cmpstr (g_hash_table_lookup (back->provenance, "epochs"), ==, "12");
  g_assert_cmpint (cxr_model_class_index (back, "NORMAL"), ==, 0);
  /* written before film normalisation and site calibration existed: none */
  g_assert_cmpint (back->norm.film, ==, CXR_FILM_NONE);
  g_assert_cmpfloat (back->logit_scale, ==, 1.0f);
  g_assert_cmpfloat (back->logit_offset, ==, 0.0f);
  g_assert_null (g_hash_table_lookup (back->provenance, "film_normalization"));
  g_assert_null (back->ood);
  /* the id follows the weights */
  back->params[0] += 1.0f;
  cxr_model_update_id (back);
  g_assert_cmpstr (back->id, !=, m->id);
  cxr_model_free (m);
  cxr_model_free (back);
  g_free (path);
}

typedef void (*Corrupt) (CxrModelFile *f);

static void drop_tensor (CxrModelFile *f)
{
  g_ptr_array_remove_index (f->tensors, 1);
}

static void wrong_shape (CxrModelFile *f)
{
  CxrTensor *t = cxr_model_file_find (f, "layer0.weight");
  t->shape[0] = 16;             /* same element count, other shape */
  t->shape[1] = 2;
}

static void extra_tensor (CxrModelFile *f)
{
  int64_t shape[1] = { 3 };
  cxr_model_file_add (f, "layer99.weight", 1, shape, NULL);
}

static void no_layers (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "layers", NULL);
}

static void bad_layers (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "layers", "conv:8 wobble dense:1 sigmoid");
}

static void other_format (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "format", "gst-cxr-model 99");
}

static void bad_input (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "input", "1x124");
}

static void other_input (CxrModelFile *f)
{
  /* a valid shape the weights do not fit: dense weights change size */
  cxr_model_file_set_meta (f, "input", "1x100x100");
}

static void three_classes (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "classes", "A,B,C");
}

static void same_classes (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "classes", "A,A");
}

static void bad_threshold (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "threshold", "1.5");
}

static void bad_normalization (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "normalization", "0.5 0");
}

static void bad_film_normalization (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "film_normalization", "clahe");
}

static void bad_logit_calibration (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "logit_calibration", "-1 0.5");
}

static void bad_input_blur (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "input_blur", "-0.5");
}

/* a single network's file with two members' offsets */
static void too_many_offsets (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "member_offsets", "0.5,0.5 -0.5,-0.5");
}

static void far_offset (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "member_offsets", "2,0");
}

/* 16 networks of 0.9e9 weights each: 59 GB that a 10 KB file must not get
 * allocated before its tensors are found missing */
static void huge_layers (CxrModelFile *f)
{
  cxr_model_file_set_meta (f, "layers", "flatten dense:60000 dense:1 sigmoid");
  cxr_model_file_set_meta (f, "members", "16");
}

static void negative_variance (CxrModelFile *f)
{
  cxr_model_file_find (f, "layer0.bn_var")->data[3] = -1.0f;
}

/* m as saved, read back as a plain file to be corrupted */
static CxrModelFile *
saved_file (CxrModel *m)
{
  GError *error = NULL;
  char *good = temp_path ("good.safetensors");
  CxrModelFile *f;

  g_assert_true (cxr_model_save (m, good, &error));
  f = cxr_model_file_read (good, &error);
  g_assert_no_error (error);
  g_free (good);
  return f;
}

/* f, written out, is refused with a message naming the file and phrase */
static void
expect_refused (const CxrModelFile *f, const char *phrase)
{
  GError *error = NULL;
  char *bad = temp_path ("bad.safetensors");
  CxrModel *loaded;

  cxr_model_file_write (f, bad, &error);
  g_assert_no_error (error);
  loaded = cxr_model_load (bad, &error);
  g_assert_null (loaded);
  g_assert_nonnull (error);
  g_assert_true (error->domain == CXR_ERROR);
  if (!strstr (error->message, phrase) || !strstr (error->message, bad))
    g_error ("message '%s' lacks '%s' or the file name", error->message, phrase);
  g_error_free (error);
  g_free (bad);
}

static void
check_refused (Corrupt corrupt, const char *phrase)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (corrupt == negative_variance ?
      CXR_SPEC_DEFAULT : CXR_SPEC_SEED, 1, 124, 124, classes, 1, &error);
  CxrModelFile *f;

  g_assert_no_error (error);
  f = saved_file (m);
  corrupt (f);
  expect_refused (f, phrase);
  cxr_model_file_free (f);
  cxr_model_free (m);
}

static void
test_model_refused (void)
{
  check_refused (drop_tensor, "is missing");
  check_refused (wrong_shape, "does not have the shape");
  check_refused (extra_tensor, "tensors in the file");
  check_refused (no_layers, "metadata 'layers' is missing");
  check_refused (bad_layers, "wobble");
  check_refused (other_format, "gst-cxr-model 99");
  check_refused (bad_input, "is not CxHxW");
  check_refused (other_input, "does not have the shape");
  check_refused (three_classes, "3 class names");
  check_refused (same_classes, "appears twice");
  check_refused (bad_threshold, "threshold");
  check_refused (bad_normalization, "STD > 0");
  check_refused (bad_film_normalization, "'clahe' is not none");
  check_refused (bad_logit_calibration, "SCALE > 0");
  check_refused (bad_input_blur, "input_blur '-0.5'");
  check_refused (too_many_offsets, "is not 1 pairs");
  check_refused (far_offset, "within a pixel");
  check_refused (huge_layers, "'member0.layer1.weight' that the layer spec "
      "needs is missing");
  check_refused (negative_variance, "negative variance");
}

/* the film normalisation and the logit calibration travel in the file,
 * and neither ends up among the provenance keys */
static void
test_model_film_and_calibration (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 5,
      &error), *back;
  char *path = temp_path ("film.safetensors");
  CxrModelFile *f;

  g_assert_no_error (error);
  m->norm.film = CXR_FILM_EQUALIZE;
  m->norm.blur = 0.8f;
  m->logit_scale = 0.75f;
  m->logit_offset = -1.25f;
  g_assert_true (cxr_model_save (m, path, &error));
  f = cxr_model_file_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cxr_model_file_get_meta (f, "film_normalization"), ==,
      "equalize");
  g_assert_cmpstr (cxr_model_file_get_meta (f, "logit_calibration"), ==,
      "0.75 -1.25");
  g_assert_cmpstr (cxr_model_file_get_meta (f, "input_blur"), ==,
      "0.800000012");
  cxr_model_file_free (f);
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->norm.film, ==, CXR_FILM_EQUALIZE);
  g_assert_cmpfloat (back->norm.blur, ==, 0.8f);
  g_assert_cmpfloat (back->logit_scale, ==, 0.75f);
  g_assert_cmpfloat (back->logit_offset, ==, -1.25f);
  g_assert_null (g_hash_table_lookup (back->provenance, "film_normalization"));
  g_assert_null (g_hash_table_lookup (back->provenance, "logit_calibration"));
  g_assert_null (g_hash_table_lookup (back->provenance, "input_blur"));
  /* none again: the keys go */
  back->norm.film = CXR_FILM_NONE;
  back->norm.blur = 0.0f;
  back->logit_scale = 1.0f;
  back->logit_offset = 0.0f;
  g_assert_true (cxr_model_save (back, path, &error));
  f = cxr_model_file_read (path, &error);
  g_assert_null (cxr_model_file_get_meta (f, "film_normalization"));
  g_assert_null (cxr_model_file_get_meta (f, "logit_calibration"));
  g_assert_null (cxr_model_file_get_meta (f, "input_blur"));
  cxr_model_file_free (f);
  cxr_model_free (m);
  cxr_model_free (back);
  g_free (path);
}

static void
test_model_not_a_file (void)
{
  GError *error = NULL;
  char *path = temp_path ("absent.safetensors");
  g_assert_null (cxr_model_load (path, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_IO);
  g_error_free (error);
  g_free (path);
}

/* ---- ensembles ---- */

/* small, with batch-norm statistics among its tensors */
#define TINY "conv:4,s2,same,bn relu maxpool:2 gap dense:1 sigmoid"

/* a TINY model of n members, each with its own weights */
static CxrModel *
ensemble (int n, uint64_t seed)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (TINY, 1, 32, 32, classes, seed, &error);

  g_assert_no_error (error);
  cxr_model_set_members (m, n);
  g_assert_cmpint (m->n_members, ==, n);
  for (int k = 1; k < n; k++)
    cxr_net_spec_init_params (m->spec, cxr_model_member (m, k), seed + k);
  cxr_model_update_id (m);
  return m;
}

static void
test_ensemble_round_trip (void)
{
  GError *error = NULL;
  CxrModel *m = ensemble (3, 40), *back;
  const CxrNetSpec *spec = m->spec;
  size_t member_bytes = spec->n_floats * sizeof (float);
  char *path = temp_path ("ensemble.safetensors");
  CxrModelFile *f;

  /* the members really differ, or the checks below prove little */
  g_assert_true (memcmp (cxr_model_member (m, 1), cxr_model_member (m, 2),
          member_bytes) != 0);
  g_hash_table_insert (m->provenance, g_strdup ("epochs"), g_strdup ("7"));
  g_assert_true (cxr_model_save (m, path, &error));
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->n_members, ==, 3);
  g_assert_cmpmem (back->params, 3 * member_bytes, m->params,
      3 * member_bytes);
  g_assert_cmpstr (back->id, ==, m->id);
  g_assert_cmpstr (g_hash_table_lookup (back->provenance, "epochs"), ==, "7");
  /* "members" describes the file, it is not provenance */
  g_assert_false (g_hash_table_contains (back->provenance, "members"));

  /* on disk: the count, and each member's tensors under its own prefix */
  f = cxr_model_file_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cxr_model_file_get_meta (f, "members"), ==, "3");
  g_assert_cmpuint (f->tensors->len, ==, 3 * spec->n_params);
  for (int i = 0; i < spec->n_params; i++) {
    const CxrParamInfo *p = &spec->params[i];
    g_assert_null (cxr_model_file_find (f, p->name));
    for (int k = 0; k < 3; k++) {
      char *name = g_strdup_printf ("member%d.%s", k, p->name);
      CxrTensor *t = cxr_model_file_find (f, name);
      if (!t)
        g_error ("tensor '%s' is not in the file", name);
      g_assert_cmpmem (t->data, t->numel * sizeof (float),
          cxr_model_member (m, k) + p->offset, p->numel * sizeof (float));
      g_free (name);
    }
  }
  cxr_model_file_free (f);
  cxr_model_free (back);
  cxr_model_free (m);
  g_free (path);
}

/* member offsets travel in the file, and each member sees the input moved
 * by its own: the forward pass is the mean of the members on moved inputs,
 * which is not the plain mean */
static void
test_ensemble_offsets (void)
{
  GError *error = NULL;
  CxrModel *m = ensemble (3, 60), *back;
  const int px = 32 * 32, batch = 2;
  char *path = temp_path ("offsets.safetensors");
  float input[2 * 32 * 32], moved[2 * 32 * 32], z[2], want[2] = { 0 },
      got[2], plain[2], one_thread[2];
  CxrNet *nets[3];
  CxrModelFile *f;

  cxr_model_set_member_offsets (m);
  g_assert_true (cxr_model_save (m, path, &error));
  f = cxr_model_file_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cxr_model_file_get_meta (f, "member_offsets"), ==,
      "0.5,0.5 -0.5,-0.5 0.5,-0.5");
  cxr_model_file_free (f);
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (back->member_offset, 3 * sizeof back->member_offset[0],
      m->member_offset, 3 * sizeof m->member_offset[0]);
  g_assert_null (g_hash_table_lookup (back->provenance, "member_offsets"));

  for (int i = 0; i < batch * px; i++)
    input[i] = (float) ((i * 7919) % 101) / 50.0f - 1.0f;
  for (int k = 0; k < 3; k++) {
    nets[k] = cxr_net_new_inference (back->spec, cxr_model_member (back, k),
        batch, CXR_PRECISION_FP32, &error);
    g_assert_no_error (error);
    for (int b = 0; b < batch; b++)
      cxr_shift (input + b * px, moved + b * px, 32, 32,
          back->member_offset[k][0], back->member_offset[k][1]);
    g_assert_true (cxr_net_forward (nets[k], moved, z, 0, NULL));
    for (int b = 0; b < batch; b++)
      want[b] += z[b] / 3.0f;
  }
  g_assert_true (cxr_model_forward (back, nets, 3, input, got, NULL));
  g_assert_true (cxr_net_forward_mean (nets, 3, input, plain, NULL));
  for (int b = 0; b < batch; b++) {
    g_assert_cmpfloat_with_epsilon (got[b], want[b], 1e-5f);
    g_assert_cmpfloat (fabsf (got[b] - plain[b]), >, 1e-4f);
  }
  /* at batch 1 the members run side by side, a thread each: what they
   * give one after the other on one thread */
  CxrNet *singles[3];
  float side_by_side;
  int threads = omp_get_max_threads ();
  for (int k = 0; k < 3; k++) {
    singles[k] = cxr_net_new_inference (back->spec, cxr_model_member (back,
            k), 1, CXR_PRECISION_FP32, &error);
    g_assert_no_error (error);
  }
  g_assert_true (cxr_model_forward (back, singles, 3, input, &side_by_side,
          NULL));
  omp_set_num_threads (1);
  g_assert_true (cxr_model_forward (back, singles, 3, input, one_thread,
          NULL));
  omp_set_num_threads (threads);
  g_assert_cmpmem (one_thread, sizeof (float), &side_by_side,
      sizeof (float));
  g_assert_cmpfloat_with_epsilon (side_by_side, want[0], 1e-5f);
  for (int k = 0; k < 3; k++)
    cxr_net_free (singles[k]);
  for (int k = 0; k < 3; k++)
    cxr_net_free (nets[k]);
  cxr_model_free (back);
  cxr_model_free (m);
  g_free (path);
}

/* an ensemble of 2 with statistics of its pooled features */
static CxrModel *
ensemble_with_stats (void)
{
  CxrModel *m = ensemble (2, 70);
  int layer = cxr_model_feature_layer (m), dim;
  float *f;
  GError *error = NULL;

  g_assert_cmpint (layer, >=, 0);
  dim = m->spec->layers[layer].out_c;
  f = g_new (float, 40 * 2 * dim);
  for (int i = 0; i < 40 * 2 * dim; i++)
    f[i] = (float) ((i * 7919) % 97) / 97.0f;
  m->ood = cxr_feature_stats_fit (f, 40, 2, dim, &error);
  g_assert_no_error (error);
  m->ood->threshold = 2.5f;
  g_free (f);
  return m;
}

/* The statistics travel in the file (two tensors and ood_threshold, not
 * provenance); a file with part of them is refused; adding members drops
 * them; the model's own pooled features read back member by member */
static void
test_feature_stats_file (void)
{
  GError *error = NULL;
  CxrModel *m = ensemble_with_stats (), *back;
  const CxrFeatureStats *s = m->ood;
  char *path = temp_path ("ood.safetensors");
  CxrModelFile *f;
  CxrNet *nets[2];
  float input[32 * 32], z, features[2 * 64], one[64];
  int dim = s->dim, layer = cxr_model_feature_layer (m);

  g_assert_true (cxr_model_save (m, path, &error));
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back->ood);
  g_assert_cmpint (back->ood->n_members, ==, 2);
  g_assert_cmpint (back->ood->dim, ==, dim);
  g_assert_cmpfloat (back->ood->threshold, ==, 2.5f);
  g_assert_cmpmem (back->ood->precision, 2 * dim * dim * sizeof (float),
      s->precision, 2 * dim * dim * sizeof (float));
  g_assert_cmpmem (back->ood->mean, 2 * dim * sizeof (float), s->mean,
      2 * dim * sizeof (float));
  g_assert_null (g_hash_table_lookup (back->provenance, "ood_threshold"));

  /* the features, member after member, are each net's pooled output */
  g_assert_cmpint (dim, <=, 64);
  for (int i = 0; i < 32 * 32; i++)
    input[i] = (float) (i % 13) / 6.0f - 1.0f;
  for (int k = 0; k < 2; k++) {
    nets[k] = cxr_net_new_inference (back->spec, cxr_model_member (back, k),
        1, CXR_PRECISION_FP32, &error);
    g_assert_no_error (error);
  }
  g_assert_true (cxr_model_forward (back, nets, 2, input, &z, NULL));
  g_assert_true (cxr_model_features (back, nets, 2, features, &error));
  g_assert_no_error (error);
  for (int k = 0; k < 2; k++) {
    g_assert_true (cxr_net_layer_output (nets[k], layer, one, &error));
    g_assert_cmpmem (features + k * dim, dim * sizeof (float), one,
        dim * sizeof (float));
    cxr_net_free (nets[k]);
  }

  /* part of them: refused, saying what is needed */
  f = cxr_model_file_read (path, &error);
  g_assert_no_error (error);
  g_hash_table_remove (f->metadata, "ood_threshold");
  expect_refused (f, "out-of-distribution statistics are incomplete");
  cxr_model_file_free (f);

  cxr_model_set_members (back, 3);
  g_assert_null (back->ood);
  cxr_model_free (back);
  cxr_model_free (m);
  g_free (path);
}

static void
test_ensemble_id (void)
{
  CxrModel *m = ensemble (3, 50);
  char before[sizeof m->id];

  g_strlcpy (before, m->id, sizeof before);
  cxr_model_member (m, 2)[m->spec->n_floats - 1] += 0.5f;
  cxr_model_update_id (m);
  g_assert_cmpstr (m->id, !=, before);
  cxr_model_member (m, 2)[m->spec->n_floats - 1] -= 0.5f;
  cxr_model_update_id (m);
  g_assert_cmpstr (m->id, ==, before);
  cxr_model_free (m);
}

static void
test_ensemble_refused (void)
{
  static const char *bad_counts[] = { "1", "0", "17", "2x", "abc", NULL };
  CxrModel *two = ensemble (2, 60), *one = ensemble (1, 60);
  const char *first = two->spec->params[0].name;
  CxrModelFile *f;
  char *name, *phrase;
  int64_t shape[1] = { 4 };

  for (int i = 0; bad_counts[i]; i++) {
    f = saved_file (two);
    cxr_model_file_set_meta (f, "members", bad_counts[i]);
    phrase = g_strdup_printf ("members '%s' is not a number from 2 to 16",
        bad_counts[i]);
    expect_refused (f, phrase);
    g_free (phrase);
    cxr_model_file_free (f);
  }

  /* one tensor of member 1 gone */
  f = saved_file (two);
  name = g_strdup_printf ("member1.%s", two->spec->params[1].name);
  g_assert_true (g_ptr_array_remove (f->tensors, cxr_model_file_find (f,
              name)));
  phrase = g_strdup_printf ("'%s' that the layer spec needs is missing", name);
  expect_refused (f, phrase);
  g_free (phrase);
  g_free (name);
  cxr_model_file_free (f);

  /* said to be two members, but holds one network's plain names */
  f = saved_file (one);
  cxr_model_file_set_meta (f, "members", "2");
  phrase = g_strdup_printf ("'member0.%s' that the layer spec needs is "
      "missing", first);
  expect_refused (f, phrase);
  g_free (phrase);
  cxr_model_file_free (f);

  /* members' tensors without the count: read as one network */
  f = saved_file (two);
  cxr_model_file_set_meta (f, "members", NULL);
  phrase = g_strdup_printf ("'%s' that the layer spec needs is missing",
      first);
  expect_refused (f, phrase);
  g_free (phrase);
  cxr_model_file_free (f);

  /* a tensor no member uses */
  f = saved_file (two);
  g_assert_nonnull (cxr_model_file_add (f, "member2.extra", 1, shape, NULL));
  expect_refused (f, "tensors in the file, but the model uses");
  cxr_model_file_free (f);

  cxr_model_free (two);
  cxr_model_free (one);
}

static void
test_single_member_file (void)
{
  GError *error = NULL;
  CxrModel *m = ensemble (1, 70), *back;
  char *path = temp_path ("single.safetensors");
  CxrModelFile *f;

  /* a stale count among the provenance must not make it an ensemble */
  g_hash_table_insert (m->provenance, g_strdup ("members"), g_strdup ("4"));
  g_assert_true (cxr_model_save (m, path, &error));
  f = cxr_model_file_read (path, &error);
  g_assert_no_error (error);
  g_assert_null (cxr_model_file_get_meta (f, "members"));
  g_assert_cmpuint (f->tensors->len, ==, m->spec->n_params);
  for (int i = 0; i < m->spec->n_params; i++)
    g_assert_nonnull (cxr_model_file_find (f, m->spec->params[i].name));
  back = cxr_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->n_members, ==, 1);
  g_assert_cmpstr (back->id, ==, m->id);
  cxr_model_file_free (f);
  cxr_model_free (back);
  cxr_model_free (m);
  g_free (path);
}

/* ---- engine ---- */

static float *
test_images (int n)
{
  float *x = g_new (float, n * 124 * 124);
  for (int i = 0; i < n * 124 * 124; i++)
    x[i] = (float) ((i * 2654435761u) >> 24) / 128.0f - 1.0f;
  return x;
}

static void
test_batch_invariance (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 2,
      &error);
  float *x = test_images (4), z4[4], z1;
  CxrNet *n4 = cxr_net_new_inference (m->spec, m->params, 4,
      CXR_PRECISION_FP32, &error);
  CxrNet *n1 = cxr_net_new_inference (m->spec, m->params, 1,
      CXR_PRECISION_FP32, &error);

  g_assert_no_error (error);
  g_assert_true (cxr_net_forward (n4, x, z4, 0, NULL));
  for (int i = 0; i < 4; i++) {
    g_assert_true (cxr_net_forward (n1, x + i * 124 * 124, &z1, 0, NULL));
    g_assert_cmpfloat_with_epsilon (z1, z4[i], 1e-4f * (1 + fabsf (z4[i])));
  }
  g_assert_cmpfloat (fabsf (z4[0] - z4[1]), >, 1e-6f);  /* inputs differ */
  cxr_net_free (n1);
  cxr_net_free (n4);
  cxr_model_free (m);
  g_free (x);
}

/* A failed oneDNN step reaches the caller as an error, and only for that
 * pass: in a single net, in an ensemble with member offsets, in training. */
static void
test_engine_failure (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 2,
      &error);
  float *x = test_images (2), z[2], *grads;
  int labels[2] = { 0, 1 };
  CxrNet *nets[2], *train;

  g_assert_no_error (error);
  cxr_model_set_members (m, 2);
  cxr_model_set_member_offsets (m);
  for (int k = 0; k < 2; k++) {
    nets[k] = cxr_net_new_inference (m->spec, cxr_model_member (m, k), 1,
        CXR_PRECISION_FP32, &error);
    g_assert_no_error (error);
  }
  cxr_net_inject_failure (nets[0]);
  g_assert_false (cxr_net_forward (nets[0], x, z, 0, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_ENGINE);
  g_assert_nonnull (strstr (error->message, "oneDNN failed"));
  g_clear_error (&error);
  g_assert_true (cxr_net_forward (nets[0], x, z, 0, &error));
  g_assert_no_error (error);

  cxr_net_inject_failure (nets[1]);
  g_assert_false (cxr_model_forward (m, nets, 2, x, z, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_ENGINE);
  g_clear_error (&error);
  g_assert_true (cxr_model_forward (m, nets, 2, x, z, &error));

  grads = g_new0 (float, m->spec->n_floats);
  train = cxr_net_new_training (m->spec, m->params, grads, 2,
      CXR_PRECISION_FP32, &error);
  g_assert_no_error (error);
  cxr_net_inject_failure (train);
  g_assert_true (isnan (cxr_net_forward_backward (train, x, labels, NULL, 1,
              NULL, &error)));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_ENGINE);
  g_clear_error (&error);
  g_assert_true (isfinite (cxr_net_forward_backward (train, x, labels, NULL, 1,
              NULL, &error)));
  g_assert_no_error (error);

  cxr_net_free (train);
  for (int k = 0; k < 2; k++)
    cxr_net_free (nets[k]);
  cxr_model_free (m);
  g_free (grads);
  g_free (x);
}

/* A layer's output read back in NCHW: the default network's pooled
 * features are the per-channel means of the convolution before them, the
 * dense layer's output is the logits, and two images give two rows */
static void
test_layer_output (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_DEFAULT, 1, 124, 124, classes, 3,
      &error);
  const CxrNetSpec *spec = m->spec;
  int gap = -1, last = spec->n_layers - 1;
  float *x = test_images (2), z[2], dense[2];
  CxrNet *net = cxr_net_new_inference (spec, m->params, 2,
      CXR_PRECISION_FP32, &error);

  g_assert_no_error (error);
  for (int k = 0; k < spec->n_layers; k++)
    if (spec->layers[k].type == CXR_LAYER_GAP)
      gap = k;
  g_assert_cmpint (gap, >, 0);
  const CxrLayer *conv = &spec->layers[gap - 1];
  int c = conv->out_c, hw = conv->out_h * conv->out_w;
  float *maps = g_new (float, 2 * c * hw), *pooled = g_new (float, 2 * c);

  g_assert_true (cxr_net_forward (net, x, z, 0, NULL));
  g_assert_true (cxr_net_layer_output (net, gap - 1, maps, &error));
  g_assert_true (cxr_net_layer_output (net, gap, pooled, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 2 * c; i++) {
    double mean = 0.0;
    for (int j = 0; j < hw; j++)
      mean += maps[(size_t) i * hw + j];
    g_assert_cmpfloat_with_epsilon (pooled[i], mean / hw, 1e-4);
  }
  {
    /* the two images' features differ (some channel may be 0 for both) */
    double diff = 0.0;
    for (int i = 0; i < c; i++)
      diff += fabsf (pooled[i] - pooled[c + i]);
    g_assert_cmpfloat (diff, >, 1e-4);
  }
  g_assert_true (cxr_net_layer_output (net, last, dense, &error));
  g_assert_cmpfloat (dense[0], ==, z[0]);
  g_assert_cmpfloat (dense[1], ==, z[1]);
  g_assert_false (cxr_net_layer_output (net, spec->n_layers, dense, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (maps);
  g_free (pooled);
  cxr_net_free (net);
  cxr_model_free (m);
  g_free (x);
}

/* Three AdamW steps from one seed: the weights must come out bit for bit the
 * same twice, and differ for another dropout seed. */
static float *
train_three_steps (const CxrNetSpec *spec, uint64_t dropout_seed)
{
  GError *error = NULL;
  float *p = g_new (float, spec->n_floats), *g = g_new0 (float, spec->n_floats);
  float *x = test_images (8);
  int labels[8] = { 0, 1, 1, 0, 1, 0, 0, 1 };
  CxrNet *net;
  CxrOptimizer *opt = cxr_optimizer_new (spec, CXR_OPTIMIZER_ADAM, 1e-3f, 1e-4f);

  cxr_net_spec_init_params (spec, p, 9);
  net = cxr_net_new_training (spec, p, g, 8, CXR_PRECISION_FP32, &error);
  g_assert_no_error (error);
  for (int s = 0; s < 3; s++) {
    float loss = cxr_net_forward_backward (net, x, labels, NULL,
        dropout_seed + s, NULL, NULL);
    g_assert_true (isfinite (loss));
    cxr_optimizer_step (opt, p, g);
  }
  cxr_net_free (net);
  cxr_optimizer_free (opt);
  g_free (g);
  g_free (x);
  return p;
}

static void
test_deterministic_training (void)
{
  GError *error = NULL;
  CxrNetSpec *spec = cxr_net_spec_parse (CXR_SPEC_DEFAULT, 1, 124, 124, &error);
  float *a = train_three_steps (spec, 1), *b = train_three_steps (spec, 1);
  float *c = train_three_steps (spec, 2);

  g_assert_cmpmem (a, spec->n_floats * sizeof (float), b,
      spec->n_floats * sizeof (float));
  g_assert_true (memcmp (a, c, spec->n_floats * sizeof (float)) != 0);
  g_free (a);
  g_free (b);
  g_free (c);
  cxr_net_spec_free (spec);
}

/* ---- a batch shared by two parts, in two threads ---- */

#define PARTIES 2

/* the collective of the parts: each thread's x summed into every one's;
 * a round is read by all before the next starts */
static struct {
  GMutex lock;
  GCond changed;
  int arrived, leaving;
  double total[1024];
} meeting;

static void
meet_and_sum (double *x, size_t n)
{
  g_assert_cmpuint (n, <=, G_N_ELEMENTS (meeting.total));
  g_mutex_lock (&meeting.lock);
  while (meeting.leaving > 0)
    g_cond_wait (&meeting.changed, &meeting.lock);
  if (meeting.arrived == 0)
    memset (meeting.total, 0, sizeof meeting.total);
  for (size_t i = 0; i < n; i++)
    meeting.total[i] += x[i];
  if (++meeting.arrived == PARTIES) {
    meeting.arrived = 0;
    meeting.leaving = PARTIES;
    g_cond_broadcast (&meeting.changed);
  } else
    while (meeting.leaving == 0)
      g_cond_wait (&meeting.changed, &meeting.lock);
  memcpy (x, meeting.total, n * sizeof *x);
  if (--meeting.leaving == 0)
    g_cond_broadcast (&meeting.changed);
  g_mutex_unlock (&meeting.lock);
}

typedef struct {
  CxrNet *net;
  const float *input;
  const int *labels;
  const float *weights;
  float loss;
} Part;

static gpointer
run_part (gpointer data)
{
  Part *part = data;

  part->loss = cxr_net_forward_backward (part->net, part->input,
      part->labels, part->weights, 7, NULL, NULL);
  return NULL;
}

/* A batch of 6 in parts of 4 and 2, each on its own net and thread, the
 * parts' statistics and sums met through meet_and_sum: their gradients and
 * losses add up to the whole batch's on one net (up to the order of the
 * sums, and in bf16 its rounding), batch-norm and dropout included; so do
 * the batch-norm running statistics each part keeps. */
static void
shared_batch (CxrPrecision precision, float tolerance)
{
  const char *layers = "conv:8,s2,same,bn relu conv:8,same,bn relu "
      "maxpool:2 gap dropout:0.5 dense:1 sigmoid";
  GError *error = NULL;
  CxrNetSpec *spec = cxr_net_spec_parse (layers, 1, 32, 32, &error);
  size_t nf = spec->n_floats, px = 32 * 32;
  int labels[6] = { 0, 1, 1, 0, 1, 0 };
  float weights[6] = { 1, 2, 2, 1, 2, 1 };
  float *x = g_new (float, 6 * px), *whole = g_new (float, nf);
  float *whole_grads = g_new0 (float, nf), *sum = g_new0 (float, nf);
  float *params[PARTIES], *grads[PARTIES];
  CxrBatchShare shares[PARTIES] = { {0, 4, 6, meet_and_sum},
  {4, 2, 6, meet_and_sum}
  };
  Part parts[PARTIES];
  GThread *threads[PARTIES];
  CxrNet *net;
  float loss, scale = 0.0f, worst = 0.0f;

  g_assert_no_error (error);
  for (size_t i = 0; i < 6 * px; i++)
    x[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  cxr_net_spec_init_params (spec, whole, 3);
  net = cxr_net_new_training (spec, whole, whole_grads, 6, precision,
      &error);
  g_assert_no_error (error);
  loss = cxr_net_forward_backward (net, x, labels, weights, 7, NULL, &error);
  g_assert_no_error (error);
  cxr_net_free (net);

  for (int k = 0; k < PARTIES; k++) {
    params[k] = g_new (float, nf);
    grads[k] = g_new0 (float, nf);
    cxr_net_spec_init_params (spec, params[k], 3);
    parts[k] = (Part) {
    cxr_net_new_shared_training (spec, params[k], grads[k], &shares[k],
          precision, &error), x + shares[k].first * px,
          labels + shares[k].first, weights + shares[k].first, NAN};
    g_assert_no_error (error);
  }
  for (int k = 0; k < PARTIES; k++)
    threads[k] = g_thread_new ("part", run_part, &parts[k]);
  for (int k = 0; k < PARTIES; k++) {
    g_thread_join (threads[k]);
    cxr_net_free (parts[k].net);
    for (size_t i = 0; i < nf; i++)
      sum[i] += grads[k][i];
  }

  g_assert_cmpfloat_with_epsilon (parts[0].loss + parts[1].loss, loss,
      tolerance);
  for (int i = 0; i < spec->n_params; i++) {
    const CxrParamInfo *p = &spec->params[i];
    gboolean statistic = p->kind == CXR_PARAM_BN_MEAN
        || p->kind == CXR_PARAM_BN_VAR;
    for (size_t j = p->offset; j < p->offset + (size_t) p->numel; j++) {
      /* gradients add up; running statistics are the same in each part */
      float want = statistic ? whole[j] : whole_grads[j];
      float got = statistic ? params[1][j] : sum[j];
      scale = fmaxf (scale, fabsf (want));
      worst = fmaxf (worst, fabsf (got - want));
      if (statistic)
        g_assert_cmpfloat (params[0][j], ==, params[1][j]);
    }
  }
  g_test_message ("%s: largest difference %g of values up to %g",
      cxr_precision_name (precision), worst, scale);
  g_assert_cmpfloat (worst, <=, tolerance * scale);
  for (int k = 0; k < PARTIES; k++) {
    g_free (params[k]);
    g_free (grads[k]);
  }
  g_free (x);
  g_free (whole);
  g_free (whole_grads);
  g_free (sum);
  cxr_net_spec_free (spec);
}

static void
test_shared_batch (void)
{
  shared_batch (CXR_PRECISION_FP32, 1e-5f);
  /* bf16 activations round to 8 bits: the parts and the whole round
   * different sums */
  if (cxr_cpu_has_native_bf16 ())
    shared_batch (CXR_PRECISION_BF16, 5e-3f);
}

static void
test_bf16_or_fp32 (void)
{
  GError *error = NULL;
  CxrModel *m = cxr_model_new (CXR_SPEC_SEED, 1, 124, 124, classes, 2, &error);
  CxrNet *net = cxr_net_new_inference (m->spec, m->params, 1,
      CXR_PRECISION_AUTO, &error);

  g_assert_no_error (error);
  /* auto resolves to what the CPU does natively, and says what runs */
  g_assert_cmpint (cxr_net_precision (net), ==, cxr_cpu_has_native_bf16 ()?
      CXR_PRECISION_BF16 : CXR_PRECISION_FP32);
  g_assert_cmpstr (cxr_net_implementation (net), !=, "");
  g_test_message ("auto precision: %s via %s",
      cxr_precision_name (cxr_net_precision (net)),
      cxr_net_implementation (net));
  cxr_net_free (net);
  g_assert_null (cxr_net_new_inference (m->spec, m->params, 0,
          CXR_PRECISION_FP32, &error));
  g_assert_error (error, CXR_ERROR, CXR_ERROR_INVALID_ARGUMENT);
  g_error_free (error);
  cxr_model_free (m);
}

/* The smoothed loss against values worked out by hand, its gradient
 * against the loss's own finite differences, and e = 0 as the plain
 * cross-entropy. */
static void
test_label_smoothing (void)
{
  GError *error = NULL;
  CxrNetSpec *two = cxr_net_spec_parse ("dense:1 sigmoid", 1, 1, 1, &error);
  CxrNetSpec *three = cxr_net_spec_parse ("dense:3 softmax", 1, 1, 1, &error);
  float z2[2] = { 0.7f, -1.2f }, w[2] = { 2.0f, 0.5f }, dz[3], z3[3] =
      { 0.3f, -0.4f, 1.1f };
  int labels[2] = { 1, 0 }, three_label = 0;
  double loss, expected = 0.0;

  g_assert_no_error (error);
  /* sigmoid: targets 0.95 and 0.05; -(t log p + (1 - t) log (1 - p)) is
   * softplus(z) - t z */
  for (int i = 0; i < 2; i++) {
    double t = labels[i] ? 0.95 : 0.05, z = z2[i];
    expected += w[i] * (log1p (exp (z)) - t * z) / 2;
  }
  loss = cxr_loss_and_gradient (two, z2, labels, w, 0.1f, 2, dz);
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-9);
  g_assert_cmpfloat_with_epsilon (dz[0],
      2.0 * (1.0 / (1.0 + exp (-0.7)) - 0.95) / 2, 1e-6);
  g_assert_cmpfloat_with_epsilon (dz[1],
      0.5 * (1.0 / (1.0 + exp (1.2)) - 0.05) / 2, 1e-6);
  /* e = 0: the plain cross-entropy, to the bit */
  loss = cxr_loss_and_gradient (two, z2, labels, w, 0.0f, 2, dz);
  g_assert_cmpfloat (loss, ==, (2.0 * cxr_cross_entropy (two, z2, 1)
          + 0.5 * cxr_cross_entropy (two, z2 + 1, 0)) / 2);

  /* softmax over three classes, e = 0.3: targets 0.8, 0.1, 0.1 */
  {
    double m = log (exp (0.3) + exp (-0.4) + exp (1.1));
    expected = -(0.8 * (0.3 - m) + 0.1 * (-0.4 - m) + 0.1 * (1.1 - m));
  }
  loss = cxr_loss_and_gradient (three, z3, &three_label, NULL, 0.3f, 1, dz);
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-6);
  for (int j = 0; j < 3; j++) {
    float up[3], down[3], unused[3];
    double h = 1e-3, numeric;
    memcpy (up, z3, sizeof up);
    memcpy (down, z3, sizeof down);
    up[j] += (float) h;
    down[j] -= (float) h;
    numeric = (cxr_loss_and_gradient (three, up, &three_label, NULL, 0.3f, 1,
            unused) - cxr_loss_and_gradient (three, down, &three_label, NULL,
            0.3f, 1, unused)) / (2 * h);
    g_assert_cmpfloat_with_epsilon (dz[j], numeric, 1e-4);
  }
  cxr_net_spec_free (two);
  cxr_net_spec_free (three);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spec/seed-shapes", test_seed_shapes);
  g_test_add_func ("/spec/default-shapes", test_default_shapes);
  g_test_add_func ("/spec/refused", test_bad_specs);
  g_test_add_func ("/model/round-trip", test_model_round_trip);
  g_test_add_func ("/model/refused", test_model_refused);
  g_test_add_func ("/model/film-and-calibration",
      test_model_film_and_calibration);
  g_test_add_func ("/model/missing-file", test_model_not_a_file);
  g_test_add_func ("/model/ensemble-round-trip", test_ensemble_round_trip);
  g_test_add_func ("/model/ensemble-id", test_ensemble_id);
  g_test_add_func ("/model/ensemble-offsets", test_ensemble_offsets);
  g_test_add_func ("/model/feature-stats", test_feature_stats_file);
  g_test_add_func ("/model/ensemble-refused", test_ensemble_refused);
  g_test_add_func ("/model/single-member-file", test_single_member_file);
  g_test_add_func ("/loss/label-smoothing", test_label_smoothing);
  g_test_add_func ("/net/batch-invariance", test_batch_invariance);
  g_test_add_func ("/net/engine-failure", test_engine_failure);
  g_test_add_func ("/net/layer-output", test_layer_output);
  g_test_add_func ("/net/deterministic-training", test_deterministic_training);
  g_test_add_func ("/net/precision", test_bf16_or_fp32);
  g_test_add_func ("/net/shared-batch", test_shared_batch);
  return g_test_run ();
}
