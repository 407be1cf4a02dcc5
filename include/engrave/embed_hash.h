/*
 * embed_hash.h — the built-in "hashing" embedder: no model, no server.
 *
 * Feature hashing (Weinberger et al.) of lower-cased word unigrams and
 * bigrams into `dim` signed buckets, damped and L2-normalised. Words are maximal runs
 * of ASCII letters/digits and non-ASCII letters (UTF-8; general
 * punctuation, symbols and no-break spaces separate words); ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic capitals are folded to lower case.
 * Each feature is hashed with FNV-1a 64: unigram key = the word's UTF-8
 * bytes, bigram key = word1 ' ' word2; bucket = h % dim, sign = + when the
 * top bit of h is 0. Unigrams weigh 1, bigrams 1/4; about 90 English
 * function words ("the", "of", ...) are skipped; each bucket c becomes
 * sign(c)*sqrt(|c|) before normalising. This is fixed forever (version "v1"):
 * it decides artifact digests. A text with no word maps to e_0 = (1,0,...,0)
 * so cosine similarity stays defined.
 *
 * Pure and thread-safe; bit-identical on every IEEE-754 machine (counts are
 * small integers, the norm is a correctly rounded sqrt in double).
 */
#ifndef ENGRAVE_EMBED_HASH_H
#define ENGRAVE_EMBED_HASH_H

#include <stddef.h>
#include <stdint.h>

#define EMBED_HASH_DEFAULT_DIM 768
#define EMBED_HASH_VERSION "v1"

/* Embed text[0..len) into out[0..dim). dim >= 1. Never fails. */
void embed_hash_text(const char *text, size_t len, uint32_t dim, float *out);
/* "hashing-v1-d768": the embedder identity used in cache keys. Returns snprintf's count. */
int embed_hash_identity(uint32_t dim, char *out, size_t cap);

#endif
