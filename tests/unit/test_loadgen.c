/*
 * test_loadgen.c — the open-loop executor against a local server that can
 * stall (libmicrohttpd, thread per connection, started inside the test).
 *
 * The measurement-correctness tests of the "Load test" issue:
 *   - wrk2's test: a 1 s stall inside a 10 s run at 1000/s with 16 in
 *     flight shows in the latency from the intended time (p99 >= 500 ms)
 *     while the service time of the queued requests stays low;
 *   - a server that keeps up sees the target rate within 1%;
 *   - every scheduled request has exactly one record (drops included) whose
 *     intended time is the schedule's;
 *   - errors are classified and kept; the in-process path measures from
 *     the intended time too.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <microhttpd.h>

#include "../lib/testutil.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/loadgen.h"
#include "engrave/log.h"
#include "engrave/metrics.h"
#include "engrave/sched.h"
#include "engrave/spec.h"

#define MS NS_PER_MS

/* ---- test server ------------------------------------------------------- */

struct srv {
	struct MHD_Daemon *d;
	int port;
	_Atomic uint64_t stall_from, stall_to; /* mono_ns window; 0 = none */
	_Atomic uint64_t hits;
	_Atomic int conns;     /* connections accepted */
};

static void on_conn(void *cls, struct MHD_Connection *c, void **sc, enum MHD_ConnectionNotificationCode code)
{
	(void)c, (void)sc;
	struct srv *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&s->conns, 1);
}

static const char OK_BODY[] = "{\"ids\":[\"m1\",\"m2\",\"m3\"]}";
static const char ERR_BODY[] = "{\"error\":\"boom\"}";

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	(void)method, (void)version, (void)upload;
	struct srv *s = cls;
	if (test_mhd_receiving(con_cls, upload_size))
		return MHD_YES;
	atomic_fetch_add(&s->hits, 1);
	mono_ns now = clock_mono_now(), a = atomic_load(&s->stall_from), b = atomic_load(&s->stall_to);
	if (a && now >= a && now < b)
		clock_sleep_until(b);
	int err = strcmp(url, "/err") == 0;
	struct MHD_Response *rs = MHD_create_response_from_buffer(
		err ? sizeof(ERR_BODY) - 1 : sizeof(OK_BODY) - 1, (void *)(err ? ERR_BODY : OK_BODY),
		MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(rs, "Content-Type", "application/json");
	enum MHD_Result r = MHD_queue_response(c, err ? 500 : 200, rs);
	MHD_destroy_response(rs);
	return r;
}

static void srv_start(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
				NULL, NULL, handle, s, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_CONNECTION, on_conn, s,
				MHD_OPTION_END);
	cr_assert_not_null(s->d, "cannot start the test server");
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di->port;
	cr_assert_gt(s->port, 0);
}

static void srv_stop(struct srv *s)
{
	MHD_stop_daemon(s->d);
}

/* ---- a tiny driver ---------------------------------------------------------- */

struct drv {
	char ok[128], err[128];
	int search_fails;     /* search ops go to /err */
	uint64_t parsed;
};

static const char STORE_BODY[] = "{\"id\":\"load-1\",\"embedding\":[0.1,0.2]}";

static int build(void *ctx, unsigned slot, const struct sched_op *op, struct http_request *rq,
		 struct err *e)
{
	(void)slot, (void)e;
	struct drv *d = ctx;
	rq->url = d->search_fails && op->kind == OP_SEARCH ? d->err : d->ok;
	if (op->kind == OP_STORE) {
		rq->method = "POST";
		rq->body = STORE_BODY;
		rq->body_len = sizeof(STORE_BODY) - 1;
	}
	return 0;
}

static void response(void *ctx, unsigned slot, const struct sched_op *op,
		     const struct http_response *rs, struct record *r)
{
	(void)slot, (void)op;
	struct drv *d = ctx;
	if (rs->status == 200 && strstr(rs->body.data, "\"ids\"")) {
		const char *ids[] = { "m1", "m2", "m3" };
		records_ids_digest(ids, 3, r->ids);
		r->n_ids = 3;
		d->parsed++;
	}
}

