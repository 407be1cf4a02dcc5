/*
 * engram-server — an in-memory stand-in for Engram's HTTP API, for contract
 * tests and ingest benchmarks (build/tools/engram-server).
 *
 * It answers the routes engrave's engram driver uses with the status codes,
 * JSON shapes and quirks of reference/engram.md section 1 (Engram at
 * 5d5481632f02): remember with client ids and the exact 768-dimension 400,
 * the legacy POST /api/v1/memories that drops the embedding, listing with
 * tier_counts and include_embeddings, recall by embedding (score
 * max(0, cosine), vivid above 0.7) or text, substring search (0.9 / 0.7 /
 * 0.35 against a 0.7 threshold), health routes, spaces from X-Memory-Space /
 * ?space= / body memory_space_id, the ApiError JSON body and axum's
 * plain-text extractor rejections (415, 400, 422, 413 over 2 MB), optional
 * bearer auth on every route, semantic dedup and the hot-tier cap (store.c).
 * Response shapes are reproduced in code; tests compare them with the real
 * responses in ../shared/fixtures/engram/ when those are present.
 *
 *   engram-server [--port N] [--port-file F] [--threads N] [--api-key KEY]
 *                 [--echo-auth] [--revoke-after N] [--no-dedup] [--hot-cap N] [--fail-503-every N] [--retry-after S]
 *                 [--reset-every N] [--stall-at-ms T --stall-ms D] [--sink] [--delay-us N]
 *
 * --port 0 binds a free port; the port is written to --port-file (atomically)
 * and printed as " HTTP API: http://127.0.0.1:PORT". libmicrohttpd runs the
 * requests (a thread pool with --threads > 1); the main thread waits for
 * SIGTERM/SIGINT and then stops the daemon cleanly.
 */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engrave/buf.h"
#include "engrave/jsonf.h"
#include "engrave/xalloc.h"

/* --sink: accept stores without parsing or keeping them (201 + a count), for
 * benchmarking a client against "any C server answering 201". */
static int sink_mode;
static atomic_ullong sink_count;

#define BODY_LIMIT (2u * 1024u * 1024u)
#define CONTENT_MAX 100000

static const char *api_key;
static _Atomic uint64_t id_state;
/* Auth faults (tests of what engrave does with secrets): --echo-auth quotes
 * the received Authorization header in every 401 message, as some servers
 * do; --revoke-after N revokes the key after N accepted stores (Engram's
 * "API key has been revoked"), so health passes and ingest meets a 401. */
static int echo_auth;
static long revoke_after;
static atomic_long stores_authorized;

struct reply {
	unsigned status;
	struct buf body;
	const char *ctype;
};

/* Per-connection request state (MHD calls the handler several times). */
struct conn {
	struct buf body;
	int too_big;
};

/* ---- output helpers ---------------------------------------------------- */

static void j_str(struct buf *b, const char *s)
{
	buf_append(b, "\"", 1, NULL);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_append(b, "\\\"", 2, NULL); break;
		case '\\': buf_append(b, "\\\\", 2, NULL); break;
		case '\n': buf_append(b, "\\n", 2, NULL); break;
		case '\r': buf_append(b, "\\r", 2, NULL); break;
		case '\t': buf_append(b, "\\t", 2, NULL); break;
		default:
			if (*p < 0x20)
				buf_printf(b, NULL, "\\u%04x", *p);
			else
				buf_append(b, p, 1, NULL);
		}
	}
	buf_append(b, "\"", 1, NULL);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* RFC 3339 in UTC the way chrono serialises it: no fraction when whole
 * seconds, else 3, 6 or 9 digits. */
static void fmt_time(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	long frac = (long)(ns % 1000000000LL);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n || n >= cap)
		return;
	if (frac == 0)
		snprintf(out + n, cap - n, "Z");
	else if (frac % 1000000 == 0)
		snprintf(out + n, cap - n, ".%03ldZ", frac / 1000000);
	else if (frac % 1000 == 0)
		snprintf(out + n, cap - n, ".%06ldZ", frac / 1000);
	else
		snprintf(out + n, cap - n, ".%09ldZ", frac % 1000000000L);
}

/* Shortest decimal that reads back as the same float32 (like serde's f32). */
static const char *f32s(float f, char *out)
{
	if (!isfinite(f)) {
		strcpy(out, "null");
		return out;
	}
	for (int p = 1; p <= 9; p++) {
		snprintf(out, 32, "%.*g", p, (double)f);
		if (strtof(out, NULL) == f)
			break;
	}
	if (!strpbrk(out, ".e"))
		strcat(out, ".0");
	return out;
}

/* RFC 3339 -> ns; -1 if malformed. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++)
			if (digits < 9) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
		while (digits++ < 9)
			frac *= 10;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = ((int64_t)timegm(&tm) - off) * 1000000000LL + frac;
	return 0;
}

static void new_id(const char *prefix, char *out, size_t cap)
{
	uint64_t z = atomic_fetch_add(&id_state, 0x9E3779B97F4A7C15ULL) + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	snprintf(out, cap, "%s%08x", prefix, (unsigned)(z & 0xffffffffu));
}

static void reply_plain(struct reply *r, unsigned status, const char *msg)
{
	r->status = status;
	r->ctype = "text/plain; charset=utf-8";
	buf_reset(&r->body);
	buf_append_str(&r->body, msg, NULL);
}

/* Engram's ApiError body. */
static void reply_error(struct reply *r, unsigned status, const char *code, const char *msg)
{
	r->status = status;
	r->ctype = "application/json";
	buf_reset(&r->body);
	struct buf *b = &r->body;
	buf_append_str(b, "{\"error\":{\"code\":", NULL);
	j_str(b, code);
	buf_append_str(b, ",\"message\":", NULL);
	j_str(b, msg);
	buf_append_str(b, ",\"educational_context\":", NULL);
	j_str(b, strcmp(code, "INVALID_MEMORY_INPUT") == 0
			 ? "Memory operations require well-formed inputs. Check the API documentation for proper request structure."
		 : strcmp(code, "UNAUTHORIZED") == 0
			 ? "Authentication required. Provide a valid API key in the Authorization header."
		 : strcmp(code, "MEMORY_NOT_FOUND") == 0
			 ? "Memory retrieval failed - the requested memory may have been forgotten or never encoded. Try a broader search query."
			 : "Review the request against the API documentation.");
	buf_append_str(b, ",\"cognitive_guidance\":", NULL);
	j_str(b, strcmp(code, "INVALID_MEMORY_INPUT") == 0
			 ? "Memories need meaningful content and context. Think about what makes this memory important."
		 : strcmp(code, "MEMORY_NOT_FOUND") == 0
			 ? "Try different recall cues - memories are often accessible through alternative pathways."
			 : "Review the memory system documentation for guidance on proper operations.");
	buf_append_str(b, "},\"documentation\":{\"api_guide\":\"/docs/api\",\"memory_concepts\":\"/docs/memory-systems\",\"examples\":\"/docs/examples\"}}", NULL);
}

