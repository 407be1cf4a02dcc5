/*
 * jsonf.c — float32 <-> JSON text and base64, hand-written for the hot path.
 *
 * Why not jansson (DESIGN.md section 7 allows hand-writing only where
 * measurements show the need): reference/platform.md section 5 measured one
 * 768-float32 vector at 142 µs to encode and 211 µs to decode with jansson
 * (JSON_REAL_PRECISION(9)), 99 µs / 37 µs with sprintf("%.9g") / strtof.
 * At ~100 µs per vector, formatting alone caps one core at ~10k requests/s,
 * below the rates the load tests drive. tools/bench/httpfloat.sh measured,
 * on the same machine and vector (2 cores, quiet):
 *     jsonf            8572 B   encode  21 µs   decode  13 µs
 *     %.9g / strtof    9602 B   encode  99 µs   decode  35 µs
 *     jansson          9602 B   encode 140 µs   decode 195 µs
 * i.e. 5-7x faster to write and 3-15x faster to read, with shorter text
 * (shortest round trip instead of always 9 digits).
 *
 * Formatting is Ryu (Ulf Adams, PLDI 2018, f2s), the float32 variant:
 * exact integer arithmetic with 64-bit multipliers of 5^±q finds the
 * shortest decimal inside the rounding interval of the float, so the output
 * reads back bit-exactly. The two multiplier tables are generated (see the
 * Python one-liner above them) rather than computed at run time.
 *
 * Parsing accumulates up to 19 significant digits and, when the mantissa is
 * below 2^53 and the decimal exponent within ±22, computes the value as one
 * correctly rounded double operation (Clinger's fast path) and rounds that
 * to float. Double rounding can only go wrong when the double lands exactly
 * on a float halfway point; that case, and every number outside the fast
 * path, falls back to strtof on a copy of the token. So parsing is always
 * correctly rounded, and fast for everything a float formatter emits.
 *
 * Base64 is RFC 4648 over little-endian float32 bytes (Chroma accepts
 * embeddings in that form: 4/3 bytes per byte instead of ~10 chars/float).
 */
#include "engrave/jsonf.h"
#include "engrave/buf.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ Ryu f2s (float32) */

#define F2S_MANTISSA_BITS 23
#define F2S_BIAS 127
#define F2S_POW5_INV_BITCOUNT 59
#define F2S_POW5_BITCOUNT 61

/*
 * Generated with Python:
 *   pow5bits = lambda e: ((e * 1217359) >> 19) + 1
 *   INV[i] = (1 << (pow5bits(i) - 1 + 59)) // 5**i + 1          (i < 32)
 *   POW5[i] = 5**i >> (pow5bits(i) - 61) if pow5bits(i) >= 61
 *             else 5**i << (61 - pow5bits(i))                      (i < 48)
 */
static const uint64_t F2S_POW5_INV_SPLIT[32] = {
	576460752303423489ULL, 461168601842738791ULL, 368934881474191033ULL,
	295147905179352826ULL, 472236648286964522ULL, 377789318629571618ULL,
	302231454903657294ULL, 483570327845851670ULL, 386856262276681336ULL,
	309485009821345069ULL, 495176015714152110ULL, 396140812571321688ULL,
	316912650057057351ULL, 507060240091291761ULL, 405648192073033409ULL,
	324518553658426727ULL, 519229685853482763ULL, 415383748682786211ULL,
	332306998946228969ULL, 531691198313966350ULL, 425352958651173080ULL,
	340282366920938464ULL, 544451787073501542ULL, 435561429658801234ULL,
	348449143727040987ULL, 557518629963265579ULL, 446014903970612463ULL,
	356811923176489971ULL, 570899077082383953ULL, 456719261665907162ULL,
	365375409332725730ULL, 292300327466180584ULL,
};
static const uint64_t F2S_POW5_SPLIT[48] = {
	1152921504606846976ULL, 1441151880758558720ULL, 1801439850948198400ULL,
	2251799813685248000ULL, 1407374883553280000ULL, 1759218604441600000ULL,
	2199023255552000000ULL, 1374389534720000000ULL, 1717986918400000000ULL,
	2147483648000000000ULL, 1342177280000000000ULL, 1677721600000000000ULL,
	2097152000000000000ULL, 1310720000000000000ULL, 1638400000000000000ULL,
	2048000000000000000ULL, 1280000000000000000ULL, 1600000000000000000ULL,
	2000000000000000000ULL, 1250000000000000000ULL, 1562500000000000000ULL,
	1953125000000000000ULL, 1220703125000000000ULL, 1525878906250000000ULL,
	1907348632812500000ULL, 1192092895507812500ULL, 1490116119384765625ULL,
	1862645149230957031ULL, 1164153218269348144ULL, 1455191522836685180ULL,
	1818989403545856475ULL, 2273736754432320594ULL, 1421085471520200371ULL,
	1776356839400250464ULL, 2220446049250313080ULL, 1387778780781445675ULL,
	1734723475976807094ULL, 2168404344971008868ULL, 1355252715606880542ULL,
	1694065894508600678ULL, 2117582368135750847ULL, 1323488980084844279ULL,
	1654361225106055349ULL, 2067951531382569187ULL, 1292469707114105741ULL,
	1615587133892632177ULL, 2019483917365790221ULL, 1262177448353618888ULL,
};

