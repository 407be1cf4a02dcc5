/*
 * test_wire.c — the native HTTP/1.1 transport (wire.c), driven through the
 * engine API with opts.native, against real servers started by the test:
 *
 *   - a libmicrohttpd server (thread per connection) for keep-alive reuse,
 *     chunked bodies, Connection: close, body limits, 503 + Retry-After,
 *     POST/PUT bodies (hashed by the server), request headers, HEAD, and a
 *     second one with a 1 s idle timeout (it closes idle keep-alive
 *     connections);
 *   - a raw TCP server (threads, canned bytes) for what a library server
 *     will not do on purpose: bodies read until EOF, HTTP/1.0, interim 100
 *     responses, headers split across reads, bytes after a response, empty
 *     replies, truncated bodies, garbage, and connections closed or reset
 *     after their first response (the re-send rule);
 *   - build/tools/faultd with a stall window, for request timeouts;
 *   - a listening socket whose accept queue is full, for connect timeouts,
 *     and a dead port for connection refused.
 *
 * Transport failures must look as they do on the libcurl path: status 0,
 * the CURLcode curl would give (loadgen classifies by it), a message
 * naming the host.
 */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engrave/engine.h"
#include "engrave/err.h"
#include "../lib/server_proc.h"

/* CURLcode values (curl.h stays inside src/net/) */
enum {
	C_COULDNT_CONNECT = 7,
	C_WEIRD_SERVER_REPLY = 8,
	C_PARTIAL_FILE = 18,
	C_WRITE_ERROR = 23,
	C_OPERATION_TIMEDOUT = 28,
	C_GOT_NOTHING = 52,
	C_FILESIZE_EXCEEDED = 63,
};

/* ---- results ---------------------------------------------------------------- */

struct res {
	int calls;
	long status;
	int terr;
	char err[256];
	char body[4096];
	size_t body_len;
	double retry_after;
	char ct[64];
	mono_ns sent, done;
	uint64_t elapsed;
	int order; /* completion order, from 1 */
};

static int completions;

static void on_res(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	struct res *r = user;
	r->calls++;
	r->status = rs->status;
	r->terr = rs->transport_error;
	snprintf(r->err, sizeof(r->err), "%s", rs->error);
	r->body_len = rs->body.len;
	size_t k = rs->body.len < sizeof(r->body) - 1 ? rs->body.len : sizeof(r->body) - 1;
	memcpy(r->body, rs->body.data, k);
	r->body[k] = '\0';
	r->retry_after = rs->retry_after_s;
	snprintf(r->ct, sizeof(r->ct), "%s", rs->content_type);
	r->sent = sent;
	r->done = done;
	r->elapsed = rs->elapsed_ns;
	r->order = ++completions;
}

static struct engine *new_engine(int max_conns, int max_in_flight)
{
	unsetenv("ENGRAVE_HTTP_TRANSPORT");
	struct engine_opts o = { .max_connections = max_conns, .max_in_flight = max_in_flight,
				 .native = 1 };
	struct engine *en;
	struct err e = ERR_INIT;
	cr_assert_eq(engine_new(&o, &en, &e), 0, "%s", e.msg);
	return en;
}

/* One request, driven to completion. */
static void one(struct engine *en, const struct http_request *rq, struct res *out)
{
	struct err e = ERR_INIT;
	memset(out, 0, sizeof(*out));
	cr_assert_eq(engine_submit(en, rq, on_res, out, &e), 0, "%s", e.msg);
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	cr_assert_eq(out->calls, 1);
}

static void get(struct engine *en, const char *url, struct res *out)
{
	struct http_request rq = { .url = url };
	one(en, &rq, out);
}

static struct engine_stats stats(struct engine *en)
{
	struct engine_stats st;
	engine_get_stats(en, &st);
	return st;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}
#define FNV0 1469598103934665603ULL

/* ---- libmicrohttpd server ------------------------------------------------------ */

static struct MHD_Daemon *srv;
static int srv_port;
static _Atomic int srv_conns;

struct upload {
	uint64_t hash;
	size_t len;
};