static void drv_init(struct drv *d, int port)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->ok, sizeof(d->ok), "http://127.0.0.1:%d/ok", port);
	snprintf(d->err, sizeof(d->err), "http://127.0.0.1:%d/err", port);
}

static struct sched_params params(double rate, uint64_t dur_ms)
{
	struct sched_params p;
	memset(&p, 0, sizeof(p));
	p.pattern = SCHED_CONSTANT;
	p.rate = rate;
	p.duration_ns = dur_ms * MS;
	p.weight[OP_STORE] = 0.5;
	p.weight[OP_RECALL] = 0.425;
	p.weight[OP_SEARCH] = 0.075;
	p.seed = 7;
	p.n_queries = 100;
	return p;
}

/* Every scheduled request has exactly one record carrying the schedule's due time. */
static void assert_one_record_per_request(const struct sched *s, struct loadgen_result *res)
{
	cr_assert_eq(res->records.n, sched_count(s), "records %zu, scheduled %llu", res->records.n,
		     (unsigned long long)sched_count(s));
	records_sort_by_index(&res->records);
	for (size_t i = 0; i < res->records.n; i++) {
		struct sched_op op;
		const struct record *r = &res->records.v[i];
		cr_assert_eq(r->index, i);
		cr_assert_eq(sched_next_due(s, i, &op), 0);
		cr_assert_eq(r->intended, op.due_ns);
		cr_assert_eq(r->op, (uint8_t)op.kind);
		cr_assert(r->done >= r->sent);
		if (r->status != RECORD_STATUS_DROPPED)
			cr_assert(r->sent >= r->intended, "request %zu sent before it was due", i);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- tests ---------------------------------------------------------------------- */

/* Throughput within 1% of the rate and exact percentiles, on either HTTP transport. */
static void check_keeps_up(int transport)
{
	struct srv srv;
	srv_start(&srv);
	struct drv d;
	drv_init(&d, srv.port);
	struct sched s;
	struct sched_params p = params(500, 5000);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	struct loadgen_target t = { &d, build, response, NULL };
	struct loadgen_opts o = { 0 };
	o.max_in_flight = 32;
	o.transport = transport;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(res.dropped, 0);
	cr_assert_eq(res.errors, 0, "first error: %s", res.first_error[RECORD_ERR_CONNECT]);
	cr_assert_eq(d.parsed, 2500);
	const char *forced = getenv("ENGRAVE_HTTP_TRANSPORT"); /* "curl" overrides the option */
	int curl = transport == LOADGEN_CURL || (forced && !strcmp(forced, "curl"));
	cr_assert_str_eq(res.transport, curl ? "libcurl" : "native");
	cr_assert_eq(res.sent_native, curl ? 0 : res.sent);
	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &m, &e), 0);
	cr_log_info("keeps up: throughput %.2f/s, p50 %.3f ms, p99 %.3f ms", m.throughput,
		    (double)m.all.latency.pct[0] / 1e6, (double)m.all.latency.pct[3] / 1e6);
	cr_assert(m.throughput > 495 && m.throughput < 505, "throughput %.2f/s, want 500 +- 1%%",
		  m.throughput);
	cr_assert_eq(m.all.completed, 2500);
	/* exact percentiles: the metrics of the stored (encoded, decoded) records
	 * equal sorting their latencies */
	uint8_t *bytes = malloc(res.records.n * RECORDS_SIZE);
	records_encode(res.records.v, res.records.n, bytes);
	struct records back;
	records_init(&back);
	cr_assert_eq(records_decode(bytes, res.records.n * RECORDS_SIZE, &back, &e), 0, "%s", e.msg);
	struct metrics m2;
	cr_assert_eq(metrics_from_records(back.v, back.n, 0, p.duration_ns, &m2, &e), 0);
	uint64_t *lat = malloc(back.n * sizeof(uint64_t));
	for (size_t i = 0; i < back.n; i++)
		lat[i] = back.v[i].done - back.v[i].intended;
	qsort(lat, back.n, sizeof(uint64_t), cmp_u64);
	for (int k = 0; k < METRICS_NPCT; k++) {
		cr_assert_eq(m2.all.latency.pct[k], lat[hist_rank(back.n, metrics_pct[k]) - 1]);
		cr_assert_eq(m2.all.latency.pct[k], m.all.latency.pct[k]);
	}
	cr_assert_eq(m2.all.latency.max, lat[back.n - 1]);
	free(lat);
	free(bytes);
	records_release(&back);
	/* the ids digest made it into the records */
	uint8_t want[8];
	const char *ids[] = { "m1", "m2", "m3" };
	records_ids_digest(ids, 3, want);
	cr_assert_eq(memcmp(res.records.v[17].ids, want, 8), 0);
	cr_assert_eq(res.records.v[17].n_ids, 3);
	loadgen_result_release(&res);
	srv_stop(&srv);
}

