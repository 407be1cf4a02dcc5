/*
 * rng.c — Philox4x32-10 and the deterministic normals built on it.
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11) is a keyed bijection on 128-bit counters: ten rounds of two
 * 32x32->64 multiplies and xors. It passes BigCrush, has no state, and block
 * c of stream s under seed k is computed directly, so the synthetic data,
 * the k-means seeding and the query sets are pure functions of the spec and
 * parallelise without coordination. Known-answer vectors from Random123's
 * kat_vectors are in tests/unit/test_rng.c.
 *
 * Normals: Box–Muller, one Philox block per four normals (see rng.h for the
 * index layout: 8 blocks side by side make 32 normals, laid out so the
 * vector lanes store contiguously, with no transpose). We do not call libm:
 * logf/sinf/cosf may differ between glibc versions and would make artifact
 * digests machine-dependent. Instead:
 *   - radius: u = ((x0 >> 1) | 1) * 2^-31 in (0, 1) (31 bits, so the tail
 *     reaches 6.5 sigma); ln u = e ln2 + ln m with m in [sqrt(1/2), sqrt(2))
 *     and ln m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172, odd series to s^9
 *     (truncation < 1e-9); r = sqrt(-2 ln u) (IEEE sqrt is exact);
 *   - angle: the top two bits of x1 pick the quadrant, the low 30 bits give
 *     t in [0, pi/2); sin t and cos t are Taylor polynomials to degree 11/12
 *     (truncation < 1e-7) then rotated by the quadrant with sign flips.
 * Only +, -, *, /, sqrt and int<->float conversions are used, all correctly
 * rounded under IEEE 754, and the build is ISO C (-std=c11, so GCC does not
 * contract a*b+c into FMA): results are bit-identical on every x86-64 CPU,
 * with or without AVX2. The kernel is written once with GCC vector
 * extensions and instantiated twice, for AVX2 and for the SSE2 baseline;
 * the choice is made once at run time with __builtin_cpu_supports.
 * Throughput (one core, AVX2): see tools/bench/synth.sh.
 */
#include "engrave/rng.h"

#include <string.h>
#include <immintrin.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* ---- scalar Philox ---------------------------------------------------- */

