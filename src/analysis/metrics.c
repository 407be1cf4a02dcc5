/*
 * metrics.c — exact load-test metrics from records, and their renderings.
 *
 * metrics_from_records() makes one pass to count and classify, copying the
 * latency and service time of each sent, measured record into two scratch
 * arrays grouped by operation (a counting sort on op), sorts each group for
 * the per-operation figures, then sorts each whole array for the pooled
 * ones. Sorting is O(n log n) and exact; at 10^6 records it takes ~0.1 s.
 * Percentiles use hist_rank() (nearest rank), the one definition in the
 * program, documented in metrics.h. The client's wake-up error (the
 * lateness of measured RECORD_F_ROOM records) reuses the latency array once
 * its figures are taken.
 *
 * JSON schema of metrics_json (times in ms, rates per second):
 *   { "records", "warmup_records", "warmup_s", "duration_s", "window_s",
 *     "throughput", "goodput", "error_rate", "client_wakeup_ms": DIST,
 *     "all": OP, "ops": { "store": OP, "recall": OP, "search": OP } }
 *   OP = { "measured", "completed", "ok", "errors", "dropped", "late",
 *          "late_max_ms", "errors_by_class": { "<class>": n, ... (non-zero) },
 *          "latency_ms": DIST, "service_ms": DIST }
 *   DIST = { "count", "p50", "p90", "p95", "p99", "p99.9", "p99.99",
 *            "min", "max", "mean" }
 * jansson renders it (keys sorted); library code only fills a struct buf.
 */
#include "engrave/metrics.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/hist.h"
#include "engrave/xalloc.h"

const double metrics_pct[METRICS_NPCT] = { 50, 90, 95, 99, 99.9, 99.99 };
const char *const metrics_pct_names[METRICS_NPCT] = { "p50", "p90", "p95", "p99", "p99.9",
						      "p99.99" };

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Sort v[0..n) and fill d. */
static void dist_of(uint64_t *v, size_t n, struct metrics_dist *d)
{
	memset(d, 0, sizeof(*d));
	d->count = n;
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	long double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (long double)v[i];
	d->min = v[0];
	d->max = v[n - 1];
	d->mean = (double)(sum / (long double)n);
	for (int k = 0; k < METRICS_NPCT; k++)
		d->pct[k] = v[hist_rank(n, metrics_pct[k]) - 1];
}

static void count_into(struct metrics_op *o, const struct record *r, int sent)
{
	o->measured++;
	if (r->err != RECORD_ERR_NONE)
		o->errors++;
	if (r->err < RECORD_ERR_COUNT)
		o->err_by_class[r->err]++;
	if (!sent) {
		o->dropped++;
		return;
	}
	o->completed++;
	if (r->err == RECORD_ERR_NONE)
		o->ok++;
	if (r->flags & RECORD_F_LATE)
		o->late++;
	uint64_t late = record_lateness_ns(r);
	if (late > o->late_max_ns)
		o->late_max_ns = late;
}

static int is_sent(const struct record *r)
{
	return r->status != RECORD_STATUS_DROPPED && r->err != RECORD_ERR_DROPPED;
}

static int is_measured(const struct record *r)
{
	return !(r->flags & RECORD_F_WARMUP);
}

int metrics_record_timed(const struct record *r)
{
	return is_measured(r) && is_sent(r);
}

int metrics_record_dropped(const struct record *r)
{
	return !is_sent(r);
}

/*
 * The measured time: per repeat seen in the records, from its warm-up end
 * (t0_k + warmup) to the later of t0_k + warmup + duration and its last
 * completion of a measured, sent request; summed. last_done[k] is 0 for a
 * repeat that completed nothing, seen[k] whether it has any record.
 */
static uint64_t window_of(const uint64_t *t0_ns, const uint64_t *last_done, const uint8_t *seen, uint32_t n_repeats,
			  uint64_t warmup_ns, uint64_t duration_ns)
{
	uint64_t w = 0;
	int any = 0;
	for (uint32_t k = 0; k < n_repeats; k++) {
		if (!seen[k])
			continue;
		any = 1;
		uint64_t start = t0_ns[k] + warmup_ns, end = start + duration_ns;
		w += (last_done[k] > end ? last_done[k] : end) - start;
	}
	return any ? w : duration_ns;
}