Test(loadgen, keeps_the_rate_when_the_server_keeps_up, .timeout = 60)
{
	check_keeps_up(LOADGEN_NATIVE);
}

Test(loadgen, keeps_the_rate_through_libcurl_too, .timeout = 60)
{
	check_keeps_up(LOADGEN_CURL);
}

Test(loadgen, a_stall_shows_in_latency_not_in_service_time, .timeout = 60)
{
	struct srv srv;
	srv_start(&srv);
	struct drv d;
	drv_init(&d, srv.port);
	struct sched s;
	struct sched_params p = params(1000, 10000);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	struct loadgen_target t = { &d, build, response, NULL };
	struct loadgen_opts o = { 0 };
	o.max_in_flight = 16;
	o.drop_after_ns = 5000 * MS;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	mono_ns start = clock_mono_now();
	atomic_store(&srv.stall_to, start + 4000 * MS);
	atomic_store(&srv.stall_from, start + 3000 * MS);
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	mono_ns wall = clock_mono_now() - start;
	cr_assert_lt(wall, 12 * NS_PER_S, "the run took %.1f s", (double)wall / 1e9);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(res.dropped, 0);

	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &m, &e), 0);
	cr_log_info("stall: p99 latency %.1f ms, p99 service %.2f ms, late %llu, cap waits %llu, wall %.2f s",
		    (double)m.all.latency.pct[3] / 1e6, (double)m.all.service.pct[3] / 1e6,
		    (unsigned long long)m.all.late, (unsigned long long)res.cap_waits, (double)wall / 1e9);
	cr_assert_geq(m.all.latency.pct[3], 500 * MS, "p99 latency %.1f ms must show the stall",
		      (double)m.all.latency.pct[3] / 1e6);
	cr_assert_lt(m.all.service.pct[3], 100 * MS, "p99 service time %.1f ms",
		     (double)m.all.service.pct[3] / 1e6);
	/* the requests due in the stall: queued in the client, late, not slow */
	struct hist lat, svc;
	hist_init(&lat, NULL);
	hist_init(&svc, NULL);
	uint64_t late = 0, late_room = 0;
	for (size_t i = 0; i < res.records.n; i++) {
		const struct record *r = &res.records.v[i];
		if (r->intended < 3100 * MS || r->intended >= 3900 * MS)
			continue;
		hist_record(&lat, r->done - r->intended);
		hist_record(&svc, r->done - r->sent);
		late += (r->flags & RECORD_F_LATE) != 0;
		late_room += (r->flags & RECORD_F_LATE) && (r->flags & RECORD_F_ROOM);
	}
	/* held back by the cap, so not the client's wake-up error */
	cr_assert_leq(late_room * 100, late, "%llu of %llu late requests in the stall counted as the client's",
		      (unsigned long long)late_room, (unsigned long long)late);
	cr_assert_eq(res.late_free + res.cap_waits, res.late + res.dropped);
	cr_assert_geq(hist_count(&lat), 790);
	cr_assert_gt(hist_percentile(&lat, 50), 200 * MS, "median latency in the stall %.1f ms",
		     (double)hist_percentile(&lat, 50) / 1e6);
	cr_assert_lt(hist_percentile(&svc, 50), 20 * MS, "median service time in the stall %.1f ms",
		     (double)hist_percentile(&svc, 50) / 1e6);
	cr_assert_geq(late, hist_count(&lat) * 9 / 10, "late %llu of %llu", (unsigned long long)late,
		      (unsigned long long)hist_count(&lat));
	cr_assert_geq(m.all.late, late);
	/* both figures are reported */
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(metrics_table(&m, &b, NULL), 0);
	cr_assert(strstr(b.data, "latency from intended") && strstr(b.data, "service time"));
	buf_release(&b);
	/* the executor says the cap, not the target alone, shaped the queueing */
	cr_assert(res.cap_waits > 0);
	cr_assert(res.saturated);
	cr_assert(strstr(res.saturation, "max_in_flight"), "%s", res.saturation);
	hist_release(&lat);
	hist_release(&svc);
	loadgen_result_release(&res);
	srv_stop(&srv);
}

