/*
 * test_metrics.c — records (encoding, array) and exact metrics from them.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/metrics.h"
#include "engrave/records.h"

#define MS 1000000ULL

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct record rec(uint64_t i, enum op_kind op, uint64_t intended, uint64_t sent,
			 uint64_t done, unsigned status)
{
	struct record r;
	memset(&r, 0, sizeof(r));
	r.index = i;
	r.op = (uint8_t)op;
	r.intended = intended;
	r.sent = sent;
	r.done = done;
	r.status = (uint16_t)status;
	r.err = (uint8_t)records_err_of_status(status);
	return r;
}

Test(records, encode_decode_round_trip_and_layout)
{
	struct records a, b;
	records_init(&a);
	records_init(&b);
	uint64_t s = 7;
	for (int i = 0; i < 3000; i++) {
		struct record r = rec((uint64_t)i, (enum op_kind)(i % 3), xs(&s), xs(&s), xs(&s),
				      i % 7 ? 200 : 503);
		r.bytes_in = (uint32_t)xs(&s);
		r.bytes_out = (uint32_t)xs(&s);
		r.flags = (uint8_t)(i & 3);
		r.detail = (uint16_t)i;
		r.n_ids = (uint32_t)i * 3;
		r.repeat = (uint32_t)(i / 1000);
		const char *ids[] = { "a", "b" };
		records_ids_digest(ids, (size_t)(i % 3), r.ids);
		cr_assert_eq(records_push(&a, &r, NULL), 0);
	}
	uint8_t *bytes = malloc(a.n * RECORDS_SIZE);
	records_encode(a.v, a.n, bytes);
	/* documented offsets, little-endian */
	cr_assert_eq(bytes[0] | bytes[1] << 8, 0);
	cr_assert_eq(bytes[RECORDS_SIZE + 0], 1);
	cr_assert_eq(bytes[RECORDS_SIZE + 42], OP_RECALL);
	cr_assert_eq(bytes[45], RECORDS_VERSION);
	cr_assert_eq(bytes[40] | bytes[41] << 8, 503);
	/* the repeat at offset 60 (u32): record 2500 is of repeat 2 */
	cr_assert_eq(bytes[2500 * RECORDS_SIZE + 60], 2);
	cr_assert_eq(bytes[2500 * RECORDS_SIZE + 61] | bytes[2500 * RECORDS_SIZE + 62] | bytes[2500 * RECORDS_SIZE + 63], 0);
	/* decode in two arbitrary chunks */
	struct err e = ERR_INIT;
	cr_assert_eq(records_decode(bytes, 1234 * RECORDS_SIZE, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(records_decode(bytes + 1234 * RECORDS_SIZE, (a.n - 1234) * RECORDS_SIZE, &b, &e), 0);
	cr_assert_eq(b.n, a.n);
	for (size_t i = 0; i < a.n; i++)
		cr_assert(memcmp(&a.v[i], &b.v[i], sizeof(struct record)) == 0 ||
				  (a.v[i].index == b.v[i].index && a.v[i].intended == b.v[i].intended &&
				   a.v[i].sent == b.v[i].sent && a.v[i].done == b.v[i].done &&
				   a.v[i].bytes_in == b.v[i].bytes_in && a.v[i].bytes_out == b.v[i].bytes_out &&
				   a.v[i].status == b.v[i].status && a.v[i].op == b.v[i].op &&
				   a.v[i].flags == b.v[i].flags && a.v[i].err == b.v[i].err &&
				   a.v[i].detail == b.v[i].detail && a.v[i].n_ids == b.v[i].n_ids &&
				   a.v[i].repeat == b.v[i].repeat &&
				   memcmp(a.v[i].ids, b.v[i].ids, 8) == 0),
			  "record %zu differs", i);
	/* corruption is reported with the offset */
	cr_assert_eq(records_decode(bytes, 100, &b, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	bytes[5 * RECORDS_SIZE + 42] = 9;
	cr_assert_eq(records_decode(bytes, 10 * RECORDS_SIZE, &b, &e), -1);
	cr_assert(strstr(e.msg, "record 5"), "%s", e.msg);
	free(bytes);
	/* the ids digest is SHA-256 based and order sensitive */
	uint8_t d1[8], d2[8];
	const char *x[] = { "m1", "m2" }, *y[] = { "m2", "m1" };
	records_ids_digest(x, 2, d1);
	records_ids_digest(y, 2, d2);
	cr_assert_neq(memcmp(d1, d2, 8), 0);
	records_release(&a);
	records_release(&b);
	records_release(NULL);
}

Test(metrics, percentiles_equal_sorting_the_records)
{
	enum { N = 20000 };
	struct record *r = malloc(N * sizeof(*r));
	uint64_t s = 99, *lat = malloc(N * sizeof(uint64_t)), *svc = malloc(N * sizeof(uint64_t));
	uint64_t *lat_op = malloc(N * sizeof(uint64_t));
	size_t nop = 0;
	for (int i = 0; i < N; i++) {
		uint64_t due = (uint64_t)i * 100000, late = xs(&s) % (5 * MS), svc_ns = xs(&s) % (20 * MS) + 1;
		r[i] = rec((uint64_t)i, (enum op_kind)(xs(&s) % 3), due, due + late, due + late + svc_ns,
			   200);
		lat[i] = late + svc_ns;
		svc[i] = svc_ns;
		if (r[i].op == OP_RECALL)
			lat_op[nop++] = lat[i];
	}
	struct metrics m;
	struct err e = ERR_INIT;
	cr_assert_eq(metrics_from_records(r, N, 0, 2000 * MS, &m, &e), 0, "%s", e.msg);
	qsort(lat, N, sizeof(uint64_t), cmp);
	qsort(svc, N, sizeof(uint64_t), cmp);
	qsort(lat_op, nop, sizeof(uint64_t), cmp);
	for (int k = 0; k < METRICS_NPCT; k++) {
		/* nearest rank by hand: ceil(p/100 n) */
		size_t rank = (size_t)ceil(metrics_pct[k] / 100.0 * N - 1e-9);
		cr_assert_eq(m.all.latency.pct[k], lat[rank - 1], "latency %s", metrics_pct_names[k]);
		cr_assert_eq(m.all.service.pct[k], svc[rank - 1], "service %s", metrics_pct_names[k]);
		cr_assert_eq(m.op[OP_RECALL].latency.pct[k], lat_op[hist_rank(nop, metrics_pct[k]) - 1]);
	}
	cr_assert_eq(m.all.latency.max, lat[N - 1]);
	cr_assert_eq(m.all.latency.min, lat[0]);
	cr_assert_eq(m.op[OP_RECALL].latency.count, nop);
	cr_assert_eq(m.all.completed, N);
	cr_assert_eq(m.all.ok, N);
	cr_assert_eq(m.error_rate, 0);
	free(r);
	free(lat);
	free(svc);
	free(lat_op);
}

/* A small hand-made run: warm-up, errors of several classes, a drop, lateness. */
static size_t small_run(struct record *r)
{
	size_t n = 0;
	r[n] = rec(0, OP_STORE, 0, 0, 50 * MS, 200); /* warm-up, slow: ignored */
	r[n++].flags = RECORD_F_WARMUP;
	r[n] = rec(1, OP_STORE, 900 * MS, 900 * MS, 901 * MS, 200); /* warm-up */
	r[n++].flags = RECORD_F_WARMUP;
	r[n++] = rec(2, OP_STORE, 1000 * MS, 1000 * MS, 1002 * MS, 201);
	r[n++] = rec(3, OP_RECALL, 1100 * MS, 1100 * MS, 1104 * MS, 200);
	r[n++] = rec(4, OP_RECALL, 1200 * MS, 1200 * MS, 1206 * MS, 500);
	r[n++] = rec(5, OP_SEARCH, 1300 * MS, 1300 * MS, 1308 * MS, 404);
	r[n] = rec(6, OP_RECALL, 1400 * MS, 1500 * MS, 1510 * MS, 200); /* 100 ms late */
	r[n++].flags = RECORD_F_LATE;
	r[n] = rec(7, OP_STORE, 1500 * MS, 1500 * MS, 1530 * MS, RECORD_STATUS_TIMEOUT);
	r[n++].err = RECORD_ERR_TIMEOUT;
	r[n] = rec(8, OP_RECALL, 1600 * MS, 2600 * MS, 2600 * MS, RECORD_STATUS_DROPPED);
	r[n++].err = RECORD_ERR_DROPPED;
	return n;
}

Test(metrics, warmup_errors_drops_and_window)
{
	struct record r[16];
	size_t n = small_run(r);
	struct metrics m;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &m, NULL), 0);
	cr_assert_eq(m.records, 9);
	cr_assert_eq(m.warmup_records, 2);
	cr_assert_eq(m.all.measured, 7);
	cr_assert_eq(m.all.completed, 6);
	cr_assert_eq(m.all.dropped, 1);
	cr_assert_eq(m.all.ok, 3);
	cr_assert_eq(m.all.errors, 4);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_HTTP5XX], 1);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_HTTP4XX], 1);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_TIMEOUT], 1);
	cr_assert_eq(m.all.err_by_class[RECORD_ERR_DROPPED], 1);
	cr_assert_eq(m.all.late, 1);
	cr_assert_eq(m.all.late_max_ns, 100 * MS);
	cr_assert_eq(m.op[OP_RECALL].measured, 4);
	cr_assert_eq(m.op[OP_RECALL].dropped, 1);
	cr_assert(fabs(m.error_rate - 4.0 / 7.0) < 1e-12);
	/* latencies (ms): 2, 4, 6, 8, 110 (late: from intended), 30 -> sorted 2 4 6 8 30 110 */
	cr_assert_eq(m.all.latency.count, 6);
	cr_assert_eq(m.all.latency.pct[0], 6 * MS);   /* p50: rank 3 */
	cr_assert_eq(m.all.latency.pct[3], 110 * MS); /* p99: rank 6 */
	cr_assert_eq(m.all.latency.max, 110 * MS);
	cr_assert_eq(m.all.service.max, 30 * MS, "the late request's service time is 10 ms");
	cr_assert(fabs(m.all.latency.mean - 160.0 / 6 * MS) < 1);
	/* the window: last completion of a sent request at 1530 ms < 2000 ms end */
	cr_assert_eq(m.window_ns, 1000 * MS);
	cr_assert(fabs(m.throughput - 6.0) < 1e-9);
	cr_assert(fabs(m.goodput - 3.0) < 1e-9);
	/* a backlog stretches the window */
	r[n] = rec(9, OP_STORE, 1900 * MS, 1900 * MS, 4000 * MS, 200);
	cr_assert_eq(metrics_from_records(r, n + 1, 1000 * MS, 1000 * MS, &m, NULL), 0);
	cr_assert_eq(m.window_ns, 3000 * MS);
	/* nothing measured */
	cr_assert_eq(metrics_from_records(r, 2, 1000 * MS, 1000 * MS, &m, NULL), 0);
	cr_assert_eq(m.all.measured, 0);
	cr_assert_eq(m.error_rate, 0);
	cr_assert_eq(m.all.latency.pct[3], 0);
}

