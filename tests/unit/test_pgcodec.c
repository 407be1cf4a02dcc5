/*
 * test_pgcodec.c — the pure parts of the pgvector driver (src/targets/pgcodec.c)
 * and the spec rules it brings: the binary COPY stream and vector bytes
 * (checked byte by byte against PostgreSQL's documented layout), the
 * decoders, the text[] literal, the URL and table name rules, and that a
 * password in a spec's postgres:// URL is refused by spec check while a user
 * name is fine.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/spec.h"
#include "engrave/target.h"
#include "targets/pgcodec.h"

Test(pgcodec, copy_header_and_trailer)
{
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(pgcodec_copy_header(&b, NULL), 0);
	cr_assert_eq(b.len, PGCODEC_COPY_HEADER_LEN);
	cr_assert_eq(memcmp(b.data, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19), 0);
	cr_assert_eq(pgcodec_copy_trailer(&b, NULL), 0);
	cr_assert_eq(b.len, 21);
	cr_assert_eq((unsigned char)b.data[19], 0xff);
	cr_assert_eq((unsigned char)b.data[20], 0xff);
	buf_release(&b);
}

Test(pgcodec, copy_row_layout)
{
	struct buf b;
	buf_init(&b, 0);
	const float v[2] = { 1.0f, -2.5f };
	cr_assert_eq(pgcodec_copy_row(&b, "ab", v, 2, NULL, NULL), 0);
	const unsigned char want[] = {
		0, 3,                    /* three fields */
		0, 0, 0, 2, 'a', 'b',    /* id */
		0, 0, 0, 12,             /* vector: 4 + 2 * 4 bytes */
		0, 2, 0, 0,              /* dim 2, unused */
		0x3f, 0x80, 0, 0,        /* 1.0f big-endian */
		0xc0, 0x20, 0, 0,        /* -2.5f */
		0xff, 0xff, 0xff, 0xff,  /* content NULL */
	};
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_eq(memcmp(b.data, want, sizeof(want)), 0);
	buf_release(&b);
}

Test(pgcodec, vector_round_trip_and_refusals)
{
	struct buf b;
	buf_init(&b, 0);
	const float v[3] = { 0.25f, -1e-30f, 3.4e38f };
	cr_assert_eq(pgcodec_vector(&b, v, 3, NULL), 0);
	float out[3];
	cr_assert_eq(pgcodec_vector_decode(b.data, b.len, out, 3), 0);
	cr_assert_eq(memcmp(v, out, sizeof(v)), 0);
	cr_assert_eq(pgcodec_vector_decode(b.data, b.len, out, 2), -1, "another dimension is refused");
	cr_assert_eq(pgcodec_vector_decode(b.data, b.len - 1, out, 3), -1, "a short value is refused");
	const float bad[2] = { 1.0f, NAN };
	struct err e = ERR_INIT;
	buf_reset(&b);
	cr_assert_eq(pgcodec_vector(&b, bad, 2, &e), -1);
	cr_assert(strstr(e.msg, "NaN"), "%s", e.msg);
	buf_release(&b);
}

