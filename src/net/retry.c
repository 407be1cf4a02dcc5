/*
 * retry.c — retry decisions and backoff delays.
 *
 * retry_should() is the single place that says which outcomes are worth a
 * second try: transport failures (refused, reset, timeout), 408, 429 and
 * every 5xx. Other 4xx mean the request itself is wrong and retrying would
 * only repeat the error.
 *
 * retry_delay_ns() is exponential backoff, base * 2^(attempt-1), multiplied
 * by a jitter factor in [1 - jitter, 1 + jitter] and capped at max_ns. The
 * jitter comes from splitmix64(seed, attempt), not from rand(): the same
 * policy waits the same times on every run, which keeps tests exact. A
 * Retry-After header from the server wins over the computed delay (the
 * server knows when it will be ready), still capped at max_ns.
 *
 * http_do_retry() wraps http_do() with that policy and sleeps between
 * attempts (it is for setup and bulk paths; the load engine never sleeps).
 */
#include "engrave/retry.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/log.h"

#include <math.h>

int retry_should(const struct http_response *rs, int transport_failed)
{
	if (http_response_too_large(rs))
		return 0; /* the same request gets the same answer */
	if (transport_failed || !rs || rs->status == 0)
		return 1;
	long s = rs->status;
	return s >= 500 || s == 429 || s == 408;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t retry_delay_ns(const struct retry_policy *p, int attempt, const struct http_response *rs)
{
	uint64_t cap = p->max_ns ? p->max_ns : 10 * NS_PER_S;
	if (rs && rs->retry_after_s >= 0) {
		double ns = rs->retry_after_s * 1e9;
		return ns >= (double)cap ? cap : (uint64_t)ns;
	}
	if (attempt < 1)
		attempt = 1;
	uint64_t base = p->base_ns ? p->base_ns : 100 * NS_PER_MS;
	double d = (double)base * ldexp(1.0, attempt > 60 ? 60 : attempt - 1);
	double j = p->jitter < 0 ? 0 : p->jitter > 1 ? 1 : p->jitter;
	if (j > 0) {
		uint64_t r = splitmix64(p->seed ^ ((uint64_t)attempt * 0xd1b54a32d192ed03ULL));
		double u = (double)(r >> 11) * 0x1.0p-53; /* [0, 1) */
		d *= 1.0 - j + 2.0 * j * u;
	}
	if (d >= (double)cap)
		return cap;
	return d < 0 ? 0 : (uint64_t)d;
}

int http_do_retry(struct http_client *c, const struct http_request *rq,
		  const struct retry_policy *p, struct http_response *rs, int *attempts,
		  struct err *e)
{
	struct retry_policy def = RETRY_POLICY_DEFAULT;
	if (!p)
		p = &def;
	int max = p->max_attempts > 0 ? p->max_attempts : 1;
	struct err last = ERR_INIT;
	int n = 0;
	for (;;) {
		n++;
		err_clear(&last);
		int rc = http_do(c, rq, rs, &last);
		if (attempts)
			*attempts = n;
		int transport_failed = rc < 0;
		if (transport_failed && rs->transport_error == 0) {
			/* a malformed request, not a network problem: do not retry */
			if (e)
				*e = last;
			return -1;
		}
		if (!retry_should(rs, transport_failed))
			return 0;
		if (n >= max)
			break;
		uint64_t d = retry_delay_ns(p, n, rs);
		if (transport_failed)
			log_debug("%s %s: attempt %d failed (%s), retrying in %.3f s",
				  http_method_of(rq), rq->url, n, rs->error, (double)d / 1e9);
		else
			log_debug("%s %s: attempt %d got HTTP %ld, retrying in %.3f s",
				  http_method_of(rq), rq->url, n, rs->status, (double)d / 1e9);
		clock_sleep_until(clock_mono_now() + d);
	}
	if (rs->status == 0)
		err_set(e, ERR_NET, "%s %s: giving up after %d attempts; last error: %s",
			http_method_of(rq), rq->url, n, rs->error[0] ? rs->error : last.msg);
	else
		err_set(e, ERR_NET, "%s %s: giving up after %d attempts; last status HTTP %ld",
			http_method_of(rq), rq->url, n, rs->status);
	return err_hint(e, "the server kept failing; check its logs, or raise the retry limit");
}
