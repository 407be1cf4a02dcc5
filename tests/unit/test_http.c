/*
 * test_http.c — http_do against a small libmicrohttpd server started in the
 * test on 127.0.0.1 (a free port): methods, headers, bodies, the body limit,
 * timeouts, Retry-After and the connection-refused message; retry policy
 * tests live in test_retry.c.
 */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/err.h"
#include "engrave/http.h"

/* ------------------------------------------------------------ test server */

struct srv_req {
	struct buf body;
	int seen;
};

static struct MHD_Daemon *srv;
static int srv_port;
static int srv_conn_count;

static void srv_conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	(void)cls, (void)c, (void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&srv_conn_count, 1, __ATOMIC_SEQ_CST);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
			     const char *ctype)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "2");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result srv_handler(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	(void)cls, (void)version;
	struct srv_req *rq = *con_cls;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		buf_init(&rq->body, 0);
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		buf_append(&rq->body, upload, *upload_size, NULL);
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/echo")) {
		const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
		char *out = malloc(rq->body.len + 512);
		sprintf(out, "%s|%s|%s|%s|%s", method, xt ? xt : "-", ct ? ct : "-", ex ? ex : "-",
			rq->body.data);
		enum MHD_Result ret = reply(c, 200, out, "text/plain");
		free(out);
		return ret;
	}
	if (!strncmp(url, "/status/", 8))
		return reply(c, (unsigned)atoi(url + 8), "{\"status\":true}", "application/json");
	if (!strcmp(url, "/big")) {
		size_t n = 3u << 20;
		char *b = malloc(n + 1);
		memset(b, 'x', n);
		b[n] = 0;
		enum MHD_Result ret = reply(c, 200, b, NULL);
		free(b);
		return ret;
	}
	if (!strcmp(url, "/slow")) {
		usleep(1500 * 1000);
		return reply(c, 200, "late", NULL);
	}
	return reply(c, 404, "not found", NULL);
}

