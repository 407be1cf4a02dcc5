/*
 * fuzz_loopback.c — libFuzzer harness: the response parsers only reachable
 * over the network (the drivers' synchronous calls, the http embedder).
 *
 * fuzz_target_resp feeds target_parse_store/_recall/_search directly; the
 * other answers a server gives are parsed inside synchronous calls that
 * send their own requests (health, count, describe_env, fetch_embeddings,
 * fetch_all, get_vectors, has_ids, chroma's collection resolve and reset,
 * the sync store) and inside embed_http_batch's pump. So the harness plays
 * the server: on the first input it starts one thread serving HTTP/1.1 on
 * 127.0.0.1 (ephemeral port, poll over the listener and a few keep-alive
 * connections, static buffers only: nothing it allocates lives across
 * inputs). It answers every request, whatever its path, with the current
 * response: the status and body taken from the input (copied under a
 * mutex before each call, so a late reader never sees freed memory), with
 * Content-Length and keep-alive; status 0 hangs up without answering (a
 * transport error). 204 answers carry no body.
 *
 * Targets are opened once against the loopback URL (dim 4, one attempt so
 * nothing sleeps, 2 s timeout): engram, and a chroma target whose
 * collection was resolved at setup from a canned answer, so an input costs
 * one request and every input behaves the same whatever ran before it.
 * Chroma's resolve (pre-flight + get-or-create) and reset run on a fresh
 * chroma target per input instead, for the same reason. The embedders
 * (openai and ollama shapes, dim 4, one attempt, one request in flight)
 * are made once; each call embeds three short texts in batches of 3 or 2.
 *
 * Input: byte 0 picks the call (ops[] below, modulo its length), byte 1
 * the HTTP status (statuses[], as in fuzz_target_resp: index 0 = 200,
 * 3 = 400, 14 = hang up), the rest is the body of every answer. Any error
 * return is fine; crashes, UB, leaks and broken header promises (ids of
 * get_vectors in the asked order, fetch_all without duplicates,
 * NUL-terminated strings) are bugs.
 */
#include "fuzzlib.h"

#include "engrave/embed_http.h"
#include "engrave/envlist.h"
#include "engrave/err.h"
#include "engrave/target.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DIM 4
#define RESP_MAX (1u << 20) /* the largest body served; longer inputs are skipped */
#define REQ_MAX 16384       /* request bytes buffered per connection (bodies are skipped, not kept) */
#define MAXC 16             /* connections served at once */

/* ---- the server ---------------------------------------------------------- */

static const long statuses[] = { 200, 201, 204, 400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 0, 299 };

static struct {
	pthread_mutex_t mu;
	long status; /* 0: hang up */
	size_t len;
	char body[RESP_MAX];
} cur = { .mu = PTHREAD_MUTEX_INITIALIZER, .status = 200 };

struct conn {
	int fd;          /* -1: free */
	size_t len;      /* bytes in buf */
	int in_body;     /* the head was read; body_left bytes of body to skip */
	size_t body_left;
	char buf[REQ_MAX];
};

static int lfd = -1;
static char base_url[64];
static struct conn conns[MAXC];
static char out[RESP_MAX + 256]; /* server thread only */

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->in_body = 0;
	c->body_left = 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1; /* the client gave up: it may (timeouts) */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Answer one request with the current response; -1: close the connection. */
static int answer(struct conn *c)
{
	pthread_mutex_lock(&cur.mu);
	long status = cur.status;
	size_t blen = status == 204 ? 0 : cur.len;
	int h = 0;
	if (status)
		h = snprintf(out, 256, "HTTP/1.1 %ld Fuzz\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     status, blen);
	memcpy(out + h, cur.body, blen);
	pthread_mutex_unlock(&cur.mu);
	if (!status)
		return -1;
	return send_all(c->fd, out, (size_t)h + blen);
}

/* Content-Length of a request head (lower-cased copy in `low`); -1: unsupported framing. */
static long head_body_len(const char *head, size_t n)
{
	static char low[REQ_MAX + 1];
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)head[i]);
	low[n] = '\0';
	if (strstr(low, "\ntransfer-encoding:"))
		return -1; /* curl sends a length with every body engrave makes */
	const char *p = strstr(low, "\ncontent-length:");
	return p ? strtol(p + 16, NULL, 10) : 0;
}