void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key[0], k1 = key[1];
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 += PHILOX_W0;
			k1 += PHILOX_W1;
		}
		uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
		uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
		uint32_t n1 = (uint32_t)p1;
		uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
		uint32_t n3 = (uint32_t)p0;
		c0 = n0, c1 = n1, c2 = n2, c3 = n3;
	}
	out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void rng_u32x4(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4])
{
	uint32_t ctr[4] = { (uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream,
			    (uint32_t)(stream >> 32) };
	uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	rng_philox4x32_10(ctr, key, out);
}

uint32_t rng_u32(uint64_t seed, uint64_t stream, uint64_t i)
{
	uint32_t w[4];
	rng_u32x4(seed, stream, i >> 2, w);
	return w[i & 3];
}

float rng_uniform_f32(uint64_t seed, uint64_t stream, uint64_t i)
{
	return (float)(rng_u32(seed, stream, i) >> 8) * (1.0f / 16777216.0f);
}

double rng_uniform_f64(uint64_t seed, uint64_t stream, uint64_t i)
{
	uint32_t w[4];
	rng_u32x4(seed, stream, i >> 1, w);
	unsigned o = (unsigned)(i & 1) * 2;
	uint64_t bits = ((uint64_t)(w[o] >> 5) << 26) | (w[o + 1] >> 6); /* 27 + 26 bits */
	return (double)bits * (1.0 / 9007199254740992.0);
}

uint32_t rng_below(uint64_t seed, uint64_t stream, uint64_t i, uint32_t n)
{
	return (uint32_t)(((uint64_t)rng_u32(seed, stream, i) * n) >> 32);
}

/* ---- vector kernel ---------------------------------------------------- */

/* The vector helpers below are static and always inlined: no ABI crosses. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef uint32_t v8u __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
typedef uint64_t v4q __attribute__((vector_size(32)));

#define GROUP 32 /* normals per group: 8 lanes x 4 words */

static inline __attribute__((always_inline)) void mulhilo8(const v8u *a, uint32_t m, v8u *hi, v8u *lo)
{
	const v4q mask = { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu };
	v4q q = (v4q)*a;
	v4q pe = (q & mask) * (uint64_t)m; /* lanes 0,2,4,6 */
	v4q po = (q >> 32) * (uint64_t)m;  /* lanes 1,3,5,7 */
	*lo = (v8u)((pe & mask) | (po << 32));
	*hi = (v8u)((pe >> 32) | (po & ~mask));
}

/* -2 ln(u) for u = ((x >> 1) | 1) * 2^-31. */
static inline __attribute__((always_inline)) v8f minus2log8(const v8u *px)
{
	v8u x = *px;
	v8i xi = (v8i)((x >> 1) | 1u);
	v8f f = __builtin_convertvector(xi, v8f); /* exact rounding */
	v8u b = (v8u)f;
	v8i ex = (v8i)(b >> 23) - 127 - 31;
	v8f m = (v8f)((b & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
	v8i big = (v8i)(m > 1.41421356f);
	m = (v8f)(((v8i)m & ~big) | ((v8i)(m * 0.5f) & big));
	ex = ex - big; /* big is -1 where true */
	v8f s = (m - 1.0f) / (m + 1.0f);
	v8f s2 = s * s;
	v8f p = (v8f){ 0 } + 2.0f / 9.0f;
	p = p * s2 + 2.0f / 7.0f;
	p = p * s2 + 2.0f / 5.0f;
	p = p * s2 + 2.0f / 3.0f;
	p = p * s2 + 2.0f;
	p = p * s;
	v8f lnu = __builtin_convertvector(ex, v8f) * 0.693147180559945309f + p;
	return lnu * -2.0f;
}

/* (cos, sin) of the angle coded by x: quadrant x>>30, t = (x & 2^30-1) 2^-30 pi/2. */
static inline __attribute__((always_inline)) void sincos8(const v8u *px, v8f *c_out, v8f *s_out)
{
	v8u x = *px;
	v8i ti = (v8i)(x & 0x3fffffffu);
	v8f t = __builtin_convertvector(ti, v8f) * (1.57079632679489662f / 1073741824.0f);
	v8f t2 = t * t;
	/* sin t = t (1 - t2/3! + t2^2/5! - ... - t2^5/11!) */
	v8f s = (v8f){ 0 } - 1.0f / 39916800.0f;
	s = s * t2 + 1.0f / 362880.0f;
	s = s * t2 - 1.0f / 5040.0f;
	s = s * t2 + 1.0f / 120.0f;
	s = s * t2 - 1.0f / 6.0f;
	s = s * t2 + 1.0f;
	s = s * t;
	/* cos t = 1 - t2/2! + ... + t2^6/12! */
	v8f c = (v8f){ 0 } + 1.0f / 479001600.0f;
	c = c * t2 - 1.0f / 3628800.0f;
	c = c * t2 + 1.0f / 40320.0f;
	c = c * t2 - 1.0f / 720.0f;
	c = c * t2 + 1.0f / 24.0f;
	c = c * t2 - 0.5f;
	c = c * t2 + 1.0f;
	v8u q = x >> 30;
	v8u swap = -(q & 1u);
	v8u cb = (v8u)c, sb = (v8u)s;
	v8u a = (cb & ~swap) | (sb & swap);
	v8u b = (sb & ~swap) | (cb & swap);
	a ^= ((q ^ (q >> 1)) & 1u) << 31; /* cos < 0 in quadrants 1, 2 */
	b ^= (q >> 1) << 31;              /* sin < 0 in quadrants 2, 3 */
	*c_out = (v8f)a;
	*s_out = (v8f)b;
}

/* IEEE sqrt on two SSE halves (every x86-64 has SSE2). */
static inline __attribute__((always_inline)) v8f sqrt8(v8f *px)
{
	v8f x = *px;
	__m128 lo, hi;
	memcpy(&lo, &x, 16);
	memcpy(&hi, (char *)&x + 16, 16);
	lo = _mm_sqrt_ps(lo);
	hi = _mm_sqrt_ps(hi);
	memcpy(&x, &lo, 16);
	memcpy((char *)&x + 16, &hi, 16);
	return x;
}

/*
 * The same body twice: the generic mulhilo8 above compiles to a 64x64
 * multiply emulation, so the AVX2 instance uses vpmuludq directly. Both are
 * exact integer arithmetic, so the two instances produce the same bits.
 */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
mulhilo8_avx2(const v8u *a, uint32_t m, v8u *hi, v8u *lo)
{
	__m256i x, mv = _mm256_set1_epi32((int)m);
	memcpy(&x, a, 32);
	__m256i pe = _mm256_mul_epu32(x, mv);
	__m256i po = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), mv);
	__m256i l = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
	__m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
	memcpy(lo, &l, 32);
	memcpy(hi, &h, 32);
}

/* Groups g0 .. g0+ng-1, 32 normals each, into out. */
#define DEFINE_NORMAL_GROUPS(NAME, ATTR, MULHILO)                                          \
	ATTR static void NAME(uint64_t seed, uint64_t stream, uint64_t g0, size_t ng,       \
			      float *out)                                                   \
	{                                                                                   \
		const v8u lane = { 0, 1, 2, 3, 4, 5, 6, 7 };                                \
		const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);            \
		for (size_t gi = 0; gi < ng; gi++) {                                        \
			uint64_t c = (g0 + gi) * 8; /* first block; +lane never carries */  \
			v8u c0 = lane + (uint32_t)c;                                        \
			v8u c1 = (v8u){ 0 } + (uint32_t)(c >> 32);                          \
			v8u c2 = (v8u){ 0 } + (uint32_t)stream;                             \
			v8u c3 = (v8u){ 0 } + (uint32_t)(stream >> 32);                     \
			uint32_t kk0 = k0, kk1 = k1;                                        \
			_Pragma("GCC unroll 10") for (int r = 0; r < 10; r++)               \
			{                                                                   \
				v8u hi0, lo0, hi1, lo1;                                     \
				MULHILO(&c0, PHILOX_M0, &hi0, &lo0);                        \
				MULHILO(&c2, PHILOX_M1, &hi1, &lo1);                        \
				c0 = hi1 ^ c1 ^ kk0;                                        \
				c1 = lo1;                                                   \
				c2 = hi0 ^ c3 ^ kk1;                                        \
				c3 = lo0;                                                   \
				kk0 += PHILOX_W0;                                           \
				kk1 += PHILOX_W1;                                           \
			}                                                                   \
			v8f la = minus2log8(&c0), lb = minus2log8(&c2);                     \
			v8f ra = sqrt8(&la), rb = sqrt8(&lb);                               \
			v8f ca, sa, cb, sb;                                                 \
			sincos8(&c1, &ca, &sa);                                             \
			sincos8(&c3, &cb, &sb);                                             \
			v8f o0 = ra * ca, o1 = ra * sa, o2 = rb * cb, o3 = rb * sb;         \
			float *o = out + gi * GROUP;                                        \
			memcpy(o, &o0, 32);                                                 \
			memcpy(o + 8, &o1, 32);                                             \
			memcpy(o + 16, &o2, 32);                                            \
			memcpy(o + 24, &o3, 32);                                            \
		}                                                                           \
	}