Test(loadgen, drops_are_recorded_never_skipped, .timeout = 60)
{
	struct srv srv;
	srv_start(&srv);
	struct drv d;
	drv_init(&d, srv.port);
	struct sched s;
	struct sched_params p = params(200, 3000);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	struct loadgen_target t = { &d, build, NULL, NULL };
	struct loadgen_opts o = { 0 };
	o.max_in_flight = 4;
	o.drop_after_ns = 200 * MS;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	mono_ns start = clock_mono_now();
	atomic_store(&srv.stall_to, start + 2000 * MS);
	atomic_store(&srv.stall_from, start + 500 * MS);
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	assert_one_record_per_request(&s, &res);
	cr_assert_gt(res.dropped, 100, "dropped %llu", (unsigned long long)res.dropped);
	uint64_t seen = 0;
	for (size_t i = 0; i < res.records.n; i++) {
		const struct record *r = &res.records.v[i];
		if (r->status != RECORD_STATUS_DROPPED)
			continue;
		seen++;
		cr_assert_eq(r->err, RECORD_ERR_DROPPED);
		cr_assert_eq(r->sent, r->done);
		cr_assert_geq(r->done, r->intended + 200 * MS);
	}
	cr_assert_eq(seen, res.dropped);
	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &m, &e), 0);
	cr_assert_eq(m.all.dropped, res.dropped);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_DROPPED], res.dropped);
	cr_assert_eq(m.all.measured, 600);
	cr_assert(strstr(res.first_error[RECORD_ERR_DROPPED], "max_in_flight"), "%s",
		  res.first_error[RECORD_ERR_DROPPED]);
	loadgen_result_release(&res);
	srv_stop(&srv);
}

Test(loadgen, errors_are_classified_and_kept, .timeout = 60)
{
	struct srv srv;
	srv_start(&srv);
	struct drv d;
	drv_init(&d, srv.port);
	d.search_fails = 1;
	struct sched s;
	struct sched_params p = params(400, 1000);
	p.weight[OP_SEARCH] = 0.3;
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	uint64_t searches = 0;
	for (uint64_t i = 0; i < sched_count(&s); i++) {
		struct sched_op op;
		sched_next_due(&s, i, &op);
		searches += op.kind == OP_SEARCH;
	}
	struct loadgen_target t = { &d, build, response, NULL };
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, NULL, &res, &e), 0, "%s", e.msg);
	assert_one_record_per_request(&s, &res);
	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &m, &e), 0);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_HTTP5XX], searches);
	cr_assert_eq(m.op[OP_SEARCH].errors, searches);
	cr_assert_eq(m.op[OP_SEARCH].latency.count, searches, "errors keep their latency");
	cr_assert(strstr(res.first_error[RECORD_ERR_HTTP5XX], "/err: 500"), "%s",
		  res.first_error[RECORD_ERR_HTTP5XX]);
	loadgen_result_release(&res);
	srv_stop(&srv);

	/* nobody listens any more: connect errors, one record each */
	p = params(100, 500);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	cr_assert_eq(loadgen_run(&s, &t, NULL, &res, &e), 0, "%s", e.msg);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &m, &e), 0);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_CONNECT], 50, "connect errors %llu",
		     (unsigned long long)m.all.err_by_class[RECORD_ERR_CONNECT]);
	cr_assert_eq(res.records.v[0].status, RECORD_STATUS_TRANSPORT);
	cr_assert_eq(res.records.v[0].detail, 7 /* CURLE_COULDNT_CONNECT */);
	cr_assert(strstr(res.first_error[RECORD_ERR_CONNECT], d.ok), "%s",
		  res.first_error[RECORD_ERR_CONNECT]);
	cr_assert_eq(m.error_rate, 1.0);
	loadgen_result_release(&res);
}