/* A load test repeated: each repeat's records shifted by its start, the
 * warm-up told by the flag, the window summed over the repeats. */
Test(metrics, repeats_pool_records_and_sum_their_windows)
{
	struct record r[40];
	size_t n = small_run(r);
	const uint64_t t0[2] = { 0, 5000 * MS };
	for (size_t i = 0; i < n; i++) {
		r[n + i] = r[i];
		r[n + i].repeat = 1;
		r[n + i].intended += t0[1];
		r[n + i].sent += t0[1];
		r[n + i].done += t0[1];
	}
	struct metrics one, both, second;
	struct err e = ERR_INIT;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &one, &e), 0, "%s", e.msg);
	cr_assert_eq(metrics_from_repeats(r, 2 * n, 1000 * MS, 1000 * MS, t0, 2, &both, &e), 0, "%s", e.msg);
	cr_assert_eq(both.warmup_records, 2 * one.warmup_records, "repeat 1's warm-up is after 1 s, the flag tells");
	cr_assert_eq(both.all.measured, 2 * one.all.measured);
	cr_assert_eq(both.all.latency.pct[3], one.all.latency.pct[3], "latencies do not move with the start");
	cr_assert_eq(both.window_ns, 2 * one.window_ns, "N x duration without backlog");
	cr_assert(fabs(both.throughput - one.throughput) < 1e-9, "%g vs %g", both.throughput, one.throughput);
	/* one repeat's records alone give that repeat's figures */
	cr_assert_eq(metrics_from_repeats(r + n, n, 1000 * MS, 1000 * MS, t0, 2, &second, &e), 0, "%s", e.msg);
	cr_assert_eq(second.window_ns, one.window_ns);
	cr_assert(fabs(second.throughput - one.throughput) < 1e-9);
	/* a backlog in repeat 1 stretches only its own window */
	r[2 * n] = rec(9, OP_STORE, t0[1] + 1900 * MS, t0[1] + 1900 * MS, t0[1] + 4000 * MS, 200);
	r[2 * n].repeat = 1;
	cr_assert_eq(metrics_from_repeats(r, 2 * n + 1, 1000 * MS, 1000 * MS, t0, 2, &both, &e), 0);
	cr_assert_eq(both.window_ns, 1000 * MS + 3000 * MS);
	/* the flag, not the time, decides: an unflagged early record counts */
	r[0].flags = 0;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &one, &e), 0);
	cr_assert_eq(one.warmup_records, 1);
	/* a repeat the starts do not cover is corrupt data */
	cr_assert_eq(metrics_from_repeats(r, 2 * n, 1000 * MS, 1000 * MS, t0, 1, &both, &e), -1);
	cr_assert_eq(e.cls, ERR_CORRUPT);
	cr_assert(strstr(e.msg, "repeat 1 of 1"), "%s", e.msg);
	/* sorting keeps repeat order: repeat 0 by index, then repeat 1 */
	struct records a;
	records_init(&a);
	for (size_t i = 2 * n; i-- > 0;)
		cr_assert_eq(records_push(&a, &r[i], NULL), 0);
	records_sort_by_index(&a);
	for (size_t i = 1; i < a.n; i++)
		cr_assert(a.v[i - 1].repeat < a.v[i].repeat ||
				  (a.v[i - 1].repeat == a.v[i].repeat && a.v[i - 1].index < a.v[i].index),
			  "record %zu out of order", i);
	cr_assert_eq(a.v[n].repeat, 1);
	records_release(&a);
}

