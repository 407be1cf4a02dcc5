/*
 * test_embed_http.c — the http embedder against a fake embedding server
 * (libmicrohttpd, started in the test) that answers both the OpenAI and the
 * Ollama shapes with deterministic hash-based vectors: batching, order
 * (the OpenAI answers come back in reverse index order), concurrency, a
 * 503-then-success retry, a wrong dimension, a 400 and an unreachable server.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/embed_http.h"
#include "engrave/err.h"
#include "engrave/jsonf.h"

static struct MHD_Daemon *srv;
static int srv_port;
static int srv_dim = 8;
static int fail_503 = 0;   /* answer this many requests with 503 first */
static int requests = 0;
static int max_batch_seen = 0;

/* The fake model: component j of text t. */
static float fake(const char *t, size_t len, int j)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)t[i]) * 1099511628211ULL;
	h ^= (uint64_t)j * 0x9e3779b97f4a7c15ULL;
	h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL;
	return (float)((double)(h >> 40) / (double)(1 << 24) - 0.5);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)method, (void)version;
	struct buf *b = *con_cls;
	if (!b) {
		b = calloc(1, sizeof(*b));
		buf_init(b, 0);
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		buf_append(b, upload, *upload_size, NULL);
		*upload_size = 0;
		return MHD_YES;
	}
	int n = __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
	unsigned status = 200;
	struct buf out;
	buf_init(&out, 0);
	int ollama = !strcmp(url, "/api/embed");
	json_t *root = json_loadb(b->data, b->len, 0, NULL);
	json_t *input = root ? json_object_get(root, "input") : NULL;
	const char *model = root ? json_string_value(json_object_get(root, "model")) : NULL;
	if (n <= __atomic_load_n(&fail_503, __ATOMIC_SEQ_CST)) {
		status = 503;
		buf_append_str(&out, "{\"error\":\"loading model\"}", NULL);
	} else if (!json_is_array(input) || !model || strcmp(model, "fake-model")) {
		status = 400;
		buf_append_str(&out, "{\"error\":\"bad request: model or input\"}", NULL);
	} else {
		size_t k = json_array_size(input);
		if ((int)k > max_batch_seen)
			max_batch_seen = (int)k;
		float *v = malloc(sizeof(float) * (size_t)srv_dim);
		buf_append_str(&out, ollama ? "{\"model\":\"fake-model\",\"embeddings\":[" :
					      "{\"object\":\"list\",\"data\":[", NULL);
		for (size_t r = 0; r < k; r++) {
			size_t i = ollama ? r : k - 1 - r; /* OpenAI: reverse order on purpose */
			json_t *t = json_array_get(input, i);
			for (int j = 0; j < srv_dim; j++)
				v[j] = fake(json_string_value(t), json_string_length(t), j);
			if (r)
				buf_append_str(&out, ",", NULL);
			if (!ollama)
				buf_append_str(&out, "{\"object\":\"embedding\",\"embedding\":", NULL);
			jsonf_write_f32_array(&out, v, (size_t)srv_dim);
			if (!ollama)
				buf_printf(&out, NULL, ",\"index\":%zu}", i);
		}
		buf_append_str(&out, ollama ? "]}" : "],\"model\":\"fake-model\",\"usage\":{\"prompt_tokens\":1}}",
			       NULL);
		free(v);
	}
	json_decref(root);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "0");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	buf_release(&out);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct buf *b = *con_cls;
	if (b) {
		buf_release(b);
		free(b);
		*con_cls = NULL;
	}
}

static void start(void)
{
	srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
			       NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
			       NULL, MHD_OPTION_END);
	cr_assert(srv);
	srv_port = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
	MHD_stop_daemon(srv);
}

TestSuite(embed_http, .init = start, .fini = stop, .timeout = 60);

static char base[64];
static const char *base_url(void)
{
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv_port);
	return base;
}

enum { NT = 103 };
static char text_store[NT][48];
static const char *texts[NT];

static void make_texts(void)
{
	for (int i = 0; i < NT; i++) {
		snprintf(text_store[i], sizeof(text_store[i]), "article %d \"quoted\"\n\xc3\xa9", i);
		texts[i] = text_store[i];
	}
}

static void check_rows(const float *out, int dim)
{
	for (int i = 0; i < NT; i++)
		for (int j = 0; j < dim; j++)
			if (out[(size_t)i * (size_t)dim + (size_t)j] != fake(texts[i], strlen(texts[i]), j))
				cr_assert_fail("row %d col %d differs", i, j);
}

static void run_api(enum embed_http_api api)
{
	make_texts();
	struct embed_http_opts o = { .api = api, .url = base_url(), .model = "fake-model",
				     .dim = 8, .batch_size = 10, .concurrency = 3 };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0, "%s", e.msg);
	float *out = calloc(NT * 8, sizeof(float));
	cr_assert_eq(embed_http_batch(eh, texts, NULL, NT, out, &e), 0, "%s", e.msg);
	check_rows(out, 8);
	cr_assert_eq(max_batch_seen, 10);
	struct embed_http_stats st;
	embed_http_get_stats(eh, &st);
	cr_assert_eq(st.requests, 11);
	cr_assert_eq(st.retries, 0);
	cr_assert_eq(st.texts, NT);
	free(out);
	embed_http_free(eh);
}

Test(embed_http, openai_shape_in_input_order)
{
	run_api(EMBED_HTTP_OPENAI);
}

Test(embed_http, ollama_shape)
{
	run_api(EMBED_HTTP_OLLAMA);
}