static void reply_json(struct reply *r, unsigned status)
{
	r->status = status;
	r->ctype = "application/json";
}

/* ---- request helpers --------------------------------------------------- */

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Engram's MemorySpaceId rules: trimmed, 3-64 chars of [a-z0-9_-]. */
static int valid_space(const char *raw, char *out, size_t cap, char *why, size_t whycap)
{
	while (isspace((unsigned char)*raw))
		raw++;
	size_t n = strlen(raw);
	while (n && isspace((unsigned char)raw[n - 1]))
		n--;
	if (n < 3 || n > 64) {
		snprintf(why, whycap, "Memory space id must be 3-64 characters, got %zu", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = raw[i];
		if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_' || ch == '-')) {
			snprintf(why, whycap, "Memory space id '%.*s' may only contain [a-z0-9_-]", (int)n, raw);
			return -1;
		}
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, raw, n);
	out[n] = '\0';
	return 0;
}

/* header X-Memory-Space > ?space= > body memory_space_id > "default". */
static struct es_space *resolve_space(struct MHD_Connection *c, const char *body_space,
				      int allow_query, struct reply *r)
{
	const char *raw = header(c, "X-Memory-Space");
	if (!raw && allow_query)
		raw = arg(c, "space");
	if (!raw)
		raw = body_space;
	if (!raw)
		raw = "default";
	char id[72], why[160];
	if (valid_space(raw, id, sizeof(id), why, sizeof(why))) {
		reply_error(r, 400, "INVALID_MEMORY_INPUT", why);
		return NULL;
	}
	struct es_space *s = es_space_get(id);
	if (!s)
		reply_error(r, 500, "MEMORY_SYSTEM_ERROR", "out of memory creating the memory space");
	return s;
}

static const char *category(float v)
{
	return v >= 0.7f ? "High" : v >= 0.4f ? "Medium" : "Low";
}

static void remember_response(struct reply *r, const char *id, float conf, int64_t observed,
			      int64_t stored)
{
	char ob[48], st[48], fb[32];
	fmt_time(observed, ob, sizeof(ob));
	fmt_time(stored, st, sizeof(st));
	struct buf *b = &r->body;
	buf_reset(b);
	buf_append_str(b, "{\"memory_id\":", NULL);
	j_str(b, id);
	buf_printf(b, NULL,
		   ",\"storage_confidence\":{\"value\":%s,\"category\":\"%s\",\"reasoning\":\"Default confidence for user-provided memory\"},"
		   "\"consolidation_state\":\"Recent\",\"observed_at\":\"%s\",\"stored_at\":\"%s\","
		   "\"links\":{\"consolidation\":\"/api/v1/consolidations\"},\"auto_links\":[],"
		   "\"system_message\":",
		   f32s(conf, fb), category(conf), ob, st);
	char msg[640];
	snprintf(msg, sizeof(msg),
		 "Memory '%.300s' successfully encoded with %.2f activation. Consider enabling auto-linking to discover related memories.",
		 id, (double)conf);
	j_str(b, msg);
	buf_append_str(b, "}", NULL);
	reply_json(r, 201);
}

/* ---- POST /api/v1/memories/remember and POST /api/v1/memories ----------- */

/*
 * Fast path for the bulk of a remember body: walk the top-level object with
 * jsonf's structural reader, parse the "embedding" array with
 * jsonf_parse_f32_array (correctly rounded, ~10x faster than building a
 * jansson tree of 768 reals), and hand jansson the rest of the body with
 * the array replaced by null. Anything unusual (malformed JSON, a
 * non-numeric array, an escaped key) returns -1 and the caller parses the
 * whole body with jansson, which produces the exact error responses.
 */
static int split_embedding(const char *b, size_t len, float **out, size_t *n, struct buf *rest)
{
	const char *lim = b + len, *p = jsonf_skip_ws(b, lim);
	if (p >= lim || *p != '{')
		return -1;
	for (p++;;) {
		p = jsonf_skip_ws(p, lim);
		if (p >= lim || *p != '"')
			return -1;
		const char *after = jsonf_match_string(p, lim, "embedding");
		const char *q = after ? after : jsonf_skip_value(p, lim);
		if (!q)
			return -1;
		q = jsonf_skip_ws(q, lim);
		if (q >= lim || *q != ':')
			return -1;
		q = jsonf_skip_ws(q + 1, lim);
		if (after) {
			if (q >= lim || *q != '[')
				return -1;
			size_t cap = 4 * ES_DIM;
			float *v = xmalloc_array(cap, sizeof(float));
			const char *end;
			if (!v || jsonf_parse_f32_array(q, (size_t)(lim - q), v, cap, n, &end) != JSONF_OK) {
				free(v);
				return -1;
			}
			buf_reset(rest);
			if (buf_append(rest, b, (size_t)(q - b), NULL) || buf_append(rest, "null", 4, NULL) ||
			    buf_append(rest, end, (size_t)(lim - end), NULL)) {
				free(v);
				return -1;
			}
			*out = v;
			return 0;
		}
		q = jsonf_skip_value(q, lim);
		if (!q)
			return -1;
		q = jsonf_skip_ws(q, lim);
		if (q >= lim || *q != ',')
			return -1; /* '}' (no embedding) or malformed: the slow path decides */
		p = q + 1;
	}
}

