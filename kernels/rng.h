/* rng.h — small seeded random numbers shared by init, shuffling, dropout and
 * augmentation. splitmix64: fast, good enough for ML, and identical on every
 * platform, so a seed always means the same run. */
#pragma once
#include <stdint.h>
#include <math.h>

typedef struct {
  uint64_t state;
} CxrRng;

static inline void cxr_rng_init (CxrRng *rng, uint64_t seed)
{
  rng->state = seed;
}

static inline uint64_t cxr_rng_next (CxrRng *rng)
{
  uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* uniform in [0, 1) with 24 bits, exact in float */
static inline float cxr_rng_uniform (CxrRng *rng)
{
  return (float) (cxr_rng_next (rng) >> 40) * (1.0f / 16777216.0f);
}

/* uniform in [lo, hi) */
static inline float cxr_rng_range (CxrRng *rng, float lo, float hi)
{
  return lo + (hi - lo) * cxr_rng_uniform (rng);
}

/* integer in [0, n), n > 0; the tiny modulo bias does not matter here */
static inline uint32_t cxr_rng_below (CxrRng *rng, uint32_t n)
{
  return (uint32_t) (cxr_rng_next (rng) % n);
}

/* standard normal, Box-Muller */
static inline float cxr_rng_normal (CxrRng *rng)
{
  float u1 = cxr_rng_uniform (rng), u2 = cxr_rng_uniform (rng);
  if (u1 < 1e-12f)
    u1 = 1e-12f;
  return sqrtf (-2.0f * logf (u1)) * cosf (6.28318530718f * u2);
}

/* Fisher-Yates: a[0 .. n) in an order drawn from rng; the same stream
 * always gives the same order */
static inline void cxr_rng_shuffle (CxrRng *rng, int *a, int n)
{
  for (int i = n - 1; i > 0; i--) {
    int j = (int) cxr_rng_below (rng, (uint32_t) i + 1), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* One run's seed gives an independent stream for each random decision,
 * and within it one for each counter (a class, an epoch, a step, an
 * image), so that no decision shifts another's numbers. */
typedef enum {
  CXR_STREAM_SPLIT = 1,
  CXR_STREAM_SHUFFLE,
  CXR_STREAM_AUGMENT,
  CXR_STREAM_DROPOUT,
  CXR_STREAM_MEMBER,
  CXR_STREAM_FOLDS,
} CxrStream;

static inline uint64_t cxr_stream_seed (uint64_t seed, CxrStream stream,
    uint64_t counter)
{
  CxrRng r;

  cxr_rng_init (&r, seed);
  cxr_rng_init (&r, cxr_rng_next (&r) ^ (uint64_t) stream);
  cxr_rng_init (&r, cxr_rng_next (&r) ^ counter);
  return cxr_rng_next (&r);
}
