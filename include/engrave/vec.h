/*
 * vec.h — dense float32 vector kernels; the only module that calls OpenBLAS.
 *
 * Two kinds of arithmetic, on purpose:
 *   - exact-order kernels (vec_dot_f64, vec_sqdist_f64, vec_sqnorm_f64,
 *     vec_dot, vec_normalize_rows, vec_add_scaled): a fixed summation order written out in C (vector
 *     lanes j%4 or j%8, then a fixed tree), no FMA, no threads. The same bits
 *     on every x86-64 machine. Anything that feeds an artifact digest uses
 *     these.
 *   - sgemm blocks (vec_ip_block, vec_sqdist_block, vec_cos_block): OpenBLAS,
 *     fast, bit-identical for any OpenBLAS thread count on one machine but
 *     NOT across CPU models (kernels differ). Callers use them to find
 *     candidates and confirm near-ties with the exact kernels; vec_margin()
 *     bounds their rounding error.
 * Matrices are row-major, rows of `d` floats. Pure functions; thread-safe.
 */
#ifndef ENGRAVE_VEC_H
#define ENGRAVE_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Fixed-order dot product / squared distance / squared norm, in double. */
double vec_dot_f64(const float *a, const float *b, uint32_t d);
double vec_sqdist_f64(const float *a, const float *b, uint32_t d);
double vec_sqnorm_f64(const float *a, uint32_t d);
/* Fixed-order float32 dot product (8 lanes, fixed tree). */
float vec_dot(const float *a, const float *b, uint32_t d);
/* (float)sqrt(vec_sqnorm_f64). */
float vec_norm(const float *a, uint32_t d);
/* out[i] = (float)vec_sqnorm_f64(row i), for n rows. */
void vec_sqnorms(const float *x, size_t n, uint32_t d, float *out);
/*
 * Scale each row to unit L2 norm in place (float32 sum of squares in a fixed
 * 8-lane order, then x *= 1/sqrt(s)); rows of norm 0 are left as they are.
 */
void vec_normalize_rows(float *x, size_t n, uint32_t d);
/* v[j] = c[j] + s * v[j] (two roundings, no FMA: the same bits everywhere). */
void vec_add_scaled(float *v, const float *c, float s, uint32_t d);

/* out[i*nb + j] = a_i . b_j  (sgemm, a: na x d, b: nb x d). */
void vec_ip_block(const float *a, size_t na, const float *b, size_t nb, uint32_t d, float *out);
/*
 * out[i*nc + j] = max(0, ||x_i||^2 - 2 x_i.c_j + ||c_j||^2), with the squared
 * norms supplied by the caller (vec_sqnorms).
 */
void vec_sqdist_block(const float *x, size_t n, const float *xn2, const float *c, size_t nc,
		      const float *cn2, uint32_t d, float *out);
/* out[i*nb + j] = a_i.b_j / (|a_i| |b_j|) (0 when a norm is 0); norms = sqrt of vec_sqnorms. */
void vec_cos_block(const float *a, size_t na, const float *an, const float *b, size_t nb,
		   const float *bn, uint32_t d, float *out);

/*
 * Bound on |sgemm dot - exact dot| / (|a| |b|) for dimension d: (d + 8) 2^-24,
 * the classical worst case of recursive float summation. Callers widen
 * candidate sets by margin * |a| |b| (or * (|x|^2 + |c|^2) for distances).
 */
double vec_margin(uint32_t d);

/* 0: force the SSE2 exact-order kernels, 1: the best the CPU has (default).
 * For tests that prove both give the same bits; not thread-safe. */
void vec_set_simd(int best);

/* OpenBLAS thread count (openblas_set_num_threads); n <= 0 keeps it. */
void vec_set_threads(int n);
int vec_get_threads(void);

#endif