static void on_conn(void *cls, struct MHD_Connection *c, void **sc,
		    enum MHD_ConnectionNotificationCode code)
{
	(void)cls, (void)c, (void)sc;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&srv_conns, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

struct chunker {
	int i, n;     /* pieces sent, pieces to send */
	size_t piece; /* bytes per piece */
};

static ssize_t chunk_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	struct chunker *k = cls;
	if (k->i >= k->n)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (k->piece) { /* big: `piece` bytes of 'y' at a time */
		size_t m = k->piece < max ? k->piece : max;
		memset(out, 'y', m);
		k->i++;
		return (ssize_t)m;
	}
	int m = snprintf(out, max, "chunk-%d;", k->i);
	k->i++;
	return m;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	return queue(c, status, r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)version;
	struct upload *u = *con_cls;
	if (!u) { /* never answer on the first call: MHD would close the connection */
		u = calloc(1, sizeof(*u));
		u->hash = FNV0;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size) {
		u->hash = fnv1a(u->hash, upload, *upload_size);
		u->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	char body[512];
	if (!strcmp(url, "/echo")) {
		snprintf(body, sizeof(body), "%s %zu %016llx", method, u->len,
			 (unsigned long long)u->hash);
		return text(c, 200, body);
	}
	if (!strcmp(url, "/hdr")) {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
		const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
		const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Empty");
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
		snprintf(body, sizeof(body), "host=%s ua=%s x-empty=%s ct=%s expect=%s", h ? h : "-",
			 ua ? ua : "-", x ? (*x ? x : "(empty)") : "-", ct ? ct : "-", ex ? ex : "-");
		return text(c, 200, body);
	}
	if (!strcmp(url, "/chunked") || !strcmp(url, "/bigchunked")) {
		struct chunker *k = calloc(1, sizeof(*k));
		k->n = 100;
		if (url[1] == 'b') {
			const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
			k->piece = 1000;
			k->n = n ? atoi(n) / 1000 : 10;
		}
		struct MHD_Response *r =
			MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunk_reader, k, free);
		return queue(c, 200, r);
	}
	if (!strcmp(url, "/big")) {
		const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
		size_t len = n ? (size_t)atol(n) : 1000;
		char *b = malloc(len);
		memset(b, 'z', len);
		return queue(c, 200, MHD_create_response_from_buffer(len, b, MHD_RESPMEM_MUST_FREE));
	}
	if (!strcmp(url, "/close")) {
		struct MHD_Response *r = MHD_create_response_from_buffer(5, (void *)"bye!\n",
									 MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
		return queue(c, 200, r);
	}
	if (!strcmp(url, "/503")) {
		struct MHD_Response *r = MHD_create_response_from_buffer(
			16, (void *)"{\"error\":\"busy\"}", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Retry-After", "7");
		MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
		return queue(c, 503, r);
	}
	if (!strcmp(url, "/503date")) {
		char date[64];
		time_t t = time(NULL) + 100;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
									 MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Retry-After", date);
		return queue(c, 503, r);
	}
	if (!strcmp(url, "/slow"))
		usleep(100 * 1000);
	snprintf(body, sizeof(body), "%s", url);
	return text(c, 200, body);
}

static struct MHD_Daemon *mhd_start(unsigned idle_timeout_s, int *port)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
		NULL, MHD_OPTION_NOTIFY_CONNECTION, on_conn, NULL, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
	cr_assert(d, "cannot start the test server");
	*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

static void start(void)
{
	srv = mhd_start(0, &srv_port);
}

static void stop(void)
{
	MHD_stop_daemon(srv);
}

TestSuite(wire, .init = start, .fini = stop, .timeout = 60);

static char *url_of(char *buf, size_t n, int port, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%d%s", port, path);
	return buf;
}

/* ---- raw TCP server: canned bytes ------------------------------------------------ */

struct raw {
	int lfd, port;
	pthread_t th;
	_Atomic int conns;
};

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Answer request number `nreq` on this connection: 1 keep reading, 0 close, -1 closed. */
static int raw_answer(int fd, const char *path, int nreq)
{
	if (!strcmp(path, "/eof")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread me until EOF");
		return 0;
	}
	if (!strcmp(path, "/http10")) {
		send_str(fd, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
		return 1; /* the client must close: HTTP/1.0 without keep-alive */
	}
	if (!strcmp(path, "/nothing"))
		return 0;
	if (!strcmp(path, "/partial")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
		return 0;
	}
	if (!strcmp(path, "/interim")) {
		send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n"
			     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		return 1;
	}
	if (!strcmp(path, "/garbage")) {
		send_str(fd, "SPAM SPAM SPAM\r\n\r\n");
		return 0;
	}
	if (!strcmp(path, "/split")) {
		static const char *const parts[] = { "HTTP/1.1 200 OK\r\nCon", "tent-Type:  text/x ",
						     "\r\nRetry-Af", "ter: 3\r\nContent-Len",
						     "gth: 4\r\n\r\nbo", "dy" };
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			send_str(fd, parts[i]);
			usleep(20 * 1000);
		}
		return 1;
	}
	if (!strcmp(path, "/extra")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXYZ");
		return 1;
	}
	if (!strcmp(path, "/flaky") || !strcmp(path, "/flaky-rst")) {
		if (nreq == 1) {
			send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
			return 1;
		}
		if (!strcmp(path, "/flaky-rst")) {
			struct linger lg = { 1, 0 }; /* close with RST */
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		return 0; /* a later request on the same connection: close without answering */
	}
	if (!strcmp(path, "/fresh-only")) { /* only the first request of a connection gets an answer */
		if (nreq == 1) {
			send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh");
			return 1;
		}
		return 0;
	}
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	return 1;
}

static void *raw_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t len = 0;
	int nreq = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n <= 0) {
				close(fd);
				return NULL;
			}
			len += (size_t)n;
		}
		size_t hl = (size_t)(end + 4 - buf);
		char path[256] = "";
		sscanf(buf, "%*s %255s", path);
		memmove(buf, buf + hl, len - hl);
		len -= hl;
		if (raw_answer(fd, path, ++nreq) == 0) {
			close(fd);
			return NULL;
		}
	}
}