Test(metrics, json_table_and_engram_report)
{
	struct record r[16];
	size_t n = small_run(r);
	struct metrics m;
	struct err e = ERR_INIT;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &m, NULL), 0);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(metrics_json(&m, 0, &b, &e), 0);
	json_error_t je;
	json_t *j = json_loads(b.data, 0, &je);
	cr_assert_not_null(j, "%s: %s", je.text, b.data);
	cr_assert_eq(json_integer_value(json_object_get(j, "records")), 9);
	json_t *all = json_object_get(j, "all");
	cr_assert(fabs(json_real_value(json_object_get(json_object_get(all, "latency_ms"), "p99")) - 110) < 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(all, "errors_by_class"), "dropped")), 1);
	cr_assert_not_null(json_object_get(json_object_get(j, "ops"), "search"));
	json_decref(j);

	buf_reset(&b);
	cr_assert_eq(metrics_table(&m, &b, &e), 0);
	cr_assert(strstr(b.data, "latency from intended"), "%s", b.data);
	cr_assert(strstr(b.data, "service time"), "%s", b.data);
	cr_assert(strstr(b.data, "dropped 1"), "%s", b.data);
	cr_assert(strstr(b.data, "http-5xx 1"), "%s", b.data);

	buf_reset(&b);
	cr_assert_eq(metrics_engram_report_json(&m, "m17_baseline", &b, &e), 0);
	j = json_loads(b.data, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	const char *keys[] = { "config_name", "elapsed_seconds", "total_operations", "total_errors",
			       "overall_throughput", "overall_error_rate", "p50_latency_ms",
			       "p95_latency_ms", "p99_latency_ms", "per_operation_stats" };
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		cr_assert_not_null(json_object_get(j, keys[k]), "missing %s", keys[k]);
	cr_assert_str_eq(json_string_value(json_object_get(j, "config_name")), "m17_baseline");
	cr_assert_eq(json_integer_value(json_object_get(j, "total_operations")), 7);
	/* pooled p99 (110 ms, from the late recall) */
	cr_assert(fabs(json_real_value(json_object_get(j, "p99_latency_ms")) - 110) < 1e-9);
	json_t *rc = json_object_get(json_object_get(j, "per_operation_stats"), "Recall");
	cr_assert_not_null(rc);
	const char *opkeys[] = { "count", "success_count", "error_count", "p50_latency_us",
				 "p95_latency_us", "p99_latency_us", "p999_latency_us",
				 "mean_latency_us", "max_latency_us" };
	for (size_t k = 0; k < sizeof(opkeys) / sizeof(opkeys[0]); k++)
		cr_assert_not_null(json_object_get(rc, opkeys[k]), "missing Recall.%s", opkeys[k]);
	cr_assert_eq(json_integer_value(json_object_get(rc, "count")), 4);
	cr_assert_eq(json_integer_value(json_object_get(rc, "max_latency_us")), 110000);
	cr_assert_not_null(json_object_get(json_object_get(j, "per_operation_stats"), "Store"));
	cr_assert_not_null(json_object_get(json_object_get(j, "per_operation_stats"), "Search"));
	json_decref(j);
	buf_release(&b);
}