DEFINE_NORMAL_GROUPS(normal_groups_avx2, __attribute__((target("avx2"))), mulhilo8_avx2)
DEFINE_NORMAL_GROUPS(normal_groups_base, , mulhilo8)

typedef void (*groups_fn)(uint64_t, uint64_t, uint64_t, size_t, float *);

static groups_fn kernel; /* set once; relaxed atomics: every thread picks the same */

static groups_fn pick_kernel(void)
{
	groups_fn fn = __atomic_load_n(&kernel, __ATOMIC_RELAXED);
	if (!fn) {
		__builtin_cpu_init();
		fn = __builtin_cpu_supports("avx2") ? normal_groups_avx2 : normal_groups_base;
		__atomic_store_n(&kernel, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

void rng_set_simd(int best)
{
	__atomic_store_n(&kernel, best ? NULL : normal_groups_base, __ATOMIC_RELAXED);
}

void rng_normal_fill(uint64_t seed, uint64_t stream, uint64_t start, size_t n, float *out)
{
	groups_fn fn = pick_kernel();
	float tmp[GROUP];
	uint64_t g = start / GROUP;
	unsigned off = (unsigned)(start % GROUP);
	if (off && n) { /* head: partial group */
		fn(seed, stream, g, 1, tmp);
		size_t take = GROUP - off < n ? GROUP - off : n;
		memcpy(out, tmp + off, take * sizeof(float));
		out += take, n -= take, g++;
	}
	size_t full = n / GROUP;
	if (full) {
		fn(seed, stream, g, full, out);
		out += full * GROUP, n -= full * GROUP, g += full;
	}
	if (n) { /* tail */
		fn(seed, stream, g, 1, tmp);
		memcpy(out, tmp, n * sizeof(float));
	}
}

float rng_normal(uint64_t seed, uint64_t stream, uint64_t i)
{
	float v;
	rng_normal_fill(seed, stream, i, 1, &v);
	return v;
}
