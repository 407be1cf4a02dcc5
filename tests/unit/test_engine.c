/*
 * test_engine.c — the multi engine against an in-test libmicrohttpd server
 * (thread per connection): hundreds of concurrent requests each complete
 * exactly once with the right body; max_in_flight is enforced; sent/done
 * times are sane; a stalled server does not hold engine_poll past its
 * deadline, nor a past deadline keep it from reading the sockets; transport
 * failures reach the callback; callbacks may submit.
 *
 * Every case runs under both transports: suite engine_curl (libcurl for
 * everything) and suite engine_native (opts.native: the wire.c transport
 * for these http:// URLs). ENGINE_TEST writes the body once.
 */
#include <criterion/criterion.h>
#include <microhttpd.h>

#include "../lib/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/engine.h"
#include "engrave/err.h"

static struct MHD_Daemon *srv;
static int srv_port;
static int conns;

static void on_conn(void *cls, struct MHD_Connection *c, void **sc,
		    enum MHD_ConnectionNotificationCode code)
{
	(void)cls, (void)c, (void)sc;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&conns, 1, __ATOMIC_SEQ_CST);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)method, (void)version, (void)upload;
	if (test_mhd_receiving(con_cls, upload_size))
		return MHD_YES;
	char body[128];
	static int resets;
	if (!strncmp(url, "/reset", 6) && __atomic_add_fetch(&resets, 1, __ATOMIC_SEQ_CST) % 3 == 0)
		return MHD_NO; /* close the connection without an answer */
	if (!strcmp(url, "/stall"))
		usleep(1500 * 1000);
	const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Set");
	if (!strcmp(url, "/hdr"))
		snprintf(body, sizeof(body), "%s", xt ? xt : "-");
	else
		snprintf(body, sizeof(body), "%s", url);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void start(void)
{
	unsetenv("ENGRAVE_HTTP_TRANSPORT"); /* the native suite must really be native */
	srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
			       NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_conn,
			       NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
	cr_assert(srv);
	srv_port = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
	MHD_stop_daemon(srv);
}

TestSuite(engine_curl, .init = start, .fini = stop, .timeout = 60);
TestSuite(engine_native, .init = start, .fini = stop, .timeout = 60);

/* One body, two tests: `native` selects the transport (engine_opts.native). */
#define ENGINE_TEST(name)                          \
	static void name##_body(int native);       \
	Test(engine_curl, name) { name##_body(0); }   \
	Test(engine_native, name) { name##_body(1); } \
	static void name##_body(int native)

/* After a run: the requests took the transport the suite is about. */
static void assert_transport(struct engine *en, int native)
{
	struct engine_stats st;
	engine_get_stats(en, &st);
	if (native)
		cr_assert_eq(st.native, st.submitted, "%llu of %llu requests went native",
			     (unsigned long long)st.native, (unsigned long long)st.submitted);
	else
		cr_assert_eq(st.native, 0);
}

struct track {
	int calls;
	long status;
	int body_ok;
	mono_ns sent, done;
	char want[64];
};

static void on_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	struct track *t = user;
	t->calls++;
	t->status = rs->status;
	t->body_ok = !strcmp(rs->body.data, t->want);
	t->sent = sent;
	t->done = done;
}

ENGINE_TEST(hundreds_concurrent_complete_exactly_once)
{
	enum { N = 600 };
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .max_connections = 48, .max_in_flight = 256, .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0, "%s", e.msg);
	static struct track t[N];
	static char urls[N][96];
	memset(t, 0, sizeof(t));
	mono_ns t0 = clock_mono_now();
	int next = 0, guard = 0;
	while (next < N || engine_in_flight(en) > 0) {
		while (next < N && engine_in_flight(en) < engine_max_in_flight(en)) {
			snprintf(t[next].want, sizeof(t[next].want), "/item/%d", next);
			snprintf(urls[next], sizeof(urls[next]), "http://127.0.0.1:%d/item/%d",
				 srv_port, next);
			struct http_request rq = { .url = urls[next] };
			cr_assert_eq(engine_submit(en, &rq, on_done, &t[next], &e), 0, "%s", e.msg);
			next++;
		}
		cr_assert_geq(engine_poll(en, clock_mono_now() + 50 * NS_PER_MS, &e), 0, "%s", e.msg);
		cr_assert_lt(++guard, 100000);
	}
	mono_ns t1 = clock_mono_now();
	for (int i = 0; i < N; i++) {
		cr_assert_eq(t[i].calls, 1, "request %d completed %d times", i, t[i].calls);
		cr_assert_eq(t[i].status, 200);
		cr_assert(t[i].body_ok, "request %d got the wrong body", i);
		cr_assert_geq(t[i].sent, t0);
		cr_assert_geq(t[i].done, t[i].sent);
		cr_assert_leq(t[i].done, t1);
	}
	struct engine_stats st;
	engine_get_stats(en, &st);
	cr_assert_eq(st.submitted, N);
	cr_assert_eq(st.completed, N);
	cr_assert_eq(st.transport_errors, 0);
	cr_assert_leq(__atomic_load_n(&conns, __ATOMIC_SEQ_CST), 48 + 4,
		      "connections are pooled: %d opened", conns);
	assert_transport(en, native);
	engine_free(en);
}