/* in-process: request 50 takes 30 ms; the next ones queue behind it */
static unsigned exec_op(void *ctx, unsigned slot, const struct sched_op *op, struct record *r)
{
	(void)r, (void)slot;
	uint64_t *calls = ctx;
	(*calls)++;
	if (op->index == 50)
		clock_sleep_until(clock_mono_now() + 30 * MS);
	return op->index == 77 ? 503 : 200;
}

Test(loadgen, in_process_executor_measures_from_intended, .timeout = 60)
{
	struct sched s;
	struct sched_params p = params(200, 1000);
	p.warmup_ns = 250 * MS;
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	uint64_t calls = 0;
	struct loadgen_target t = { &calls, NULL, NULL, exec_op };
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, NULL, &res, &e), 0, "%s", e.msg);
	cr_assert_eq(calls, 250);
	assert_one_record_per_request(&s, &res);
	cr_assert_str_eq(res.transport, "in-process");
	const struct record *r51 = &res.records.v[51], *r50 = &res.records.v[50];
	cr_assert_geq(r50->done - r50->sent, 30 * MS);
	cr_assert_geq(r51->done - r51->intended, 20 * MS, "51 waited behind 50");
	cr_assert_lt(r51->done - r51->sent, 5 * MS, "but was quick itself");
	cr_assert(r51->flags & RECORD_F_LATE);
	cr_assert(res.records.v[49].flags & RECORD_F_WARMUP, "49 is due at 245 ms, in the warm-up");
	cr_assert_not(r50->flags & RECORD_F_WARMUP, "50 is due at 250 ms, the first measured one");
	cr_assert_eq(res.records.v[77].err, RECORD_ERR_HTTP5XX);
	/* one executor (max_in_flight 0 = 1 in-process): 51..55, due before 50
	 * ended, were held back by it; 51..53 by more than the 10 ms bound */
	for (int i = 51; i <= 55; i++)
		cr_assert_not(res.records.v[i].flags & RECORD_F_ROOM, "%d was held back by 50", i);
	cr_assert(res.records.v[49].flags & RECORD_F_ROOM);
	cr_assert_geq(res.cap_waits, 3, "51..53 were held back by 50 (%llu)",
		      (unsigned long long)res.cap_waits);
	cr_assert_eq(res.late_free + res.cap_waits, res.late + res.dropped);
	cr_assert_eq(res.max_in_flight_seen, 1);
	cr_assert(res.saturated);
	cr_assert(strstr(res.saturation, "all 1 in-process executor threads"), "%s", res.saturation);
	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, p.warmup_ns, p.duration_ns, &m, &e), 0);
	cr_assert_eq(m.warmup_records, 50);
	cr_assert_eq(m.all.measured, 200);
	cr_assert_eq(m.all.errors, 1);
	loadgen_result_release(&res);
}

/* An in-process run of `exec` at `rate` for `dur_ms` (no warm-up) that must succeed. */
static void run_in_process(struct sched *s, double rate, uint64_t dur_ms, void *ctx, loadgen_exec_fn exec,
			   const struct loadgen_opts *o, struct loadgen_result *res)
{
	struct sched_params p = params(rate, dur_ms);
	cr_assert_eq(sched_init(s, &p, NULL), 0);
	struct loadgen_target t = { ctx, NULL, NULL, exec };
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(s, &t, o, res, &e), 0, "%s", e.msg);
}

