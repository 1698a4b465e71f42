/* clones.h — for loops over whole activations or frames, which are
 * memory-bound or nearly: compiled for AVX2 and AVX-512 as well as the
 * baseline, the best picked at load time. */
#pragma once

#define VECTOR_CLONES __attribute__ ((target_clones ("default", "avx2", "avx512f")))
