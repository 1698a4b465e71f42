/* net.h — a CxrNetSpec made executable on oneDNN, for one batch size.
 *
 * An inference net copies (reorders) the weights into the layouts its
 * primitives prefer once, when it is made, with batch-norm folded into the
 * convolution; to use new weights, make a new net. A training net is bound to
 * a parameter block and a gradient block: every step reads the current
 * parameters (so the optimiser can update them in place between steps),
 * updates batch-norm running statistics in the parameter block and
 * overwrites every trainable gradient.
 *
 * Layouts are left to oneDNN (format_tag_any); where one primitive's choice
 * differs from the next one's, a reorder is put between them when the net is
 * built. ReLU is fused into the convolution, batch-norm or dense layer it
 * follows. */
#pragma once
#include "layerspec.h"

typedef enum {
  CXR_PRECISION_AUTO,           /* bf16 where the CPU computes it natively
                                 * and oneDNN has every layer in bf16 */
  CXR_PRECISION_FP32,
  CXR_PRECISION_BF16,
} CxrPrecision;

typedef struct CxrNet CxrNet;

/* TRUE when this CPU has native bf16 (AMX or avx512_bf16), so that AUTO
 * means bf16. */
gboolean cxr_cpu_has_native_bf16 (void);
const char *cxr_precision_name (CxrPrecision precision);

CxrNet *cxr_net_new_inference (const CxrNetSpec *spec, const float *params,
    int batch, CxrPrecision precision, GError **error);

/* Training; params and grads are blocks of spec->n_floats floats that must
 * outlive the net. bf16 is mixed precision: activations, their gradients
 * and a copy of the weights in bf16, while parameters, their gradients and
 * the optimiser stay fp32. */
CxrNet *cxr_net_new_training (const CxrNetSpec *spec, float *params,
    float *grads, int batch, CxrPrecision precision, GError **error);

/* A batch of `total` samples that several processes share, this net
 * taking `batch` of them from sample `first`; sum adds x[0 .. n) of every
 * process into every process's x (the run's collective). */
typedef struct {
  int first, batch, total;
  void (*sum) (double *x, size_t n);
} CxrBatchShare;

/* A training net for one process's part of a shared batch: its loss and
 * gradients are those of the whole batch's mean loss restricted to its
 * samples (summed over the processes, they give the whole batch's), its
 * batch-norm layers normalise by the whole batch's statistics (summed
 * through share->sum in the forward and backward passes, so every process
 * must run its pass), and each sample's dropout mask is the one it gets
 * in the whole batch. */
CxrNet *cxr_net_new_shared_training (const CxrNetSpec *spec, float *params,
    float *grads, const CxrBatchShare *share, CxrPrecision precision,
    GError **error);

void cxr_net_free (CxrNet *net);

int cxr_net_batch (const CxrNet *net);
const CxrNetSpec *cxr_net_spec (const CxrNet *net);
/* the precision actually used (never AUTO) */
CxrPrecision cxr_net_precision (const CxrNet *net);
/* oneDNN's name for the first convolution's implementation, e.g.
 * "brg:avx512_core_amx_bf16": what the CPU really runs */
const char *cxr_net_implementation (const CxrNet *net);

/* input: batch x in_c x in_h x in_w floats (NCHW); logits: batch x n_outputs.
 * A training net runs in training mode: batch statistics, dropout drawn from
 * dropout_seed (ignored by inference nets). FALSE, with the error, when a
 * oneDNN step fails: the pass stops there and the logits are garbage. */
gboolean cxr_net_forward (CxrNet *net, const float *input, float *logits,
    uint64_t dropout_seed, GError **error);
/* For tests: the pass running now, or the next, fails as a oneDNN step
 * can. */
void cxr_net_inject_failure (CxrNet *net);

/* An ensemble's forward pass: the mean of n_nets inference nets' logits
 * (nets of one spec and batch) for the same input. Logits, not
 * probabilities, are averaged, so the sigmoid sees a single network's scale
 * and keeps its calibration. One net gives exactly cxr_net_forward's. */
gboolean cxr_net_forward_mean (CxrNet *const *nets, int n_nets,
    const float *input, float *logits, GError **error);

/* A training net's loss aims at (1 - epsilon) one-hot + epsilon / K over
 * the K classes instead of the one-hot label (two classes for a sigmoid
 * net), epsilon in [0, 1): label smoothing (cxr_loss_and_gradient). */
void cxr_net_set_label_smoothing (CxrNet *net, float epsilon);


/* Training step without the update: forward in training mode, the loss, and
 * backward into the bound gradient block. labels: class index per sample;
 * sample_weights: weight of each sample's loss (NULL: all 1). The loss is the
 * mean over the batch of weight x binary cross-entropy of sigmoid(logit)
 * (sigmoid nets), or weight x cross-entropy of softmax(logits) (softmax
 * nets), against targets smoothed as cxr_net_set_label_smoothing says
 * (none by default). logits may be NULL. Returns the loss; NAN, with the
 * error, when a oneDNN step fails. */
float cxr_net_forward_backward (CxrNet *net, const float *input,
    const int *labels, const float *sample_weights, uint64_t dropout_seed,
    float *logits, GError **error);

/* Layer `layer`'s output from the last forward pass, as batch x C x H x W
 * floats in NCHW order (batch x N for dense layers), whatever layout and
 * precision the net keeps it in: for example the pooled features a
 * global-average-pool layer gives (C x 1 x 1 a sample). The conversion is
 * made on the first call for a layer and kept. In a training net, a ReLU
 * layer right before a dropout layer reads as the dropout's output: the
 * mask is applied in place. FALSE with an error for a layer the spec does
 * not have or an engine failure. */
gboolean cxr_net_layer_output (CxrNet *net, int layer, float *out,
    GError **error);

/* The dropout mask the last training forward used in a dropout layer, as
 * batch x C x H x W floats in NCHW order (0 or 1 / (1 - p)); FALSE if that
 * layer is not a dropout layer. For cross-checks against other engines. */
gboolean cxr_net_dropout_mask (CxrNet *net, int layer, float *mask);

/* Probabilities of each class from one sample's logits. */
void cxr_logits_to_probabilities (const CxrNetSpec *spec, const float *logits,
    float *probabilities);