static int check_json_request(struct MHD_Connection *c, struct conn *cs, struct reply *r,
			      json_t **out, float **fast, size_t *fast_n)
{
	const char *ct = header(c, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		reply_plain(r, 415, "Expected request with `Content-Type: application/json`");
		return -1;
	}
	if (cs->too_big) {
		reply_plain(r, 413, "Failed to buffer the request body: length limit exceeded");
		return -1;
	}
	json_error_t je;
	json_t *j = NULL;
	if (fast) {
		struct buf rest;
		buf_init(&rest, 0);
		if (split_embedding(cs->body.data, cs->body.len, fast, fast_n, &rest) == 0) {
			j = json_loadb(rest.data, rest.len, 0, &je);
			if (!j) {
				free(*fast);
				*fast = NULL;
			}
		}
		buf_release(&rest);
	}
	if (!j)
		j = json_loadb(cs->body.data, cs->body.len, 0, &je);
	if (!j) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "Failed to parse the request body as JSON: %s at line %d column %d", je.text,
			 je.line, je.column);
		reply_plain(r, 400, msg);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_plain(r, 422, "Failed to deserialize the JSON body into the target type: invalid type: expected struct RememberMemoryRequest");
		return -1;
	}
	*out = j;
	return 0;
}

static void type_error(struct reply *r, const char *field, const char *want)
{
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "Failed to deserialize the JSON body into the target type: %s: invalid type, expected %s",
		 field, want);
	reply_plain(r, 422, msg);
}

static void handle_remember(struct MHD_Connection *c, struct conn *cs, struct reply *r,
			    int legacy)
{
	json_t *j;
	float *emb = NULL;
	size_t fast_n = 0;
	if (check_json_request(c, cs, r, &j, legacy ? NULL : &emb, &fast_n))
		return;
	json_t *content = json_object_get(j, "content");
	if (!content) {
		if (legacy)
			reply_error(r, 400, "INVALID_MEMORY_INPUT", "Missing 'content' field");
		else
			reply_plain(r, 422, "Failed to deserialize the JSON body into the target type: missing field `content`");
		goto out;
	}
	if (!json_is_string(content)) {
		if (legacy)
			reply_error(r, 400, "INVALID_MEMORY_INPUT", "Missing 'content' field");
		else
			type_error(r, "content", "a string");
		goto out;
	}
	const char *text = json_string_value(content);
	json_t *jid = legacy ? NULL : json_object_get(j, "id");
	json_t *jemb = legacy ? NULL : json_object_get(j, "embedding");
	json_t *jconf = json_object_get(j, "confidence");
	json_t *jts = legacy ? NULL : json_object_get(j, "timestamp");
	json_t *jspace = legacy ? NULL : json_object_get(j, "memory_space_id");
	if (jid && !json_is_null(jid) && !json_is_string(jid)) {
		type_error(r, "id", "a string");
		goto out;
	}
	if (jconf && !json_is_null(jconf) && !json_is_number(jconf)) {
		type_error(r, "confidence", "f32");
		goto out;
	}
	if (jts && !json_is_null(jts) && !json_is_string(jts)) {
		type_error(r, "timestamp", "an RFC 3339 string");
		goto out;
	}
	if (jspace && !json_is_null(jspace) && !json_is_string(jspace)) {
		type_error(r, "memory_space_id", "a string");
		goto out;
	}
	if (emb) { /* fast path: already parsed */
		if (fast_n != ES_DIM) {
			char msg[128];
			snprintf(msg, sizeof(msg), "Embedding must be exactly 768 dimensions, got %zu", fast_n);
			reply_error(r, 400, "INVALID_MEMORY_INPUT", msg);
			goto out;
		}
	} else if (jemb && !json_is_null(jemb)) {
		if (!json_is_array(jemb)) {
			type_error(r, "embedding", "a sequence");
			goto out;
		}
		size_t n = json_array_size(jemb);
		for (size_t i = 0; i < n; i++)
			if (!json_is_number(json_array_get(jemb, i))) {
				type_error(r, "embedding", "f32");
				goto out;
			}
		if (n != ES_DIM) {
			char msg[128];
			snprintf(msg, sizeof(msg), "Embedding must be exactly 768 dimensions, got %zu", n);
			reply_error(r, 400, "INVALID_MEMORY_INPUT", msg);
			goto out;
		}
		emb = xmalloc_array(ES_DIM, sizeof(float));
		for (size_t i = 0; i < n; i++)
			emb[i] = (float)json_number_value(json_array_get(jemb, i));
	}
	int64_t when = now_ns(), stored = when;
	if (jts && json_is_string(jts) && parse_time(json_string_value(jts), &when)) {
		type_error(r, "timestamp", "an RFC 3339 date-time");
		goto out;
	}
	const char *t = text;
	while (isspace((unsigned char)*t))
		t++;
	if (!*t) {
		reply_error(r, 400, "INVALID_MEMORY_INPUT",
			    "Memory content cannot be empty. The memory system needs meaningful content to create lasting neural patterns.");
		goto out;
	}
	if (!legacy && strlen(text) > CONTENT_MAX) {
		reply_error(r, 400, "INVALID_MEMORY_INPUT",
			    "Memory content too large (>100KB). Consider breaking this into smaller, more focused memories for better consolidation.");
		goto out;
	}
	struct es_space *sp = resolve_space(c, jspace ? json_string_value(jspace) : NULL, !legacy, r);
	if (!sp)
		goto out;
	if (!emb) { /* Engram's defaults: [0.5; 768] */
		emb = xmalloc_array(ES_DIM, sizeof(float));
		for (int i = 0; i < ES_DIM; i++)
			emb[i] = 0.5f;
	}
	char idbuf[160];
	if (jid && json_is_string(jid))
		snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(jid));
	else
		new_id("mem_", idbuf, sizeof(idbuf));
	float conf = jconf && json_is_number(jconf) ? (float)json_number_value(jconf) : 0.7f;
	struct es_new nm = {
		.id = xstrdup(idbuf),
		.content = xstrdup(text),
		.confidence = conf,
		.when_ns = when,
		.stored_ns = stored,
		.embedding = emb,
	};
	int rc = es_store(sp, &nm);
	free(nm.id);
	free(nm.content);
	if (rc < 0) {
		reply_error(r, 500, "MEMORY_SYSTEM_ERROR", "out of memory storing the memory");
		goto out;
	}
	remember_response(r, idbuf, conf, when, stored);