/* Take what arrived: skip each request's body, answer each complete request. */
static int serve(struct conn *c)
{
	for (;;) {
		if (c->in_body) {
			size_t k = c->len < c->body_left ? c->len : c->body_left;
			memmove(c->buf, c->buf + k, c->len - k);
			c->len -= k;
			c->body_left -= k;
			if (c->body_left)
				return 0;
			c->in_body = 0;
			if (answer(c))
				return -1;
			continue;
		}
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return c->len == sizeof(c->buf) ? -1 : 0;
		size_t hl = (size_t)(end - c->buf) + 4;
		long bl = head_body_len(c->buf, hl);
		if (bl < 0)
			return -1;
		memmove(c->buf, c->buf + hl, c->len - hl);
		c->len -= hl;
		c->in_body = 1;
		c->body_left = (size_t)bl;
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	struct pollfd pf[MAXC + 1];
	for (;;) {
		pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAXC; i++)
			pf[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		if (poll(pf, MAXC + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("fuzz_loopback: poll");
			abort();
		}
		for (int i = 0; i < MAXC; i++) {
			struct conn *c = &conns[i];
			if (c->fd < 0 || !(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				conn_close(c);
				continue;
			}
			c->len += (size_t)r;
			if (serve(c))
				conn_close(c);
		}
		if (pf[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			struct timeval tv = { .tv_sec = 3 }; /* never stuck on a client that stopped reading */
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			int i = 0;
			while (i < MAXC && conns[i].fd >= 0)
				i++;
			if (i == MAXC)
				close(fd); /* more than the harness ever opens at once */
			else
				conns[i].fd = fd;
		}
	}
	return NULL;
}

static void start_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&a, &al)) {
		perror("fuzz_loopback: listener");
		abort();
	}
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", ntohs(a.sin_port));
	for (int i = 0; i < MAXC; i++)
		conns[i].fd = -1;
	pthread_t th;
	if (pthread_create(&th, NULL, server_main, NULL)) {
		perror("fuzz_loopback: pthread_create");
		abort();
	}
	pthread_detach(th);
}

static void set_response(long status, const void *body, size_t n)
{
	pthread_mutex_lock(&cur.mu);
	cur.status = status;
	cur.len = n;
	memcpy(cur.body, body, n);
	pthread_mutex_unlock(&cur.mu);
}

/* ---- the clients --------------------------------------------------------- */

static struct target *engram, *chroma;
static struct embed_http *embedders[4]; /* openai batch 3, openai batch 2, ollama batch 3, ollama batch 2 */

static struct target *open_target(const char *driver)
{
	struct target_config cfg = { .driver = driver, .url = base_url, .dim = DIM, .retries = 1,
				     .timeout_ns = 2 * NS_PER_S, .space = "fuzz-space" };
	struct target *t = NULL;
	struct err e = ERR_INIT;
	if (target_open(&cfg, &t, &e)) {
		fprintf(stderr, "fuzz_loopback: %s\n", e.msg);
		abort();
	}
	return t;
}

static void setup(void)
{
	start_server();
	engram = open_target("engram");
	chroma = open_target("chroma");
	/* resolve chroma's collection once: one body that is both a pre-flight
	 * answer and a collection (the count after it fails: not an integer) */
	static const char canned[] = "{\"max_batch_size\":100,\"supports_base64_encoding\":true,"
				     "\"id\":\"fuzz-collection\",\"dimension\":4}";
	set_response(200, canned, sizeof(canned) - 1);
	uint64_t n;
	struct err e = ERR_INIT;
	target_count(chroma, &n, &e);
	if (target_max_batch(chroma) != 100) {
		fprintf(stderr, "fuzz_loopback: chroma collection not resolved at setup: %s\n", e.msg);
		abort();
	}
	for (int i = 0; i < 4; i++) {
		struct embed_http_opts o = { .api = i < 2 ? EMBED_HTTP_OPENAI : EMBED_HTTP_OLLAMA,
					     .url = base_url, .model = "fuzz-model", .dim = DIM,
					     .batch_size = i % 2 ? 2 : 3, .concurrency = 1,
					     .timeout_ns = 2 * NS_PER_S, .retry = { .max_attempts = 1 } };
		if (embed_http_new(&o, &embedders[i], &e)) {
			fprintf(stderr, "fuzz_loopback: %s\n", e.msg);
			abort();
		}
	}
}

/* ---- the calls ----------------------------------------------------------- */

enum op {
	OP_HEALTH,      /* engram GET /health; chroma heartbeat + version */
	OP_COUNT,
	OP_DESCRIBE_ENV,
	OP_FETCH,       /* one page of 3 */
	OP_FETCH_ALL,
	OP_GET_VECTORS,
	OP_HAS_IDS,
	OP_STORE,       /* the synchronous store_batch (parse_store itself: fuzz_target_resp) */
	OP_DELETE,      /* chroma only */
	OP_SET_EF,      /* chroma only */
	OP_RESOLVE,     /* chroma only, fresh target: pre-flight, get-or-create, count */
	OP_RESET,       /* chroma only, fresh target: delete, pre-flight, get-or-create */
	OP_EMBED,
};

static const struct {
	int which; /* 0 engram, 1 chroma, 2.. embedders[which - 2] */
	enum op op;
} ops[] = {
	{ 0, OP_HEALTH },   { 0, OP_COUNT },    { 0, OP_DESCRIBE_ENV }, { 0, OP_FETCH },
	{ 0, OP_FETCH_ALL }, { 0, OP_GET_VECTORS }, { 0, OP_HAS_IDS }, { 0, OP_STORE },
	{ 1, OP_HEALTH },   { 1, OP_COUNT },    { 1, OP_DESCRIBE_ENV }, { 1, OP_FETCH },
	{ 1, OP_FETCH_ALL }, { 1, OP_GET_VECTORS }, { 1, OP_HAS_IDS }, { 1, OP_STORE },
	{ 1, OP_DELETE },   { 1, OP_SET_EF },   { 1, OP_RESOLVE },      { 1, OP_RESET },
	{ 2, OP_EMBED },    { 3, OP_EMBED },    { 4, OP_EMBED },        { 5, OP_EMBED },
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

static const char *const ids[] = { "a1", "b2", "missing" };
#define N_IDS 3

static void check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void check_vectors(const struct target_vectors *v)
{
	if (v->dim != DIM || v->n > v->cap)
		abort();
	for (size_t i = 0; i < v->n; i++)
		if (!v->ids[i] || v->found[i] > 1)
			abort();
}

static void run_target(struct target *t, enum op op)
{
	struct err e = ERR_INIT;
	struct target_vectors v;
	target_vectors_init(&v, DIM);
	switch (op) {
	case OP_HEALTH: {
		char version[64];
		memset(version, 'x', sizeof(version));
		target_health(t, version, sizeof(version), &e);
		check_str(version, sizeof(version));
		break;
	}
	case OP_COUNT: {
		uint64_t n;
		target_count(t, &n, &e);
		break;
	}
	case OP_DESCRIBE_ENV: {
		static struct envlist env; /* ~13 KB */
		envlist_init(&env);
		target_describe_env(t, &env);
		if (env.n < 0 || env.n > ENVLIST_MAX)
			abort();
		for (int i = 0; i < env.n; i++) {
			check_str(env.v[i].key, sizeof(env.v[i].key));
			check_str(env.v[i].value, sizeof(env.v[i].value));
		}
		break;
	}
	case OP_FETCH:
		if (target_fetch_embeddings(t, 0, 3, &v, &e) == 0)
			check_vectors(&v);
		break;
	case OP_FETCH_ALL:
		if (target_fetch_all(t, 0, &v, &e) == 0) {
			check_vectors(&v);
			for (size_t i = 0; i < v.n && i < 512; i++) /* de-duplicated by id */
				for (size_t j = i + 1; j < v.n && j < 512; j++)
					if (!strcmp(v.ids[i], v.ids[j]))
						abort();
		}
		break;
	case OP_GET_VECTORS:
		if (target_get_vectors(t, ids, N_IDS, &v, &e) == 0) {
			check_vectors(&v);
			if (v.n != N_IDS) /* row i is ids[i] */
				abort();
			for (size_t i = 0; i < N_IDS; i++)
				if (strcmp(v.ids[i], ids[i]))
					abort();
		}
		break;
	case OP_HAS_IDS: {
		unsigned char found[N_IDS];
		if (target_has_ids(t, ids, N_IDS, found, &e) == 0)
			for (size_t i = 0; i < N_IDS; i++)
				if (found[i] > 1)
					abort();
		break;
	}
	case OP_STORE: {
		static const float vec[2][DIM] = { { 0.1f, 0.2f, 0.3f, 0.4f }, { -0.5f, 0.5f, 0.0f, 1.0f } };
		struct target_record recs[2] = {
			{ .id = "a1", .vec = vec[0], .content = "seed one", .confidence = 0.7f },
			{ .id = "b2", .vec = vec[1], .content = "seed two", .confidence = -1.0f },
		};
		struct target_store_result res[2];
		if (target_store_batch(t, recs, 2, res, &e) == 0)
			for (int i = 0; i < 2; i++) {
				if (res[i].status > TARGET_FAILED)
					abort();
				check_str(res[i].server_id, sizeof(res[i].server_id));
				check_str(res[i].reason, sizeof(res[i].reason));
			}
		break;
	}
	case OP_DELETE:
		target_delete(t, ids, N_IDS, &e);
		break;
	case OP_SET_EF:
		target_set_ef_search(t, 64, &e);
		break;
	case OP_RESOLVE: {
		uint64_t n;
		target_count(t, &n, &e);
		break;
	}
	case OP_RESET:
		target_reset(t, &e);
		break;
	case OP_EMBED:
		break;
	}
	check_str(e.msg, sizeof(e.msg));
	target_vectors_release(&v);
}

static void run_embed(struct embed_http *eh)
{
	static const char *const texts[] = { "alpha", "beta gamma", "\xce\xb4 \"quoted\"" };
	float vecs[3 * DIM];
	struct err e = ERR_INIT;
	embed_http_batch(eh, texts, NULL, 3, vecs, &e);
	check_str(e.msg, sizeof(e.msg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	if (lfd < 0)
		setup();
	struct fuzz_in in = { data, n };
	uint8_t sel = fuzz_take_u8(&in);
	long status = statuses[fuzz_take_u8(&in) % (sizeof(statuses) / sizeof(statuses[0]))];
	if (in.n > RESP_MAX)
		return 0;
	set_response(status, in.p, in.n);
	int which = ops[sel % N_OPS].which;
	enum op op = ops[sel % N_OPS].op;
	if (which >= 2) {
		run_embed(embedders[which - 2]);
	} else if (op == OP_RESOLVE || op == OP_RESET) {
		struct target *fresh = open_target("chroma"); /* nothing resolved yet */
		run_target(fresh, op);
		target_close(fresh);
	} else {
		run_target(which ? chroma : engram, op);
	}
	return 0;
}
