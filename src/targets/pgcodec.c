/*
 * pgcodec.c — bytes and rules of the pgvector driver (pgcodec.h).
 *
 * Everything here is pure: binary COPY rows and pgvector's binary vector are
 * built in a struct buf with explicit big-endian stores (htonl on the bits
 * of each float), so the output is the same on any host; decoding checks
 * every length before reading. The URL rule mirrors the spec layer's (a
 * password never lives in a spec) for URLs that reach target_open another
 * way (tests, tools); libpq itself reads the password from PGPASSWORD or
 * ~/.pgpass.
 */
#include "targets/pgcodec.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engrave/err.h"

static int put16(struct buf *b, int16_t v, struct err *e)
{
	uint16_t n = htons((uint16_t)v);
	return buf_append(b, &n, 2, e);
}

static int put32(struct buf *b, int32_t v, struct err *e)
{
	uint32_t n = htonl((uint32_t)v);
	return buf_append(b, &n, 4, e);
}

int pgcodec_copy_header(struct buf *b, struct err *e)
{
	static const char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
	return buf_append(b, sig, sizeof(sig), e) || put32(b, 0, e) || put32(b, 0, e) ? -1 : 0;
}

int pgcodec_copy_trailer(struct buf *b, struct err *e)
{
	return put16(b, -1, e);
}

static int put_text(struct buf *b, const char *s, struct err *e)
{
	if (!s)
		return put32(b, -1, e);
	size_t n = strlen(s);
	if (n > INT32_MAX)
		return err_set(e, ERR_INPUT, "a text of %zu bytes is too long for one field", n);
	return put32(b, (int32_t)n, e) || buf_append(b, s, n, e) ? -1 : 0;
}

int pgcodec_vector(struct buf *b, const float *v, uint32_t dim, struct err *e)
{
	if (dim == 0 || dim > 16000)
		return err_set(e, ERR_INPUT, "pgvector takes 1..16000 dimensions, not %u", dim);
	if (buf_reserve(b, 4 + 4 * (size_t)dim, e) || put16(b, (int16_t)dim, e) || put16(b, 0, e))
		return -1;
	for (uint32_t i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return err_set(e, ERR_INPUT, "vector holds NaN or infinity at %u (pgvector refuses it)", i);
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		bits = htonl(bits);
		memcpy(b->data + b->len, &bits, 4);
		b->len += 4;
	}
	return 0;
}

int pgcodec_copy_row(struct buf *b, const char *id, const float *vec, uint32_t dim, const char *content,
		     struct err *e)
{
	if (put16(b, 3, e) || put_text(b, id, e) || put32(b, (int32_t)(4 + 4 * (size_t)dim), e) ||
	    pgcodec_vector(b, vec, dim, e) || put_text(b, content, e))
		return -1;
	return 0;
}

int pgcodec_vector_decode(const char *p, size_t len, float *out, uint32_t dim)
{
	if (len < 4)
		return -1;
	uint16_t d, unused;
	memcpy(&d, p, 2);
	memcpy(&unused, p + 2, 2);
	if (ntohs(d) != dim || len != 4 + 4 * (size_t)dim)
		return -1;
	for (uint32_t i = 0; i < dim; i++) {
		uint32_t bits;
		memcpy(&bits, p + 4 + 4 * (size_t)i, 4);
		bits = ntohl(bits);
		memcpy(&out[i], &bits, 4);
	}
	return 0;
}

double pgcodec_f64_decode(const char *p)
{
	uint32_t hi, lo;
	memcpy(&hi, p, 4);
	memcpy(&lo, p + 4, 4);
	uint64_t bits = ((uint64_t)ntohl(hi) << 32) | ntohl(lo);
	double d;
	memcpy(&d, &bits, 8);
	return d;
}

int pgcodec_text_array(struct buf *b, const char *const *s, size_t n, struct err *e)
{
	if (buf_append(b, "{", 1, e))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (i && buf_append(b, ",", 1, e))
			return -1;
		if (!s[i]) {
			if (buf_append(b, "NULL", 4, e))
				return -1;
			continue;
		}
		if (buf_append(b, "\"", 1, e))
			return -1;
		for (const char *p = s[i]; *p; p++)
			if ((*p == '"' || *p == '\\') ? buf_append(b, "\\", 1, e) || buf_append(b, p, 1, e)
						      : buf_append(b, p, 1, e))
				return -1;
		if (buf_append(b, "\"", 1, e))
			return -1;
	}
	return buf_append(b, "}", 2, e); /* with the NUL */
}

int pgcodec_url_check(const char *url, char *why, size_t cap)
{
	const char *a = strstr(url, "://");
	if (!a || !(!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))) {
		snprintf(why, cap, "a PostgreSQL URL starts with postgres:// or postgresql://");
		return -1;
	}
	size_t n = strcspn(a + 3, "/?#");
	const char *at = memchr(a + 3, '@', n);
	int pw = at && memchr(a + 3, ':', (size_t)(at - (a + 3)));
	for (const char *q = strchr(url, '?'); q && !pw; q = strchr(q + 1, '&'))
		pw = !strncmp(q + 1, "password=", 9);
	if (pw) {
		snprintf(why, cap, "the URL holds a password: set PGPASSWORD or put it in ~/.pgpass instead");
		return -1;
	}
	return 0;
}

int pgcodec_ident_check(const char *name, char *why, size_t cap)
{
	size_t n = strlen(name);
	int ok = n > 0 && n <= PGCODEC_IDENT_MAX && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
	for (size_t i = 1; ok && i < n; i++)
		ok = name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9');
	if (!ok) {
		snprintf(why, cap, "a table name here is lower-case letters, digits and '_', starting with a letter or "
				   "'_', at most %d bytes", PGCODEC_IDENT_MAX);
		return -1;
	}
	return 0;
}

const char *pgcodec_opclass(const char *metric)
{
	return !strcmp(metric, "ip") ? "vector_ip_ops" : !strcmp(metric, "l2") ? "vector_l2_ops" : "vector_cosine_ops";
}

const char *pgcodec_operator(const char *metric)
{
	return !strcmp(metric, "ip") ? "<#>" : !strcmp(metric, "l2") ? "<->" : "<=>";
}

float pgcodec_score(const char *metric, double distance)
{
	if (!strcmp(metric, "ip") || !strcmp(metric, "l2"))
		return (float)-distance;
	double s = 1.0 - distance;
	return (float)(s > 0 ? s : 0);
}

int pgcodec_hit_encode(struct buf *b, const char *id, size_t id_len, float score, struct err *e)
{
	if (id_len > UINT16_MAX)
		id_len = UINT16_MAX;
	uint8_t head[6];
	memcpy(head, &score, 4); /* little-endian hosts only: the body never leaves the process */
	head[4] = (uint8_t)(id_len & 0xff);
	head[5] = (uint8_t)(id_len >> 8);
	if (buf_append(b, head, sizeof(head), e) || buf_append(b, id, id_len, e))
		return -1;
	return 0;
}

int pgcodec_hit_decode(const char *p, size_t len, size_t *pos, char *id, size_t cap, float *score)
{
	if (*pos == len)
		return 0;
	if (*pos > len || len - *pos < 6 || cap == 0)
		return -1;
	const uint8_t *h = (const uint8_t *)p + *pos;
	size_t n = (size_t)h[4] | (size_t)h[5] << 8;
	if (len - *pos - 6 < n)
		return -1;
	memcpy(score, h, 4);
	size_t keep = n < cap - 1 ? n : cap - 1;
	memcpy(id, h + 6, keep);
	id[keep] = '\0';
	*pos += 6 + n;
	return 1;
}
