/*
 * test_pump.c — the retrying pump against an in-test libmicrohttpd server
 * (thread per connection, so concurrent requests really are concurrent):
 * every job completes once with the in-flight bound held at the server;
 * 503 + Retry-After is honoured; a job out of attempts is reported once;
 * a FAIL verdict and the stop flag both drain; a retry waiting behind a
 * full window, or with nothing in flight, costs (almost) no CPU; the
 * adaptive window shrinks under 503s and grows back, stays near what a
 * one-at-a-time target needs, and stretches its timeouts past a slow one.
 *
 * The server's behaviour is chosen per job by the URL, /j/<id>/<mode>:
 *   ok       200 with body "j<id>"
 *   slow     the same after SLOW_MS
 *   503once  the job's first request: 503 with Retry-After: <ra>; then ok
 *   500      always 500
 *   serial   one request at a time (a mutex) for serial_ms each
 * plus `fail_first` (the first N requests of the test answer 503 with
 * Retry-After: <ra>) and `delay_ms` (every request). Timings are asserted
 * loosely (lower bounds, generous upper ones): a shared machine is slow.
 */
#include <criterion/criterion.h>
#include <microhttpd.h>

#include "../lib/testutil.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engrave/err.h"
#include "engrave/pump.h"

#define MAXJ 512
#define SLOW_MS 1200

static struct MHD_Daemon *srv;
static int srv_port;
static int active, max_active, requests;
static int hits[MAXJ];
static int fail_first;      /* the first N requests answer 503 */
static int delay_ms;
static char ra[16] = "0";   /* Retry-After of every 503 */
static int serial_ms;       /* mode "serial": one request at a time, this long each */
static int req_timeout_ms;  /* the requests' own timeout; 0 = 10 s */
static pthread_mutex_t serial_mu = PTHREAD_MUTEX_INITIALIZER;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)method, (void)version, (void)upload;
	if (test_mhd_receiving(con_cls, upload_size))
		return MHD_YES;
	int now = __atomic_add_fetch(&active, 1, __ATOMIC_SEQ_CST);
	int seen = __atomic_load_n(&max_active, __ATOMIC_SEQ_CST);
	while (now > seen && !__atomic_compare_exchange_n(&max_active, &seen, now, 0,
							  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	int n = __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
	int id = -1;
	char mode[16] = "";
	sscanf(url, "/j/%d/%15s", &id, mode);
	int hit = id >= 0 && id < MAXJ ? __atomic_add_fetch(&hits[id], 1, __ATOMIC_SEQ_CST) : 0;
	if (delay_ms)
		sleep_ms(delay_ms);
	if (!strcmp(mode, "slow"))
		sleep_ms(SLOW_MS);
	if (!strcmp(mode, "serial")) {
		pthread_mutex_lock(&serial_mu);
		sleep_ms(serial_ms);
		pthread_mutex_unlock(&serial_mu);
	}
	unsigned status = 200;
	char body[64];
	snprintf(body, sizeof(body), "j%d", id);
	int busy = n <= fail_first || (!strcmp(mode, "503once") && hit == 1);
	if (busy) {
		status = 503;
		snprintf(body, sizeof(body), "busy");
	} else if (!strcmp(mode, "500")) {
		status = 500;
		snprintf(body, sizeof(body), "broken");
	}
	__atomic_sub_fetch(&active, 1, __ATOMIC_SEQ_CST);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (busy)
		MHD_add_response_header(r, "Retry-After", ra);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void start(void)
{
	unsetenv("ENGRAVE_HTTP_TRANSPORT");
	srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
			       NULL, NULL, handler, NULL, MHD_OPTION_CONNECTION_LIMIT,
			       (unsigned)200, MHD_OPTION_END);
	cr_assert(srv);
	srv_port = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
	MHD_stop_daemon(srv);
}

TestSuite(pump, .init = start, .fini = stop, .timeout = 60);

/* ---- the caller's side ----------------------------------------------------------- */

struct tjob {
	int id;
	char url[96];
	int outcomes, exhausted, drops;
	long last_status;
	int body_ok;
	int attempts_seen;
	mono_ns first_done, second_build;
	int builds;
};

struct tctx {
	struct tjob jobs[MAXJ];
	int n, next;
	int total_outcomes;
	int fail_at;                   /* outcome number that answers FAIL (0 = never) */
	int stop_at;                   /* outcome number that sets *stop (0 = never) */
	volatile sig_atomic_t *stop;
	int sent_after_stop;
	struct pump *p;
};

static void setup(struct tctx *t, int n, const char *(*mode)(int id))
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	for (int i = 0; i < n; i++) {
		t->jobs[i].id = i;
		snprintf(t->jobs[i].url, sizeof(t->jobs[i].url), "http://127.0.0.1:%d/j/%d/%s",
			 srv_port, i, mode(i));
	}
}

