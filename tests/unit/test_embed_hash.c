/*
 * test_embed_hash.c — the built-in hashing embedder: pinned output (it
 * feeds digests), unit norm, the e_0 fallback, tokenisation and case
 * folding, and that it captures topical similarity on the sample dump.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/article.h"
#include "engrave/buf.h"
#include "engrave/embed_hash.h"
#include "engrave/err.h"
#include "engrave/hash.h"
#include "engrave/wiki.h"
#include "../lib/testutil.h"

/* Cross-checked against an independent NumPy re-implementation of the rules in embed_hash.h. */
#define PINNED_DANUBE "6a6a9b8e0260777d65d06e904c00fa82b83903c3ee2914149f07b66792e3dcb6"
#define PINNED_BG "207e551bed9b35642bd846fd9755ee84bd428aec91cb743edd89e7088eb296f7"

#define D EMBED_HASH_DEFAULT_DIM

static void embed(const char *s, float *v) { embed_hash_text(s, strlen(s), D, v); }

static double dot(const float *a, const float *b, uint32_t n)
{
	double s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

Test(embed_hash, identity_string)
{
	char id[64];
	embed_hash_identity(768, id, sizeof(id));
	cr_expect_str_eq(id, "hashing-v1-d768");
	embed_hash_identity(384, id, sizeof(id));
	cr_expect_str_eq(id, "hashing-v1-d384");
}

Test(embed_hash, pinned_output)
{
	/* hashing-v1 is fixed forever: these digests must never change. */
	float v[D];
	embed("The Danube flows into the Black Sea.", v);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	hash_bytes(v, sizeof(v), &d);
	digest_to_hex(&d, hex);
	cr_expect_str_eq(hex, PINNED_DANUBE, "hashing-v1 output changed: %s", hex);
	embed("Григорианският календар е слънчев", v);
	hash_bytes(v, sizeof(v), &d);
	digest_to_hex(&d, hex);
	cr_expect_str_eq(hex, PINNED_BG, "hashing-v1 output changed (non-ASCII): %s", hex);
}

Test(embed_hash, deterministic_and_unit_norm)
{
	float a[D], b[D];
	const char *t = "Rust's borrow checker prevents data races at compile time.";
	embed(t, a);
	embed(t, b);
	cr_expect_eq(memcmp(a, b, sizeof(a)), 0);
	cr_expect(fabs(dot(a, a, D) - 1.0) < 1e-6, "norm^2 = %f", dot(a, a, D));
	int nonzero = 0;
	for (int i = 0; i < D; i++)
		nonzero += a[i] != 0;
	cr_expect_gt(nonzero, 10, "unigrams and bigrams spread over buckets");
}

Test(embed_hash, empty_text_is_e0)
{
	float v[D];
	const char *cases[] = { "", "   ", "!!! ... ---", "\xe2\x80\x94\xc2\xa0\xe2\x80\x9c" };
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		embed(cases[c], v);
		cr_expect_eq(v[0], 1.0f, "case %zu", c);
		for (int i = 1; i < D; i++)
			cr_assert_eq(v[i], 0.0f);
	}
}

Test(embed_hash, case_and_punctuation_insensitive)
{
	float a[D], b[D];
	embed("Hello, World! Rivers; deltas.", a);
	embed("hello world rivers deltas", b);
	cr_expect_eq(memcmp(a, b, sizeof(a)), 0);
	embed("МОСКВА РЕКА Ελλάδα ÉTÉ", a);
	embed("москва река ελλάδα été", b);
	cr_expect_eq(memcmp(a, b, sizeof(a)), 0, "Cyrillic, Greek and Latin-1 capitals fold");
	embed("rivers deltas", a);
	embed("deltas rivers", b);
	cr_expect_neq(memcmp(a, b, sizeof(a)), 0, "bigrams make word order matter");
	cr_expect_gt(dot(a, b, D), 0.5, "same unigrams stay close");
}

Test(embed_hash, small_dims)
{
	float v[4];
	embed_hash_text("a b c d e f g", 13, 4, v);
	cr_expect(fabs(dot(v, v, 4) - 1.0) < 1e-6);
	float one[1];
	embed_hash_text("word", 4, 1, one);
	cr_expect(one[0] == 1.0f || one[0] == -1.0f);
}

Test(embed_hash, similar_texts_are_closer)
{
	float river1[D], river2[D], code[D];
	embed("The river flows through the valley to the sea, and its delta is rich in birds.", river1);
	embed("A long river flows to the sea through a wide delta where many birds live.", river2);
	embed("The compiler checks types and the garbage collector frees memory in the program.", code);
	double same = dot(river1, river2, D), other = dot(river1, code, D);
	cr_expect_gt(same, other + 0.1, "same topic %f vs other %f", same, other);
}

struct vecs {
	int n;
	float v[64][D];
};

static int embed_article(const struct article *a, void *ctx)
{
	struct vecs *vs = ctx;
	if (vs->n >= 64)
		return 1;
	struct buf in;
	buf_init(&in, 0);
	cr_assert_eq(article_embed_input(a, 0, &in), 0);
	embed_hash_text(in.data, in.len, D, vs->v[vs->n++]);
	buf_release(&in);
	return 0;
}

Test(embed_hash, sample_dump_topics_cluster)
{
	/* The sample dump holds 6 topics x 7 articles, in order. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/experiments/data/sample-wiki.xml", test_root());
	static struct vecs vs;
	struct wiki_opts o = { .min_chars = 50 };
	struct err e = ERR_INIT;
	cr_assert_eq(wiki_read(path, &o, embed_article, &vs, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vs.n, 42);
	double intra = 0, inter = 0;
	int ni = 0, nx = 0, nearest_same = 0;
	for (int i = 0; i < 42; i++) {
		double best = -2;
		int bj = -1;
		for (int j = 0; j < 42; j++) {
			if (i == j)
				continue;
			double c = dot(vs.v[i], vs.v[j], D);
			if (i / 7 == j / 7)
				intra += c, ni++;
			else
				inter += c, nx++;
			if (c > best)
				best = c, bj = j;
		}
		nearest_same += bj / 7 == i / 7;
	}
	intra /= ni;
	inter /= nx;
	cr_log_info("intra %.3f inter %.3f nearest-same-topic %d/42", intra, inter, nearest_same);
	cr_expect_gt(intra, inter * 1.5, "intra %.3f inter %.3f", intra, inter);
	cr_expect_geq(nearest_same, 30, "nearest neighbour in the same topic for %d/42", nearest_same);
}