static inline uint32_t pow5bits(uint32_t e)
{
	return ((e * 1217359u) >> 19) + 1;
}

static inline uint32_t log10pow2(uint32_t e)
{
	return (e * 78913u) >> 18;
}

static inline uint32_t log10pow5(uint32_t e)
{
	return (e * 732923u) >> 20;
}

static inline uint32_t pow5factor(uint32_t v)
{
	uint32_t count = 0;
	for (;;) {
		uint32_t q = v / 5, r = v - 5 * q;
		if (r)
			break;
		v = q;
		count++;
	}
	return count;
}

static inline int multiple_of_pow5(uint32_t v, uint32_t p)
{
	return pow5factor(v) >= p;
}

static inline int multiple_of_pow2(uint32_t v, uint32_t p)
{
	return (v & ((1u << p) - 1)) == 0;
}

static inline uint32_t mul_shift(uint32_t m, uint64_t factor, int32_t shift)
{
	uint64_t lo = (uint64_t)m * (uint32_t)factor;
	uint64_t hi = (uint64_t)m * (uint32_t)(factor >> 32);
	uint64_t sum = (lo >> 32) + hi;
	return (uint32_t)(sum >> (shift - 32));
}

/* Shortest decimal digits*10^exp of a positive finite float given its fields.
 * Long on purpose: it follows Ryu's f2d step by step, so it can be checked against the paper. */