out:
	free(emb);
	json_decref(j);
}

/* ---- GET /api/v1/memories ---------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!s)
		return 0;
	if (strcmp(s, "true") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static void bad_query(struct reply *r, const char *what)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "Failed to deserialize query string: %s", what);
	reply_plain(r, 400, msg);
}

/* Shortest round-trip float32 text, like serde's f32 (jsonf). */
static void write_floats(struct buf *b, const float *v, int n)
{
	size_t mark = b->len;
	if (jsonf_write_f32_array(b, v, (size_t)n) != 0) {
		b->len = mark; /* drop the partial array */
		b->data[mark] = '\0';
		buf_append(b, "[", 1, NULL); /* non-finite values: JSON null each */
		for (int i = 0; i < n; i++) {
			char t[JSONF_F32_MAX];
			jsonf_write_f32(t, v[i]);
			buf_printf(b, NULL, i ? ",%s" : "%s", t);
		}
		buf_append(b, "]", 1, NULL);
	}
}

static void handle_list(struct MHD_Connection *c, struct reply *r)
{
	const char *tier = arg(c, "tier");
	uint64_t offset = 0, limit = 100;
	int with_emb = 0;
	if (arg(c, "offset") && parse_u64(arg(c, "offset"), &offset))
		return bad_query(r, "offset: invalid digit found in string");
	if (arg(c, "limit") && parse_u64(arg(c, "limit"), &limit))
		return bad_query(r, "limit: invalid digit found in string");
	if (parse_bool(arg(c, "include_embeddings"), &with_emb))
		return bad_query(r, "include_embeddings: provided string was not `true` or `false`");
	if (tier && strcmp(tier, "hot") != 0) {
		if (!strcmp(tier, "warm") || !strcmp(tier, "cold") || !strcmp(tier, "all")) {
			char msg[160];
			snprintf(msg, sizeof(msg), "The %s tier is not available on this server", tier);
			r->status = 501;
			reply_error(r, 501, "NOT_IMPLEMENTED", msg);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "Invalid tier '%s'. Use hot, warm, cold or all", tier);
			reply_error(r, 400, "BAD_REQUEST", msg);
		}
		return;
	}
	if (limit > 1000)
		limit = 1000;
	struct es_space *sp = resolve_space(c, NULL, 1, r);
	if (!sp)
		return;
	struct buf *b = &r->body;
	buf_reset(b);
	buf_append_str(b, "{\"memories\":[", NULL);
	pthread_rwlock_rdlock(&sp->lock);
	size_t returned = 0;
	for (uint64_t i = offset; i < sp->n && returned < limit; i++, returned++) {
		const struct es_mem *m = &sp->mem[i];
		char ts[48];
		fmt_time(m->when_ns, ts, sizeof(ts));
		buf_append_str(b, returned ? ",{\"id\":" : "{\"id\":", NULL);
		j_str(b, m->id);
		buf_append_str(b, ",\"content\":", NULL);
		j_str(b, m->content);
		char fb[32];
		buf_printf(b, NULL, ",\"confidence\":%s,\"timestamp\":\"%s\"", f32s(m->confidence, fb), ts);
		if (with_emb) {
			buf_append_str(b, ",\"embedding\":", NULL);
			write_floats(b, sp->vecs + i * ES_DIM, ES_DIM);
		}
		buf_append_str(b, "}", NULL);
	}
	size_t hot = sp->n + (sink_mode ? (size_t)atomic_load(&sink_count) : 0);
	pthread_rwlock_unlock(&sp->lock);
	buf_printf(b, NULL,
		   "],\"count\":%zu,\"pagination\":{\"offset\":%llu,\"limit\":%llu,\"returned\":%zu},"
		   "\"tier_counts\":{\"hot\":%zu,\"warm\":0,\"cold\":0,\"total\":%zu}}",
		   returned, (unsigned long long)offset, (unsigned long long)limit, returned, hot, hot);
	reply_json(r, 200);
}

static void handle_get_one(struct MHD_Connection *c, struct reply *r, const char *id)
{
	struct es_space *sp = resolve_space(c, NULL, 1, r);
	if (!sp)
		return;
	pthread_rwlock_rdlock(&sp->lock);
	long row = es_find(sp, id);
	if (row < 0) {
		pthread_rwlock_unlock(&sp->lock);
		char msg[256];
		snprintf(msg, sizeof(msg), "Memory '%.200s' not found in the cognitive graph", id);
		reply_error(r, 404, "MEMORY_NOT_FOUND", msg);
		return;
	}
	const struct es_mem *m = &sp->mem[row];
	char ts[48];
	fmt_time(m->when_ns, ts, sizeof(ts));
	struct buf *b = &r->body;
	buf_reset(b);
	buf_append_str(b, "{\"id\":", NULL);
	j_str(b, m->id);
	buf_append_str(b, ",\"content\":", NULL);
	j_str(b, m->content);
	char fb[32];
	buf_printf(b, NULL, ",\"confidence\":%s,\"timestamp\":\"%s\",\"memory_type\":\"episodic\"}",
		   f32s(m->confidence, fb), ts);
	pthread_rwlock_unlock(&sp->lock);
	reply_json(r, 200);
}

