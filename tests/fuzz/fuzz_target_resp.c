/*
 * fuzz_target_resp.c — libFuzzer harness: the drivers' response parsers.
 *
 * The load engine hands each completed response to target_parse_store,
 * _recall or _search of the open target; this harness does the same with
 * the fuzzer's bytes as the body, for the engram and the chroma driver
 * (targets opened without contacting a server: target_open sends nothing).
 * Input: byte 0 picks the driver (bit 0), the operation (bits 1-2) and,
 * for chroma, the metric (bit 3); byte 1 the HTTP status; the rest is the
 * body. Hits returned must carry NUL-terminated ids.
 */
#include "fuzzlib.h"

#include "engrave/err.h"
#include "engrave/http.h"
#include "engrave/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const long statuses[] = { 200, 201, 204, 400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 0, 299 };
static struct target *targets[3]; /* engram, chroma cosine, chroma l2 */

static struct target *open_one(const char *driver, const char *metric)
{
	struct target_config cfg = { .driver = driver, .url = "http://127.0.0.1:9", .dim = 4, .metric = metric };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	if (target_open(&cfg, &t, &e)) {
		fprintf(stderr, "fuzz_target_resp: %s\n", e.msg);
		abort();
	}
	return t;
}

static void check_hits(const struct target_hits *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (!memchr(h->v[i].id, '\0', sizeof(h->v[i].id)))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	if (!targets[0]) {
		targets[0] = open_one("engram", NULL);
		targets[1] = open_one("chroma", "cosine");
		targets[2] = open_one("chroma", "l2");
	}
	struct fuzz_in in = { data, n };
	uint8_t sel = fuzz_take_u8(&in);
	struct target *t = targets[sel & 1 ? 1 + ((sel >> 3) & 1) : 0];
	int op = (sel >> 1) & 3;
	struct http_response rs;
	http_response_init(&rs);
	rs.status = statuses[fuzz_take_u8(&in) % (sizeof(statuses) / sizeof(statuses[0]))];
	if (rs.status == 0) {
		rs.transport_error = 7;
		snprintf(rs.error, sizeof(rs.error), "Failed to connect");
	}
	buf_append(&rs.body, in.p, in.n, NULL);
	struct target_req rq;
	target_req_init(&rq);
	buf_append_str(&rq.url, "http://127.0.0.1:9/fuzz", NULL);
	rq.http.url = rq.url.data;
	rq.k = 10;
	rq.threshold = 0.25f;
	rq.n_records = 1 + (sel >> 4);
	struct err e = ERR_INIT;
	struct target_hits hits;
	target_hits_init(&hits);
	if (op == 0 || op == 3) {
		struct target_store_result res[16];
		if (strcmp(target_driver(t), "engram") == 0)
			rq.n_records = 1; /* one record per request */
		target_parse_store(t, &rq, &rs, res, &e);
	} else if (op == 1) {
		if (target_parse_recall(t, &rq, &rs, &hits, &e) == 0)
			check_hits(&hits);
	} else {
		if (target_parse_search(t, &rq, &rs, &hits, &e) == 0)
			check_hits(&hits);
	}
	target_hits_release(&hits);
	target_req_release(&rq);
	http_response_release(&rs);
	return 0;
}
