/*
 * vec.c — float32 vector kernels: fixed-order reductions and OpenBLAS blocks.
 *
 * This file is the one place that includes <cblas.h>. It owns two kinds of
 * arithmetic (see vec.h):
 *
 * Exact-order reductions. A dot product's value depends on the order of its
 * additions; compilers may not reorder float sums in ISO C, so a plain loop
 * is deterministic but slow (one serial add chain). We fix a vector-friendly
 * order by hand with GCC vector extensions: lane l accumulates elements
 * j = l (mod 8) (two 4-wide double vectors, or one 8-wide float vector),
 * the lanes are combined by a fixed tree, and the tail (d % 8 elements) is
 * added last, in order. No FMA (ISO C disables contraction), no threads, so
 * the result is the same bits on any x86-64 CPU; the bodies are compiled
 * twice (AVX2 and baseline SSE2) and picked at run time, with identical
 * results since every operation is a correctly rounded IEEE add/mul.
 *
 * sgemm blocks. OpenBLAS's kernels differ per CPU model, and even the
 * thread count can change an element's bits: the M/N split moves rows
 * between full tiles and edge tiles, which some kernels sum in another
 * order (0.3.21's Haswell kernels, used on Zen 5, do). So callers (kmeans,
 * knn) use sgemm only to find candidates and settle anything within
 * vec_margin() of a decision with the exact kernels; tests/unit/test_kmeans.c
 * checks that 1 and 2 threads agree within that bound.
 */
#include "engrave/vec.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpsabi" /* vector helpers are static inline */

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));

/* ---- exact-order kernels ---------------------------------------------- */

static inline __attribute__((always_inline)) v4d load4d(const float *p)
{
	v4f f;
	memcpy(&f, p, 16);
	return __builtin_convertvector(f, v4d);
}

static inline __attribute__((always_inline)) double reduce8d(const v4d *lo, const v4d *hi)
{
	v4d s = *lo + *hi;
	return (s[0] + s[1]) + (s[2] + s[3]);
}

#define DEFINE_EXACT(SUFFIX, ATTR)                                                          \
	ATTR static double dot_f64_##SUFFIX(const float *a, const float *b, uint32_t d)     \
	{                                                                                   \
		v4d lo = { 0 }, hi = { 0 };                                                 \
		uint32_t j = 0;                                                             \
		for (; j + 8 <= d; j += 8) {                                                \
			lo += load4d(a + j) * load4d(b + j);                                \
			hi += load4d(a + j + 4) * load4d(b + j + 4);                        \
		}                                                                           \
		double t = 0;                                                               \
		for (; j < d; j++)                                                          \
			t += (double)a[j] * (double)b[j];                                   \
		return reduce8d(&lo, &hi) + t;                                                \
	}                                                                                   \
	ATTR static double sqdist_f64_##SUFFIX(const float *a, const float *b, uint32_t d)  \
	{                                                                                   \
		v4d lo = { 0 }, hi = { 0 };                                                 \
		uint32_t j = 0;                                                             \
		for (; j + 8 <= d; j += 8) {                                                \
			v4d x = load4d(a + j) - load4d(b + j);                              \
			v4d y = load4d(a + j + 4) - load4d(b + j + 4);                      \
			lo += x * x;                                                        \
			hi += y * y;                                                        \
		}                                                                           \
		double t = 0;                                                               \
		for (; j < d; j++) {                                                        \
			double x = (double)a[j] - (double)b[j];                             \
			t += x * x;                                                         \
		}                                                                           \
		return reduce8d(&lo, &hi) + t;                                                \
	}                                                                                   \
	ATTR static float dot_f32_##SUFFIX(const float *a, const float *b, uint32_t d)      \
	{                                                                                   \
		v8f acc = { 0 };                                                            \
		uint32_t j = 0;                                                             \
		for (; j + 8 <= d; j += 8) {                                                \
			v8f x, y;                                                           \
			memcpy(&x, a + j, 32);                                              \
			memcpy(&y, b + j, 32);                                              \
			acc += x * y;                                                       \
		}                                                                           \
		float t = 0;                                                                \
		for (; j < d; j++)                                                          \
			t += a[j] * b[j];                                                   \
		return (((acc[0] + acc[4]) + (acc[2] + acc[6])) +                           \
			((acc[1] + acc[5]) + (acc[3] + acc[7]))) +                          \
		       t;                                                                   \
	}                                                                                   \
	ATTR static void add_scaled_##SUFFIX(float *v, const float *c, float s, uint32_t d)  \
	{                                                                                   \
		uint32_t j = 0;                                                             \
		for (; j + 8 <= d; j += 8) {                                                \
			v8f x, y;                                                           \
			memcpy(&x, v + j, 32);                                              \
			memcpy(&y, c + j, 32);                                              \
			x = y + s * x;                                                      \
			memcpy(v + j, &x, 32);                                              \
		}                                                                           \
		for (; j < d; j++)                                                          \
			v[j] = c[j] + s * v[j];                                             \
	}                                                                                   \
	ATTR static void normalize_##SUFFIX(float *x, size_t n, uint32_t d)                 \
	{                                                                                   \
		for (size_t i = 0; i < n; i++) {                                            \
			float *r = x + i * d;                                               \
			float s = dot_f32_##SUFFIX(r, r, d);                                \
			if (!(s > 0))                                                       \
				continue;                                                   \
			float inv = 1.0f / __builtin_sqrtf(s);                              \
			uint32_t j = 0;                                                     \
			for (; j + 8 <= d; j += 8) {                                        \
				v8f v;                                                      \
				memcpy(&v, r + j, 32);                                      \
				v *= inv;                                                   \
				memcpy(r + j, &v, 32);                                      \
			}                                                                   \
			for (; j < d; j++)                                                  \
				r[j] *= inv;                                                \
		}                                                                           \
	}