/* in-process with room: a pool of executor threads; slot ids never used twice at once */
struct pdrv {
	_Atomic int busy[8];
	_Atomic int bad;
};

static unsigned exec_slow50(void *ctx, unsigned slot, const struct sched_op *op, struct record *r)
{
	(void)r;
	struct pdrv *d = ctx;
	if (slot >= 8 || atomic_exchange(&d->busy[slot], 1) != 0)
		atomic_store(&d->bad, 1);
	if (op->index == 50)
		clock_sleep_until(clock_mono_now() + 30 * MS);
	atomic_store(&d->busy[slot < 8 ? slot : 0], 0);
	return 200;
}

Test(loadgen, in_process_requests_do_not_queue_while_the_cap_has_room, .timeout = 60)
{
	struct sched s;
	struct pdrv d;
	memset(&d, 0, sizeof(d));
	struct loadgen_opts o = { 0 };
	o.max_in_flight = 4;
	struct loadgen_result res;
	run_in_process(&s, 200, 1000, &d, exec_slow50, &o, &res);
	cr_assert_eq(atomic_load(&d.bad), 0, "a slot id was out of range or used twice at once");
	assert_one_record_per_request(&s, &res);
	/* 51.. ran beside 50 on other threads: none was held back, none waited
	 * for the executor, so nothing makes the client look saturated */
	for (int i = 51; i <= 55; i++)
		cr_assert(res.records.v[i].flags & RECORD_F_ROOM, "%d had room", i);
	cr_assert_eq(res.cap_waits, 0);
	cr_assert_geq(res.max_in_flight_seen, 2);
	cr_assert_leq(res.max_in_flight_seen, 4);
	cr_assert_eq(res.late_free + res.cap_waits, res.late + res.dropped);
	loadgen_result_release(&res);
}

/* The lateness bound is the one definition of "late": the records' flag, the
 * counts, the metrics and the saturation text all use the run's bound. */
Test(loadgen, late_is_the_runs_lateness_bound_everywhere, .timeout = 60)
{
	struct sched s;
	uint64_t calls = 0;
	struct spec_loadtest lt;
	memset(&lt, 0, sizeof(lt));
	lt.max_in_flight = 1;
	lt.lateness_bound_ns = 12 * MS;
	struct loadgen_opts o;
	loadgen_opts_from_spec(&lt, &o);
	cr_assert_eq(o.late_ns, 12 * MS);
	struct loadgen_result res;
	struct err e = ERR_INIT;
	run_in_process(&s, 200, 1000, &calls, exec_op, &o, &res);
	cr_assert_eq(res.late_ns, 12 * MS);
	uint64_t flagged = 0, room = 0;
	for (size_t i = 0; i < res.records.n; i++) {
		const struct record *r = &res.records.v[i];
		int late = record_lateness_ns(r) > 12 * MS;
		cr_assert_eq(!!(r->flags & RECORD_F_LATE), late, "request %zu: flag and bound disagree", i);
		flagged += late;
		room += (r->flags & RECORD_F_ROOM) != 0;
	}
	/* 51 and 52 waited >= 25 and 20 ms behind 50 */
	cr_assert(res.records.v[51].flags & RECORD_F_LATE);
	cr_assert(res.records.v[52].flags & RECORD_F_LATE);
	cr_assert_eq(res.late, flagged);
	cr_assert_eq(res.late_free + res.cap_waits, res.late + res.dropped);
	struct metrics m;
	cr_assert_eq(metrics_from_records(res.records.v, res.records.n, 0, s.p.duration_ns, &m, &e), 0);
	cr_assert_eq(m.all.late, res.late, "the metrics count the same late requests");
	/* the client's wake-up error: every request it had room for, and only those */
	cr_assert_eq(m.wakeup.count, room);
	cr_assert_eq(res.wakeup_count, room);
	cr_assert_eq(res.wakeup_max_ns, m.wakeup.max);
	for (int k = 0; k < 2; k++) {
		uint64_t exact = m.wakeup.pct[k ? 3 : 0], got = k ? res.wakeup_p99_ns : res.wakeup_p50_ns;
		cr_assert(got >= exact && got <= exact + exact / 1024 + 1, "wake-up p%d %llu vs exact %llu",
			  k ? 99 : 50, (unsigned long long)got, (unsigned long long)exact);
	}
	cr_assert(res.saturated);
	cr_assert(strstr(res.saturation, "lateness bound (12.0 ms)"), "%s", res.saturation);
	loadgen_result_release(&res);
}