/*
 * The client's wake-up error: the lateness of the measured, sent records
 * the executor had room for (RECORD_F_ROOM); held ones, warm-up and drops
 * are not the client's and do not count.
 */
Test(metrics, wakeup_error_is_the_lateness_of_records_with_room)
{
	struct record r[8];
	size_t n = 0;
	/* measured, with room: lateness 3, 1, 2, 40 us */
	const uint64_t late_us[4] = { 3, 1, 2, 40 };
	for (int i = 0; i < 4; i++) {
		uint64_t due = 1000 * MS + (uint64_t)i * MS;
		r[n] = rec(n, OP_RECALL, due, due + late_us[i] * 1000, due + 2 * MS, 200);
		r[n++].flags = RECORD_F_ROOM;
	}
	/* held back by the cap: 30 ms late, not the client's */
	r[n] = rec(n, OP_RECALL, 1010 * MS, 1040 * MS, 1041 * MS, 200);
	r[n++].flags = RECORD_F_LATE;
	/* warm-up, with room: not measured */
	r[n] = rec(n, OP_RECALL, 500 * MS, 509 * MS, 510 * MS, 200);
	r[n++].flags = RECORD_F_ROOM | RECORD_F_WARMUP;
	/* dropped (the flag cannot make a drop the client's) */
	r[n] = rec(n, OP_STORE, 1020 * MS, 1500 * MS, 1500 * MS, RECORD_STATUS_DROPPED);
	r[n].err = RECORD_ERR_DROPPED;
	r[n++].flags = RECORD_F_ROOM;
	struct metrics m;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &m, NULL), 0);
	cr_assert_eq(m.wakeup.count, 4);
	cr_assert_eq(m.wakeup.pct[0], 2000, "p50 of 1 2 3 40 us: rank 2");
	cr_assert_eq(m.wakeup.pct[3], 40000);
	cr_assert_eq(m.wakeup.max, 40000);
	cr_assert_eq(m.wakeup.min, 1000);
	cr_assert_eq(record_wakeup_ns(&r[4]), 0, "a held record has no wake-up error");
	cr_assert_eq(record_wakeup_ns(&r[3]), 40000);
	struct buf b;
	buf_init(&b, 0);
	cr_assert_eq(metrics_table(&m, &b, NULL), 0);
	cr_assert(strstr(b.data, "client wake-up error p50 2.0 us, p99 40.0 us"), "%s", b.data);
	buf_reset(&b);
	cr_assert_eq(metrics_json(&m, 0, &b, NULL), 0);
	json_t *j = json_loads(b.data, 0, NULL);
	cr_assert_not_null(j);
	json_t *w = json_object_get(j, "client_wakeup_ms");
	cr_assert_eq(json_integer_value(json_object_get(w, "count")), 4);
	cr_assert(fabs(json_real_value(json_object_get(w, "p50")) - 0.002) < 1e-12);
	json_decref(j);
	/* records written before the flag existed: no figure, no line */
	for (size_t i = 0; i < n; i++)
		r[i].flags &= (uint8_t)~RECORD_F_ROOM;
	cr_assert_eq(metrics_from_records(r, n, 1000 * MS, 1000 * MS, &m, NULL), 0);
	cr_assert_eq(m.wakeup.count, 0);
	buf_reset(&b);
	cr_assert_eq(metrics_table(&m, &b, NULL), 0);
	cr_assert_null(strstr(b.data, "wake-up"), "%s", b.data);
	buf_release(&b);
}