Test(pgcodec, f64_decode)
{
	const unsigned char one_half[8] = { 0x3f, 0xe0, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(pgcodec_f64_decode((const char *)one_half), 0.5);
}

Test(pgcodec, text_array_quotes_and_nulls)
{
	struct buf b;
	buf_init(&b, 0);
	const char *s[] = { "a", "q\"x", "b\\s", NULL, "" };
	cr_assert_eq(pgcodec_text_array(&b, s, 5, NULL), 0);
	cr_assert_str_eq(b.data, "{\"a\",\"q\\\"x\",\"b\\\\s\",NULL,\"\"}");
	buf_release(&b);
}

Test(pgcodec, url_rule)
{
	char why[200];
	cr_assert_eq(pgcodec_url_check("postgres://postgres@127.0.0.1:5432/postgres", why, sizeof(why)), 0);
	cr_assert_eq(pgcodec_url_check("postgresql://h/db?sslmode=disable", why, sizeof(why)), 0);
	cr_assert_eq(pgcodec_url_check("postgres://u:secret@h/db", why, sizeof(why)), -1);
	cr_assert(strstr(why, "PGPASSWORD"), "%s", why);
	cr_assert_eq(pgcodec_url_check("postgres://h/db?user=u&password=secret", why, sizeof(why)), -1);
	cr_assert_eq(pgcodec_url_check("http://h:5432/db", why, sizeof(why)), -1);
}

Test(pgcodec, table_names)
{
	char why[200];
	cr_assert_eq(pgcodec_ident_check("engrave_vectors", why, sizeof(why)), 0);
	cr_assert_eq(pgcodec_ident_check("_t9", why, sizeof(why)), 0);
	cr_assert_eq(pgcodec_ident_check("Vectors", why, sizeof(why)), -1);
	cr_assert_eq(pgcodec_ident_check("9t", why, sizeof(why)), -1);
	cr_assert_eq(pgcodec_ident_check("t; drop table x", why, sizeof(why)), -1);
	cr_assert_eq(pgcodec_ident_check("", why, sizeof(why)), -1);
}

Test(pgcodec, metrics)
{
	cr_assert_str_eq(pgcodec_opclass("cosine"), "vector_cosine_ops");
	cr_assert_str_eq(pgcodec_opclass("ip"), "vector_ip_ops");
	cr_assert_str_eq(pgcodec_opclass("l2"), "vector_l2_ops");
	cr_assert_str_eq(pgcodec_operator("cosine"), "<=>");
	cr_assert_str_eq(pgcodec_operator("ip"), "<#>");
	cr_assert_str_eq(pgcodec_operator("l2"), "<->");
	cr_assert_float_eq(pgcodec_score("cosine", 0.25), 0.75f, 1e-6);
	cr_assert_float_eq(pgcodec_score("cosine", 1.5), 0.0f, 1e-6);
	cr_assert_float_eq(pgcodec_score("ip", -0.5), 0.5f, 1e-6);
	cr_assert_float_eq(pgcodec_score("l2", 2.0), -2.0f, 1e-6);
}

static int load(const char *yaml, struct spec **s, struct err *e)
{
	return target_spec_load_string(yaml, strlen(yaml), "t.yaml", s, e);
}

Test(pgcodec, spec_refuses_a_password_and_takes_a_user)
{
	struct spec *s = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(load("name: t\ntarget: {driver: pgvector, url: 'postgres://u:hunter2@h/db'}\n", &s, &e), -1);
	cr_assert(strstr(e.msg, "password"), "%s", e.msg);
	cr_assert(!strstr(e.msg, "hunter2"), "the password is not shown: %s", e.msg);
	cr_assert(strstr(e.hint, "PGPASSWORD"), "%s", e.hint);
	err_clear(&e);
	cr_assert_eq(load("name: t\ntarget: {driver: pgvector, url: 'postgres://u@h:5433/db', table: vecs}\n", &s, &e),
		     0, "%s", e.msg);
	cr_assert_str_eq(target_spec_namespace(s), "vecs");
	cr_assert_eq(s->target.index.type, 0, "hnsw by default");
	cr_assert_eq(s->target.index.lists, 100);
	spec_free(s);
	s = NULL;
	cr_assert_eq(load("name: t\ntarget: {driver: pgvector}\n", &s, &e), 0, "%s", e.msg);
	cr_assert_str_eq(target_spec_namespace(s), "engrave_vectors");
	cr_assert(!strncmp(s->target.url, "postgres://", 11));
	spec_free(s);
	s = NULL;
	cr_assert_eq(load("name: t\ntarget: {driver: pgvector, url: 'http://h:5432'}\n", &s, &e), -1);
	cr_assert(strstr(e.msg, "does not speak HTTP"), "%s", e.msg);
	cr_assert_eq(load("name: t\ntarget: {driver: chroma, url: 'postgres://h/db'}\n", &s, &e), -1);
	cr_assert_eq(load("name: t\ntarget: {driver: chroma, index: {type: none}}\n", &s, &e), -1);
	cr_assert(strstr(e.msg, "only used with driver pgvector"), "%s", e.msg);
	cr_assert_eq(load("name: t\ntarget: {driver: pgvector, table: Bad-Name}\n", &s, &e), -1);
}

/* The async path's recall answer: hits round-trip, long ids are truncated to
 * the buffer, and truncated or overlong input is refused. */
Test(pgcodec, hits_round_trip_and_malformed)
{
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(pgcodec_hit_encode(&b, "a1", 2, 0.75f, NULL), 0);
	cr_assert_eq(pgcodec_hit_encode(&b, "", 0, -2.5f, NULL), 0);
	cr_assert_eq(pgcodec_hit_encode(&b, "longer-id", 9, 1.0f, NULL), 0);
	cr_assert_eq(b.len, 6 * 3 + 2 + 0 + 9);
	size_t pos = 0;
	char id[8];
	float score;
	cr_assert_eq(pgcodec_hit_decode(b.data, b.len, &pos, id, sizeof(id), &score), 1);
	cr_assert_str_eq(id, "a1");
	cr_assert_float_eq(score, 0.75f, 0);
	cr_assert_eq(pgcodec_hit_decode(b.data, b.len, &pos, id, sizeof(id), &score), 1);
	cr_assert_str_eq(id, "");
	cr_assert_float_eq(score, -2.5f, 0);
	cr_assert_eq(pgcodec_hit_decode(b.data, b.len, &pos, id, sizeof(id), &score), 1);
	cr_assert_str_eq(id, "longer-", "truncated to the buffer, NUL-terminated");
	cr_assert_eq(pgcodec_hit_decode(b.data, b.len, &pos, id, sizeof(id), &score), 0, "the end");
	cr_assert_eq(pos, b.len);
	/* a cut anywhere inside a hit is malformed, never a short read past the end */
	for (size_t cut = 1; cut < 8; cut++) {
		pos = 0;
		cr_assert_eq(pgcodec_hit_decode(b.data, cut, &pos, id, sizeof(id), &score), -1, "cut %zu", cut);
	}
	/* an id length past the end */
	char bad[6] = { 0, 0, 0, 0, (char)0xff, 0x7f };
	pos = 0;
	cr_assert_eq(pgcodec_hit_decode(bad, sizeof(bad), &pos, id, sizeof(id), &score), -1);
	buf_release(&b);
}