static void srv_done(void *cls, struct MHD_Connection *c, void **con_cls,
		     enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct srv_req *rq = *con_cls;
	if (rq) {
		buf_release(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void srv_start(void)
{
	srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			       0, NULL, NULL, srv_handler, NULL, MHD_OPTION_NOTIFY_COMPLETED,
			       srv_done, NULL, MHD_OPTION_NOTIFY_CONNECTION, srv_conn_cb, NULL,
			       MHD_OPTION_END);
	cr_assert(srv, "cannot start the test server");
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
	srv_port = di->port;
	cr_assert(srv_port > 0);
}

static void srv_stop(void)
{
	if (srv)
		MHD_stop_daemon(srv);
	srv = NULL;
}

static char *url(const char *path)
{
	static char u[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", srv_port, path);
	return u;
}

TestSuite(http, .init = srv_start, .fini = srv_stop, .timeout = 30);

/* ------------------------------------------------------------------ tests */

Test(http, get_and_post_with_headers)
{
	struct http_client *c;
	struct err e = ERR_INIT;
	cr_assert_eq(http_client_new(&c, &e), 0);
	struct http_response rs;
	http_response_init(&rs);

	struct http_header h[] = { { "X-Test", "hello" } };
	struct http_request rq = { .method = "GET", .url = url("/echo"), .headers = h,
				   .n_headers = 1 };
	cr_assert_eq(http_do(c, &rq, &rs, &e), 0, "%s", e.msg);
	cr_assert_eq(rs.status, 200);
	cr_assert_str_eq(rs.body.data, "GET|hello|-|-|");
	cr_assert_str_eq(rs.content_type, "text/plain");
	cr_assert_eq(rs.retry_after_s, -1);
	cr_assert_gt(rs.elapsed_ns, 0);

	/* a body over 1 KiB: no "Expect: 100-continue", default JSON type */
	char body[4000];
	memset(body, 'a', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	struct http_request post = { .method = "POST", .url = url("/echo"), .headers = h,
				     .n_headers = 1, .body = body, .body_len = strlen(body) };
	cr_assert_eq(http_do(c, &post, &rs, &e), 0, "%s", e.msg);
	cr_assert_eq(rs.status, 200);
	char want[4200];
	snprintf(want, sizeof(want), "POST|hello|application/json|-|%s", body);
	cr_assert_str_eq(rs.body.data, want);

	/* explicit content type and a custom method */
	struct http_header h2[] = { { "Content-Type", "text/csv" }, { "X-Test", "two" } };
	struct http_request put = { .method = "PUT", .url = url("/echo"), .headers = h2,
				    .n_headers = 2, .body = "a,b", .body_len = 3 };
	cr_assert_eq(http_do(c, &put, &rs, &e), 0, "%s", e.msg);
	cr_assert_str_eq(rs.body.data, "PUT|two|text/csv|-|a,b");

	/* DELETE without a body */
	struct http_request del = { .method = "DELETE", .url = url("/echo") };
	cr_assert_eq(http_do(c, &del, &rs, &e), 0, "%s", e.msg);
	cr_assert_str_eq(rs.body.data, "DELETE|-|-|-|");

	http_response_release(&rs);
	http_client_free(c);
}

Test(http, keep_alive_reuses_one_connection)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	int before = __atomic_load_n(&srv_conn_count, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 20; i++) {
		struct http_request rq = { .url = url("/echo"), .body = "x", .body_len = 1 };
		cr_assert_eq(http_do(c, &rq, &rs, NULL), 0);
		cr_assert_str_eq(rs.body.data, "POST|-|application/json|-|x");
	}
	cr_assert_eq(__atomic_load_n(&srv_conn_count, __ATOMIC_SEQ_CST) - before, 1,
		     "20 requests should share one connection");
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, status_codes_are_not_errors_and_retry_after_is_read)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct err e = ERR_INIT;
	struct http_request rq = { .url = url("/status/404") };
	cr_assert_eq(http_do(c, &rq, &rs, &e), 0);
	cr_assert_eq(rs.status, 404);
	cr_assert_eq(rs.retry_after_s, -1);
	rq.url = url("/status/503");
	cr_assert_eq(http_do(c, &rq, &rs, &e), 0);
	cr_assert_eq(rs.status, 503);
	cr_assert_float_eq(rs.retry_after_s, 2.0, 1e-9);
	cr_assert_str_eq(rs.body.data, "{\"status\":true}");
	cr_assert_str_eq(rs.content_type, "application/json");
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, body_limit_fails_cleanly)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct err e = ERR_INIT;
	struct http_request rq = { .url = url("/big"), .max_body = 1u << 20 };
	cr_assert_eq(http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	cr_assert_eq(rs.status, 0);
	cr_assert(strstr(e.msg, "GET http://127.0.0.1:"), "%s", e.msg);
	cr_assert(strstr(e.msg, "larger than the 1048576-byte limit"), "%s", e.msg);
	/* with the default limit the same body arrives whole */
	rq.max_body = 0;
	cr_assert_eq(http_do(c, &rq, &rs, &e), 0, "%s", e.msg);
	cr_assert_eq(rs.body.len, 3u << 20);
	/* and the client still works after a failure */
	rq.url = url("/echo");
	cr_assert_eq(http_do(c, &rq, &rs, &e), 0, "%s", e.msg);
	cr_assert_str_eq(rs.body.data, "GET|-|-|-|");
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, timeout_is_a_transport_error)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct err e = ERR_INIT;
	struct http_request rq = { .url = url("/slow"), .timeout_ns = 200 * NS_PER_MS };
	cr_assert_eq(http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(rs.status, 0);
	cr_assert_eq(rs.transport_error, 28 /* CURLE_OPERATION_TIMEDOUT */);
	cr_assert(strstr(e.msg, "/slow"), "%s", e.msg);
	cr_assert(strstr(e.hint, "in time"), "%s", e.hint);
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, connection_refused_names_the_url)
{
	/* a port that was free a moment ago: bind, read the port, close */
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						srv_handler, NULL, MHD_OPTION_END);
	cr_assert(d);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	MHD_stop_daemon(d);

	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct err e = ERR_INIT;
	char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/api/v1/x", port);
	struct http_request rq = { .method = "POST", .url = u, .body = "{}", .body_len = 2 };
	cr_assert_eq(http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.cls, ERR_NET);
	cr_assert_eq(rs.transport_error, 7 /* CURLE_COULDNT_CONNECT */);
	char want[160];
	snprintf(want, sizeof(want), "POST %s: ", u);
	cr_assert(!strncmp(e.msg, want, strlen(want)), "%s", e.msg);
	cr_assert(strstr(e.msg, "curl error 7"), "%s", e.msg);
	cr_assert(strstr(e.hint, "server running"), "%s", e.hint);
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, bad_header_is_a_usage_error)
{
	struct http_client *c;
	cr_assert_eq(http_client_new(&c, NULL), 0);
	struct http_response rs;
	http_response_init(&rs);
	struct err e = ERR_INIT;
	struct http_header h[] = { { "X-Bad", "a\r\nInjected: 1" } };
	struct http_request rq = { .url = url("/echo"), .headers = h, .n_headers = 1 };
	cr_assert_eq(http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	cr_assert(strstr(e.msg, "X-Bad"), "%s", e.msg);
	http_response_release(&rs);
	http_client_free(c);
}

Test(http, url_escape)
{
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(http_url_escape("a b&c=d/é~-._", strlen("a b&c=d/é~-._"), &b, NULL), 0);
	cr_assert_str_eq(b.data, "a%20b%26c%3Dd%2F%C3%A9~-._");
	buf_reset(&b);
	cr_assert_eq(http_url_escape("[0.5,-1e-07]", 12, &b, NULL), 0);
	cr_assert_str_eq(b.data, "%5B0.5%2C-1e-07%5D");
	buf_release(&b);
}