int metrics_from_records(const struct record *r, size_t n, uint64_t warmup_ns,
			 uint64_t duration_ns, struct metrics *m, struct err *e)
{
	static const uint64_t zero = 0;
	return metrics_from_repeats(r, n, warmup_ns, duration_ns, &zero, 1, m, e);
}

/* The counting pass: classify every record, note each repeat's last completion. */
static int count_records(const struct record *r, size_t n, uint32_t n_repeats, struct metrics *m,
			 size_t per_op[OP_KIND_COUNT], uint64_t *last_done, uint8_t *seen, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		const struct record *x = &r[i];
		if (x->repeat >= n_repeats)
			return err_set(e, ERR_CORRUPT, "metrics: record %zu (request %llu) is of repeat %u of %u", i,
				       (unsigned long long)x->index, x->repeat, n_repeats);
		seen[x->repeat] = 1;
		if (!is_measured(x)) {
			m->warmup_records++;
			continue;
		}
		if (x->op >= OP_KIND_COUNT)
			return err_set(e, ERR_CORRUPT, "metrics: record %zu (request %llu) has op %u", i,
				       (unsigned long long)x->index, x->op);
		int sent = is_sent(x);
		count_into(&m->all, x, sent);
		count_into(&m->op[x->op], x, sent);
		if (sent) {
			per_op[x->op]++;
			if (x->done > last_done[x->repeat])
				last_done[x->repeat] = x->done;
		}
	}
	return 0;
}

int metrics_from_repeats(const struct record *r, size_t n, uint64_t warmup_ns, uint64_t duration_ns,
			 const uint64_t *t0_ns, uint32_t n_repeats, struct metrics *m, struct err *e)
{
	memset(m, 0, sizeof(*m));
	m->records = n;
	m->warmup_ns = warmup_ns;
	m->duration_ns = duration_ns;

	size_t per_op[OP_KIND_COUNT] = { 0 };
	size_t nr = n_repeats ? n_repeats : 1;
	uint64_t *last_done = xalloc_try_zeroed(nr, sizeof(uint64_t), "the repeats' windows", e);
	uint8_t *seen = last_done ? xalloc_try_zeroed(nr, 1, "the repeats' windows", e) : NULL;
	int rc = seen ? count_records(r, n, n_repeats, m, per_op, last_done, seen, e) : err_prefix(e, "metrics");
	if (!rc)
		m->window_ns = window_of(t0_ns, last_done, seen, n_repeats, warmup_ns, duration_ns);
	free(last_done);
	free(seen);
	if (rc)
		return -1;

	size_t total = m->all.completed;
	uint64_t *lat = malloc(xalloc_mul(total ? total : 1, sizeof(*lat)));
	uint64_t *svc = malloc(xalloc_mul(total ? total : 1, sizeof(*svc)));
	if (!lat || !svc) {
		free(lat);
		free(svc);
		return err_set(e, ERR_NOSPACE, "metrics: out of memory sorting %zu latencies", total);
	}
	size_t start[OP_KIND_COUNT], fill[OP_KIND_COUNT];
	for (int k = 0, acc = 0; k < OP_KIND_COUNT; k++) {
		start[k] = fill[k] = (size_t)acc;
		acc += (int)per_op[k];
	}
	for (size_t i = 0; i < n; i++) {
		const struct record *x = &r[i];
		if (!is_measured(x) || !is_sent(x))
			continue;
		size_t at = fill[x->op]++;
		lat[at] = record_latency_ns(x);
		svc[at] = record_service_ns(x);
	}
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		dist_of(lat + start[k], per_op[k], &m->op[k].latency);
		dist_of(svc + start[k], per_op[k], &m->op[k].service);
	}
	dist_of(lat, total, &m->all.latency);
	dist_of(svc, total, &m->all.service);
	size_t nw = 0;
	for (size_t i = 0; i < n; i++)
		if (is_measured(&r[i]) && is_sent(&r[i]) && (r[i].flags & RECORD_F_ROOM))
			lat[nw++] = record_wakeup_ns(&r[i]);
	dist_of(lat, nw, &m->wakeup);
	free(lat);
	free(svc);

	if (m->window_ns > 0) {
		double w = (double)m->window_ns / 1e9;
		m->throughput = (double)m->all.completed / w;
		m->goodput = (double)m->all.ok / w;
	}
	m->error_rate = m->all.measured ? (double)m->all.errors / (double)m->all.measured : 0;
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static json_t *dist_json(const struct metrics_dist *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)d->count));
	for (int k = 0; k < METRICS_NPCT; k++)
		json_object_set_new(o, metrics_pct_names[k], json_real(ms(d->pct[k])));
	json_object_set_new(o, "min", json_real(ms(d->min)));
	json_object_set_new(o, "max", json_real(ms(d->max)));
	json_object_set_new(o, "mean", json_real(d->mean / 1e6));
	return o;
}