/* A fixed spin margin (opts.spin_ns) still sends nothing early and keeps one
 * record per request; with no margin given the default adapts. */
Test(loadgen, a_fixed_spin_margin_still_sends_on_schedule, .timeout = 60)
{
	struct sched s;
	uint64_t calls = 0;
	struct loadgen_opts o = { 0 };
	o.spin_ns = 300 * NS_PER_US;
	struct loadgen_result res;
	run_in_process(&s, 500, 400, &calls, exec_op, &o, &res);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(calls, 200);
	loadgen_result_release(&res);
}

static void count_sink(void *ctx, const struct record *r)
{
	uint64_t *seen = ctx;
	cr_assert_eq(r->index, seen[0], "in-process records complete in index order");
	seen[0]++;
	seen[1] += r->err != RECORD_ERR_NONE;
}

Test(loadgen, records_stream_to_a_sink, .timeout = 60)
{
	struct sched s;
	struct sched_params p = params(500, 400);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	uint64_t calls = 0, seen[2] = { 0, 0 };
	struct loadgen_target t = { &calls, NULL, NULL, exec_op };
	struct loadgen_opts o = { 0 };
	o.sink = count_sink;
	o.sink_ctx = seen;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	cr_assert_eq(seen[0], 200);
	cr_assert_eq(seen[1], 1, "request 77 fails");
	cr_assert_eq(res.recorded, 200);
	cr_assert_eq(res.records.n, 0);
	loadgen_result_release(&res);
}

Test(loadgen, stop_flag_interrupts_with_records_kept, .timeout = 60)
{
	struct sched s;
	struct sched_params p = params(100, 5000);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	volatile sig_atomic_t stop = 1;
	uint64_t calls = 0;
	struct loadgen_target t = { &calls, NULL, NULL, exec_op };
	struct loadgen_opts o = { 0 };
	o.stop = &stop;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), -1);
	cr_assert_eq(e.cls, ERR_INTERRUPTED);
	cr_assert(res.interrupted);
	cr_assert_eq(res.records.n, 0);
	loadgen_result_release(&res);
}

static unsigned exec_fast(void *ctx, unsigned slot, const struct sched_op *op, struct record *r)
{
	(void)ctx, (void)slot, (void)op, (void)r;
	return 200;
}

Test(loadgen, live_line_once_a_second, .init = cr_redirect_stderr, .timeout = 60)
{
	struct sched s;
	struct sched_params p = params(200, 2300);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	struct loadgen_target t = { NULL, NULL, NULL, exec_fast };
	struct loadgen_opts o = { 0 };
	o.live = 1;
	o.label = "live-test";
	struct loadgen_result res;
	struct err e = ERR_INIT;
	log_set_level(LOG_INFO);
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	loadgen_result_release(&res);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char line[512];
	int lines = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "live-test: ") && strstr(line, "in flight") && strstr(line, "p99"))
			lines++;
	cr_assert(lines >= 2 && lines <= 3, "%d live lines in 2.3 s", lines);
}

/* threads: every slot id is in range and never used twice at once */
struct tdrv {
	char url[128];
	_Atomic int busy[16];
	_Atomic int bad;
	_Atomic uint64_t built;
};