static int t_next(void *ctx, void **job, struct err *e)
{
	(void)e;
	struct tctx *t = ctx;
	if (t->next >= t->n)
		return 0;
	*job = &t->jobs[t->next++];
	return 1;
}

static int t_build(void *ctx, void *job, struct http_request *rq, struct err *e)
{
	(void)e;
	struct tctx *t = ctx;
	struct tjob *j = job;
	if (t->stop && *t->stop)
		t->sent_after_stop++;
	if (++j->builds == 2)
		j->second_build = clock_mono_now();
	*rq = (struct http_request){ .url = j->url,
				     .timeout_ns = req_timeout_ms ? (uint64_t)req_timeout_ms * NS_PER_MS
								   : 10 * NS_PER_S };
	return 0;
}

static enum pump_verdict t_outcome(void *ctx, void *job, const struct pump_outcome *o,
				   struct err *e)
{
	struct tctx *t = ctx;
	struct tjob *j = job;
	j->outcomes++;
	j->attempts_seen = o->attempt;
	j->last_status = o->rs->status;
	if (o->attempt == 1)
		j->first_done = o->done;
	char want[16];
	snprintf(want, sizeof(want), "j%d", j->id);
	j->body_ok = o->rs->body.data && !strcmp(o->rs->body.data, want);
	t->total_outcomes++;
	if (t->stop_at && t->total_outcomes == t->stop_at)
		*t->stop = 1;
	if (t->fail_at && t->total_outcomes == t->fail_at) {
		err_set(e, ERR_NET, "job %d: the caller gives up on the run", j->id);
		return PUMP_FAIL;
	}
	if (o->rs->status == 200)
		return PUMP_DONE;
	return PUMP_RETRY;
}

static int t_exhausted(void *ctx, void *job, const struct pump_outcome *o, struct err *e)
{
	(void)ctx, (void)e;
	struct tjob *j = job;
	j->exhausted++;
	j->attempts_seen = o->attempt;
	return 0;
}

static void t_drop(void *ctx, void *job)
{
	(void)ctx;
	((struct tjob *)job)->drops++;
}

static const struct pump_ops tops = {
	.next = t_next,
	.build = t_build,
	.outcome = t_outcome,
	.exhausted = t_exhausted,
	.drop = t_drop,
};

static const char *all_ok(int id)
{
	(void)id;
	return "ok";
}

