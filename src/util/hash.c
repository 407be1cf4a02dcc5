/*
 * hash.c — SHA-256 through OpenSSL's EVP interface.
 *
 * The EVP context is heap-allocated by OpenSSL; hash_final frees it, so a
 * context is used exactly once: init, update*, final.
 */
#include "engrave/hash.h"
#include "engrave/err.h"

#include <openssl/evp.h>
#include <string.h>

void hash_init(struct hash_ctx *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		BUG("cannot initialise SHA-256");
	h->evp = c;
}

void hash_update(struct hash_ctx *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate((EVP_MD_CTX *)h->evp, data, len) != 1)
		BUG("SHA-256 update failed");
}

void hash_final(struct hash_ctx *h, struct digest *out)
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex((EVP_MD_CTX *)h->evp, out->b, &n) != 1 || n != DIGEST_LEN)
		BUG("SHA-256 final failed");
	EVP_MD_CTX_free((EVP_MD_CTX *)h->evp);
	h->evp = NULL;
}

void hash_bytes(const void *data, size_t len, struct digest *out)
{
	struct hash_ctx h;
	hash_init(&h);
	hash_update(&h, data, len);
	hash_final(&h, out);
}

void digest_to_hex(const struct digest *d, char *hex)
{
	static const char x[] = "0123456789abcdef";
	for (int i = 0; i < DIGEST_LEN; i++) {
		hex[2 * i] = x[d->b[i] >> 4];
		hex[2 * i + 1] = x[d->b[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int digest_from_hex(const char *hex, struct digest *d, struct err *e)
{
	if (strlen(hex) != DIGEST_HEX_LEN)
		return err_set(e, ERR_USAGE, "'%s' is not a 64-character hex digest", hex);
	for (int i = 0; i < DIGEST_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set(e, ERR_USAGE, "'%s' is not a hex digest", hex);
		d->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int digest_equal(const struct digest *a, const struct digest *b)
{
	return memcmp(a->b, b->b, DIGEST_LEN) == 0;
}

int digest_is_zero(const struct digest *d)
{
	for (int i = 0; i < DIGEST_LEN; i++)
		if (d->b[i])
			return 0;
	return 1;
}