/* ---- recall and search ------------------------------------------------- */

struct hit {
	size_t row;
	float score;
};

/* Keep the best k in `top` (descending, ties keep the earlier row). */
static void top_push(struct hit *top, size_t *m, size_t k, size_t row, float s)
{
	if (*m == k && !(s > top[*m - 1].score))
		return;
	size_t p = *m < k ? (*m)++ : *m - 1;
	while (p > 0 && s > top[p - 1].score) {
		top[p] = top[p - 1];
		p--;
	}
	top[p].row = row;
	top[p].score = s;
}

static float text_score(const char *content, const char *q)
{
	if (strstr(content, q))
		return 0.9f;
	if (strcasestr(content, q))
		return 0.7f;
	return 0.35f;
}

/* Parse a JSON array of numbers (already percent-decoded); count in *n. */
static float *parse_embedding(const char *s, size_t *n)
{
	*n = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (*s++ != '[')
		return NULL;
	size_t cap = 1024;
	float *v = xmalloc_array(cap, sizeof(float));
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ']' && *n == 0)
			return v;
		char *end;
		float f = strtof(s, &end);
		if (end == s)
			break;
		if (*n == cap) {
			float *nv = xalloc_try_resize(v, cap *= 2, sizeof(float), "a vector", NULL);
			if (!nv)
				break;
			v = nv;
		}
		v[(*n)++] = f;
		s = end;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == ']') {
			s++;
			while (isspace((unsigned char)*s))
				s++;
			if (*s)
				break;
			return v;
		}
		break;
	}
	free(v);
	return NULL;
}

static void memory_result(struct buf *b, const struct es_mem *m, float score, int first)
{
	char ob[48], now[48], fs[32];
	f32s(score, fs);
	fmt_time(m->when_ns, ob, sizeof(ob));
	fmt_time(now_ns(), now, sizeof(now));
	buf_append_str(b, first ? "{\"id\":" : ",{\"id\":", NULL);
	j_str(b, m->id);
	buf_append_str(b, ",\"content\":", NULL);
	j_str(b, m->content);
	buf_printf(b, NULL,
		   ",\"confidence\":{\"value\":%s,\"category\":\"%s\",\"reasoning\":\"Recalled from memory store with confidence score\"},"
		   "\"activation_level\":%s,\"similarity_score\":%s,\"retrieval_path\":\"Memory store recall\","
		   "\"observed_at\":\"%s\",\"last_access\":\"%s\",\"tags\":[],\"memory_type\":\"Episodic\","
		   "\"relevance_explanation\":\"Retrieved with %.2f confidence\"}",
		   fs, category(score), fs, fs, ob, now, (double)score);
}

/* --delay-us N: every recall takes N µs longer, exactly (a regression to
 * detect): sleep to within 100 µs of the end, then spin on the clock, so
 * the added time does not carry the scheduler's wake-up error. */
static long recall_delay_us;