static json_t *op_json(const struct metrics_op *op)
{
	json_t *o = json_object(), *cls = json_object();
	json_object_set_new(o, "measured", json_integer((json_int_t)op->measured));
	json_object_set_new(o, "completed", json_integer((json_int_t)op->completed));
	json_object_set_new(o, "ok", json_integer((json_int_t)op->ok));
	json_object_set_new(o, "errors", json_integer((json_int_t)op->errors));
	json_object_set_new(o, "dropped", json_integer((json_int_t)op->dropped));
	json_object_set_new(o, "late", json_integer((json_int_t)op->late));
	json_object_set_new(o, "late_max_ms", json_real(ms(op->late_max_ns)));
	for (int c = 1; c < RECORD_ERR_COUNT; c++)
		if (op->err_by_class[c])
			json_object_set_new(cls, records_err_name((enum record_err)c),
					    json_integer((json_int_t)op->err_by_class[c]));
	json_object_set_new(o, "errors_by_class", cls);
	json_object_set_new(o, "latency_ms", dist_json(&op->latency));
	json_object_set_new(o, "service_ms", dist_json(&op->service));
	return o;
}

static int dump(json_t *root, int indent, struct buf *out, struct err *e)
{
	size_t flags = JSON_SORT_KEYS | JSON_REAL_PRECISION(10);
	if (indent > 0)
		flags |= JSON_INDENT(indent > 31 ? 31 : indent);
	else
		flags |= JSON_COMPACT;
	char *s = json_dumps(root, flags);
	json_decref(root);
	if (!s)
		return err_set(e, ERR_INTERNAL, "metrics: cannot render JSON (out of memory?)");
	int rc = buf_append_str(out, s, e);
	free(s);
	if (rc == 0 && indent > 0)
		rc = buf_append(out, "\n", 1, e);
	return rc;
}

int metrics_json(const struct metrics *m, int indent, struct buf *out, struct err *e)
{
	json_t *root = json_object(), *ops = json_object();
	json_object_set_new(root, "records", json_integer((json_int_t)m->records));
	json_object_set_new(root, "warmup_records", json_integer((json_int_t)m->warmup_records));
	json_object_set_new(root, "warmup_s", json_real((double)m->warmup_ns / 1e9));
	json_object_set_new(root, "duration_s", json_real((double)m->duration_ns / 1e9));
	json_object_set_new(root, "window_s", json_real((double)m->window_ns / 1e9));
	json_object_set_new(root, "throughput", json_real(m->throughput));
	json_object_set_new(root, "goodput", json_real(m->goodput));
	json_object_set_new(root, "error_rate", json_real(m->error_rate));
	json_object_set_new(root, "client_wakeup_ms", dist_json(&m->wakeup));
	json_object_set_new(root, "all", op_json(&m->all));
	for (int k = 0; k < OP_KIND_COUNT; k++)
		json_object_set_new(ops, sched_op_name((enum op_kind)k), op_json(&m->op[k]));
	json_object_set_new(root, "ops", ops);
	return dump(root, indent, out, e);
}

static const char *const engram_names[OP_KIND_COUNT] = { "Store", "Recall", "Search" };

static json_int_t us(uint64_t ns)
{
	return (json_int_t)((ns + 500) / 1000);
}