static void *raw_accept(void *arg)
{
	struct raw *s = arg;
	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		atomic_fetch_add(&s->conns, 1);
		pthread_t t;
		pthread_create(&t, NULL, raw_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int listen_local(int backlog, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void raw_start(struct raw *s)
{
	memset(s, 0, sizeof(*s));
	s->lfd = listen_local(64, &s->port);
	cr_assert_eq(pthread_create(&s->th, NULL, raw_accept, s), 0);
}

static void raw_stop(struct raw *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	close(s->lfd);
	pthread_join(s->th, NULL);
}

/* ---- keep-alive and connection handling ----------------------------------------- */

Test(wire, keep_alive_reuses_few_connections)
{
	enum { N = 2000 };
	struct engine *en = new_engine(4, 16);
	int before = atomic_load(&srv_conns);
	static struct res r[N];
	static char urls[N][96];
	struct err e = ERR_INIT;
	int next = 0;
	while (next < N || engine_in_flight(en) > 0) {
		while (next < N && engine_in_flight(en) < engine_max_in_flight(en)) {
			url_of(urls[next], sizeof(urls[next]), srv_port, "");
			snprintf(urls[next] + strlen(urls[next]), 32, "/n/%d?q=%d", next, next * 7);
			struct http_request rq = { .url = urls[next] };
			cr_assert_eq(engine_submit(en, &rq, on_res, &r[next], &e), 0, "%s", e.msg);
			next++;
		}
		cr_assert_geq(engine_poll(en, clock_mono_now() + 100 * NS_PER_MS, &e), 0, "%s", e.msg);
	}
	for (int i = 0; i < N; i++) {
		char want[64];
		snprintf(want, sizeof(want), "/n/%d", i); /* MHD hands the path without the query */
		cr_assert_eq(r[i].calls, 1, "request %d completed %d times", i, r[i].calls);
		cr_assert_eq(r[i].status, 200);
		cr_assert_str_eq(r[i].body, want);
		cr_assert_geq(r[i].done, r[i].sent);
		cr_assert_eq(r[i].elapsed, r[i].done - r[i].sent);
	}
	struct engine_stats st = stats(en);
	cr_assert_eq(st.native, N);
	cr_assert_eq(st.completed, N);
	cr_assert_eq(st.transport_errors, 0);
	cr_assert_leq(st.native_connects, 4, "%llu connections for %d requests",
		      (unsigned long long)st.native_connects, N);
	cr_assert_leq(atomic_load(&srv_conns) - before, 4);
	engine_free(en);
}

Test(wire, requests_beyond_the_pool_wait_and_their_wait_is_service_time)
{
	struct engine *en = new_engine(1, 5);
	char u[96];
	url_of(u, sizeof(u), srv_port, "/slow");
	struct res r[5];
	memset(r, 0, sizeof(r));
	struct err e = ERR_INIT;
	struct http_request rq = { .url = u };
	for (int i = 0; i < 5; i++)
		cr_assert_eq(engine_submit(en, &rq, on_res, &r[i], &e), 0, "%s", e.msg);
	cr_assert_eq(engine_in_flight(en), 5);
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(r[i].status, 200);
		cr_assert_eq(r[i].order, i + 1, "FIFO: request %d finished %d-th", i, r[i].order);
	}
	cr_assert_geq(r[4].elapsed, 450 * NS_PER_MS, "the last one waited behind four (%.0f ms)",
		      r[4].elapsed / 1e6);
	cr_assert_eq(stats(en).native_connects, 1);
	engine_free(en);
}

Test(wire, idle_connections_closed_by_the_server_are_replaced)
{
	int port;
	struct MHD_Daemon *d = mhd_start(1, &port); /* closes connections idle for 1 s */
	struct engine *en = new_engine(2, 2);
	char u[96];
	url_of(u, sizeof(u), port, "/a");
	struct res r;
	get(en, u, &r);
	cr_assert_eq(r.status, 200);
	/* idle while the engine is polled: the close is seen as EOF, the slot freed */
	mono_ns until = clock_mono_now() + 2000 * NS_PER_MS;
	while (clock_mono_now() < until)
		engine_poll(en, until, NULL);
	get(en, u, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "/a");
	struct engine_stats st = stats(en);
	cr_assert_eq(st.native_connects, 2);
	cr_assert_eq(st.native_resent, 0, "the dead connection was never written to");
	/* idle while nobody polls: the next request meets the closed connection and is re-sent */
	usleep(2000 * 1000);
	get(en, u, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	st = stats(en);
	cr_assert_eq(st.native_connects, 3);
	cr_assert_eq(st.native_resent, 1);
	cr_assert_eq(st.transport_errors, 0);
	engine_free(en);
	MHD_stop_daemon(d);
}

Test(wire, connection_close_responses_close_the_connection)
{
	struct engine *en = new_engine(4, 4);
	char u[96];
	url_of(u, sizeof(u), srv_port, "/close");
	int before = atomic_load(&srv_conns);
	for (int i = 0; i < 5; i++) {
		struct res r;
		get(en, u, &r);
		cr_assert_eq(r.status, 200, "%s", r.err);
		cr_assert_str_eq(r.body, "bye!\n");
	}
	struct engine_stats st = stats(en);
	cr_assert_eq(st.native_connects, 5, "one connection per Connection: close response");
	cr_assert_eq(st.native_resent, 0);
	cr_assert_eq(atomic_load(&srv_conns) - before, 5);
	engine_free(en);
}

Test(wire, chunked_response_body)
{
	struct engine *en = new_engine(2, 2);
	char u[96];
	struct res r;
	get(en, url_of(u, sizeof(u), srv_port, "/chunked"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	char want[2048] = "";
	for (int i = 0; i < 100; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "chunk-%d;", i);
	cr_assert_str_eq(r.body, want);
	/* and the connection is reused after a chunked body */
	get(en, u, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(stats(en).native_connects, 1);
	engine_free(en);
}

Test(wire, bodies_over_max_body_fail_cleanly)
{
	struct engine *en = new_engine(2, 2);
	char u[128];
	struct res r;
	/* Content-Length says too much: refused at the headers */
	struct http_request rq = { .url = url_of(u, sizeof(u), srv_port, "/big?n=5000"),
				   .max_body = 4096 };
	one(en, &rq, &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_FILESIZE_EXCEEDED);
	cr_assert(strstr(r.err, "4096-byte limit"), "%s", r.err);
	/* chunked, no length: refused when the body outgrows the limit */
	rq.url = url_of(u, sizeof(u), srv_port, "/bigchunked?n=20000");
	one(en, &rq, &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_WRITE_ERROR);
	cr_assert(strstr(r.err, "4096-byte limit"), "%s", r.err);
	/* exactly at the limit is fine, and the engine goes on */
	rq.url = url_of(u, sizeof(u), srv_port, "/big?n=4096");
	one(en, &rq, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_eq(r.body_len, 4096);
	/* a big body under the default limit arrives whole */
	rq.url = url_of(u, sizeof(u), srv_port, "/big?n=3000000");
	rq.max_body = 0;
	one(en, &rq, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_eq(r.body_len, 3000000);
	struct engine_stats st = stats(en);
	cr_assert_eq(st.transport_errors, 2);
	engine_free(en);
}

Test(wire, status_503_with_retry_after)
{
	struct engine *en = new_engine(2, 2);
	char u[96];
	struct res r;
	get(en, url_of(u, sizeof(u), srv_port, "/503"), &r);
	cr_assert_eq(r.status, 503);
	cr_assert_eq(r.terr, 0);
	cr_assert_eq(r.retry_after, 7.0);
	cr_assert_str_eq(r.ct, "application/json; charset=utf-8");
	cr_assert_str_eq(r.body, "{\"error\":\"busy\"}");
	get(en, url_of(u, sizeof(u), srv_port, "/503date"), &r);
	cr_assert_eq(r.status, 503);
	cr_assert(r.retry_after > 90 && r.retry_after <= 101, "HTTP-date Retry-After: %.1f s",
		  r.retry_after);
	get(en, url_of(u, sizeof(u), srv_port, "/plain"), &r);
	cr_assert_eq(r.retry_after, -1);
	cr_assert_str_eq(r.ct, "");
	engine_free(en);
}

Test(wire, post_and_put_bodies_arrive_intact)
{
	static const size_t sizes[] = { 0, 1, 1000, 65536, 300001, 4 * 1024 * 1024 + 3 };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	struct engine *en = new_engine(3, 2 * NS);
	char u[96];
	url_of(u, sizeof(u), srv_port, "/echo");
	static struct res r[2 * NS];
	unsigned char *bodies[NS];
	struct err e = ERR_INIT;
	uint64_t seed = 12345;
	for (int i = 0; i < NS; i++) {
		bodies[i] = malloc(sizes[i] + 1);
		for (size_t k = 0; k < sizes[i]; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			bodies[i][k] = (unsigned char)(seed >> 56);
		}
		/* all at once: big bodies fill the socket buffer (partial writes, EPOLLOUT) */
		struct http_request post = { .url = u, .body = bodies[i], .body_len = sizes[i] };
		struct http_request put = { .method = "PUT", .url = u, .body = bodies[i],
					    .body_len = sizes[i] };
		cr_assert_eq(engine_submit(en, &post, on_res, &r[2 * i], &e), 0, "%s", e.msg);
		cr_assert_eq(engine_submit(en, &put, on_res, &r[2 * i + 1], &e), 0, "%s", e.msg);
	}
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	for (int i = 0; i < NS; i++) {
		char want[128];
		uint64_t h = fnv1a(FNV0, bodies[i], sizes[i]);
		snprintf(want, sizeof(want), "POST %zu %016llx", sizes[i], (unsigned long long)h);
		cr_assert_eq(r[2 * i].status, 200, "%s", r[2 * i].err);
		cr_assert_str_eq(r[2 * i].body, want);
		snprintf(want, sizeof(want), "PUT %zu %016llx", sizes[i], (unsigned long long)h);
		cr_assert_eq(r[2 * i + 1].status, 200, "%s", r[2 * i + 1].err);
		cr_assert_str_eq(r[2 * i + 1].body, want);
		free(bodies[i]);
	}
	engine_free(en);
}

Test(wire, request_headers_as_libcurl_sends_them)
{
	struct engine *en = new_engine(2, 2);
	char u[96], want[256];
	url_of(u, sizeof(u), srv_port, "/hdr");
	struct http_header h[3] = { { "X-Empty", "" }, { "Expect", "100-continue" },
				    { "X-Other", "1" } };
	struct http_request rq = { .url = u, .headers = h, .n_headers = 3, .body = "{}",
				   .body_len = 2 };
	struct res r;
	one(en, &rq, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	snprintf(want, sizeof(want),
		 "host=127.0.0.1:%d ua=engrave/0 x-empty=(empty) ct=application/json expect=-",
		 srv_port);
	cr_assert_str_eq(r.body, want);
	/* a caller's Content-Type wins; GET sends none */
	struct http_header h2[1] = { { "Content-Type", "text/csv" } };
	struct http_request rq2 = { .method = "POST", .url = u, .headers = h2, .n_headers = 1,
				    .body = "a,b", .body_len = 3 };
	one(en, &rq2, &r);
	cr_assert(strstr(r.body, " ct=text/csv "), "%s", r.body);
	get(en, u, &r);
	cr_assert(strstr(r.body, " ct=- "), "%s", r.body);
	/* a header curl would refuse is refused at submit, as on the curl path */
	struct http_header bad[1] = { { "X-Bad", "a\r\nInjected: 1" } };
	struct http_request rq3 = { .url = u, .headers = bad, .n_headers = 1 };
	struct err e = ERR_INIT;
	cr_assert_eq(engine_submit(en, &rq3, on_res, &r, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	cr_assert(strstr(e.msg, "invalid HTTP header #1"), "%s", e.msg);
	cr_assert_eq(engine_in_flight(en), 0);
	/* HEAD: headers only, though the server announces a length */
	struct http_request head = { .method = "HEAD", .url = url_of(u, sizeof(u), srv_port, "/big?n=777") };
	one(en, &head, &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_eq(r.body_len, 0);
	get(en, url_of(u, sizeof(u), srv_port, "/after-head"), &r);
	cr_assert_str_eq(r.body, "/after-head");
	cr_assert_eq(stats(en).native_connects, 1);
	engine_free(en);
}

/* ---- re-entrant submit ---------------------------------------------------------- */

struct fan {
	struct engine *en;
	char ok[96], dead[96];
	int submitted, limit;
	int calls[600];
	int ok_n, fail_n;
};

struct fan_req {
	struct fan *f;
	int id;
};

static struct fan_req fan_reqs[600];

static void on_fan(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	(void)sent, (void)done;
	struct fan_req *fr = user;
	struct fan *f = fr->f;
	f->calls[fr->id]++;
	if (rs->status == 200)
		f->ok_n++;
	else {
		cr_assert_eq(rs->transport_error, C_COULDNT_CONNECT, "%s", rs->error);
		f->fail_n++;
	}
	/* each completion submits up to two more, from inside the callback */
	for (int k = 0; k < 2 && f->submitted < f->limit &&
			engine_in_flight(f->en) < engine_max_in_flight(f->en);
	     k++) {
		int id = f->submitted++;
		fan_reqs[id].f = f;
		fan_reqs[id].id = id;
		struct http_request rq = { .url = id % 5 == 4 ? f->dead : f->ok };
		cr_assert_eq(engine_submit(f->en, &rq, on_fan, &fan_reqs[id], NULL), 0);
	}
}

Test(wire, callbacks_submit_reentrantly)
{
	static struct fan f;
	memset(&f, 0, sizeof(f));
	f.limit = 600;
	f.en = new_engine(3, 8);
	url_of(f.ok, sizeof(f.ok), srv_port, "/fan");
	url_of(f.dead, sizeof(f.dead), server_proc_free_port(), "/dead");
	fan_reqs[0].f = &f;
	fan_reqs[0].id = 0;
	f.submitted = 1;
	struct http_request rq = { .url = f.ok };
	cr_assert_eq(engine_submit(f.en, &rq, on_fan, &fan_reqs[0], NULL), 0);
	struct err e = ERR_INIT;
	while (engine_in_flight(f.en) > 0 || f.submitted < f.limit) {
		if (engine_in_flight(f.en) == 0) { /* the chain died out: restart it */
			int id = f.submitted++;
			fan_reqs[id].f = &f;
			fan_reqs[id].id = id;
			struct http_request r0 = { .url = f.ok };
			cr_assert_eq(engine_submit(f.en, &r0, on_fan, &fan_reqs[id], NULL), 0);
		}
		cr_assert_geq(engine_poll(f.en, clock_mono_now() + 100 * NS_PER_MS, &e), 0, "%s",
			      e.msg);
	}
	for (int i = 0; i < f.limit; i++)
		cr_assert_eq(f.calls[i], 1, "request %d completed %d times", i, f.calls[i]);
	cr_assert_eq(f.ok_n + f.fail_n, f.limit);
	cr_assert_eq(f.fail_n, f.limit / 5);
	struct engine_stats st = stats(f.en);
	cr_assert_eq(st.completed, (uint64_t)f.limit);
	cr_assert_eq(st.transport_errors, (uint64_t)f.fail_n);
	engine_free(f.en);
}

/* ---- failures -------------------------------------------------------------------- */

Test(wire, connection_refused)
{
	struct engine *en = new_engine(2, 2);
	int port = server_proc_free_port();
	char u[96], want[96];
	url_of(u, sizeof(u), port, "/gone");
	struct res r;
	get(en, u, &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_COULDNT_CONNECT);
	snprintf(want, sizeof(want), "connection refused to 127.0.0.1:%d", port);
	cr_assert_str_eq(r.err, want);
	cr_assert_eq(stats(en).transport_errors, 1);
	engine_free(en);
}

Test(wire, connect_timeout)
{
	int port;
	int lfd = listen_local(0, &port);
	/* fill the accept queue: further SYNs are dropped, connects hang */
	int filler = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
	unsetenv("ENGRAVE_HTTP_TRANSPORT");
	struct engine_opts o = { .native = 1, .connect_timeout_ns = 300 * NS_PER_MS };
	struct engine *en;
	cr_assert_eq(engine_new(&o, &en, NULL), 0);
	char u[96], want[128];
	struct res r;
	get(en, url_of(u, sizeof(u), port, "/x"), &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_OPERATION_TIMEDOUT, "%d %s", r.terr, r.err);
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%d timed out after 300 ms", port);
	cr_assert_str_eq(r.err, want);
	cr_assert_geq(r.elapsed, 300 * NS_PER_MS);
	cr_assert_lt(r.elapsed, 1500 * NS_PER_MS, "%.0f ms", r.elapsed / 1e6);
	engine_free(en);
	close(filler);
	close(lfd);
}

Test(wire, timeouts_against_a_stalled_server, .timeout = 60)
{
	char bin[1024];
	snprintf(bin, sizeof(bin), "%s/tools/faultd", server_proc_build_dir());
	if (access(bin, X_OK) != 0)
		cr_skip_test("%s not built", bin);
	struct server_proc fd;
	char *argv[] = { bin, "--port", "0", "--port-file", "{PORTFILE}", "--quiet",
			 "--stall-at-ms", "0", "--stall-ms", "5000", NULL };
	cr_assert_eq(server_proc_start(&fd, argv, 0, 5000), 0, "faultd did not start");
	struct engine *en = new_engine(4, 4);
	char u[128];
	snprintf(u, sizeof(u), "%s/stalled", fd.url);
	static const uint64_t tmo_ms[3] = { 900, 300, 600 };
	struct res r[3];
	memset(r, 0, sizeof(r));
	struct err e = ERR_INIT;
	for (int i = 0; i < 3; i++) {
		struct http_request rq = { .url = u, .timeout_ns = tmo_ms[i] * NS_PER_MS };
		cr_assert_eq(engine_submit(en, &rq, on_res, &r[i], &e), 0, "%s", e.msg);
	}
	cr_assert_eq(engine_drain(en, &e), 0, "%s", e.msg);
	static const int want_order[3] = { 3, 1, 2 };
	for (int i = 0; i < 3; i++) {
		char want[96];
		cr_assert_eq(r[i].status, 0);
		cr_assert_eq(r[i].terr, C_OPERATION_TIMEDOUT, "%s", r[i].err);
		cr_assert_eq(r[i].order, want_order[i], "deadline order");
		cr_assert_geq(r[i].elapsed, tmo_ms[i] * NS_PER_MS);
		/* generous: this checks that the deadline fires, not how fast */
		cr_assert_lt(r[i].elapsed, (tmo_ms[i] + 1000) * NS_PER_MS, "%.0f ms",
			     r[i].elapsed / 1e6);
		snprintf(want, sizeof(want), "timed out after %llu ms with 0 bytes received",
			 (unsigned long long)tmo_ms[i]);
		cr_assert_str_eq(r[i].err, want);
	}
	engine_free(en);
	server_proc_stop(&fd);
}

/* ---- raw-server cases ------------------------------------------------------------------ */

Test(wire, unusual_but_valid_responses)
{
	struct raw s;
	raw_start(&s);
	struct engine *en = new_engine(4, 4);
	char u[96];
	struct res r;
	get(en, url_of(u, sizeof(u), s.port, "/eof"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "read me until EOF");
	cr_assert_str_eq(r.ct, "text/plain");
	get(en, url_of(u, sizeof(u), s.port, "/http10"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "hello");
	get(en, url_of(u, sizeof(u), s.port, "/interim"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "ok");
	get(en, url_of(u, sizeof(u), s.port, "/split"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "body");
	cr_assert_str_eq(r.ct, "text/x");
	cr_assert_eq(r.retry_after, 3.0);
	get(en, url_of(u, sizeof(u), s.port, "/extra"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "ok");
	get(en, url_of(u, sizeof(u), s.port, "/after-extra"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	struct engine_stats st = stats(en);
	/* eof, http10 and extra end their connections (extra's was interim's and split's) */
	cr_assert_eq(st.native_connects, 4, "%llu", (unsigned long long)st.native_connects);
	cr_assert_eq(st.native_resent, 0);
	engine_free(en);
	raw_stop(&s);
}

Test(wire, broken_responses_fail_like_libcurl)
{
	struct raw s;
	raw_start(&s);
	struct engine *en = new_engine(4, 4);
	char u[96];
	struct res r;
	get(en, url_of(u, sizeof(u), s.port, "/nothing"), &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_GOT_NOTHING, "%d %s", r.terr, r.err);
	cr_assert(strstr(r.err, "empty reply from 127.0.0.1:"), "%s", r.err);
	get(en, url_of(u, sizeof(u), s.port, "/partial"), &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_PARTIAL_FILE, "%d %s", r.terr, r.err);
	get(en, url_of(u, sizeof(u), s.port, "/garbage"), &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_WEIRD_SERVER_REPLY, "%d %s", r.terr, r.err);
	cr_assert(strstr(r.err, "malformed response from 127.0.0.1:"), "%s", r.err);
	struct engine_stats st = stats(en);
	cr_assert_eq(st.native_resent, 0, "fresh connections are never re-sent");
	cr_assert_eq(st.transport_errors, 3);
	get(en, url_of(u, sizeof(u), s.port, "/fine"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	engine_free(en);
	raw_stop(&s);
}

Test(wire, reused_connection_closed_or_reset_is_resent_once)
{
	struct raw s;
	raw_start(&s);
	char u[96];
	struct res r;
	const char *paths[2] = { "/flaky", "/flaky-rst" };
	struct engine *en = NULL;
	for (int k = 0; k < 2; k++) {
		engine_free(en);
		en = new_engine(1, 1);
		get(en, url_of(u, sizeof(u), s.port, paths[k]), &r); /* request 1: answered */
		cr_assert_eq(r.status, 200, "%s", r.err);
		cr_assert_str_eq(r.body, "first");
		/* request 2 on the same connection: closed (or reset) unanswered, so it is
		 * re-sent on a fresh connection, where it is request 1 again */
		get(en, u, &r);
		cr_assert_eq(r.status, 200, "%s: %s", paths[k], r.err);
		cr_assert_str_eq(r.body, "first");
		struct engine_stats st = stats(en);
		cr_assert_eq(st.native_resent, 1, "%s", paths[k]);
		cr_assert_eq(st.native_connects, 2, "%s", paths[k]);
		cr_assert_eq(st.transport_errors, 0);
	}
	/* only once: on the idle (reused) connection /nothing is closed unanswered, re-sent,
	 * and closed unanswered again on the fresh one: then it fails */
	get(en, url_of(u, sizeof(u), s.port, "/nothing"), &r);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.terr, C_GOT_NOTHING, "%d %s", r.terr, r.err);
	struct engine_stats st = stats(en);
	cr_assert_eq(st.native_resent, 2);
	cr_assert_eq(st.native_connects, 3);
	engine_free(en);
	raw_stop(&s);
}

/* ---- routing ---------------------------------------------------------------------- */

Test(wire, transport_env_forces_curl)
{
	setenv("ENGRAVE_HTTP_TRANSPORT", "curl", 1);
	struct engine_opts o = { .native = 1 };
	struct engine *en;
	cr_assert_eq(engine_new(&o, &en, NULL), 0);
	char u[96];
	struct res r;
	struct http_request rq = { .url = url_of(u, sizeof(u), srv_port, "/forced") };
	one(en, &rq, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(stats(en).native, 0);
	engine_free(en);
	unsetenv("ENGRAVE_HTTP_TRANSPORT");
}

Test(wire, proxied_hosts_go_through_curl)
{
	char proxy[96];
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", srv_port);
	setenv("http_proxy", proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	struct engine *en = new_engine(2, 2);
	struct res r;
	/* a remote host: the proxy applies, curl sends it (to our server, the "proxy") */
	get(en, "http://192.0.2.1/via-proxy", &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert(strstr(r.body, "via-proxy"), "%s", r.body);
	cr_assert_eq(stats(en).native, 0);
	/* loopback never goes through a proxy: native */
	char u[96];
	get(en, url_of(u, sizeof(u), srv_port, "/direct"), &r);
	cr_assert_eq(r.status, 200, "%s", r.err);
	cr_assert_str_eq(r.body, "/direct");
	cr_assert_eq(stats(en).native, 1);
	engine_free(en);
	/* a host in no_proxy: native too (and then refused or unreachable, directly) */
	setenv("no_proxy", "localhost, .example.com,192.0.2.1", 1);
	struct engine_opts o = { .native = 1, .connect_timeout_ns = 300 * NS_PER_MS };
	cr_assert_eq(engine_new(&o, &en, NULL), 0);
	get(en, "http://192.0.2.1:9/x", &r);
	cr_assert_eq(stats(en).native, 1);
	cr_assert_eq(r.status, 0);
	engine_free(en);
	unsetenv("http_proxy");
	unsetenv("no_proxy");
}