static void recall_delay(void)
{
	if (recall_delay_us <= 0)
		return;
	int64_t end = now_ns() + (int64_t)recall_delay_us * 1000;
	if (recall_delay_us > 200) {
		long ns = (recall_delay_us - 100) * 1000L;
		struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	while (now_ns() < end)
		;
}

static void handle_recall(struct MHD_Connection *c, struct reply *r)
{
	recall_delay();
	const char *query = arg(c, "query"), *embs = arg(c, "embedding");
	uint64_t k = 10;
	double threshold = 0.5;
	int with_meta = 0;
	if (arg(c, "max_results") && parse_u64(arg(c, "max_results"), &k))
		return bad_query(r, "max_results: invalid digit found in string");
	if (arg(c, "threshold")) {
		char *end;
		threshold = strtod(arg(c, "threshold"), &end);
		if (*end || end == arg(c, "threshold"))
			return bad_query(r, "threshold: invalid float literal");
	}
	if (parse_bool(arg(c, "include_metadata"), &with_meta))
		return bad_query(r, "include_metadata: provided string was not `true` or `false`");
	const char *mode = arg(c, "mode");
	if (mode && strcmp(mode, "similarity") != 0) {
		if (!strcmp(mode, "spreading") || !strcmp(mode, "hybrid"))
			return reply_error(r, 400, "INVALID_MEMORY_INPUT",
					   "Spreading recall requires the `spreading_api_beta` flag. Enable it with `engram config set feature_flags.spreading_api_beta true` and restart the server.");
		return reply_error(r, 400, "INVALID_MEMORY_INPUT", "Invalid recall mode. Use similarity, spreading or hybrid");
	}
	if (!query && !embs)
		return reply_error(r, 400, "INVALID_MEMORY_INPUT",
				   "Recall needs a cue: provide 'query' (text) or 'embedding' (JSON array of 768 floats)");
	float *q = NULL;
	if (!query) {
		size_t n;
		q = parse_embedding(embs, &n);
		if (!q)
			return reply_error(r, 400, "INVALID_MEMORY_INPUT",
					   "Invalid embedding: expected a JSON array of numbers");
		if (n != ES_DIM) {
			free(q);
			char msg[128];
			snprintf(msg, sizeof(msg), "Embedding must be exactly 768 dimensions, got %zu", n);
			return reply_error(r, 400, "INVALID_MEMORY_INPUT", msg);
		}
	}
	if (k > 100) /* the core cue caps results at 100 */
		k = 100;
	struct es_space *sp = resolve_space(c, NULL, 1, r);
	if (!sp) {
		free(q);
		return;
	}
	struct hit *top = malloc(xalloc_mul(k ? k : 1, sizeof(*top)));
	if (!top) {
		free(q);
		return reply_error(r, 500, "MEMORY_SYSTEM_ERROR", "out of memory");
	}
	size_t m = 0;
	struct buf *b = &r->body;
	buf_reset(b);
	pthread_rwlock_rdlock(&sp->lock);
	size_t total = sp->n;
	float qn = 0;
	if (q) {
		for (int i = 0; i < ES_DIM; i++)
			qn += q[i] * q[i];
		qn = sqrtf(qn);
	}
	for (size_t i = 0; i < sp->n && k; i++) {
		float s = q ? es_cosine(sp, i, q, qn) : text_score(sp->mem[i].content, query);
		if (s < 0)
			s = 0;
		if (s < (float)threshold)
			continue;
		top_push(top, &m, k, i, s);
	}
	buf_append_str(b, "{\"memories\":{\"vivid\":[", NULL);
	int first = 1;
	for (size_t i = 0; i < m; i++)
		if (top[i].score > 0.7f) {
			memory_result(b, &sp->mem[top[i].row], top[i].score, first);
			first = 0;
		}
	buf_append_str(b, "],\"associated\":[", NULL);
	first = 1;
	for (size_t i = 0; i < m; i++)
		if (!(top[i].score > 0.7f)) {
			memory_result(b, &sp->mem[top[i].row], top[i].score, first);
			first = 0;
		}
	pthread_rwlock_unlock(&sp->lock);
	buf_append_str(b, "],\"reconstructed\":[]},\"recall_confidence\":{\"value\":0.8,\"category\":\"High\","
			  "\"reasoning\":\"Similarity recall emphasised lexical and embedding cues\"},"
			  "\"query_analysis\":{\"understood_intent\":", NULL);
	j_str(b, query ? query : "embedding similarity");
	buf_append_str(b, ",\"search_strategy\":\"Similarity recall\",\"cognitive_load\":\"Low\","
			  "\"suggestions\":[\"Set trace_activation=true to inspect activation flow\"]},\"metadata\":", NULL);
	if (with_meta)
		buf_printf(b, NULL, "{\"total_memories_searched\":%zu,\"activation_spread_hops\":2,"
			   "\"processing_time_ms\":0,\"memory_system_load\":\"Normal\"}", total);
	else
		buf_append_str(b, "null", NULL);
	buf_append_str(b, ",\"system_message\":\"Recall completed in 0ms. Found memories through direct matching and spreading activation.\"}", NULL);
	free(top);
	free(q);
	reply_json(r, 200);
}

static void handle_search(struct MHD_Connection *c, struct reply *r)
{
	const char *query = arg(c, "query");
	if (!query)
		return reply_error(r, 400, "INVALID_MEMORY_INPUT", "Missing 'query' parameter");
	uint64_t limit = 10;
	if (arg(c, "limit") && parse_u64(arg(c, "limit"), &limit))
		limit = 10; /* Engram ignores an unparsable limit */
	if (limit > 100)
		limit = 100;
	struct es_space *sp = resolve_space(c, NULL, 1, r);
	if (!sp)
		return;
	struct hit *top = malloc(xalloc_mul(limit ? limit : 1, sizeof(*top)));
	if (!top)
		return reply_error(r, 500, "MEMORY_SYSTEM_ERROR", "out of memory");
	size_t m = 0;
	struct buf *b = &r->body;
	buf_reset(b);
	buf_append_str(b, "{\"memories\":[", NULL);
	pthread_rwlock_rdlock(&sp->lock);
	for (size_t i = 0; i < sp->n && limit; i++) {
		float s = text_score(sp->mem[i].content, query);
		if (s >= 0.7f) /* the semantic cue's threshold */
			top_push(top, &m, limit, i, s);
	}
	for (size_t i = 0; i < m; i++) {
		const struct es_mem *mm = &sp->mem[top[i].row];
		char ts[48];
		fmt_time(mm->when_ns, ts, sizeof(ts));
		buf_append_str(b, i ? ",{\"id\":" : "{\"id\":", NULL);
		j_str(b, mm->id);
		buf_append_str(b, ",\"content\":", NULL);
		j_str(b, mm->content);
		char fb[32];
		buf_printf(b, NULL, ",\"confidence\":%s,\"memory_type\":\"episodic\",\"timestamp\":\"%s\"}",
			   f32s(top[i].score, fb), ts);
	}
	pthread_rwlock_unlock(&sp->lock);
	buf_printf(b, NULL, "],\"total\":%zu}", m);
	free(top);
	reply_json(r, 200);
}

/* ---- health ------------------------------------------------------------ */

static void handle_health(struct reply *r)
{
	char ts[48];
	fmt_time(now_ns(), ts, sizeof(ts));
	buf_reset(&r->body);
	buf_printf(&r->body, NULL,
		   "{\"status\":\"healthy\",\"service\":\"engram\",\"version\":\"0.1.0\",\"timestamp\":\"%s\"}", ts);
	reply_json(r, 200);
}

static void handle_system_health(struct MHD_Connection *c, struct reply *r)
{
	const char *filter = arg(c, "space");
	char want[72] = "";
	if (filter) {
		char why[160];
		if (valid_space(filter, want, sizeof(want), why, sizeof(why))) {
			char msg[320];
			snprintf(msg, sizeof(msg),
				 "Invalid space filter '%.64s': %s. Must be 4-64 lowercase alphanumeric characters.",
				 filter, why);
			return reply_error(r, 422, "MEMORY_VALIDATION_ERROR", msg);
		}
	}
	struct es_space *list[256];
	size_t n = es_space_list(list, 256);
	char ts[48];
	fmt_time(now_ns(), ts, sizeof(ts));
	struct buf *b = &r->body;
	buf_reset(b);
	buf_printf(b, NULL, "{\"status\":\"healthy\",\"timestamp\":\"%s\",\"checks\":[],\"spaces\":[", ts);
	int first = 1;
	for (size_t i = n; i-- > 0;) { /* creation order */
		if (filter && strcmp(list[i]->id, want) != 0)
			continue;
		pthread_rwlock_rdlock(&list[i]->lock);
		size_t cnt = list[i]->n;
		pthread_rwlock_unlock(&list[i]->lock);
		buf_append_str(b, first ? "{\"space\":" : ",{\"space\":", NULL);
		j_str(b, list[i]->id);
		buf_printf(b, NULL, ",\"memories\":%zu,\"pressure\":0.0,\"wal_lag_ms\":0.0,\"consolidation_rate\":0.0}", cnt);
		first = 0;
	}
	buf_append_str(b, "],\"cluster\":null}", NULL);
	reply_json(r, 200);
}

/* ---- dispatch ---------------------------------------------------------- */

static void unauthorized(struct reply *r, const char *why, const char *h)
{
	char msg[600];
	if (echo_auth)
		snprintf(msg, sizeof(msg), "%s (Authorization: %.500s)", why, h ? h : "");
	reply_error(r, 401, "UNAUTHORIZED", echo_auth ? msg : why);
}

static int authorized(struct MHD_Connection *c, const char *url, struct reply *r)
{
	if (!api_key)
		return 1;
	const char *h = header(c, "Authorization");
	if (!h) {
		unauthorized(r, "Missing Authorization header", h);
		return 0;
	}
	if (strncmp(h, "Bearer ", 7) != 0 || !h[7]) {
		unauthorized(r, "Invalid API key format or value", h);
		return 0;
	}
	if (strcmp(h + 7, api_key) != 0) {
		unauthorized(r, "API key not found", h);
		return 0;
	}
	if (revoke_after > 0 && !strcmp(url, "/api/v1/memories/remember") &&
	    atomic_fetch_add(&stores_authorized, 1) >= revoke_after) {
		unauthorized(r, "API key has been revoked", h);
		return 0;
	}
	return 1;
}

static void route(struct MHD_Connection *c, const char *method, const char *url, struct conn *cs,
		  struct reply *r)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	static const char prefix[] = "/api/v1/memories/";
	if (!authorized(c, url, r))
		return;
	if (get && strcmp(url, "/health") == 0)
		return handle_health(r);
	if (get && strcmp(url, "/health/alive") == 0)
		return reply_json(r, 200);
	if (get && strcmp(url, "/api/v1/system/health") == 0)
		return handle_system_health(c, r);
	if (post && strcmp(url, "/api/v1/memories/remember") == 0)
		return handle_remember(c, cs, r, 0);
	if (post && strcmp(url, "/api/v1/memories") == 0)
		return handle_remember(c, cs, r, 1);
	if (get && strcmp(url, "/api/v1/memories") == 0)
		return handle_list(c, r);
	if (get && strcmp(url, "/api/v1/memories/recall") == 0)
		return handle_recall(c, r);
	if (get && strcmp(url, "/api/v1/memories/search") == 0)
		return handle_search(c, r);
	if (strncmp(url, prefix, sizeof(prefix) - 1) == 0 && url[sizeof(prefix) - 1] &&
	    !strchr(url + sizeof(prefix) - 1, '/')) {
		const char *id = url + sizeof(prefix) - 1;
		if (get)
			return handle_get_one(c, r, id);
		if (strcmp(method, "DELETE") == 0) {
			buf_reset(&r->body);
			buf_append_str(&r->body, "{\"status\":\"not_supported\",\"message\":\"Memory deletion is not supported: memories decay rather than being erased\",\"memory_id\":", NULL);
			j_str(&r->body, id);
			buf_append_str(&r->body, "}", NULL);
			return reply_json(r, 200);
		}
	}
	static const char *const known[] = { "/health", "/health/alive", "/api/v1/system/health",
					     "/api/v1/memories/remember", "/api/v1/memories",
					     "/api/v1/memories/recall", "/api/v1/memories/search", NULL };
	for (int i = 0; known[i]; i++)
		if (strcmp(url, known[i]) == 0) { /* axum: right path, wrong method */
			reply_plain(r, 405, "");
			return;
		}
	r->status = 404;
	r->ctype = "text/plain; charset=utf-8";
	buf_reset(&r->body);
}

