/* layerspec.h — the network as a string kept in the model file.
 *
 * Tokens separated by spaces; a token is a name, optionally ':' and
 * comma-separated arguments:
 *
 *   conv:F[,kK][,sS][,pP|,same][,bn]  F filters, KxK kernel (3), stride S (1),
 *                                     zero padding P (0; same = K/2), batch-norm
 *   relu                              must follow conv or dense (fused into it)
 *   dropout:P                         drop probability P in [0, 1)
 *   maxpool:K[,sS][,pP]  avgpool:...  KxK window, stride S (K), padding P (0)
 *   gap                               global average pool to 1x1
 *   flatten                           marks the move to dense layers (no-op)
 *   dense:N                           fully connected, N outputs
 *   sigmoid | softmax                 output, last token: sigmoid needs one
 *                                     output (two classes), softmax >= 2
 *
 * The seed notebook's network:
 *   conv:32 relu dropout:0.2 maxpool:2 conv:64 relu dropout:0.2 maxpool:2
 *   conv:128 relu dropout:0.2 maxpool:2 flatten dense:128 relu dense:1 sigmoid
 */
#pragma once
#include <glib.h>
#include <stdint.h>

#define CXR_MAX_LAYERS 64
/* a layer has at most five tensors: a convolution's weights and its
 * batch norm's scale, shift, mean and variance */
#define CXR_MAX_PARAMS (5 * CXR_MAX_LAYERS)
/* values in one layer's output for one image (256 MB of floats) */
#define CXR_MAX_ACTIVATION ((int64_t) 1 << 26)

typedef enum {
  CXR_LAYER_CONV,
  CXR_LAYER_MAXPOOL,
  CXR_LAYER_AVGPOOL,
  CXR_LAYER_GAP,
  CXR_LAYER_DROPOUT,
  CXR_LAYER_FLATTEN,
  CXR_LAYER_DENSE,
} CxrLayerType;

typedef enum {
  CXR_OUTPUT_SIGMOID,
  CXR_OUTPUT_SOFTMAX,
} CxrOutputType;

typedef struct {
  CxrLayerType type;
  int units;                    /* conv filters, dense outputs */
  int kernel, stride, pad;      /* conv and pooling */
  gboolean batch_norm;          /* conv */
  gboolean relu;                /* conv, dense: ReLU fused after (after BN) */
  float dropout;                /* dropout */
  int in_c, in_h, in_w;
  int out_c, out_h, out_w;
  int first_param, n_params;    /* into CxrNetSpec.params */
} CxrLayer;

/* What each parameter tensor holds; names are what the model file uses. */
typedef enum {
  CXR_PARAM_WEIGHT,             /* conv [F, C, K, K], dense [N, C*H*W] */
  CXR_PARAM_BIAS,               /* [F] or [N]; conv without batch-norm, dense */
  CXR_PARAM_BN_SCALE,           /* [F] gamma */
  CXR_PARAM_BN_SHIFT,           /* [F] beta */
  CXR_PARAM_BN_MEAN,            /* [F] running mean, not trained by gradient */
  CXR_PARAM_BN_VAR,             /* [F] running variance, likewise */
} CxrParamKind;

typedef struct {
  char name[32];                /* e.g. "layer3.weight" */
  CxrParamKind kind;
  int layer;
  int ndim;
  int64_t shape[4];
  int64_t numel;
  size_t offset;                /* in floats, into the parameter block */
  gboolean trainable;           /* has a gradient */
  gboolean decays;              /* weight decay applies (weights only) */
} CxrParamInfo;

typedef struct {
  char *text;                   /* the spec as given, owned */
  int in_c, in_h, in_w;
  int n_layers;
  CxrLayer layers[CXR_MAX_LAYERS];
  CxrOutputType output;
  int n_outputs;                /* width of the last dense layer */
  int n_classes;                /* 2 for sigmoid, n_outputs for softmax */
  int n_params;
  CxrParamInfo params[CXR_MAX_PARAMS];
  size_t n_floats;              /* size of the parameter block */
  double flops;                 /* multiply-adds x 2 of one forward pass */
} CxrNetSpec;

#define CXR_BN_EPSILON 1e-5f
#define CXR_BN_MOMENTUM 0.1f    /* running = (1 - m) running + m batch */

/* NULL and a CXR_ERROR naming the token on a bad spec or a shape that does
 * not fit (a window larger than its input, say). */
CxrNetSpec *cxr_net_spec_parse (const char *text, int in_c, int in_h, int in_w,
    GError **error);
void cxr_net_spec_free (CxrNetSpec *spec);

/* Number of trainable values, for model cards and logs. */
int64_t cxr_net_spec_count_trainable (const CxrNetSpec *spec);

/* He-normal weights (fan-in; the output layer gets unit gain), zero biases,
 * BN scale 1 / shift 0 / mean 0 / var 1. Same seed, same values. */
void cxr_net_spec_init_params (const CxrNetSpec *spec, float *params, uint64_t seed);

/* The two architectures the project ships. */
#define CXR_SPEC_SEED \
  "conv:32 relu dropout:0.2 maxpool:2 conv:64 relu dropout:0.2 maxpool:2 " \
  "conv:128 relu dropout:0.2 maxpool:2 flatten dense:128 relu dense:1 sigmoid"
#define CXR_SPEC_DEFAULT \
  "conv:16,s2,same,bn relu conv:32,same,bn relu maxpool:2 " \
  "conv:64,same,bn relu maxpool:2 conv:96,same,bn relu maxpool:2 " \
  "conv:128,same,bn relu gap dropout:0.2 dense:1 sigmoid"