Test(embed_http, retries_503_then_succeeds)
{
	make_texts();
	fail_503 = 3;
	struct embed_http_opts o = { .api = EMBED_HTTP_OPENAI, .url = base_url(),
				     .model = "fake-model", .dim = 8, .batch_size = 50,
				     .concurrency = 2,
				     .retry = { 5, NS_PER_MS, 20 * NS_PER_MS, 0.2, 1 } };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0, "%s", e.msg);
	float *out = calloc(NT * 8, sizeof(float));
	cr_assert_eq(embed_http_batch(eh, texts, NULL, NT, out, &e), 0, "%s", e.msg);
	check_rows(out, 8);
	struct embed_http_stats st;
	embed_http_get_stats(eh, &st);
	cr_assert_eq(st.retries, 3);
	cr_assert_eq(st.requests, 6);
	free(out);
	embed_http_free(eh);
}

Test(embed_http, gives_up_when_503_persists)
{
	make_texts();
	fail_503 = 1000;
	struct embed_http_opts o = { .api = EMBED_HTTP_OLLAMA, .url = base_url(),
				     .model = "fake-model", .dim = 8, .batch_size = 200,
				     .retry = { 3, NS_PER_MS, 2 * NS_PER_MS, 0, 0 } };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	float out[NT * 8];
	cr_assert_eq(embed_http_batch(eh, texts, NULL, NT, out, &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	char want[128];
	snprintf(want, sizeof(want), "POST %s/api/embed: HTTP 503 after 3 attempts: ", base_url());
	cr_assert(!strncmp(e.msg, want, strlen(want)), "%s", e.msg);
	cr_assert(strstr(e.msg, "loading model"), "%s", e.msg);
	embed_http_free(eh);
}

Test(embed_http, wrong_dimension_is_named)
{
	make_texts();
	srv_dim = 384;
	struct embed_http_opts o = { .api = EMBED_HTTP_OPENAI, .url = base_url(),
				     .model = "fake-model", .dim = 768, .batch_size = 16 };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	float *out = calloc((size_t)NT * 768, sizeof(float));
	cr_assert_eq(embed_http_batch(eh, texts, NULL, NT, out, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	cr_assert_str_eq(e.msg, "model fake-model returned 384-dim vectors, spec says 768");
	cr_assert(strstr(e.hint, "dim: 384"), "%s", e.hint);
	free(out);
	embed_http_free(eh);
}

Test(embed_http, bad_request_is_not_retried)
{
	make_texts();
	struct embed_http_opts o = { .api = EMBED_HTTP_OPENAI, .url = base_url(),
				     .model = "other-model", .dim = 8 };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	float out[8];
	cr_assert_eq(embed_http_batch(eh, texts, NULL, 1, out, &e), -1);
	cr_assert(strstr(e.msg, "HTTP 400 after 1 attempt: "), "%s", e.msg);
	cr_assert_eq(requests, 1);
	embed_http_free(eh);
}

Test(embed_http, identity_lengths_and_options)
{
	struct embed_http_opts o = { .api = EMBED_HTTP_OPENAI, .url = "http://h:1/v1/embeddings",
				     .model = "m", .dim = 768, .api_key = "secret" };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	cr_assert_str_eq(embed_http_identity(eh), "http:openai http://h:1/v1/embeddings model=m dim=768");
	cr_assert_null(strstr(embed_http_identity(eh), "secret"));
	cr_assert_eq(embed_http_dim(eh), 768);
	embed_http_free(eh);
	o.api = EMBED_HTTP_OLLAMA;
	o.url = "http://h:11434/";
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	cr_assert_str_eq(embed_http_identity(eh), "http:ollama http://h:11434/api/embed model=m dim=768");
	embed_http_free(eh);
	o.dim = 0;
	cr_assert_eq(embed_http_new(&o, &eh, &e), -1);
	cr_assert_eq(e.cls, ERR_SPEC);
	enum embed_http_api api;
	cr_assert_eq(embed_http_api_parse("ollama", &api, NULL), 0);
	cr_assert_eq(api, EMBED_HTTP_OLLAMA);
	cr_assert_eq(embed_http_api_parse("cohere", &api, &e), -1);
	cr_assert(strstr(e.hint, "openai"));

	/* explicit lengths: only the prefix is sent */
	const char *t[1] = { "abcdef" };
	size_t len[1] = { 3 };
	o = (struct embed_http_opts){ .api = EMBED_HTTP_OLLAMA, .url = base_url(),
				      .model = "fake-model", .dim = 8 };
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	float out[8];
	cr_assert_eq(embed_http_batch(eh, t, len, 1, out, &e), 0, "%s", e.msg);
	for (int j = 0; j < 8; j++)
		cr_assert_eq(out[j], fake("abc", 3, j));
	embed_http_free(eh);
}

Test(embed_http, unreachable_server)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						handler, NULL, MHD_OPTION_END);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	MHD_stop_daemon(d);
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d", port);
	struct embed_http_opts o = { .api = EMBED_HTTP_OPENAI, .url = u, .model = "m", .dim = 8,
				     .retry = { 2, NS_PER_MS, NS_PER_MS, 0, 0 } };
	struct embed_http *eh;
	struct err e = ERR_INIT;
	cr_assert_eq(embed_http_new(&o, &eh, &e), 0);
	const char *t[1] = { "x" };
	float out[8];
	cr_assert_eq(embed_http_batch(eh, t, NULL, 1, out, &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	cr_assert(strstr(e.msg, "/v1/embeddings: "), "%s", e.msg);
	cr_assert(strstr(e.msg, "after 2 attempts"), "%s", e.msg);
	embed_http_free(eh);
}
