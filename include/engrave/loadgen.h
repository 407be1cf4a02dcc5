/*
 * loadgen.h — the open-loop executor: runs a schedule against a target.
 *
 * loadgen_run() walks sched_next_due() in index order and sends request i
 * at t0 + due_i (never earlier), with at most `max_in_flight` requests
 * outstanding. Every scheduled request produces exactly one record
 * (records.h), including failures and drops:
 *   - intended = the schedule's due offset, stored once and never recomputed;
 *   - latency is measured from it (done - intended), service time from the
 *     actual send (done - sent): both are in the record;
 *   - a request sent more than `late_ns` after its due time is flagged late
 *     (RECORD_F_LATE): the run's lateness bound, the one definition of
 *     "late" that the result's counts, the saturation verdict and the
 *     metrics all use;
 *   - a request that could not be sent within `drop_after_ns` of its due time
 *     (the in-flight cap was full all along) is recorded as DROPPED, with
 *     sent = done = the moment it was given up; later requests are not held
 *     back by it;
 *   - warm-up requests are sent and recorded like the others (RECORD_F_WARMUP).
 *
 * Two ways to execute an operation, chosen by which callback is set:
 *   HTTP (build != NULL): build() fills an http_request for the op; the
 *     engine (engine.h) sends it on a keep-alive pool: plain http:// over
 *     the native HTTP/1.1 transport by default, the rest (or everything,
 *     with opts.transport = LOADGEN_CURL) through libcurl; on
 *     completion the record is pre-classified from the status / curl code
 *     and response() (optional) may refine it (parse errors, ids digest).
 *     `slot` in [0, max_in_flight) identifies the request while it is in
 *     flight, so a driver can keep per-slot buffers (the http_request's body
 *     and url must stay valid until response() for that slot returns).
 *   async (async_open != NULL): the driver sends through its own
 *     connections in the engine's event loop (a database client library's
 *     non-blocking sockets, engine_watch): async_open() attaches them to
 *     each worker's engine, async_submit() sends the op at once (`sent` is
 *     the driver's) and completes it later, inside engine_poll, through the
 *     given engine_done_fn with an http_response the driver made (status
 *     2xx ok, 0 + a CURLcode-like transport_error on connection failure or
 *     timeout) that response() refines as on the HTTP path. Everything else
 *     (open-loop timing, the cap, drops, records) is the HTTP path's.
 *   in-process (exec != NULL): exec() performs the op synchronously and
 *     returns its status (HTTP-like: 2xx ok); latency is still measured from
 *     the intended time. Up to max_in_flight operations run at once (at most
 *     LOADGEN_MAX_THREADS; 0 = 1), each on its own thread of a pool that
 *     grows as needed: a request is never held back by a slower one while
 *     the cap has room. `slot` in [0, that count) is the executing thread,
 *     so a driver can keep per-slot scratch buffers.
 *
 * Sending on time: the executor sleeps (epoll or clock_nanosleep, absolute
 * deadline, 1 us timer slack) until a margin before each due time and
 * spins on the clock for the rest, so a sleeping thread's wake-up latency
 * (tens of us in a VM) does not land in the latency it measures; between
 * requests it sleeps. The margin follows the wake-up overshoot it measures,
 * at most half the gap between due times, so a dense schedule does not
 * keep a core spinning (opts.spin_ns fixes it instead).
 *
 * The client's own share of every latency: a request the executor had
 * room for at its due time (not held back by the in-flight cap, nor queued
 * behind one that was) is flagged RECORD_F_ROOM, and its lateness (sent -
 * intended) is the client's wake-up error: timer wake-up, the spin, other
 * completions' callbacks and building the request, up to the moment it
 * left. The result reports its p50/p99/max over the measured records, and
 * metrics.h computes them exactly from the records; a reader can see how
 * much of a latency figure is the client's.
 *
 * Saturation: a late send the cap had room for means the client could not
 * keep up (CPU, scheduling: `late_free`); a late send held back by the cap,
 * or a drop, means the target was too slow for the cap (`cap_waits`).
 * late_free + cap_waits = late + dropped. Either is reported in the result
 * (`saturated`, `saturation`, more than 1% of sends late with room, or any
 * cap wait) so a result limited by the client is never mistaken for the
 * target's.
 *
 * A live line is logged (log_info, stderr) once a second when opts.live is
 * set: completions/s, in flight, p50/p99 latency of the last second (from
 * an interval hist.h histogram), errors, late and dropped so far.
 *
 * Threads: the HTTP path uses only the calling thread by default and the
 * callbacks run on it; opts.threads > 1 splits it over worker threads (see
 * there). Per-worker records merge after the join. The in-process path's
 * pool is described above; its sink calls are serialised.
 */
