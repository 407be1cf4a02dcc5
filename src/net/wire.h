/*
 * wire.h — a native HTTP/1.1 client transport for plain http:// URLs.
 *
 * Net layer only: engine.c is its one user (engine.h stays the public
 * contract). A `struct wire` sends requests over non-blocking keep-alive
 * connections registered on the caller's epoll set and parses responses with
 * libhttp-parser; it never waits itself. The owner (the engine):
 *
 *   - passes every epoll event whose data.u64 has WIRE_EPOLL_TAG set to
 *     wire_event() (wire registers its sockets with that tag; other sockets
 *     in the set are the owner's);
 *   - wakes up no later than wire_next_deadline() and then calls
 *     wire_expire() (whole-request and connect timeouts);
 *   - calls wire_reap() to run the completion callbacks of finished
 *     requests. Callbacks run only there, never inside wire_submit(),
 *     wire_event() or wire_expire(), and they may call wire_submit().
 *
 * Responses mean what they mean on the libcurl path (http.h): status 0 and
 * a CURLcode in `transport_error` on transport failure, with a message in
 * `error`; the body is bounded by the request's max_body.
 */
#ifndef ENGRAVE_NET_WIRE_H
#define ENGRAVE_NET_WIRE_H

#include <stdint.h>

#include "engrave/clock.h"
#include "engrave/http.h"

struct err;
struct wire;

/* Set in the epoll data of every socket wire registers (bit 63). */
#define WIRE_EPOLL_TAG (1ULL << 63)

struct wire_opts {
	int max_connections;         /* total open connections over all origins; 0 = 64 */
	uint64_t connect_timeout_ns; /* 0 = 10 s */
};

/* Same shape as engine_done_fn: `rs` is valid only during the call. */
typedef void (*wire_done_fn)(void *user, const struct http_response *rs, mono_ns sent,
			     mono_ns done);

/* Register sockets on `epfd` (not owned). Caller frees with wire_free. */
int wire_new(int epfd, const struct wire_opts *o, struct wire **out, struct err *e);
/* Closes every connection; requests still in flight get no callback. NULL-safe. */
void wire_free(struct wire *w);

/*
 * Send `rq` (an http:// URL), handed over at `sent`. The URL and header
 * strings are copied; the body is borrowed until the callback. Returns 0
 * when the request is in flight (its callback will run from wire_reap,
 * failures included), 1 when wire declines the URL without side effects
 * (not http://, user info, an unreadable port, bytes a request line cannot
 * carry, or a proxy variable applies to the host: http_proxy, HTTP_PROXY,
 * all_proxy or ALL_PROXY set, the host not loopback and not in
 * no_proxy/NO_PROXY, as read at wire_new): send it another way. -1
 * ERR_USAGE on a malformed request (a header libcurl would refuse too).
 */
int wire_submit(struct wire *w, const struct http_request *rq, mono_ns sent, wire_done_fn fn,
		void *user, struct err *e);

/* A readiness event for a socket wire registered (`data` = epoll data.u64). */
void wire_event(struct wire *w, uint64_t data, uint32_t events);
/* Earliest timeout of the requests in flight; 0 = none. O(1). */
mono_ns wire_next_deadline(const struct wire *w);
/* Fail the requests whose timeout is at or before `now`. */
void wire_expire(struct wire *w, mono_ns now);
/* Run the callbacks of finished requests (FIFO); returns how many ran. */
int wire_reap(struct wire *w);

/* Submitted and not yet handed to their callback. */
int wire_in_flight(const struct wire *w);

struct wire_stats {
	uint64_t submitted;
	uint64_t completed;          /* callbacks run */
	uint64_t transport_errors;   /* of those, status 0 */
	uint64_t connects;           /* connections opened */
	uint64_t resent;             /* requests re-sent on a fresh connection */
};
void wire_get_stats(const struct wire *w, struct wire_stats *out);

#endif