static int tbuild(void *ctx, unsigned slot, const struct sched_op *op, struct http_request *rq,
		  struct err *e)
{
	(void)op, (void)e;
	struct tdrv *d = ctx;
	if (slot >= 16 || atomic_exchange(&d->busy[slot], 1) != 0)
		atomic_store(&d->bad, 1);
	atomic_fetch_add(&d->built, 1);
	rq->url = d->url;
	return 0;
}

static void tresponse(void *ctx, unsigned slot, const struct sched_op *op,
		      const struct http_response *rs, struct record *r)
{
	(void)op, (void)rs, (void)r;
	struct tdrv *d = ctx;
	if (slot >= 16 || atomic_exchange(&d->busy[slot], 0) != 1)
		atomic_store(&d->bad, 1);
}

Test(loadgen, worker_threads_split_the_schedule, .timeout = 60)
{
	struct srv srv;
	srv_start(&srv);
	struct tdrv *d = calloc(1, sizeof(*d));
	snprintf(d->url, sizeof(d->url), "http://127.0.0.1:%d/ok", srv.port);
	struct sched s;
	struct sched_params p = params(2000, 1500);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	struct loadgen_target t = { d, tbuild, tresponse, NULL };
	struct loadgen_opts o = { 0 };
	o.max_in_flight = 16;
	o.threads = 2;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	cr_assert_eq(atomic_load(&d->bad), 0, "a slot id was out of range or used twice at once");
	cr_assert_eq(atomic_load(&d->built), 3000);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(res.errors, 0);
	cr_assert_eq(res.sent, 3000);
	cr_assert_eq(res.completed, 3000);
	loadgen_result_release(&res);
	free(d);
	srv_stop(&srv);
}

/* steps.loadtest.connections (loadgen_opts_from_spec -> max_connections) is
 * the keep-alive pool: 3 connections carry 16 in flight, on both transports;
 * unset, the pool is max_in_flight wide. */
static void check_connections(int transport)
{
	struct srv srv;
	srv_start(&srv);
	struct drv d;
	drv_init(&d, srv.port);
	struct sched s;
	struct sched_params p = params(400, 500);
	cr_assert_eq(sched_init(&s, &p, NULL), 0);
	atomic_store(&srv.stall_from, clock_mono_now());
	atomic_store(&srv.stall_to, clock_mono_now() + 150 * MS); /* a backlog at the start */
	struct loadgen_target t = { &d, build, response, NULL };
	struct spec_loadtest lt;
	memset(&lt, 0, sizeof(lt));
	lt.max_in_flight = 16;
	lt.connections = 3;
	lt.lateness_bound_ns = 10 * MS;
	struct loadgen_opts o;
	loadgen_opts_from_spec(&lt, &o);
	cr_assert_eq(o.max_connections, 3);
	o.transport = transport;
	struct loadgen_result res;
	struct err e = ERR_INIT;
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	assert_one_record_per_request(&s, &res);
	cr_assert_eq(res.errors, 0);
	cr_assert_gt(res.max_in_flight_seen, 3, "in flight beyond the pool: queued on it");
	int used = atomic_load(&srv.conns);
	cr_assert(used >= 1 && used <= 3, "%d connections for connections: 3", used);
	loadgen_result_release(&res);
	/* unset: as many as are in flight */
	lt.connections = 0;
	loadgen_opts_from_spec(&lt, &o);
	cr_assert_eq(o.max_connections, 0);
	o.transport = transport;
	atomic_store(&srv.conns, 0);
	atomic_store(&srv.stall_from, clock_mono_now());
	atomic_store(&srv.stall_to, clock_mono_now() + 150 * MS);
	cr_assert_eq(loadgen_run(&s, &t, &o, &res, &e), 0, "%s", e.msg);
	cr_assert_gt(atomic_load(&srv.conns), 3, "%d connections unset", atomic_load(&srv.conns));
	loadgen_result_release(&res);
	srv_stop(&srv);
}

Test(loadgen, connections_bound_the_pool_native, .timeout = 60)
{
	check_connections(LOADGEN_NATIVE);
}

Test(loadgen, connections_bound_the_pool_curl, .timeout = 60)
{
	check_connections(LOADGEN_CURL);
}