static void f2d(uint32_t ieee_m, uint32_t ieee_e, uint32_t *digits, int32_t *exp)
{
	int32_t e2;
	uint32_t m2;
	if (ieee_e == 0) {
		e2 = 1 - F2S_BIAS - F2S_MANTISSA_BITS - 2;
		m2 = ieee_m;
	} else {
		e2 = (int32_t)ieee_e - F2S_BIAS - F2S_MANTISSA_BITS - 2;
		m2 = (1u << F2S_MANTISSA_BITS) | ieee_m;
	}
	int accept_bounds = (m2 & 1) == 0;
	uint32_t mv = 4 * m2, mp = 4 * m2 + 2;
	uint32_t mm_shift = ieee_m != 0 || ieee_e <= 1;
	uint32_t mm = 4 * m2 - 1 - mm_shift;

	uint32_t vr, vp, vm;
	int32_t e10;
	int vm_tz = 0, vr_tz = 0;
	uint32_t last = 0;
	if (e2 >= 0) {
		uint32_t q = log10pow2((uint32_t)e2);
		e10 = (int32_t)q;
		int32_t k = F2S_POW5_INV_BITCOUNT + (int32_t)pow5bits(q) - 1;
		int32_t i = -e2 + (int32_t)q + k;
		vr = mul_shift(mv, F2S_POW5_INV_SPLIT[q], i);
		vp = mul_shift(mp, F2S_POW5_INV_SPLIT[q], i);
		vm = mul_shift(mm, F2S_POW5_INV_SPLIT[q], i);
		if (q != 0 && (vp - 1) / 10 <= vm / 10) {
			int32_t l = F2S_POW5_INV_BITCOUNT + (int32_t)pow5bits(q - 1) - 1;
			last = mul_shift(mv, F2S_POW5_INV_SPLIT[q - 1], -e2 + (int32_t)q - 1 + l) % 10;
		}
		if (q <= 9) {
			if (mv % 5 == 0)
				vr_tz = multiple_of_pow5(mv, q);
			else if (accept_bounds)
				vm_tz = multiple_of_pow5(mm, q);
			else
				vp -= multiple_of_pow5(mp, q);
		}
	} else {
		uint32_t q = log10pow5((uint32_t)-e2);
		e10 = (int32_t)q + e2;
		int32_t i = -e2 - (int32_t)q;
		int32_t k = (int32_t)pow5bits((uint32_t)i) - F2S_POW5_BITCOUNT;
		int32_t j = (int32_t)q - k;
		vr = mul_shift(mv, F2S_POW5_SPLIT[i], j);
		vp = mul_shift(mp, F2S_POW5_SPLIT[i], j);
		vm = mul_shift(mm, F2S_POW5_SPLIT[i], j);
		if (q != 0 && (vp - 1) / 10 <= vm / 10) {
			j = (int32_t)q - 1 - ((int32_t)pow5bits((uint32_t)i + 1) - F2S_POW5_BITCOUNT);
			last = mul_shift(mv, F2S_POW5_SPLIT[i + 1], j) % 10;
		}
		if (q <= 1) {
			vr_tz = 1;
			if (accept_bounds)
				vm_tz = mm_shift == 1;
			else
				vp--;
		} else if (q < 31) {
			vr_tz = multiple_of_pow2(mv, q - 1);
		}
	}

	int32_t removed = 0;
	uint32_t out;
	if (vm_tz || vr_tz) {
		while (vp / 10 > vm / 10) {
			vm_tz &= vm % 10 == 0;
			vr_tz &= last == 0;
			last = vr % 10;
			vr /= 10;
			vp /= 10;
			vm /= 10;
			removed++;
		}
		if (vm_tz) {
			while (vm % 10 == 0) {
				vr_tz &= last == 0;
				last = vr % 10;
				vr /= 10;
				vp /= 10;
				vm /= 10;
				removed++;
			}
		}
		if (vr_tz && last == 5 && vr % 2 == 0)
			last = 4; /* round half to even */
		out = vr + ((vr == vm && (!accept_bounds || !vm_tz)) || last >= 5);
	} else {
		while (vp / 10 > vm / 10) {
			last = vr % 10;
			vr /= 10;
			vp /= 10;
			vm /= 10;
			removed++;
		}
		out = vr + (vr == vm || last >= 5);
	}
	*digits = out;
	*exp = e10 + removed;
}