#ifndef ENGRAVE_LOADGEN_H
#define ENGRAVE_LOADGEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engrave/clock.h"
#include "engrave/engine.h"
#include "engrave/http.h"
#include "engrave/records.h"
#include "engrave/sched.h"

struct err;
struct spec_loadtest;

/* Fill `rq` for `op`; its pointers must stay valid until the response
 * callback for `slot` returns (or, if there is none, until completion).
 * -1 marks the request failed (RECORD_ERR_CLIENT) without sending it. */
typedef int (*loadgen_build_fn)(void *ctx, unsigned slot, const struct sched_op *op,
				struct http_request *rq, struct err *e);
/* Optional: refine the record of a completed HTTP request. `r` arrives
 * with times, status, bytes, detail (curl code) and err classified from the
 * status; set r->err (e.g. RECORD_ERR_PARSE), r->ids / r->n_ids. */
typedef void (*loadgen_response_fn)(void *ctx, unsigned slot, const struct sched_op *op,
				    const struct http_response *rs, struct record *r);
/* In-process: perform the op now; return its status (200 ok; >= 400 or
 * RECORD_STATUS_ERROR a failure). May set r->ids, r->n_ids, r->bytes_*,
 * and r->err (else derived from the status). Runs on up to max_in_flight
 * threads at once; `slot` (the thread) is never used twice at once. */
typedef unsigned (*loadgen_exec_fn)(void *ctx, unsigned slot, const struct sched_op *op,
				    struct record *r);

/* Async path: attach the driver's connections to worker `worker`'s engine
 * (at most `max_in_flight` requests will be outstanding on it; `connections`
 * its share of opts.max_connections, 0 = the driver's default); returns the
 * handle async_submit and async_close take, or NULL with `e` set. */
typedef void *(*loadgen_async_open_fn)(void *ctx, struct engine *en, unsigned worker, int max_in_flight,
				       int connections, struct err *e);
/* Send `op` now; later call done(user, rs, sent, done_at) exactly once,
 * inside engine_poll. -1 (e set) when it could not be sent: recorded as a
 * connect failure when e->cls is ERR_NET (no connection), else as a
 * client error. */
typedef int (*loadgen_async_submit_fn)(void *conn, unsigned slot, const struct sched_op *op, engine_done_fn done,
				       void *user, struct err *e);
/* Detach and free (nothing is in flight by then). */
typedef void (*loadgen_async_close_fn)(void *conn);

/* Optional record sink (opts.sink): receives every finished record, in
 * completion order, on an executor thread, one call at a time (worker
 * threads and the in-process pool serialise it); `r` is valid during the
 * call. With a sink, res->records stays empty (stream long runs into
 * chunked store objects instead of holding them all in memory). */
typedef void (*loadgen_sink_fn)(void *ctx, const struct record *r);

struct loadgen_target {
	void *ctx;
	loadgen_build_fn build;       /* HTTP path */
	loadgen_response_fn response; /* HTTP path, optional */
	loadgen_exec_fn exec;         /* in-process path (used when build is NULL) */
	loadgen_async_open_fn async_open;     /* async path (used when set; build NULL) */
	loadgen_async_submit_fn async_submit;
	loadgen_async_close_fn async_close;
	const char *async_transport;  /* its name in the result ("libpq") */
};

enum loadgen_transport {
	LOADGEN_NATIVE = 0,           /* http:// natively, https/proxied through libcurl */
	LOADGEN_CURL = 1,             /* libcurl for every request */
};

#define LOADGEN_MAX_THREADS 64     /* worker threads at most (opts.threads and the
                                    * in-process pool are capped) */
#define LOADGEN_LATE_NS (10 * NS_PER_MS) /* default late_ns: the spec's lateness_bound default */

