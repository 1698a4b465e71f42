/* bare_dnnl — the seed network's forward pass as bare oneDNN primitives,
 * for bench_engine to measure the engine against (see bare_dnnl.c). */
#pragma once

typedef struct _BareNet BareNet;

/* the network at batch, in bf16 or fp32, reading input (batch x 124 x 124
 * floats, plain NCHW; borrowed) */
BareNet *bare_seed_new (int batch, int bf16, float *input);
void bare_seed_forward (BareNet * b);
void bare_seed_free (BareNet * b);
