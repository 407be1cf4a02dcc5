/*
 * engine.h — many HTTP requests in flight over a keep-alive pool.
 *
 * Single-threaded: the caller's thread drives transfers inside engine_poll()
 * and engine_drain(), and completion callbacks run there. An open-loop load
 * scheduler calls engine_submit() at each due time and engine_poll(deadline =
 * next due time) in between; engine_poll returns promptly at the deadline
 * (it sleeps in epoll with the remaining time, never busy-spins).
 *
 * Two transports behind one API: libcurl multi for everything, and, when
 * opts.native is set, a native HTTP/1.1 client (wire.h) for plain http://
 * URLs (the host loopback or in no_proxy, or no proxy variable set);
 * https and proxied hosts still go through libcurl in the same engine.
 * Responses mean the same on both (status, bounded body, Retry-After,
 * Content-Type; on transport failure status 0 and a CURLcode). The
 * environment variable ENGRAVE_HTTP_TRANSPORT=curl makes every engine use
 * libcurl only, whatever opts.native says (for comparisons and as an escape
 * hatch).
 *
 * `sent` is taken when the request is handed to its transport (inside
 * engine_submit), `done` when the response is complete; both
 * CLOCK_MONOTONIC. With max_in_flight > max_connections, the excess waits
 * (FIFO) until a pooled connection frees up, and that queueing counts as
 * service time. A pooled connection the server closed while it was idle
 * gets its request re-sent once on a fresh connection (both transports).
 */
#ifndef ENGRAVE_ENGINE_H
#define ENGRAVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "engrave/clock.h"
#include "engrave/http.h"

struct err;

struct engine_opts {
	int max_connections;         /* total open connections (per transport); 0 = 64 */
	int max_in_flight;           /* submitted but not completed; 0 = 1024 */
	uint64_t connect_timeout_ns; /* 0 = 10 s */
	int native;                  /* 1: plain http:// through the native transport (see
	                              * above); 0: libcurl for everything */
};

struct engine_stats {
	uint64_t submitted;
	uint64_t completed;          /* callbacks run (any outcome) */
	uint64_t transport_errors;   /* completions with status 0 */
	uint64_t rejected;           /* submits refused because max_in_flight was reached */
	uint64_t native;             /* of `submitted`, sent by the native transport */
	uint64_t native_connects;    /* connections the native transport opened */
	uint64_t native_resent;      /* its requests re-sent on a fresh connection */
};

struct engine;

/*
 * Completion callback. `rs` (status, body, error, elapsed) is valid only
 * during the callback; copy what you need. It may call engine_submit().
 */
typedef void (*engine_done_fn)(void *user, const struct http_response *rs, mono_ns sent,
			       mono_ns done);

/* `o` may be NULL for defaults. Caller frees with engine_free. */
int engine_new(const struct engine_opts *o, struct engine **out, struct err *e);
/* Aborts whatever is still in flight without calling callbacks. NULL-safe. */
void engine_free(struct engine *en);

/*
 * Queue a request now. The url, headers and body are borrowed (url and
 * header strings are copied; the body must stay valid until the callback).
 * Returns -1 (ERR_NET "engine full") if max_in_flight would be exceeded:
 * the caller decides whether that is a drop or a late send.
 */
int engine_submit(struct engine *en, const struct http_request *rq, engine_done_fn fn, void *user,
		  struct err *e);
int engine_in_flight(const struct engine *en);
int engine_max_in_flight(const struct engine *en);
void engine_get_stats(const struct engine *en, struct engine_stats *out);

/*
 * Drive transfers until `deadline` (mono_ns) or until something completes,
 * whichever comes first; deadline 0 (or one already past) = one
 * non-blocking pass over the sockets. Returns the number of completions
 * (callbacks run), or -1 on a curl multi failure.
 */
int engine_poll(struct engine *en, mono_ns deadline, struct err *e);
/* Drive until nothing is in flight. 0 or -1. */
int engine_drain(struct engine *en, struct err *e);

/*
 * Other clients' sockets in the same loop (a database client library's
 * connection, pgvector's libpq: targets/pgvector_async.c). engine_watch()
 * adds `fd` to the engine's epoll set for `events` (EPOLLIN, EPOLLOUT) and
 * returns a watch id >= 0 (-1 on failure). Inside engine_poll(), when the
 * fd is ready fn(user, events) runs; when the watch's deadline
 * (engine_watch_deadline, 0 = none) has passed, fn(user, 0) runs (the
 * deadline is then cleared: set it again if still needed). fn returns how
 * many requests it completed (done callbacks it ran), which engine_poll
 * counts like its own completions and which end its wait. What a watcher
 * has in flight is its own to count: engine_in_flight() and engine_drain()
 * know only the engine's HTTP requests. fn may change or remove any watch.
 */
typedef int (*engine_watch_fn)(void *user, uint32_t events);
int engine_watch(struct engine *en, int fd, uint32_t events, engine_watch_fn fn, void *user, struct err *e);
int engine_watch_events(struct engine *en, int id, uint32_t events, struct err *e);
void engine_watch_deadline(struct engine *en, int id, mono_ns deadline);
void engine_unwatch(struct engine *en, int id); /* removes the fd from the set; does not close it */

#endif