struct loadgen_opts {
	int max_in_flight;            /* 0 = 256 (HTTP), 1 (in-process: operations on threads,
	                               * at most LOADGEN_MAX_THREADS at once) */
	int max_connections;          /* 0 = max_in_flight (async: the driver's default) */
	int transport;                /* enum loadgen_transport; 0 = native (see engine.h;
	                               * ENGRAVE_HTTP_TRANSPORT=curl overrides it) */
	int threads;                  /* HTTP path: worker threads, each with its own engine,
	                               * max_in_flight / threads slots and every threads-th
	                               * request (w, w + threads, ...); 0/1 = the calling
	                               * thread only; at most LOADGEN_MAX_THREADS. Callbacks
	                               * then run on several threads at once (distinct
	                               * slots); the sink is serialised. */
	uint64_t late_ns;             /* the lateness bound: flag sends later than this;
	                               * 0 = LOADGEN_LATE_NS */
	uint64_t drop_after_ns;       /* drop what cannot be sent within this; 0 = 10 s */
	uint64_t timeout_ns;          /* per request when build leaves it 0; 0 = 30 s */
	uint64_t spin_ns;             /* the spin margin: sleep until this long before a due
	                               * time, then busy-poll; 0 = adaptive (the measured
	                               * wake-up overshoot, 20..500 us, at most half the gap
	                               * between due times) */
	int live;                     /* once-a-second log_info lines */
	const char *label;            /* prefix of the live line; NULL = "loadtest" */
	volatile sig_atomic_t *stop;  /* set non-zero (e.g. by SIGINT) to stop sending */
	loadgen_sink_fn sink;         /* NULL: keep records in res->records */
	void *sink_ctx;
};

/*
 * The first message of each group of failed requests, a group being one
 * (op, status, error class): what the target answered (the response body's
 * first LOADGEN_ERR_MSG bytes, redacted by secret_redact) or the transport's
 * error string. Records hold codes only; this is the words to show beside
 * them. Past LOADGEN_ERR_GROUPS groups the rest are counted in the records
 * only.
 */
#define LOADGEN_ERR_GROUPS 32
#define LOADGEN_ERR_MSG 200
struct loadgen_err_group {
	uint8_t op;                   /* enum op_kind */
	uint8_t err;                  /* enum record_err */
	uint16_t status;              /* the record's status */
	char msg[LOADGEN_ERR_MSG + 1];
};

struct loadgen_result {
	struct records records;       /* one per request sent or dropped, in completion order
	                               * (empty when opts.sink is set) */
	uint64_t recorded;            /* records produced (kept or given to the sink) */
	uint64_t scheduled;           /* sched_count() */
	uint64_t sent;                /* handed to the engine / executed */
	uint64_t completed;           /* sent and finished (any outcome) */
	uint64_t dropped;
	uint64_t errors;              /* records with an error class (dropped included) */
	uint64_t late;                /* flagged late (> late_ns) */
	uint64_t late_max_ns;
	uint64_t late_ns;             /* the lateness bound the run used */
	uint64_t late_free;           /* of `late`, sent late although the cap had room (the
	                               * client was slow) */
	uint64_t cap_waits;           /* held back by a full cap (waiting at it, or queued
	                               * behind one that was) and sent late, or dropped */
	uint64_t wakeup_count;        /* measured requests flagged RECORD_F_ROOM */
	uint64_t wakeup_p50_ns;       /* their lateness (the client's wake-up error): p50, */
	uint64_t wakeup_p99_ns;       /* p99 (hist.h, within 0.1%) */
	uint64_t wakeup_max_ns;       /* and max (exact) */
	int max_in_flight_seen;
	uint64_t elapsed_ns;          /* t0 until the last completion */
	mono_ns t0;
	unix_ns t0_unix;              /* wall clock at t0, for the run record */
	int interrupted;              /* opts.stop was raised: not every request was sent */
	int saturated;                /* the client, not the target, may have limited the run */
	char saturation[512];         /* why, or "" */
	char first_error[RECORD_ERR_COUNT][200]; /* first message of each error class */
	struct loadgen_err_group err_groups[LOADGEN_ERR_GROUPS]; /* first message per group, in the */
	int n_err_groups;                                        /* order the groups first failed */
	uint64_t sent_native;         /* of `sent`, by the native HTTP transport (engine.h) */
	char transport[16];           /* "native", "libcurl", "native+libcurl" or "in-process" */
};

/*
 * Options from a spec's `loadtest:` section: max_in_flight, connections as
 * max_connections, and lateness_bound as late_ns. Other fields keep their defaults
 * (0); the caller sets live/label/stop.
 */
void loadgen_opts_from_spec(const struct spec_loadtest *lt, struct loadgen_opts *o);

/*
 * Run `s` against `t`. 0 when the run completed (whatever the target
 * answered: errors are in the records), -1 only when the executor itself
 * cannot work (no engine, out of memory; ERR_NET/ERR_NOSPACE) or when it
 * was interrupted (ERR_INTERRUPTED; the records so far are kept in `res`).
 * `res` is initialised here; release it with loadgen_result_release.
 */
int loadgen_run(const struct sched *s, const struct loadgen_target *t,
		const struct loadgen_opts *o, struct loadgen_result *res, struct err *e);
void loadgen_result_release(struct loadgen_result *res); /* NULL-safe */

#endif
