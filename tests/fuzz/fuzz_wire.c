/*
 * fuzz_wire.c — libFuzzer harness: wire.c's HTTP/1.1 response handling.
 *
 * wire.c parses responses inside its connection state machine, so the
 * harness drives the real thing: one loopback listener, one epoll set, and
 * per input a fresh `struct wire` that sends a GET to the listener. The
 * harness plays the server: it reads the request head, writes the input as
 * the response — in two writes split at a point chosen by the first input
 * byte, with an epoll round between them so the parser sees a partial
 * response — then half-closes, and runs the event loop until wire hands
 * the response (or its failure) to the callback. The body limit is small
 * (4 KiB) so the over-limit paths run too. Everything stays on one thread.
 */
#include "fuzzlib.h"

#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/http.h"
#include "net/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int lfd = -1, epfd = -1;
static char url[64];

static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) || (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("fuzz_wire: listener");
		abort();
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/fuzz", ntohs(a.sin_port));
}

struct result {
	int done;
	long status;
	size_t body_len;
};

static void on_done(void *user, const struct http_response *rs, mono_ns sent, mono_ns done)
{
	(void)sent;
	(void)done;
	struct result *r = user;
	r->done = 1;
	r->status = rs->status;
	r->body_len = rs->body.len;
	if (rs->body.data[rs->body.len] != '\0' || rs->body.len > rs->body.max)
		abort(); /* http.h: NUL-terminated, bounded */
}

/* One epoll round (at most `ms`), handing wire its events. */
static void loop_once(struct wire *w, int ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(epfd, ev, 8, ms);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 & WIRE_EPOLL_TAG)
			wire_event(w, ev[i].data.u64, ev[i].events);
	wire_expire(w, clock_mono_now());
	wire_reap(w);
}

/* Accept wire's connection and read its request head. */
static int serve_accept(struct wire *w)
{
	int cfd = -1;
	for (int i = 0; i < 200 && cfd < 0; i++) {
		loop_once(w, 0);
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (cfd < 0)
			usleep(100);
	}
	char head[4096];
	size_t got = 0;
	for (int i = 0; cfd >= 0 && i < 2000 && !memmem(head, got, "\r\n\r\n", 4); i++) {
		ssize_t r = recv(cfd, head + got, sizeof(head) - got, 0);
		if (r > 0)
			got += (size_t)r;
		else
			loop_once(w, 1);
	}
	return cfd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return; /* the client gave up (it may, e.g. over the body limit) */
		p += w;
		n -= (size_t)w;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_init();
	if (lfd < 0)
		setup();
	if (n > 60000)
		return 0; /* keep the writes under the socket buffers */
	struct fuzz_in in = { data, n };
	size_t split = fuzz_take_u8(&in);
	split = in.n ? split * in.n / 256 : 0;
	struct wire *w = NULL;
	struct err e = ERR_INIT;
	if (wire_new(epfd, NULL, &w, &e))
		abort();
	struct http_request rq = { 0 };
	rq.url = url;
	rq.timeout_ns = 2 * NS_PER_S;
	rq.max_body = 4096;
	struct result res = { 0 };
	if (wire_submit(w, &rq, clock_mono_now(), on_done, &res, &e) != 0)
		abort();
	int cfd = serve_accept(w);
	if (cfd >= 0) {
		send_all(cfd, in.p, split);
		loop_once(w, 0);
		send_all(cfd, in.p + split, in.n - split);
		shutdown(cfd, SHUT_WR);
	}
	for (int i = 0; i < 3000 && !res.done; i++)
		loop_once(w, 1);
	if (!res.done)
		abort(); /* wire must finish every request: a response, a failure or a timeout */
	if (cfd >= 0)
		close(cfd);
	wire_free(w);
	return 0;
}