DEFINE_EXACT(avx2, __attribute__((target("avx2"))))
DEFINE_EXACT(base, )

struct exact_ops {
	double (*dot_f64)(const float *, const float *, uint32_t);
	double (*sqdist_f64)(const float *, const float *, uint32_t);
	float (*dot_f32)(const float *, const float *, uint32_t);
	void (*normalize)(float *, size_t, uint32_t);
	void (*add_scaled)(float *, const float *, float, uint32_t);
};

static const struct exact_ops ops_avx2 = { dot_f64_avx2, sqdist_f64_avx2, dot_f32_avx2,
					   normalize_avx2, add_scaled_avx2 };
static const struct exact_ops ops_base = { dot_f64_base, sqdist_f64_base, dot_f32_base,
					   normalize_base, add_scaled_base };
static const struct exact_ops *picked; /* set once; relaxed atomics, same value everywhere */

static const struct exact_ops *ops(void)
{
	const struct exact_ops *o = __atomic_load_n(&picked, __ATOMIC_RELAXED);
	if (!o) {
		__builtin_cpu_init();
		o = __builtin_cpu_supports("avx2") ? &ops_avx2 : &ops_base;
		__atomic_store_n(&picked, o, __ATOMIC_RELAXED);
	}
	return o;
}

void vec_set_simd(int best)
{
	__atomic_store_n(&picked, best ? NULL : &ops_base, __ATOMIC_RELAXED);
}

double vec_dot_f64(const float *a, const float *b, uint32_t d) { return ops()->dot_f64(a, b, d); }

double vec_sqdist_f64(const float *a, const float *b, uint32_t d)
{
	return ops()->sqdist_f64(a, b, d);
}

double vec_sqnorm_f64(const float *a, uint32_t d) { return ops()->dot_f64(a, a, d); }

float vec_dot(const float *a, const float *b, uint32_t d) { return ops()->dot_f32(a, b, d); }

float vec_norm(const float *a, uint32_t d) { return (float)sqrt(vec_sqnorm_f64(a, d)); }

void vec_sqnorms(const float *x, size_t n, uint32_t d, float *out)
{
	const struct exact_ops *o = ops();
	for (size_t i = 0; i < n; i++)
		out[i] = (float)o->dot_f64(x + i * d, x + i * d, d);
}

void vec_normalize_rows(float *x, size_t n, uint32_t d) { ops()->normalize(x, n, d); }

void vec_add_scaled(float *v, const float *c, float s, uint32_t d) { ops()->add_scaled(v, c, s, d); }

double vec_margin(uint32_t d) { return ((double)d + 8.0) * (1.0 / 16777216.0); }

/* ---- OpenBLAS blocks -------------------------------------------------- */

void vec_ip_block(const float *a, size_t na, const float *b, size_t nb, uint32_t d, float *out)
{
	if (!na || !nb)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)na, (blasint)nb, (blasint)d,
		    1.0f, a, (blasint)d, b, (blasint)d, 0.0f, out, (blasint)nb);
}

void vec_sqdist_block(const float *x, size_t n, const float *xn2, const float *c, size_t nc,
		      const float *cn2, uint32_t d, float *out)
{
	vec_ip_block(x, n, c, nc, d, out);
	for (size_t i = 0; i < n; i++) {
		float *r = out + i * nc;
		float xi = xn2[i];
		for (size_t j = 0; j < nc; j++) {
			float v = xi - 2.0f * r[j] + cn2[j];
			r[j] = v > 0 ? v : 0;
		}
	}
}

void vec_cos_block(const float *a, size_t na, const float *an, const float *b, size_t nb,
		   const float *bn, uint32_t d, float *out)
{
	vec_ip_block(a, na, b, nb, d, out);
	for (size_t i = 0; i < na; i++) {
		float *r = out + i * nb;
		for (size_t j = 0; j < nb; j++) {
			float den = an[i] * bn[j];
			r[j] = den > 0 ? r[j] / den : 0;
		}
	}
}

void vec_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}

int vec_get_threads(void) { return openblas_get_num_threads(); }
