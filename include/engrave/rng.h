/*
 * rng.h — counter-based random numbers (Philox4x32-10).
 *
 * Every value is a pure function of (seed, stream, index): there is no
 * generator state, so any range can be computed in any order, on any thread,
 * and regenerated bit-exactly after a crash or on another machine. The key is
 * the 64-bit seed; the 128-bit counter is (block index lo, hi, stream lo, hi).
 *
 * Index conventions (fixed: they feed artifact digests):
 *   rng_u32(i)          word i%4 of block i/4
 *   rng_uniform_f32(i)  rng_u32(i) >> 8, times 2^-24          -> [0, 1)
 *   rng_uniform_f64(i)  53 bits from words 0,1 (i even) or 2,3 (i odd) of
 *                       block i/2, times 2^-53                 -> [0, 1)
 *   rng_below(i, n)     (rng_u32(i) * n) >> 32                 -> [0, n)
 *   rng_normal(i)       Box–Muller in groups of 32 normals = 8 blocks: normal
 *                       i lives in group g = i/32, lane l = i%8 (block 8g+l),
 *                       word w = (i%32)/8; words (0,1) make the pair
 *                       (32g+l, 32g+8+l) = (r cos t, r sin t) and words (2,3)
 *                       the pair (32g+16+l, 32g+24+l).
 * Use one stream per kind of draw: two kinds on one stream overlap.
 *
 * All functions are thread-safe and allocation-free.
 */
#ifndef ENGRAVE_RNG_H
#define ENGRAVE_RNG_H

#include <stddef.h>
#include <stdint.h>

/* The raw bijection, for known-answer tests. */
void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* Block `counter` of `stream` under `seed`. */
void rng_u32x4(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]);

uint32_t rng_u32(uint64_t seed, uint64_t stream, uint64_t i);
float rng_uniform_f32(uint64_t seed, uint64_t stream, uint64_t i);
double rng_uniform_f64(uint64_t seed, uint64_t stream, uint64_t i);
/* Uniform integer in [0, n), n >= 1 (multiply-shift; bias < n / 2^32). */
uint32_t rng_below(uint64_t seed, uint64_t stream, uint64_t i, uint32_t n);

/* Standard normal number i of the stream. */
float rng_normal(uint64_t seed, uint64_t stream, uint64_t i);
/*
 * Normals start .. start+n-1 into out[0..n-1]; bit-identical to calling
 * rng_normal for each index, whatever the alignment of start. Vectorised
 * (AVX2 when the CPU has it, SSE2 otherwise: the same bits either way).
 */
void rng_normal_fill(uint64_t seed, uint64_t stream, uint64_t start, size_t n, float *out);
/* 0: force the SSE2 kernel, 1: the best the CPU has (default). For tests
 * that prove both give the same bits; not thread-safe. */
void rng_set_simd(int best);

#endif
