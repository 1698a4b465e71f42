/* clones.h — for loops over whole activations or frames, which are
 * memory-bound or nearly: compiled for AVX2 and AVX-512 as well as the
 * baseline, the best picked at load time (x86-64 with GNU ifuncs; plain
 * functions elsewhere). */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define VECTOR_CLONES __attribute__ ((target_clones ("default", "avx2", "avx512f")))
#else
#define VECTOR_CLONES
#endif