/*
 * Fault injection on the store route only (POST /api/v1/memories/remember),
 * so health and count stay truthful while ingest meets failures:
 * every Nth store gets 503 MEMORY_CLUSTER_UNAVAILABLE with Retry-After,
 * every Mth has its connection closed without a response, and stores that
 * arrive inside a stall window (relative to the first store) are held until
 * the window ends. Faulted requests store nothing.
 */
static long fault_503_every, fault_reset_every, fault_retry_after = 1;
static long fault_stall_at_ms = -1, fault_stall_ms;
static atomic_ullong fault_seen;
static atomic_ullong fault_t0;

enum fault { FAULT_NONE, FAULT_503, FAULT_RESET };

static enum fault store_fault(void)
{
	unsigned long long n = atomic_fetch_add(&fault_seen, 1) + 1;
	unsigned long long now = now_ns(), zero = 0;
	atomic_compare_exchange_strong(&fault_t0, &zero, now);
	if (fault_stall_at_ms >= 0) {
		unsigned long long t0 = atomic_load(&fault_t0);
		unsigned long long from = t0 + (unsigned long long)fault_stall_at_ms * 1000000ULL;
		unsigned long long to = from + (unsigned long long)fault_stall_ms * 1000000ULL;
		if (now >= from && now < to) {
			struct timespec ts = { (time_t)((to - now) / 1000000000ULL), (long)((to - now) % 1000000000ULL) };
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
	}
	if (fault_reset_every > 0 && n % (unsigned long long)fault_reset_every == 0)
		return FAULT_RESET;
	if (fault_503_every > 0 && n % (unsigned long long)fault_503_every == 0)
		return FAULT_503;
	return FAULT_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct conn *cs = *con_cls;
	if (!cs) { /* first call: headers only; reply on a later call (keep-alive) */
		cs = xcalloc(1, sizeof(*cs));
		buf_init(&cs->body, 0);
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!cs->too_big) {
			if (cs->body.len + *upload_size > BODY_LIMIT)
				cs->too_big = 1;
			else
				buf_append(&cs->body, upload, *upload_size, NULL);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	struct reply r = { 200, { 0 }, "application/json" };
	buf_init(&r.body, 0);
	enum fault f = FAULT_NONE;
	if (!strcmp(method, "POST") && !strcmp(url, "/api/v1/memories/remember"))
		f = store_fault();
	if (f == FAULT_RESET) {
		buf_release(&r.body);
		return MHD_NO; /* MHD closes the connection with no response */
	}
	if (f == FAULT_503) {
		buf_append_str(&r.body,
			       "{\"error\":{\"code\":\"MEMORY_CLUSTER_UNAVAILABLE\",\"message\":\"Cluster unavailable, retry later\","
			       "\"educational_context\":\"\",\"cognitive_guidance\":\"\"},\"documentation\":{}}",
			       NULL);
		r.status = 503;
	} else if (sink_mode && !strcmp(method, "POST") && !strcmp(url, "/api/v1/memories/remember")) {
		unsigned long long n = atomic_fetch_add(&sink_count, 1) + 1;
		buf_printf(&r.body, NULL, "{\"memory_id\":\"sink_%llu\",\"consolidation_state\":\"Recent\"}", n);
		r.status = 201;
	} else {
		route(c, method, url, cs, &r);
	}
	size_t len;
	char *data = buf_detach(&r.body, &len);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r.ctype);
	if (f == FAULT_503) {
		char ra[32];
		snprintf(ra, sizeof(ra), "%ld", fault_retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *cs = *con_cls;
	if (cs) {
		buf_release(&cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

static void usage(FILE *f)
{
	fputs("usage: engram-server [--port N] [--port-file F] [--threads N] [--api-key KEY]\n"
	      "                     [--no-dedup] [--hot-cap N] [fault options]\n"
	      "An in-memory stand-in for Engram's HTTP API (contract tests, benchmarks).\n"
	      "  --port N       listen on 127.0.0.1:N (0 = a free port; default 7432)\n"
	      "  --port-file F  write the bound port to F once listening\n"
	      "  --threads N    request threads (default 2)\n"
	      "  --api-key KEY  require 'Authorization: Bearer KEY' on every route\n"
	      "  --echo-auth    quote the received Authorization header in 401 messages\n"
	      "  --revoke-after N\n"
	      "                 revoke the key after N stores (401 \"API key has been revoked\")\n"
	      "  --no-dedup     skip Engram's semantic dedup (cosine >= 0.95) on store\n"
	      "  --hot-cap N    hot-tier cap per space (default 100000)\n"
	      "  --sink         benchmarks: answer stores 201 without parsing or keeping them\n"
	      "                 (only counted in tier_counts)\n"
	      "fault injection on POST /api/v1/memories/remember (tests):\n"
	      "  --fail-503-every N   answer every Nth store 503 with Retry-After\n"
	      "  --retry-after S      the Retry-After seconds (default 1)\n"
	      "  --reset-every N      close every Nth store's connection without a response\n"
	      "  --stall-at-ms T --stall-ms D\n"
	      "                       hold stores arriving in [T, T+D) ms after the first store until T+D\n"
	      "latency injection (regression-gate tests):\n"
	      "  --delay-us N         every recall answers N microseconds later (slept, then spun: exact)\n",
	      f);
}

int main(int argc, char **argv)
{
	long port = 7432, threads = 2, cap = 100000;
	const char *port_file = NULL;
	int dedup = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--no-dedup")) {
			dedup = 0;
		} else if (!strcmp(a, "--sink")) {
			sink_mode = 1;
		} else if (!strcmp(a, "--echo-auth")) {
			echo_auth = 1;
		} else if (v && !strcmp(a, "--revoke-after")) {
			revoke_after = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--port")) {
			port = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--port-file")) {
			port_file = v, i++;
		} else if (v && !strcmp(a, "--threads")) {
			threads = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--api-key")) {
			api_key = v, i++;
		} else if (v && !strcmp(a, "--hot-cap")) {
			cap = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--fail-503-every")) {
			fault_503_every = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--retry-after")) {
			fault_retry_after = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--reset-every")) {
			fault_reset_every = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--stall-at-ms")) {
			fault_stall_at_ms = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--stall-ms")) {
			fault_stall_ms = strtol(v, NULL, 10), i++;
		} else if (v && !strcmp(a, "--delay-us")) {
			recall_delay_us = strtol(v, NULL, 10), i++;
		} else {
			fprintf(stderr, "engram-server: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || port > 65535 || threads < 1 || threads > 64 || cap < 1) {
		fprintf(stderr, "engram-server: bad --port, --threads or --hot-cap value\n");
		return 2;
	}
	es_store_config((size_t)cap, dedup);
	atomic_store(&id_state, (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32));

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	struct MHD_Daemon *d;
	if (threads > 1)
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
				     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
				     MHD_OPTION_CONNECTION_LIMIT, 4000u,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
				     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				     MHD_OPTION_CONNECTION_LIMIT, 4000u,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "engram-server: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = info ? info->port : (unsigned)port;
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", bound) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
			fprintf(stderr, "engram-server: cannot write %s: %s\n", port_file, strerror(errno));
			MHD_stop_daemon(d);
			return 1;
		}
	}
	fprintf(stdout, " HTTP API: http://127.0.0.1:%u\n", bound);
	fflush(stdout);

	int sig = 0;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	es_store_free_all();
	fprintf(stderr, "engram-server: stopped (signal %d)\n", sig);
	return 0;
}