static int run(struct tctx *t, const struct pump_opts *o, struct pump_stats *st, struct err *e)
{
	cr_assert_eq(pump_new(o, &tops, t, &t->p, e), 0, "%s", e->msg);
	int rc = pump_run(t->p, e);
	pump_get_stats(t->p, st);
	pump_free(t->p);
	return rc;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- cases ---------------------------------------------------------------------------- */

Test(pump, every_job_completes_once_within_the_bound)
{
	static struct tctx t;
	for (int native = 0; native <= 1; native++) {
		setup(&t, 60, all_ok);
		__atomic_store_n(&max_active, 0, __ATOMIC_SEQ_CST);
		delay_ms = 15;
		struct pump_opts o = { .max_in_flight = 4, .native = native };
		struct pump_stats st;
		struct err e = ERR_INIT;
		cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
		for (int i = 0; i < t.n; i++) {
			cr_assert_eq(t.jobs[i].outcomes, 1, "job %d: %d outcomes", i, t.jobs[i].outcomes);
			cr_assert(t.jobs[i].body_ok, "job %d got the wrong body", i);
		}
		cr_assert_eq(st.sent, 60);
		cr_assert_eq(st.done, 60);
		cr_assert_eq(st.retries, 0);
		cr_assert_leq(st.max_in_flight_seen, 4);
		cr_assert_leq(__atomic_load_n(&max_active, __ATOMIC_SEQ_CST), 4,
			      "the server saw %d at once", max_active);
		cr_assert_geq(__atomic_load_n(&max_active, __ATOMIC_SEQ_CST), 2,
			      "requests did overlap");
	}
}

static const char *first_three_503(int id)
{
	return id < 3 ? "503once" : "ok";
}

Test(pump, retry_after_is_honoured)
{
	static struct tctx t;
	setup(&t, 6, first_three_503);
	snprintf(ra, sizeof(ra), "0.4");
	struct pump_opts o = { .max_in_flight = 4,
			       .retry = { 4, NS_PER_MS, 5 * NS_PER_S, 0.2, 7 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	for (int i = 0; i < 3; i++) {
		struct tjob *j = &t.jobs[i];
		cr_assert_eq(j->outcomes, 2);
		cr_assert_eq(j->last_status, 200);
		cr_assert(j->body_ok);
		double gap = (double)(j->second_build - j->first_done) / 1e9;
		cr_assert_geq(gap, 0.35, "job %d retried %.3f s after its 503 (Retry-After 0.4)", i, gap);
		cr_assert_lt(gap, 4.0, "job %d retried %.3f s after its 503", i, gap);
	}
	for (int i = 3; i < 6; i++)
		cr_assert_eq(t.jobs[i].outcomes, 1);
	cr_assert_eq(st.retries, 3);
	cr_assert_eq(st.congestion, 3);
	cr_assert_eq(st.sent, 9);
	cr_assert_eq(st.window, 4, "not adaptive: the window stays");
}

static const char *odd_500(int id)
{
	return id % 2 ? "500" : "ok";
}

Test(pump, gives_up_after_max_attempts_per_job)
{
	static struct tctx t;
	setup(&t, 10, odd_500);
	struct pump_opts o = { .max_in_flight = 3, .retry = { 3, NS_PER_MS, 2 * NS_PER_MS, 0, 0 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	for (int i = 0; i < 10; i++) {
		struct tjob *j = &t.jobs[i];
		if (i % 2) {
			cr_assert_eq(j->exhausted, 1, "job %d exhausted %d times", i, j->exhausted);
			cr_assert_eq(j->attempts_seen, 3);
			cr_assert_eq(j->outcomes, 3);
			cr_assert_eq(hits[i], 3, "the server saw job %d %d times", i, hits[i]);
		} else {
			cr_assert_eq(j->exhausted, 0);
			cr_assert_eq(j->outcomes, 1);
		}
		cr_assert_eq(j->drops, 0);
	}
	cr_assert_eq(st.exhausted, 5);
	cr_assert_eq(st.done, 5);
	cr_assert_eq(st.retries, 10);
	cr_assert_eq(st.sent, 20);
}

static const char *first_503(int id)
{
	return id == 0 ? "503once" : "ok";
}

Test(pump, a_failed_run_drains_and_reports_the_callers_error)
{
	static struct tctx t;
	setup(&t, 40, first_503);
	snprintf(ra, sizeof(ra), "5");
	delay_ms = 30;
	t.fail_at = 6;
	struct pump_opts o = { .max_in_flight = 4, .retry = { 5, NS_PER_MS, 10 * NS_PER_S, 0, 0 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	mono_ns t0 = clock_mono_now();
	cr_assert_eq(run(&t, &o, &st, &e), -1);
	double secs = (double)(clock_mono_now() - t0) / 1e9;
	cr_assert(strstr(e.msg, ": the caller gives up on the run"), "%s", e.msg);
	cr_assert_lt(secs, 4.0, "the 5 s retry of job 0 was not waited for (%.2f s)", secs);
	cr_assert_eq(st.completed, st.sent, "everything sent was drained");
	cr_assert_leq(st.sent, 6 + 4, "nothing new after the failure: %llu sent",
		      (unsigned long long)st.sent);
	cr_assert_eq(t.jobs[0].drops, 1, "the queued retry was dropped");
	cr_assert_eq(st.dropped, 1);
}

Test(pump, stop_flag_drains)
{
	static struct tctx t;
	static volatile sig_atomic_t stop_flag;
	setup(&t, 100, first_503);
	snprintf(ra, sizeof(ra), "5");
	delay_ms = 30;
	stop_flag = 0;
	t.stop = &stop_flag;
	t.stop_at = 6;
	struct pump_opts o = { .max_in_flight = 4, .stop = &stop_flag,
			       .retry = { 5, NS_PER_MS, 10 * NS_PER_S, 0, 0 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	mono_ns t0 = clock_mono_now();
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	double secs = (double)(clock_mono_now() - t0) / 1e9;
	cr_assert_lt(secs, 4.0, "stopping did not wait for the queued retry (%.2f s)", secs);
	cr_assert_eq(t.sent_after_stop, 0);
	cr_assert_eq(st.completed, st.sent, "what was in flight was drained");
	cr_assert_leq(st.sent, 6 + 4);
	cr_assert_eq(t.jobs[0].drops, 1);
	cr_assert_eq(st.dropped, 1);
	for (int i = 1; i < t.next; i++)
		cr_assert_eq(t.jobs[i].outcomes, 1, "job %d was sent, so it has its outcome", i);
}

static const char *first_nothing_else(int id)
{
	return id == 0 ? "503once" : "ok";
}

Test(pump, no_busy_wait_with_nothing_in_flight)
{
	static struct tctx t;
	setup(&t, 1, first_nothing_else);
	snprintf(ra, sizeof(ra), "1");
	struct pump_opts o = { .max_in_flight = 4, .retry = { 3, NS_PER_MS, 5 * NS_PER_S, 0, 0 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	double c0 = cpu_s();
	mono_ns t0 = clock_mono_now();
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	double wall = (double)(clock_mono_now() - t0) / 1e9, cpu = cpu_s() - c0;
	cr_assert_geq(wall, 0.9, "the retry waited for Retry-After (%.2f s)", wall);
	cr_assert_lt(cpu, 0.3 * wall, "%.3f s of CPU in %.2f s waiting", cpu, wall);
	cr_assert_eq(t.jobs[0].last_status, 200);
}

static const char *one_503_two_slow(int id)
{
	return id == 0 ? "503once" : "slow";
}

Test(pump, no_busy_wait_with_a_due_retry_and_the_window_full)
{
	/* job 0's retry falls due after 50 ms while jobs 1 and 2 hold both slots
	 * for SLOW_MS: the pump must sleep until one of them completes */
	static struct tctx t;
	setup(&t, 3, one_503_two_slow);
	snprintf(ra, sizeof(ra), "0.05");
	struct pump_opts o = { .max_in_flight = 2, .retry = { 3, NS_PER_MS, 5 * NS_PER_S, 0, 0 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	double c0 = cpu_s();
	mono_ns t0 = clock_mono_now();
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	double wall = (double)(clock_mono_now() - t0) / 1e9, cpu = cpu_s() - c0;
	cr_assert_geq(wall, SLOW_MS / 1000.0, "%.2f s", wall);
	cr_assert_lt(cpu, 0.3 * wall, "%.3f s of CPU in %.2f s waiting", cpu, wall);
	double gap = (double)(t.jobs[0].second_build - t.jobs[0].first_done) / 1e9;
	cr_assert_geq(gap, 0.5, "job 0 waited for a free slot (%.3f s)", gap);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(t.jobs[i].last_status, 200);
}

Test(pump, adaptive_window_shrinks_under_503s_and_recovers)
{
	static struct tctx t;
	setup(&t, 300, all_ok);
	snprintf(ra, sizeof(ra), "0.01");
	fail_first = 40;
	delay_ms = 2;
	struct pump_opts o = { .max_in_flight = 8, .adaptive = 1,
			       .retry = { 20, NS_PER_MS, NS_PER_S, 0.2, 3 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	for (int i = 0; i < t.n; i++)
		cr_assert_eq(t.jobs[i].last_status, 200, "job %d", i);
	cr_assert_eq(st.congestion, 40);
	cr_assert_geq(st.cuts, 2, "%llu cuts", (unsigned long long)st.cuts);
	cr_assert_lt(st.cuts, 40, "cut at most once per round trip");
	cr_assert_leq(st.min_window, 2, "the window shrank to %d", st.min_window);
	cr_assert_eq(st.window, 8, "the window grew back (now %d)", st.window);
	cr_assert_eq(st.max_window, 8);
	cr_assert_leq(__atomic_load_n(&max_active, __ATOMIC_SEQ_CST), 8);

	/* the same load without the controller keeps its window */
	setup(&t, 300, all_ok);
	__atomic_store_n(&requests, 0, __ATOMIC_SEQ_CST);
	o.adaptive = 0;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(st.congestion, 40);
	cr_assert_eq(st.cuts, 0);
	cr_assert_eq(st.min_window, 8);
}

Test(pump, initial_window_grows_against_a_fast_target)
{
	static struct tctx t;
	setup(&t, 60, all_ok);
	struct pump_opts o = { .max_in_flight = 6, .adaptive = 1, .initial_window = 1 };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(st.min_window, 1);
	cr_assert_eq(st.window, 6, "+1 a round from 1 reaches 6 within 60 jobs of a fast target");
	cr_assert_eq(st.shrinks, 0, "fast requests are not judged by latency");
	cr_assert_leq(st.max_in_flight_seen, 6);
}

static const char *all_serial(int id)
{
	(void)id;
	return "serial";
}

/* A target that works on one request at a time (serial_ms each): latency grows
 * with every request in flight, throughput does not. The window must stay
 * near the few requests that keep it busy instead of queueing up to the most. */
Test(pump, adaptive_window_follows_latency_of_a_serial_target)
{
	static struct tctx t;
	setup(&t, 80, all_serial);
	serial_ms = 25;
	struct pump_opts o = { .max_in_flight = 16, .adaptive = 1,
			       .retry = { 3, NS_PER_MS, NS_PER_S, 0.2, 3 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	serial_ms = 0;
	for (int i = 0; i < t.n; i++)
		cr_assert_eq(t.jobs[i].last_status, 200, "job %d", i);
	cr_assert_leq(st.max_window, 6, "the window grew to %d against a one-at-a-time target", st.max_window);
	cr_assert_leq(st.max_in_flight_seen, 6);
	cr_assert_eq(st.timeouts, 0);

	/* without the controller every slot is used: 16 queue at the target */
	setup(&t, 80, all_serial);
	serial_ms = 25;
	o.adaptive = 0;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	serial_ms = 0;
	cr_assert_eq(st.max_in_flight_seen, 16);
}

/* A serial target slower than the requests' own timeout: without the
 * controller every attempt times out while the server still works on it
 * (a retry storm that exhausts every job); with it the timeout moves past
 * the observed latency, retries wait for the server, and every job lands. */
Test(pump, adaptive_timeout_ends_a_retry_storm)
{
	static struct tctx t;
	setup(&t, 12, all_serial);
	serial_ms = 150;
	req_timeout_ms = 100;
	struct pump_opts o = { .max_in_flight = 4, .adaptive = 1, .initial_window = 4,
			       .retry = { 6, NS_PER_MS, NS_PER_S, 0.2, 3 } };
	struct pump_stats st;
	struct err e = ERR_INIT;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	for (int i = 0; i < t.n; i++)
		cr_assert_eq(t.jobs[i].last_status, 200, "job %d: %ld after %d attempts", i,
			     t.jobs[i].last_status, t.jobs[i].attempts_seen);
	cr_assert_eq(st.exhausted, 0);
	cr_assert_gt(st.timeouts, 0, "the first attempts timed out");
	cr_assert_gt(st.max_timeout_ns, 150 * NS_PER_MS, "the timeout grew past the latency");

	/* the same without the controller: the jobs run out of attempts */
	setup(&t, 12, all_serial);
	o.adaptive = 0;
	cr_assert_eq(run(&t, &o, &st, &e), 0, "%s", e.msg);
	cr_assert_gt(st.exhausted, 0, "every attempt waits behind the others and times out");
	serial_ms = 0;
	req_timeout_ms = 0;
}

Test(pump, series_samples_the_window)
{
	static struct tctx t;
	setup(&t, 30, all_serial);
	serial_ms = 80;
	struct pump_opts o = { .max_in_flight = 8, .adaptive = 1 };
	struct err e = ERR_INIT;
	cr_assert_eq(pump_new(&o, &tops, &t, &t.p, &e), 0, "%s", e.msg);
	cr_assert_eq(pump_run(t.p, &e), 0, "%s", e.msg);
	serial_ms = 0;
	size_t n = 0;
	const struct pump_sample *s = pump_series(t.p, &n);
	cr_assert_geq(n, 2, "about 2.4 s of work: a sample a second and one at the end (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_geq(s[i].window, 1);
		cr_assert_leq(s[i].window, 8);
		cr_assert_leq(s[i].min_window, s[i].window);
		if (i)
			cr_assert_geq(s[i].t_ms, s[i - 1].t_ms);
	}
	cr_assert_eq(s[n - 1].completed, 30);
	cr_assert_gt(s[n - 1].latency_ms, 0);
	pump_free(t.p);
}
