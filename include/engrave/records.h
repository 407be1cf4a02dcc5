/*
 * records.h — one record per load-test request, and their binary encoding.
 *
 * Every request of a load test becomes a `struct record`: sent, failed,
 * timed out or dropped, warm-up or not. Records are what is stored; every
 * metric is computed from them (metrics.h), so nothing is ever lost to a
 * histogram bound.
 *
 * Times are nanoseconds after the run's t0 (CLOCK_MONOTONIC based); a load
 * test repeated N times (loadtest.repeat) keeps one t0 for all repeats, so
 * repeat r's times come after repeat r-1's and time order holds over all:
 *   intended  the due time from sched_next_due() (the latency origin)
 *   sent      when the request was handed to the engine / executed
 *   done      when its response (or failure) was complete
 * latency = done - intended, service time = done - sent, lateness = sent -
 * intended (record_latency_ns, record_service_ns, record_lateness_ns below:
 * the only place those rules are written). The lateness of a RECORD_F_ROOM
 * record is the client's wake-up error (record_wakeup_ns): the part of its
 * latency that is the client's, not the target's. A
 * dropped request was never sent: sent = done = the moment it was given up.
 *
 * Binary form (RECORDS_SIZE = 64 bytes, little-endian, no padding), so a
 * record array streams into chunked store objects at any split point:
 *   off size field
 *     0  8   index      request index i in the schedule
 *     8  8   intended   ns after t0
 *    16  8   sent       ns after t0
 *    24  8   done       ns after t0
 *    32  4   bytes_out  request body bytes
 *    36  4   bytes_in   response body bytes
 *    40  2   status     HTTP status, or RECORD_STATUS_* below
 *    42  1   op         enum op_kind
 *    43  1   flags      RECORD_F_*
 *    44  1   err        enum record_err
 *    45  1   version    RECORDS_VERSION (1)
 *    46  2   detail     transport detail (curl code), 0 = none
 *    48  8   ids        first 8 bytes of SHA-256 of the returned ids (records_ids_digest)
 *    56  4   n_ids      number of returned ids
 *    60  4   repeat     0-based repeat of the measured phase (loadtest.repeat; 0 before it existed)
 *
 * Not thread-safe: one array per thread, or the executor's single thread.
 */
#ifndef ENGRAVE_RECORDS_H
#define ENGRAVE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/sched.h"

struct err;

#define RECORDS_SIZE 64
#define RECORDS_VERSION 1

/* Special status codes (HTTP statuses are 100..599). */
#define RECORD_STATUS_TRANSPORT 1 /* no HTTP response: connect/reset/... */
#define RECORD_STATUS_TIMEOUT 2   /* the request timed out */
#define RECORD_STATUS_DROPPED 3   /* never sent: the in-flight cap held it past the bound */
#define RECORD_STATUS_ERROR 4     /* in-process executor reported a failure */

#define RECORD_F_WARMUP 0x01      /* sent in its repeat's warm-up: excluded from metrics (the
                                   * flag, not the times, says which records are measured) */
#define RECORD_F_LATE 0x02        /* sent later than the run's lateness bound after intended */
#define RECORD_F_ROOM 0x04        /* sent, and the executor had room for it at its due time (not
                                   * held back by the in-flight cap, nor queued behind a request
                                   * that was): its lateness is the client's own wake-up error */

enum record_err {
	RECORD_ERR_NONE = 0,
	RECORD_ERR_CONNECT,   /* could not connect */
	RECORD_ERR_TLS,
	RECORD_ERR_TIMEOUT,
	RECORD_ERR_TRANSPORT, /* any other transport failure (reset, ...) */
	RECORD_ERR_HTTP4XX,
	RECORD_ERR_HTTP5XX,
	RECORD_ERR_PARSE,     /* 2xx but the body could not be understood */
	RECORD_ERR_DROPPED,   /* never sent (in-flight cap) */
	RECORD_ERR_CLIENT,    /* the request could not be built, or the executor failed */
};
#define RECORD_ERR_COUNT 10

struct record {
	uint64_t index;
	uint64_t intended;
	uint64_t sent;
	uint64_t done;
	uint32_t bytes_out;
	uint32_t bytes_in;
	uint16_t status;
	uint8_t op;        /* enum op_kind */
	uint8_t flags;     /* RECORD_F_* */
	uint8_t err;       /* enum record_err */
	uint16_t detail;
	uint8_t ids[8];
	uint32_t n_ids;
	uint32_t repeat;   /* 0-based repeat of the measured phase */
};

/*
 * Latency: from the intended send time to done, coordinated omission
 * corrected (DESIGN section 5). Every latency figure comes from here. A
 * record whose done precedes intended (only a corrupt one) gives 0.
 */
static inline uint64_t record_latency_ns(const struct record *r)
{
	return r->done > r->intended ? r->done - r->intended : 0;
}

/* Service time: from the actual send to done (0 if done precedes sent). */
static inline uint64_t record_service_ns(const struct record *r)
{
	return r->done > r->sent ? r->done - r->sent : 0;
}

/* Lateness: how long after its intended time a request was sent (0 if on time). */
static inline uint64_t record_lateness_ns(const struct record *r)
{
	return r->sent > r->intended ? r->sent - r->intended : 0;
}

/*
 * The client's wake-up error: the lateness of a request the executor had
 * room for (RECORD_F_ROOM, loadgen.h); 0 for any other record (use the
 * flag to tell the two apart).
 */
static inline uint64_t record_wakeup_ns(const struct record *r)
{
	return (r->flags & RECORD_F_ROOM) ? record_lateness_ns(r) : 0;
}

/* A growable array of records. Zeroed or records_init'ed; records_release frees. */
struct records {
	struct record *v;
	size_t n, cap;
};

void records_init(struct records *a);
void records_release(struct records *a); /* NULL-safe */
/* Make room for `extra` more (ERR_NOSPACE on failure). */
int records_reserve(struct records *a, size_t extra, struct err *e);
int records_push(struct records *a, const struct record *r, struct err *e);
/* Sort by (repeat, request index) (completion order varies from run to run):
 * repeat 0 in index order, then repeat 1, ... */
void records_sort_by_index(struct records *a);

/* Write n records into out (n * RECORDS_SIZE bytes). */
void records_encode(const struct record *r, size_t n, void *out);
/*
 * Decode `len` bytes (a multiple of RECORDS_SIZE) and append them to `a`.
 * ERR_CORRUPT naming the record's offset when the length is not a multiple,
 * the version is unknown, or op/err are out of range.
 */
int records_decode(const void *in, size_t len, struct records *a, struct err *e);

/* First 8 bytes of SHA-256 over the ids, each followed by '\n', in order. */
void records_ids_digest(const char *const *ids, size_t n, uint8_t out[8]);

/* "none", "connect", "tls", "timeout", "transport", "http-4xx", "http-5xx",
 * "parse", "dropped", "client"; "?" otherwise. */
const char *records_err_name(enum record_err c);

/* Error class of a bare HTTP status (2xx/3xx none, 4xx, 5xx, else transport). */
enum record_err records_err_of_status(unsigned status);

#endif