ENGINE_TEST(max_in_flight_is_enforced)
{
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .max_connections = 4, .max_in_flight = 4, .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	struct track t[6];
	memset(t, 0, sizeof(t));
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", srv_port);
	struct http_request rq = { .url = u };
	for (int i = 0; i < 4; i++) {
		strcpy(t[i].want, "/x");
		cr_assert_eq(engine_submit(en, &rq, on_done, &t[i], &e), 0);
	}
	cr_assert_eq(engine_in_flight(en), 4);
	cr_assert_eq(engine_submit(en, &rq, on_done, &t[4], &e), -1);
	cr_assert(strstr(e.msg, "engine full"), "%s", e.msg);
	struct engine_stats st;
	engine_get_stats(en, &st);
	cr_assert_eq(st.rejected, 1);
	cr_assert_eq(engine_drain(en, &e), 0);
	cr_assert_eq(engine_in_flight(en), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(t[i].calls, 1);
	cr_assert_eq(t[4].calls, 0);
	strcpy(t[5].want, "/x");
	cr_assert_eq(engine_submit(en, &rq, on_done, &t[5], &e), 0);
	cr_assert_eq(engine_drain(en, &e), 0);
	cr_assert_eq(t[5].calls, 1);
	cr_assert(t[5].body_ok);
	assert_transport(en, native);
	engine_free(en);
}

ENGINE_TEST(stalled_server_does_not_hold_poll_past_deadline)
{
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/stall", srv_port);
	struct track t = { .want = "/stall" };
	struct http_request rq = { .url = u };
	cr_assert_eq(engine_submit(en, &rq, on_done, &t, &e), 0);
	for (int i = 0; i < 3; i++) {
		mono_ns deadline = clock_mono_now() + 100 * NS_PER_MS;
		cr_assert_eq(engine_poll(en, deadline, &e), 0);
		mono_ns now = clock_mono_now();
		cr_assert_geq(now, deadline, "returned before the deadline");
		/* generous bound: this checks "returns at the deadline", not speed */
		cr_assert_lt(now - deadline, 50 * NS_PER_MS, "returned %lu ns late",
			     (unsigned long)(now - deadline));
	}
	cr_assert_eq(t.calls, 0);
	/* deadline 0: one non-blocking pass */
	mono_ns a = clock_mono_now();
	cr_assert_eq(engine_poll(en, 0, &e), 0);
	cr_assert_lt(clock_mono_now() - a, 50 * NS_PER_MS);
	cr_assert_eq(engine_drain(en, &e), 0);
	cr_assert_eq(t.calls, 1);
	cr_assert(t.body_ok);
	cr_assert_geq(t.done - t.sent, 1000 * NS_PER_MS, "the server held it 1.5 s");
	assert_transport(en, native);
	engine_free(en);
}

/* A caller whose deadline has already passed (a retry overdue while the
 * cap is full) must still get its sockets read: polling with past
 * deadlines, and never sleeping, completes a request whose answer waits in
 * the socket. (It once looked only at timers, and such a caller spun.) */
ENGINE_TEST(a_past_deadline_still_reads_the_sockets)
{
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/late", srv_port);
	struct track t = { .want = "/late" };
	struct http_request rq = { .url = u };
	cr_assert_eq(engine_submit(en, &rq, on_done, &t, &e), 0);
	usleep(100 * 1000); /* the answer is in the socket by now */
	int polls = 0;
	for (; polls < 100000 && t.calls == 0; polls++)
		cr_assert_geq(engine_poll(en, clock_mono_now() - 1, &e), 0, "%s", e.msg);
	cr_assert_eq(t.calls, 1, "still not read after %d polls with a past deadline", polls);
	cr_assert(t.body_ok);
	assert_transport(en, native);
	engine_free(en);
}

ENGINE_TEST(idle_poll_sleeps_until_deadline)
{
	struct engine *en;
	struct engine_opts o = { .native = native };
	cr_assert_eq(engine_new(&o, &en, NULL), 0);
	mono_ns deadline = clock_mono_now() + 30 * NS_PER_MS;
	cr_assert_eq(engine_poll(en, deadline, NULL), 0);
	cr_assert_geq(clock_mono_now(), deadline);
	cr_assert_eq(engine_drain(en, NULL), 0);
	assert_transport(en, native);
	engine_free(en);
}

ENGINE_TEST(transport_failure_reaches_the_callback)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						handler, NULL, MHD_OPTION_END);
	cr_assert(d);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	MHD_stop_daemon(d);
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/gone", port);
	struct track t = { .want = "" };
	struct http_request rq = { .url = u };
	cr_assert_eq(engine_submit(en, &rq, on_done, &t, &e), 0);
	cr_assert_eq(engine_drain(en, &e), 0);
	cr_assert_eq(t.calls, 1);
	cr_assert_eq(t.status, 0);
	struct engine_stats st;
	engine_get_stats(en, &st);
	cr_assert_eq(st.transport_errors, 1);
	assert_transport(en, native);
	engine_free(en);
}