int metrics_engram_report_json(const struct metrics *m, const char *config_name,
			       struct buf *out, struct err *e)
{
	json_t *root = json_object(), *per = json_object();
	json_object_set_new(root, "config_name", json_string(config_name ? config_name : ""));
	json_object_set_new(root, "elapsed_seconds", json_real((double)m->window_ns / 1e9));
	json_object_set_new(root, "total_operations", json_integer((json_int_t)m->all.measured));
	json_object_set_new(root, "total_errors", json_integer((json_int_t)m->all.errors));
	json_object_set_new(root, "overall_throughput", json_real(m->throughput));
	json_object_set_new(root, "overall_error_rate", json_real(m->error_rate));
	/* pooled percentiles (Engram used the max over operation types) */
	json_object_set_new(root, "p50_latency_ms", json_real(ms(m->all.latency.pct[0])));
	json_object_set_new(root, "p95_latency_ms", json_real(ms(m->all.latency.pct[2])));
	json_object_set_new(root, "p99_latency_ms", json_real(ms(m->all.latency.pct[3])));
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		const struct metrics_op *op = &m->op[k];
		if (op->measured == 0)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "count", json_integer((json_int_t)op->measured));
		json_object_set_new(o, "success_count", json_integer((json_int_t)op->ok));
		json_object_set_new(o, "error_count", json_integer((json_int_t)op->errors));
		json_object_set_new(o, "p50_latency_us", json_integer(us(op->latency.pct[0])));
		json_object_set_new(o, "p95_latency_us", json_integer(us(op->latency.pct[2])));
		json_object_set_new(o, "p99_latency_us", json_integer(us(op->latency.pct[3])));
		json_object_set_new(o, "p999_latency_us", json_integer(us(op->latency.pct[4])));
		json_object_set_new(o, "mean_latency_us", json_real(op->latency.mean / 1e3));
		json_object_set_new(o, "max_latency_us", json_integer(us(op->latency.max)));
		json_object_set_new(per, engram_names[k], o);
	}
	json_object_set_new(root, "per_operation_stats", per);
	return dump(root, 2, out, e);
}

/* ---- text table ---------------------------------------------------------- */

static int table_rows(const struct metrics *m, int service, struct buf *out, struct err *e)
{
	if (buf_printf(out, e, "%s\n%-8s %9s %7s %7s %7s %9s %9s %9s %9s %9s %9s %9s %9s\n",
		       service ? "service time from send (ms)" : "latency from intended send (ms)",
		       "op", "measured", "errors", "dropped", "late", "p50", "p90", "p95", "p99",
		       "p99.9", "p99.99", "max", "mean") < 0)
		return -1;
	for (int k = -1; k < OP_KIND_COUNT; k++) {
		const struct metrics_op *op = k < 0 ? &m->all : &m->op[k];
		if (k >= 0 && op->measured == 0)
			continue;
		const struct metrics_dist *d = service ? &op->service : &op->latency;
		if (buf_printf(out, e, "%-8s %9llu %7llu %7llu %7llu", k < 0 ? "all" : sched_op_name((enum op_kind)k),
			       (unsigned long long)op->measured, (unsigned long long)op->errors,
			       (unsigned long long)op->dropped, (unsigned long long)op->late) < 0)
			return -1;
		for (int p = 0; p < METRICS_NPCT; p++)
			if (buf_printf(out, e, " %9.3f", ms(d->pct[p])) < 0)
				return -1;
		if (buf_printf(out, e, " %9.3f %9.3f\n", ms(d->max), d->mean / 1e6) < 0)
			return -1;
	}
	return 0;
}

int metrics_table(const struct metrics *m, struct buf *out, struct err *e)
{
	if (table_rows(m, 0, out, e) < 0 || table_rows(m, 1, out, e) < 0)
		return -1;
	if (buf_printf(out, e,
		       "throughput %.1f/s (goodput %.1f/s) over %.3f s; error rate %.4f%%; "
		       "late %llu (max %.3f ms); dropped %llu; warm-up records %llu\n",
		       m->throughput, m->goodput, (double)m->window_ns / 1e9, 100.0 * m->error_rate,
		       (unsigned long long)m->all.late, ms(m->all.late_max_ns),
		       (unsigned long long)m->all.dropped, (unsigned long long)m->warmup_records) < 0)
		return -1;
	if (m->wakeup.count &&
	    buf_printf(out, e,
		       "client wake-up error p50 %.1f us, p99 %.1f us, max %.1f us over %llu requests "
		       "(part of every latency above)\n",
		       (double)m->wakeup.pct[0] / 1e3, (double)m->wakeup.pct[3] / 1e3,
		       (double)m->wakeup.max / 1e3, (unsigned long long)m->wakeup.count) < 0)
		return -1;
	int any = 0;
	for (int c = 1; c < RECORD_ERR_COUNT; c++) {
		if (!m->all.err_by_class[c])
			continue;
		if (buf_printf(out, e, "%s %s %llu", any ? "," : "errors:",
			       records_err_name((enum record_err)c),
			       (unsigned long long)m->all.err_by_class[c]) < 0)
			return -1;
		any = 1;
	}
	if (any && buf_append(out, "\n", 1, e) < 0)
		return -1;
	return 0;
}
