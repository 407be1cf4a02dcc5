/*
 * embed_hash.c — deterministic feature-hashing embedder ("hashing-v1").
 *
 * One pass over the UTF-8 text with no allocation: each code point is
 * decoded, classified (word character or separator) and case-folded; the
 * folded UTF-8 bytes are fed to two running FNV-1a 64 states at once, the
 * word's own (unigram) and the bigram state that continues from the
 * previous word's hash plus a ' ' byte (so "a b" hashes exactly like the
 * string "a b"). At each word end both features are added to out[] as +1
 * or -1. Counts stay small integers, exactly representable in float, so
 * the result does not depend on summation order; the norm is computed in
 * double and applied with one correctly rounded division per component.
 *
 * The rules below (word classes, case folding, hash, sign bit, weights,
 * the e_0 fallback) are the definition of "hashing-v1": changing any of
 * them changes artifact digests and must bump EMBED_HASH_VERSION.
 */
#include "engrave/embed_hash.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

/* Decode one code point at p (n > 0 bytes left); invalid bytes give U+FFFD, length 1. */
static uint32_t utf8_next(const unsigned char *p, size_t n, size_t *len)
{
	unsigned c = p[0];
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	size_t need;
	uint32_t cp;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else {
		*len = 1;
		return 0xFFFD;
	}
	if (n < need) {
		*len = 1;
		return 0xFFFD;
	}
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*len = 1;
			return 0xFFFD;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF)) {
		*len = 1;
		return 0xFFFD;
	}
	*len = need;
	return cp;
}

static int is_word(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
	if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
		return 0; /* Latin-1 punctuation, no-break space, signs */
	if (cp >= 0x2000 && cp <= 0x2BFF)
		return 0; /* general punctuation, symbols, arrows, math, boxes */
	if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) || cp == 0xFEFF ||
	    (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20))
		return 0; /* CJK and full-width punctuation, BOM */
	return 1;
}

static uint32_t fold(uint32_t cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return cp + 32;
	if (cp < 0xC0)
		return cp;
	if (cp <= 0xDE)
		return cp == 0xD7 ? cp : cp + 0x20;
	if (cp >= 0x100 && cp <= 0x137)
		return cp | 1;
	if (cp >= 0x139 && cp <= 0x148)
		return (cp & 1) ? cp + 1 : cp;
	if (cp >= 0x14A && cp <= 0x177)
		return cp | 1;
	if (cp == 0x178)
		return 0xFF;
	if (cp >= 0x179 && cp <= 0x17E)
		return (cp & 1) ? cp + 1 : cp;
	if (cp == 0x386)
		return 0x3AC;
	if (cp >= 0x388 && cp <= 0x38A)
		return cp + 0x25;
	if (cp == 0x38C)
		return 0x3CC;
	if (cp == 0x38E || cp == 0x38F)
		return cp + 0x3F;
	if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40F)
		return cp + 0x50;
	if (cp >= 0x410 && cp <= 0x42F)
		return cp + 0x20;
	if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF))
		return cp | 1;
	return cp;
}

static size_t utf8_put(uint32_t cp, unsigned char *u)
{
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	u[0] = (unsigned char)(0xF0 | (cp >> 18));
	u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	u[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static inline void add_feature(float *out, uint32_t dim, uint64_t h)
{
	out[h % dim] += (h >> 63) ? -1.0f : 1.0f;
}

void embed_hash_text(const char *text, size_t len, uint32_t dim, float *out)
{
	memset(out, 0, (size_t)dim * sizeof(float));
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	uint64_t uni = 0, bi = 0, prev = 0;
	int in_word = 0, has_prev = 0;
	while (p < end) {
		size_t l;
		uint32_t cp = *p < 0x80 ? *p : utf8_next(p, (size_t)(end - p), &l);
		if (*p < 0x80)
			l = 1;
		p += l;
		if (is_word(cp)) {
			unsigned char u[4];
			size_t k = utf8_put(fold(cp), u);
			if (!in_word) {
				in_word = 1;
				uni = FNV_OFFSET;
				if (has_prev)
					bi = (prev ^ (uint64_t)' ') * FNV_PRIME;
			}
			for (size_t i = 0; i < k; i++) {
				uni = (uni ^ u[i]) * FNV_PRIME;
				bi = (bi ^ u[i]) * FNV_PRIME;
			}
		} else if (in_word) {
			add_feature(out, dim, uni);
			if (has_prev)
				add_feature(out, dim, bi);
			prev = uni;
			has_prev = 1;
			in_word = 0;
		}
	}
	if (in_word) {
		add_feature(out, dim, uni);
		if (has_prev)
			add_feature(out, dim, bi);
	}
	double ss = 0;
	for (uint32_t i = 0; i < dim; i++)
		ss += (double)out[i] * (double)out[i];
	if (ss == 0) {
		out[0] = 1.0f; /* no words (or all features cancelled): e_0 */
		return;
	}
	double norm = sqrt(ss);
	for (uint32_t i = 0; i < dim; i++)
		out[i] = (float)((double)out[i] / norm);
}

int embed_hash_identity(uint32_t dim, char *out, size_t cap)
{
	return snprintf(out, cap, "hashing-%s-d%u", EMBED_HASH_VERSION, (unsigned)dim);
}
