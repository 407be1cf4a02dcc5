/*
 * engine.h — many HTTP requests in flight over a keep-alive pool (libcurl multi).
 *
 * Single-threaded: the caller's thread drives transfers inside engine_poll()
 * and engine_drain(), and completion callbacks run there. An open-loop load
 * scheduler calls engine_submit() at each due time and engine_poll(deadline =
 * next due time) in between; engine_poll returns promptly at the deadline
 * (it sleeps in curl_multi_poll with the remaining time, never busy-spins).
 *
 * `sent` is taken when the request is handed to curl (inside engine_submit),
 * `done` when curl reports completion; both CLOCK_MONOTONIC. With
 * max_in_flight > max_connections, curl queues the excess until a pooled
 * connection frees up, and that queueing counts as service time.
 */
#ifndef ENGRAVE_ENGINE_H
#define ENGRAVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "engrave/clock.h"
#include "engrave/http.h"

struct err;

struct engine_opts {
	int max_connections;         /* total open connections; 0 = 64 */
	int max_in_flight;           /* submitted but not completed; 0 = 1024 */
	uint64_t connect_timeout_ns; /* 0 = 10 s */
};

struct engine_stats {
	uint64_t submitted;
	uint64_t completed;          /* callbacks run (any outcome) */
	uint64_t transport_errors;   /* completions with status 0 */
	uint64_t rejected;           /* submits refused because max_in_flight was reached */
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
 * whichever comes first; deadline 0 = one non-blocking pass. Returns the
 * number of completions (callbacks run), or -1 on a curl multi failure.
 */
int engine_poll(struct engine *en, mono_ns deadline, struct err *e);
/* Drive until nothing is in flight. 0 or -1. */
int engine_drain(struct engine *en, struct err *e);

#endif