static inline int n_digits(uint32_t v)
{
	return v >= 100000000 ? 9 : v >= 10000000 ? 8 : v >= 1000000 ? 7 : v >= 100000 ? 6 :
	       v >= 10000 ? 5 : v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

size_t jsonf_write_f32(char *dst, float v)
{
	uint32_t bits;
	memcpy(&bits, &v, 4);
	uint32_t ieee_m = bits & ((1u << 23) - 1), ieee_e = (bits >> 23) & 0xff;
	char *p = dst;
	if (ieee_e == 0xff) {
		memcpy(dst, "null", 5);
		return 4;
	}
	if (bits >> 31)
		*p++ = '-';
	if (ieee_e == 0 && ieee_m == 0) {
		*p++ = '0';
		*p = '\0';
		return (size_t)(p - dst);
	}
	uint32_t d;
	int32_t e;
	f2d(ieee_m, ieee_e, &d, &e);
	int len = n_digits(d);
	char dig[10];
	int i = len;
	while (d >= 100) {
		uint32_t r = d % 100;
		d /= 100;
		i -= 2;
		memcpy(dig + i, digit_pairs + 2 * r, 2);
	}
	if (d >= 10) {
		i -= 2;
		memcpy(dig + i, digit_pairs + 2 * d, 2);
	} else {
		dig[--i] = (char)('0' + d);
	}
	int sci = e + len - 1; /* exponent of the leading digit */
	if (sci >= -5 && sci < 9) {
		if (sci < 0) {
			*p++ = '0';
			*p++ = '.';
			for (int i = -1; i > sci; i--)
				*p++ = '0';
			memcpy(p, dig, (size_t)len);
			p += len;
		} else if (e >= 0) {
			memcpy(p, dig, (size_t)len);
			p += len;
			for (int i = 0; i < e; i++)
				*p++ = '0';
		} else {
			memcpy(p, dig, (size_t)sci + 1);
			p += sci + 1;
			*p++ = '.';
			memcpy(p, dig + sci + 1, (size_t)(len - sci - 1));
			p += len - sci - 1;
		}
	} else {
		*p++ = dig[0];
		if (len > 1) {
			*p++ = '.';
			memcpy(p, dig + 1, (size_t)len - 1);
			p += len - 1;
		}
		*p++ = 'e';
		int x = sci;
		if (x < 0) {
			*p++ = '-';
			x = -x;
		}
		if (x >= 10)
			*p++ = (char)('0' + x / 10);
		*p++ = (char)('0' + x % 10);
	}
	*p = '\0';
	return (size_t)(p - dst);
}

int jsonf_write_f32_array(struct buf *out, const float *v, size_t n)
{
	if (buf_reserve(out, n * JSONF_F32_MAX + 2, NULL) < 0)
		return -1;
	char *p = out->data + out->len;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i])) {
			out->data[out->len] = '\0';
			return -1;
		}
		if (i)
			*p++ = ',';
		p += jsonf_write_f32(p, v[i]);
	}
	*p++ = ']';
	*p = '\0';
	out->len = (size_t)(p - out->data);
	return 0;
}

int jsonf_write_string(struct buf *out, const char *s, size_t len, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_reserve(out, len + 2, e) < 0)
		return -1;
	out->data[out->len++] = '"';
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len) {
			unsigned char c = (unsigned char)s[j];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
			j++;
		}
		if (j > i && buf_append(out, s + i, j - i, e) < 0)
			return -1;
		if (j == len)
			break;
		unsigned char c = (unsigned char)s[j];
		char esc[7] = { '\\', 0 };
		size_t el = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		if (buf_append(out, esc, el, e) < 0)
			return -1;
		i = j + 1;
	}
	return buf_append(out, "\"", 1, e);
}

/* ----------------------------------------------------------------- parsing */

const char *jsonf_strerror(int rc)
{
	switch (rc) {
	case JSONF_OK: return "ok";
	case JSONF_ESYNTAX: return "malformed JSON";
	case JSONF_ECAP: return "more values than expected";
	default: return "unknown error";
	}
}

static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Long on purpose: one scan of the token feeding the fast path, read top to bottom. */
int jsonf_parse_f32(const char *p, const char *lim, float *out, const char **end)
{
	const char *start = p;
	int neg = 0;
	if (p < lim && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= lim || !is_digit(*p)) {
		*end = p;
		return JSONF_ESYNTAX;
	}
	uint64_t m = 0;
	int nd = 0;       /* significant digits kept in m */
	int dropped = 0;  /* non-zero digits that did not fit */
	int64_t e10 = 0;
	for (; p < lim && is_digit(*p); p++) {
		if (nd < 19) {
			m = m * 10 + (uint64_t)(*p - '0');
			if (m)
				nd++;
		} else {
			e10++;
			dropped |= *p != '0';
		}
	}
	if (p < lim && *p == '.') {
		p++;
		if (p >= lim || !is_digit(*p)) {
			*end = p;
			return JSONF_ESYNTAX;
		}
		for (; p < lim && is_digit(*p); p++) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				if (m)
					nd++;
				e10--;
			} else {
				dropped |= *p != '0';
			}
		}
	}
	if (p < lim && (*p == 'e' || *p == 'E')) {
		p++;
		int eneg = 0;
		if (p < lim && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= lim || !is_digit(*p)) {
			*end = p;
			return JSONF_ESYNTAX;
		}
		int64_t x = 0;
		for (; p < lim && is_digit(*p); p++)
			if (x < 100000)
				x = x * 10 + (*p - '0');
		e10 += eneg ? -x : x;
	}
	*end = p;
	if (m == 0 && !dropped) {
		*out = neg ? -0.0f : 0.0f;
		return JSONF_OK;
	}
	if (!dropped && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
		double d = (double)m;
		d = e10 >= 0 ? d * pow10_exact[e10] : d / pow10_exact[-e10];
		float f = (float)d;
		int tie = 0;
		if ((double)f != d) {
			float g = nextafterf(f, d > (double)f ? INFINITY : -INFINITY);
			tie = ((double)f + (double)g) * 0.5 == d;
		}
		if (!tie) {
			*out = neg ? -f : f;
			return JSONF_OK;
		}
	}
	/* slow path: exact via strtof on a NUL-terminated copy */
	char small[128], *tmp = small;
	size_t n = (size_t)(p - start);
	if (n >= sizeof(small))
		tmp = xmalloc(n + 1);
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	*out = strtof(tmp, NULL);
	if (tmp != small)
		free(tmp);
	return JSONF_OK;
}