struct chain {
	struct engine *en;
	char url[96];
	int left, done_count;
	long last_status;
};

static void on_chain(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	(void)sent, (void)done;
	struct chain *c = user;
	c->done_count++;
	c->last_status = rs->status;
	if (c->left-- > 0) {
		struct http_request rq = { .url = c->url, .body = "{\"k\":1}", .body_len = 7 };
		cr_assert_eq(engine_submit(c->en, &rq, on_chain, c, NULL), 0);
	}
}

ENGINE_TEST(callbacks_may_submit_and_connections_are_reused)
{
	struct chain c = { .left = 49 };
	struct engine_opts o = { .max_connections = 2, .max_in_flight = 2, .native = native };
	cr_assert_eq(engine_new(&o, &c.en, NULL), 0);
	snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/chain", srv_port);
	int before = __atomic_load_n(&conns, __ATOMIC_SEQ_CST);
	struct http_request rq = { .url = c.url };
	cr_assert_eq(engine_submit(c.en, &rq, on_chain, &c, NULL), 0);
	cr_assert_eq(engine_drain(c.en, NULL), 0);
	cr_assert_eq(c.done_count, 50);
	cr_assert_eq(c.last_status, 200);
	cr_assert_leq(__atomic_load_n(&conns, __ATOMIC_SEQ_CST) - before, 2,
		      "50 sequential requests should reuse the pooled connection");
	assert_transport(c.en, native);
	engine_free(c.en);
}

ENGINE_TEST(distinct_header_sets_are_sent_correctly)
{
	enum { N = 60 };
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .max_connections = 8, .max_in_flight = N, .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	static const char *vals[3] = { "alpha", "beta", "gamma" };
	struct track t[N];
	memset(t, 0, sizeof(t));
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/hdr", srv_port);
	for (int i = 0; i < N; i++) {
		/* a fresh (stack) header array each time: the cache keys on content */
		struct http_header h[2] = { { "X-Set", vals[i % 3] }, { "X-Other", "1" } };
		snprintf(t[i].want, sizeof(t[i].want), "%s", i % 4 == 3 ? "-" : vals[i % 3]);
		struct http_request rq = { .method = "POST", .url = u, .headers = h,
					   .n_headers = i % 4 == 3 ? 0 : 2, .body = "[1,2]",
					   .body_len = 5 };
		cr_assert_eq(engine_submit(en, &rq, on_done, &t[i], &e), 0, "%s", e.msg);
	}
	cr_assert_eq(engine_drain(en, &e), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(t[i].calls, 1);
		cr_assert_eq(t[i].status, 200);
		cr_assert(t[i].body_ok, "request %d: wrong X-Set header", i);
	}
	assert_transport(en, native);
	engine_free(en);
}

static int n_ok, n_fail;
static void count_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	int *calls = user;
	(*calls)++;
	cr_assert_geq(done, sent);
	if (rs->status == 200)
		n_ok++;
	else {
		cr_assert_eq(rs->status, 0);
		cr_assert_neq(rs->transport_error, 0);
		cr_assert_neq(rs->error[0], 0);
		n_fail++;
	}
}

ENGINE_TEST(connection_resets_are_counted_not_fatal)
{
	enum { N = 90 };
	struct engine *en;
	struct err e = ERR_INIT;
	struct engine_opts o = { .max_connections = 6, .max_in_flight = 12, .native = native };
	cr_assert_eq(engine_new(&o, &en, &e), 0);
	static int calls[N];
	char u[96];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/reset", srv_port);
	struct http_request rq = { .url = u };
	int next = 0;
	while (next < N || engine_in_flight(en)) {
		while (next < N && engine_in_flight(en) < 12)
			cr_assert_eq(engine_submit(en, &rq, count_done, &calls[next++], &e), 0);
		cr_assert_geq(engine_poll(en, clock_mono_now() + 100 * NS_PER_MS, &e), 0, "%s", e.msg);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(calls[i], 1, "request %d completed %d times", i, calls[i]);
	cr_assert_eq(n_ok + n_fail, N);
	cr_assert_gt(n_fail, 0, "every third request is reset");
	cr_assert_gt(n_ok, N / 2);
	struct engine_stats st;
	engine_get_stats(en, &st);
	cr_assert_eq(st.transport_errors, (uint64_t)n_fail);
	assert_transport(en, native);
	engine_free(en);
}
