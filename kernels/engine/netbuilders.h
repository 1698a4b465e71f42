/* netbuilders.h — what building a net's steps is made of, private to the
 * engine: the small builders (netbuild.c), one forward builder per layer
 * type (netforward.c) and the backward builders (netbackward.c). */
#pragma once
#include "netprivate.h"

typedef struct {
  dnnl_dims_t strides, kernel, pad_l, pad_r;
  dnnl_alg_kind_t pool;
} Window;

/* netbuild.c: small builders */
gboolean net_any_md (dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
    dnnl_data_type_t dt, GError **error);
gboolean net_create_pd (CxrNet *net, const void *desc, gboolean relu,
    dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd, GError **error);
void net_dims4 (dnnl_dims_t d, int64_t a, int64_t b, int64_t c, int64_t e);
gboolean net_input_for (CxrNet *net, GArray *steps, dnnl_primitive_desc_t pd,
    dnnl_query_t what, dnnl_memory_t have, dnnl_memory_t *out, GError **error);
gboolean net_load_now (CxrNet *net, const dnnl_memory_desc_t *plain_md,
    const float *data, dnnl_memory_t to, GError **error);
gboolean net_memory_like (CxrNet *net, dnnl_memory_t have,
    const dnnl_memory_desc_t *want, dnnl_memory_t *out, GError **error);
gboolean net_new_memory (CxrNet *net, const dnnl_memory_desc_t *md,
    void *handle, dnnl_memory_t *mem, GError **error);
gboolean net_plain_md (dnnl_memory_desc_t *md, int ndims,
    const dnnl_dims_t dims, GError **error);
void net_push_hand_step (GArray *steps, StepKind kind, dnnl_memory_t a,
    dnnl_memory_t b, dnnl_memory_t c, int layer);
gboolean net_push_reorder (CxrNet *net, GArray *steps, dnnl_memory_t from,
    dnnl_memory_t to, GError **error);
void net_push_step (GArray *steps, dnnl_primitive_t prim, int n_args, ...);
const dnnl_memory_desc_t * net_query (dnnl_primitive_desc_t pd,
    dnnl_query_t what);
void net_window_of (const CxrLayer *l, Window *w);

/* netforward.c */
gboolean net_build_conv_forward (CxrNet *net, int k, const float *params,
    GError **error);
gboolean net_build_dense_forward (CxrNet *net, int k, const float *params,
    GError **error);
gboolean net_build_dropout_forward (CxrNet *net, int k, GError **error);
gboolean net_build_pool_forward (CxrNet *net, int k, GError **error);
dnnl_memory_t net_previous_output (CxrNet *net, int k);
gboolean net_relu_before_dropout (const CxrNet *net, int k);

/* netbackward.c */
gboolean net_build_conv_backward (CxrNet *net, int k, GError **error);
gboolean net_build_pool_backward (CxrNet *net, int k, GError **error);
gboolean net_build_weighted_backward (CxrNet *net, int k,
    dnnl_memory_t diff_dst, GError **error);
gboolean net_needs_input_gradient (const CxrNet *net, int k);