const char *jsonf_skip_ws(const char *p, const char *lim)
{
	while (p < lim && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

int jsonf_parse_f32_array(const char *p, size_t len, float *out, size_t cap, size_t *n,
			  const char **end)
{
	const char *lim = p + len;
	size_t k = 0;
	int rc = JSONF_ESYNTAX;
	p = jsonf_skip_ws(p, lim);
	if (p >= lim || *p != '[')
		goto out;
	p = jsonf_skip_ws(p + 1, lim);
	if (p < lim && *p == ']') {
		p++;
		rc = JSONF_OK;
		goto out;
	}
	for (;;) {
		float f;
		if (k == cap) {
			rc = JSONF_ECAP;
			goto out;
		}
		if ((rc = jsonf_parse_f32(p, lim, &f, &p)) != JSONF_OK)
			goto out;
		out[k++] = f;
		rc = JSONF_ESYNTAX;
		p = jsonf_skip_ws(p, lim);
		if (p >= lim)
			goto out;
		if (*p == ']') {
			p++;
			rc = JSONF_OK;
			goto out;
		}
		if (*p != ',')
			goto out;
		p = jsonf_skip_ws(p + 1, lim);
	}
out:
	*n = k;
	if (end)
		*end = p;
	return rc;
}

/* ------------------------------------------------------------------ base64 */

static const char b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void f32_to_le(const float *v, size_t n, unsigned char *dst)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(dst, v, n * 4);
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t b;
		memcpy(&b, &v[i], 4);
		dst[4 * i] = (unsigned char)b;
		dst[4 * i + 1] = (unsigned char)(b >> 8);
		dst[4 * i + 2] = (unsigned char)(b >> 16);
		dst[4 * i + 3] = (unsigned char)(b >> 24);
	}
#endif
}

