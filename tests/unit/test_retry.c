/*
 * test_retry.c — the retry policy: which outcomes are retried, delays that
 * grow exponentially with bounded, seeded jitter, Retry-After winning, the
 * cap; and http_do_retry against an in-test libmicrohttpd server that
 * fails a set number of times before answering.
 */
#include <criterion/criterion.h>
#include <microhttpd.h>

#include "../lib/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/err.h"
#include "engrave/retry.h"

static struct MHD_Daemon *srv;
static int srv_port;
static int fail_left;  /* /flaky answers 503 (Retry-After: 0) this many times */
static int hits;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)method, (void)version, (void)upload;
	if (test_mhd_receiving(con_cls, upload_size))
		return MHD_YES;
	__atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST);
	unsigned status = 200;
	const char *body = "{\"ok\":true}";
	int retry_after = 0;
	if (!strcmp(url, "/flaky") && __atomic_sub_fetch(&fail_left, 1, __ATOMIC_SEQ_CST) >= 0) {
		status = 503;
		body = "busy";
		retry_after = 1;
	} else if (!strcmp(url, "/always500")) {
		status = 500;
		body = "broken";
	} else if (!strcmp(url, "/missing")) {
		status = 404;
		body = "nope";
	}
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", "0");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void start(void)
{
	srv = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
			       handler, NULL, MHD_OPTION_END);
	cr_assert(srv);
	srv_port = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
	MHD_stop_daemon(srv);
}

static const char *url(const char *path)
{
	static char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", srv_port, path);
	return u;
}

TestSuite(retry, .timeout = 30);

Test(retry, should)
{
	struct http_response rs;
	http_response_init(&rs);
	cr_assert_eq(retry_should(&rs, 1), 1);
	long yes[] = { 500, 502, 503, 504, 429, 408 }, no[] = { 200, 201, 204, 400, 401, 404, 409, 422 };
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		rs.status = yes[i];
		cr_assert_eq(retry_should(&rs, 0), 1, "%ld", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
		rs.status = no[i];
		cr_assert_eq(retry_should(&rs, 0), 0, "%ld", no[i]);
	}
	http_response_release(&rs);
}

Test(retry, delays_grow_with_bounded_jitter)
{
	struct retry_policy p = { 8, 100 * NS_PER_MS, 5 * NS_PER_S, 0.2, 42 };
	for (int a = 1; a <= 5; a++) {
		double nominal = 100e6 * (double)(1 << (a - 1));
		uint64_t d = retry_delay_ns(&p, a, NULL);
		cr_assert_geq((double)d, nominal * 0.8 - 1, "attempt %d: %lu", a, (unsigned long)d);
		cr_assert_leq((double)d, nominal * 1.2 + 1, "attempt %d: %lu", a, (unsigned long)d);
		cr_assert_eq(d, retry_delay_ns(&p, a, NULL), "same seed, same delay");
	}
	/* without jitter exactly exponential */
	struct retry_policy q = { 8, 100 * NS_PER_MS, 5 * NS_PER_S, 0, 0 };
	cr_assert_eq(retry_delay_ns(&q, 1, NULL), 100 * NS_PER_MS);
	cr_assert_eq(retry_delay_ns(&q, 2, NULL), 200 * NS_PER_MS);
	cr_assert_eq(retry_delay_ns(&q, 4, NULL), 800 * NS_PER_MS);
	/* capped */
	cr_assert_eq(retry_delay_ns(&q, 10, NULL), 5 * NS_PER_S);
	cr_assert_eq(retry_delay_ns(&p, 40, NULL), 5 * NS_PER_S);
	/* jitter actually varies across seeds */
	int distinct = 0;
	uint64_t first = retry_delay_ns(&p, 3, NULL);
	for (uint64_t s = 1; s < 20; s++) {
		p.seed = s;
		distinct += retry_delay_ns(&p, 3, NULL) != first;
	}
	cr_assert_gt(distinct, 10);
}

Test(retry, retry_after_wins_and_is_capped)
{
	struct retry_policy p = { 5, 100 * NS_PER_MS, 5 * NS_PER_S, 0.2, 1 };
	struct http_response rs;
	http_response_init(&rs);
	rs.status = 503;
	rs.retry_after_s = 2.5;
	cr_assert_eq(retry_delay_ns(&p, 1, &rs), 2500 * NS_PER_MS);
	rs.retry_after_s = 0;
	cr_assert_eq(retry_delay_ns(&p, 3, &rs), 0);
	rs.retry_after_s = 3600;
	cr_assert_eq(retry_delay_ns(&p, 1, &rs), 5 * NS_PER_S);
	rs.retry_after_s = -1; /* absent: backoff */
	cr_assert_geq(retry_delay_ns(&p, 1, &rs), 80 * NS_PER_MS);
	http_response_release(&rs);
}

Test(retry, succeeds_after_503s, .init = start, .fini = stop)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct retry_policy p = { 5, NS_PER_MS, 10 * NS_PER_MS, 0.2, 7 };
	struct err e = ERR_INIT;
	fail_left = 2;
	int attempts = 0;
	struct http_request rq = { .url = url("/flaky"), .body = "{}", .body_len = 2 };
	cr_assert_eq(http_do_retry(c, &rq, &p, &rs, &attempts, &e), 0, "%s", e.msg);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(attempts, 3);
	cr_assert_str_eq(rs.body.data, "{\"ok\":true}");
	http_response_release(&rs);
	http_client_free(c);
}

Test(retry, gives_up_with_a_precise_message, .init = start, .fini = stop)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct retry_policy p = { 4, NS_PER_MS, 5 * NS_PER_MS, 0, 0 };
	struct err e = ERR_INIT;
	int attempts = 0;
	hits = 0;
	struct http_request rq = { .url = url("/always500") };
	cr_assert_eq(http_do_retry(c, &rq, &p, &rs, &attempts, &e), -1);
	cr_assert_eq(attempts, 4);
	cr_assert_eq(hits, 4);
	cr_assert_eq(e.cls, ERR_NET);
	char want[256];
	snprintf(want, sizeof(want), "GET %s: giving up after 4 attempts; last status HTTP 500", rq.url);
	cr_assert_str_eq(e.msg, want);
	cr_assert_eq(rs.status, 500);
	cr_assert_str_eq(rs.body.data, "broken");

	/* a 404 is final: one attempt, returns 0 */
	rq.url = url("/missing");
	cr_assert_eq(http_do_retry(c, &rq, &p, &rs, &attempts, &e), 0);
	cr_assert_eq(attempts, 1);
	cr_assert_eq(rs.status, 404);
	http_response_release(&rs);
	http_client_free(c);
}

Test(retry, transport_failures_are_retried_then_reported)
{
	/* grab a free port, then close it */
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						handler, NULL, MHD_OPTION_END);
	cr_assert(d);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	MHD_stop_daemon(d);
	char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", port);

	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct retry_policy p = { 3, NS_PER_MS, 2 * NS_PER_MS, 0.5, 3 };
	struct err e = ERR_INIT;
	int attempts = 0;
	struct http_request rq = { .url = u };
	cr_assert_eq(http_do_retry(c, &rq, &p, &rs, &attempts, &e), -1);
	cr_assert_eq(attempts, 3);
	char want[200];
	snprintf(want, sizeof(want), "GET %s: giving up after 3 attempts; last error: ", u);
	cr_assert(!strncmp(e.msg, want, strlen(want)), "%s", e.msg);
	cr_assert(strstr(e.msg, "onnect"), "%s", e.msg);
	http_response_release(&rs);
	http_client_free(c);
}
