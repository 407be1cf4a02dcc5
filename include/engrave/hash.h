/*
 * hash.h — SHA-256 digests, the addresses of everything in the store.
 *
 * OpenSSL libcrypto is used here and nowhere else (EVP, SHA-NI when the CPU
 * has it: about 1.8 GB/s on this machine). A digest is 32 raw bytes; its
 * text form is 64 lowercase hex characters.
 */
#ifndef ENGRAVE_HASH_H
#define ENGRAVE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32
#define DIGEST_HEX_LEN 64

struct err;

struct digest {
	uint8_t b[DIGEST_LEN];
};

/* Streaming context; opaque storage for the EVP context. */
struct hash_ctx {
	void *evp;
};

void hash_init(struct hash_ctx *h);
void hash_update(struct hash_ctx *h, const void *data, size_t len);
/* Finish into `out` and free the context. */
void hash_final(struct hash_ctx *h, struct digest *out);
/* One shot. */
void hash_bytes(const void *data, size_t len, struct digest *out);

/* hex must hold DIGEST_HEX_LEN + 1 bytes. */
void digest_to_hex(const struct digest *d, char *hex);
/* Parses exactly 64 hex chars (case-insensitive). 0 ok, -1 (ERR_USAGE) bad. */
int digest_from_hex(const char *hex, struct digest *d, struct err *e);
int digest_equal(const struct digest *a, const struct digest *b);
int digest_is_zero(const struct digest *d);

#endif