int jsonf_b64_f32(struct buf *out, const float *v, size_t n, struct err *e)
{
	size_t nb = n * 4, olen = (nb + 2) / 3 * 4;
	if (buf_reserve(out, olen, e) < 0)
		return -1;
	unsigned char chunk[3 * 256];
	char *p = out->data + out->len;
	size_t done = 0;
	/* convert in chunks of 192 floats (768 bytes, a multiple of 3) */
	while (done < n) {
		size_t k = n - done < 192 ? n - done : 192;
		f32_to_le(v + done, k, chunk);
		size_t bytes = k * 4, i = 0;
		for (; i + 3 <= bytes; i += 3) {
			uint32_t t = (uint32_t)chunk[i] << 16 | (uint32_t)chunk[i + 1] << 8 | chunk[i + 2];
			*p++ = b64_alpha[t >> 18];
			*p++ = b64_alpha[(t >> 12) & 63];
			*p++ = b64_alpha[(t >> 6) & 63];
			*p++ = b64_alpha[t & 63];
		}
		if (i < bytes) { /* only in the last chunk */
			uint32_t t = (uint32_t)chunk[i] << 16;
			if (i + 1 < bytes)
				t |= (uint32_t)chunk[i + 1] << 8;
			*p++ = b64_alpha[t >> 18];
			*p++ = b64_alpha[(t >> 12) & 63];
			*p++ = i + 1 < bytes ? b64_alpha[(t >> 6) & 63] : '=';
			*p++ = '=';
		}
		done += k;
	}
	*p = '\0';
	out->len = (size_t)(p - out->data);
	return 0;
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int jsonf_unb64_f32(const char *p, size_t len, float *out, size_t cap, size_t *n)
{
	*n = 0;
	if (len % 4)
		return JSONF_ESYNTAX;
	size_t pad = 0;
	if (len && p[len - 1] == '=')
		pad++;
	if (len > 1 && p[len - 2] == '=')
		pad++;
	size_t nbytes = len / 4 * 3 - pad;
	if (nbytes % 4)
		return JSONF_ESYNTAX;
	if (nbytes / 4 > cap)
		return JSONF_ECAP;
	unsigned char *dst = (unsigned char *)out;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int a = b64_val((unsigned char)p[i]), b = b64_val((unsigned char)p[i + 1]);
		int c = p[i + 2] == '=' && i + 4 == len ? 0 : b64_val((unsigned char)p[i + 2]);
		int d = p[i + 3] == '=' && i + 4 == len ? 0 : b64_val((unsigned char)p[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return JSONF_ESYNTAX;
		uint32_t t = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		unsigned char tri[3] = { (unsigned char)(t >> 16), (unsigned char)(t >> 8),
					 (unsigned char)t };
		for (int k = 0; k < 3 && o < nbytes; k++)
			dst[o++] = tri[k];
	}
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	for (size_t i = 0; i < nbytes / 4; i++) {
		uint32_t b = (uint32_t)dst[4 * i] | (uint32_t)dst[4 * i + 1] << 8 |
			     (uint32_t)dst[4 * i + 2] << 16 | (uint32_t)dst[4 * i + 3] << 24;
		memcpy(&out[i], &b, 4);
	}
#endif
	*n = nbytes / 4;
	return JSONF_OK;
}

/* ------------------------------------------------------ structural reader */

static const char *skip_string(const char *p, const char *lim)
{
	/* p at the opening quote */
	for (p++; p < lim; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
	}
	return NULL;
}

static const char *skip_value_depth(const char *p, const char *lim, int depth)
{
	if (depth > 256)
		return NULL;
	p = jsonf_skip_ws(p, lim);
	if (p >= lim)
		return NULL;
	switch (*p) {
	case '"':
		return skip_string(p, lim);
	case '{':
	case '[': {
		char close = *p == '{' ? '}' : ']';
		int obj = *p == '{';
		p = jsonf_skip_ws(p + 1, lim);
		if (p < lim && *p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				if (p >= lim || *p != '"' || !(p = skip_string(p, lim)))
					return NULL;
				p = jsonf_skip_ws(p, lim);
				if (p >= lim || *p != ':')
					return NULL;
				p++;
			}
			if (!(p = skip_value_depth(p, lim, depth + 1)))
				return NULL;
			p = jsonf_skip_ws(p, lim);
			if (p >= lim)
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = jsonf_skip_ws(p + 1, lim);
		}
	}
	case 't':
		return lim - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
	case 'f':
		return lim - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
	case 'n':
		return lim - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
	default: {
		float f;
		const char *end;
		if (jsonf_parse_f32(p, lim, &f, &end) != JSONF_OK)
			return NULL;
		return end;
	}
	}
}

const char *jsonf_skip_value(const char *p, const char *lim)
{
	return skip_value_depth(p, lim, 0);
}

const char *jsonf_match_string(const char *p, const char *lim, const char *key)
{
	size_t n = strlen(key);
	if (p >= lim || *p != '"' || (size_t)(lim - p) < n + 2)
		return NULL;
	if (memcmp(p + 1, key, n) || p[n + 1] != '"')
		return NULL;
	return p + n + 2;
}
