/*
 * retry.h — when to retry an HTTP request and how long to wait.
 *
 * Exponential backoff with bounded jitter (base * 2^(attempt-1), +/- jitter
 * fraction, capped at max_ns); a Retry-After header from the server wins
 * over the computed delay (still capped). Jitter comes from a seeded
 * splitmix64 so a given (seed, attempt) always waits the same time.
 */
#ifndef ENGRAVE_RETRY_H
#define ENGRAVE_RETRY_H

#include <stdint.h>
#include "engrave/http.h"

struct err;

struct retry_policy {
	int max_attempts;   /* total tries, including the first; <= 0 means 1 */
	uint64_t base_ns;   /* first delay; 0 = 100 ms */
	uint64_t max_ns;    /* cap on any delay; 0 = 10 s */
	double jitter;      /* 0..1: delay is multiplied by [1-jitter, 1+jitter] */
	uint64_t seed;      /* jitter seed */
};

#define RETRY_POLICY_DEFAULT { 5, 100000000ULL, 10000000000ULL, 0.2, 0 }

/* Transport errors, 5xx, 429 (and 408) -> 1; other statuses -> 0. */
int retry_should(const struct http_response *rs, int transport_failed);
/* Delay before attempt `attempt + 1`, `attempt` >= 1 being the one that just failed. */
uint64_t retry_delay_ns(const struct retry_policy *p, int attempt, const struct http_response *rs);

/*
 * Synchronous request with retries (sleeps between attempts). Returns 0 with
 * the final response (check its status: a non-retryable 4xx returns 0 at
 * once); -1 (ERR_NET) when attempts are exhausted, the message naming the
 * URL, the attempt count and the last status or transport error.
 * `attempts` (may be NULL) receives the number of tries made; `p` NULL means
 * RETRY_POLICY_DEFAULT.
 */
int http_do_retry(struct http_client *c, const struct http_request *rq,
		  const struct retry_policy *p, struct http_response *rs, int *attempts,
		  struct err *e);

#endif
