/*
 * exportfmt.c — layouts other tools read, written from values engrave has
 * already computed or stored (exportfmt.h lists them).
 *
 * Records: one line per request, the columns of EXPORTFMT_RECORD_FIELDS;
 * the timing columns come from records.h's helpers, so an exported latency
 * is the same number the metrics used.
 *
 * hgrm: HdrHistogram prints its percentile distribution by walking a
 * percentile iterator over its buckets (hdr_percentiles_print in
 * HdrHistogram_c, outputPercentileDistribution in Java). Here the values
 * are exact and sorted, so every distinct value is a bucket of its own and
 * the same walk gives exact rows: the reporting percentile advances in
 * `ticks` steps per half of the remaining distance to 100%, a row is
 * printed whenever the cumulative count of the current value reaches it,
 * the last value prints once and the 100% row closes the table (the Java
 * layout: "%12.3f %2.12f %10d %14.2f", 1/(1-p) "inf" on the last row).
 * No HdrHistogram library is in Debian for C and its bucket rounding would
 * lose the exactness engrave keeps (DESIGN section 7).
 *
 * VectorDBBench: the TestResult of vectordb_bench/models.py, with the
 * Metric dataclass of vectordb_bench/metric.py (both read at VectorDBBench
 * commit 4ea181055b11af7d75161179ef2feff9539c3b33). Mapping from engrave:
 *   run_id        the engrave run id           task_label  the spec name
 *   timestamp     the run's creation time (unix seconds, float)
 *   results[0].metrics:
 *     qps                 completed recall + search requests per second of
 *                         the measured window (open loop, not VDBB's closed
 *                         loop maximum)
 *     serial_latency_p99  the run's p99_ms / 1000 (seconds: VDBB stores
 *     serial_latency_p95  seconds, read_file(trans_unit) shows ms); pooled
 *                         over the load test's operations, from the intended
 *                         send time (coordinated-omission corrected)
 *     recall              the run's recall@k (0 when unscored)
 *     load_duration       the ingest step's elapsed seconds
 *     insert_duration     the same (engrave has no separate optimize phase;
 *                         optimize_duration stays 0)
 *     every other field   the dataclass default (0, 0.0, [], {}, "ids_only")
 *   results[0].task_config:
 *     db                  "Chroma" for the chroma driver, "PgVector" for
 *                         pgvector, else "test" (VDBB's DB enum has no
 *                         Engram); db_config.db_label is the driver name,
 *                         version the target's, note "engrave run ..."
 *     db_config           DBConfig (db_label, version, note), plus
 *                         ChromaConfig's user/password (null)/host/port
 *     db_case_config      ChromaIndexConfig (db_config's fields, metric_type,
 *                         m, ef_construct, ef_search) for Chroma, else
 *                         {"metric_type"} (TestIndexConfig's one field)
 *     case_config         case_id 101 (PerformanceCustomDataset) with a
 *                         CustomCaseConfig naming the ingested set (size,
 *                         dim, metric), k = loadtest.recall.k, and VDBB's
 *                         default concurrency_search_config
 *     stages, load_concurrency  the TaskConfig defaults
 *   results[0].label ":)" (ResultLabel.NORMAL), file_fmt the model default.
 */
#include "engrave/exportfmt.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/jsonf.h"
#include "engrave/metrics.h"
#include "engrave/sched.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ---- */

int exportfmt_record_csv(const struct record *r, struct buf *out, struct err *e)
{
	return buf_printf(out, e, "%llu,%u,%s,%llu,%llu,%llu,%llu,%llu,%u,%u,%u,%s,%d,%d\n",
			  (unsigned long long)r->index, r->repeat, sched_op_name((enum op_kind)r->op),
			  (unsigned long long)r->intended, (unsigned long long)r->sent, (unsigned long long)r->done,
			  (unsigned long long)record_latency_ns(r), (unsigned long long)record_service_ns(r), r->status,
			  r->bytes_out, r->bytes_in, records_err_name((enum record_err)r->err),
			  (r->flags & RECORD_F_WARMUP) != 0, metrics_record_dropped(r));
}

int exportfmt_record_jsonl(const struct record *r, struct buf *out, struct err *e)
{
	static const char *const tf[2] = { "false", "true" };
	return buf_printf(out, e,
			  "{\"index\":%llu,\"repeat\":%u,\"op\":\"%s\",\"intended_ns\":%llu,\"sent_ns\":%llu,"
			  "\"done_ns\":%llu,\"latency_ns\":%llu,\"service_ns\":%llu,\"status\":%u,\"bytes_out\":%u,"
			  "\"bytes_in\":%u,\"error\":\"%s\",\"warmup\":%s,\"dropped\":%s}\n",
			  (unsigned long long)r->index, r->repeat, sched_op_name((enum op_kind)r->op),
			  (unsigned long long)r->intended, (unsigned long long)r->sent, (unsigned long long)r->done,
			  (unsigned long long)record_latency_ns(r), (unsigned long long)record_service_ns(r), r->status,
			  r->bytes_out, r->bytes_in, records_err_name((enum record_err)r->err),
			  tf[(r->flags & RECORD_F_WARMUP) != 0], tf[metrics_record_dropped(r) != 0]);
}

/* ---- hgrm ---- */

/* HdrHistogram's bucket count for values up to `max` at 2048 sub-buckets,
 * unit 1 (buckets_needed_to_cover_value). */
static int hgrm_buckets(uint64_t max)
{
	uint64_t smallest_untrackable = 2048;
	int buckets = 1;
	while (smallest_untrackable <= max) {
		if (smallest_untrackable > (uint64_t)INT64_MAX / 2)
			return buckets + 1;
		smallest_untrackable <<= 1;
		buckets++;
	}
	return buckets;
}

/* The percentile after `p` (percent), as HdrHistogram's iterator steps. */
static double hgrm_next_percentile(double p, int ticks)
{
	int64_t temp = (int64_t)(log(100.0 / (100.0 - p)) / log(2)) + 1;
	double half_distance = pow(2, (double)temp);
	return p + 100.0 / ((double)ticks * half_distance);
}

static int hgrm_footer(const uint64_t *v, size_t n, struct buf *out, struct err *e)
{
	double mean = 0, sq = 0;
	for (size_t i = 0; i < n; i++)
		mean += (double)v[i];
	mean = n ? mean / (double)n : 0;
	for (size_t i = 0; i < n; i++)
		sq += ((double)v[i] - mean) * ((double)v[i] - mean);
	double sd = n ? sqrt(sq / (double)n) : 0;
	uint64_t max = n ? v[n - 1] : 0;
	return buf_printf(out, e,
			  "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
			  "#[Max     = %12.3f, Total count    = %12llu]\n"
			  "#[Buckets = %12d, SubBuckets     = %12d]\n",
			  mean / 1e6, sd / 1e6, (double)max / 1e6, (unsigned long long)n, hgrm_buckets(max), 2048);
}

int exportfmt_hgrm(const uint64_t *v, size_t n, int ticks, struct buf *out, struct err *e)
{
	if (ticks < 1)
		return err_set(e, ERR_USAGE, "hgrm: ticks per half-distance must be at least 1, not %d", ticks);
	if (buf_printf(out, e, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)"))
		return -1;
	double p = 0; /* the next percentile to report, in percent */
	for (size_t i = 0; i < n;) {
		size_t cum = i + 1; /* values <= v[i] */
		while (cum < n && v[cum] == v[i])
			cum++;
		double reached = 100.0 * (double)cum / (double)n;
		while (p <= reached) {
			double f = p / 100.0;
			if (buf_printf(out, e, "%12.3f %2.12f %10llu %14.2f\n", (double)v[i] / 1e6, f,
				       (unsigned long long)cum, 1.0 / (1.0 - f)))
				return -1;
			p = hgrm_next_percentile(p, ticks);
			if (cum == n)
				break; /* the last value reports once, then the 100% row */
		}
		i = cum;
	}
	if (n && buf_printf(out, e, "%12.3f %2.12f %10llu %14s\n", (double)v[n - 1] / 1e6, 1.0,
			    (unsigned long long)n, "inf"))
		return -1;
	return hgrm_footer(v, n, out, e);
}

/* ---- ground truth ---- */

int exportfmt_groundtruth_jsonl(uint64_t query, const uint64_t *ids, const float *scores, uint32_t n,
				struct buf *out, struct err *e)
{
	if (buf_printf(out, e, "{\"query\":%llu,\"ids\":[", (unsigned long long)query))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (buf_printf(out, e, "%s%llu", i ? "," : "", (unsigned long long)ids[i]))
			return -1;
	if (buf_append_str(out, "],\"scores\":[", e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		char num[JSONF_F32_MAX];
		jsonf_write_f32(num, scores[i]);
		if (buf_printf(out, e, "%s%s", i ? "," : "", num))
			return -1;
	}
	return buf_append_str(out, "]}\n", e);
}

static void put_le32(uint8_t *p, uint32_t x)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(x >> (8 * b));
}

int exportfmt_ivecs_row(const uint64_t *ids, uint32_t n, struct buf *out, struct err *e)
{
	if (n > INT32_MAX)
		return err_set(e, ERR_INPUT, "ivecs: a row of %u ids does not fit an int32 count", n);
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] > INT32_MAX)
			return err_set(e, ERR_INPUT, "ivecs: id %llu does not fit an int32", (unsigned long long)ids[i]);
	uint8_t le[4];
	put_le32(le, n);
	if (buf_append(out, le, 4, e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		put_le32(le, (uint32_t)ids[i]);
		if (buf_append(out, le, 4, e))
			return -1;
	}
	return 0;
}

/* ---- VectorDBBench ---- */

static json_t *str_or_empty(const char *s)
{
	return json_string(s ? s : "");
}

/*
 * Metric (vectordb_bench/metric.py) with its defaults, in field order:
 * 'i' int 0, 'f' float 0.0, 'l' list [], 'o' dict {}, 's' the string default.
 */
static const struct {
	const char *name;
	char kind;
} vdbb_metric_fields[] = {
	{ "max_load_count", 'i' }, { "insert_duration", 'f' }, { "optimize_duration", 'f' },
	{ "load_duration", 'f' }, { "qps", 'f' }, { "serial_latency_p99", 'f' },
	{ "serial_latency_p95", 'f' }, { "recall", 'f' }, { "ndcg", 'f' }, { "mrr", 'f' },
	{ "conc_num_list", 'l' }, { "conc_qps_list", 'l' }, { "conc_latency_p99_list", 'l' },
	{ "conc_latency_p95_list", 'l' }, { "conc_latency_avg_list", 'l' }, { "payload_profile", 's' },
	{ "payload_estimated_bytes_per_query", 'i' }, { "inserted_count", 'i' }, { "insert_rows_per_second", 'f' },
	{ "insert_completion_seconds", 'f' }, { "searchable_after_insert_seconds", 'f' },
	{ "indexed_after_searchable_seconds", 'f' }, { "additional_parameters", 'o' },
	{ "st_ideal_insert_duration", 'i' }, { "st_search_stage_list", 'l' }, { "st_search_time_list", 'l' },
	{ "st_max_qps_list_list", 'l' }, { "st_recall_list", 'l' }, { "st_ndcg_list", 'l' },
	{ "st_serial_latency_p99_list", 'l' }, { "st_serial_latency_p95_list", 'l' },
	{ "st_conc_failed_rate_list", 'l' }, { "st_conc_num_list_list", 'l' }, { "st_conc_qps_list_list", 'l' },
	{ "st_conc_latency_p99_list_list", 'l' }, { "st_conc_latency_p95_list_list", 'l' },
	{ "st_conc_latency_avg_list_list", 'l' },
};

static json_t *vdbb_metrics(const struct exportfmt_vdbb *v)
{
	json_t *m = json_object();
	for (size_t i = 0; i < sizeof(vdbb_metric_fields) / sizeof(vdbb_metric_fields[0]); i++) {
		char k = vdbb_metric_fields[i].kind;
		json_t *x = k == 'i' ? json_integer(0) : k == 'f' ? json_real(0.0) : k == 'l' ? json_array()
			    : k == 'o' ? json_object() : json_string("ids_only");
		json_object_set_new(m, vdbb_metric_fields[i].name, x);
	}
	json_object_set_new(m, "qps", json_real(v->qps));
	json_object_set_new(m, "serial_latency_p99", json_real(v->serial_latency_p99));
	json_object_set_new(m, "serial_latency_p95", json_real(v->serial_latency_p95));
	json_object_set_new(m, "recall", json_real(v->recall));
	json_object_set_new(m, "load_duration", json_real(v->load_duration));
	json_object_set_new(m, "insert_duration", json_real(v->insert_duration));
	return m;
}

/* DBConfig's fields, and ChromaConfig's when the target is Chroma. */
static void vdbb_db_fields(json_t *o, const struct exportfmt_vdbb *v)
{
	json_object_set_new(o, "db_label", str_or_empty(v->db_label));
	json_object_set_new(o, "version", str_or_empty(v->version));
	json_object_set_new(o, "note", str_or_empty(v->note));
	if (!v->host)
		return;
	json_object_set_new(o, "user", json_null());
	json_object_set_new(o, "password", json_null());
	json_object_set_new(o, "host", json_string(v->host));
	json_object_set_new(o, "port", json_integer(v->port));
}

static json_t *vdbb_case_config(const struct exportfmt_vdbb *v)
{
	json_t *ds = json_pack("{s:s, s:s, s:I, s:I, s:s, s:i, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			       "name", v->dataset_name ? v->dataset_name : "custom_dataset", "dir", "",
			       "size", (json_int_t)v->dataset_size, "dim", (json_int_t)v->dim,
			       "metric_type", v->metric_type ? v->metric_type : "COSINE", "file_count", 1,
			       "use_shuffled", 0, "with_gt", 1, "train_name", "train", "test_name", "test",
			       "gt_name", "neighbors", "train_id_name", "id", "train_col_name", "emb",
			       "test_col_name", "emb", "gt_col_name", "neighbors_id", "scalar_labels_name", "scalar_labels");
	json_object_set_new(ds, "label_percentages", json_array());
	json_object_set_new(ds, "with_label_percentages", json_pack("[f,f,f]", 0.001, 0.02, 0.5));
	json_t *custom = json_pack("{s:s, s:s, s:i, s:i, s:o}", "name", v->task_label ? v->task_label : "",
				   "description", "engrave run", "load_timeout", 36000, "optimize_timeout", 36000,
				   "dataset_config", ds);
	json_t *conc = json_pack("{s:[i,i,i,i,i,i,i,i], s:i, s:i, s:f}", "num_concurrency", 1, 5, 10, 20, 30, 40, 60,
				 80, "concurrency_duration", 30, "concurrency_timeout", 3600, "serial_cooldown", 0.0);
	return json_pack("{s:i, s:o, s:I, s:o}", "case_id", 101, "custom_case", custom, "k", (json_int_t)v->k,
			 "concurrency_search_config", conc);
}

static json_t *vdbb_task_config(const struct exportfmt_vdbb *v)
{
	json_t *t = json_object(), *dbc = json_object(), *cc = json_object();
	json_object_set_new(t, "db", str_or_empty(v->db));
	vdbb_db_fields(dbc, v);
	json_object_set_new(t, "db_config", dbc);
	if (v->host)
		vdbb_db_fields(cc, v);
	json_object_set_new(cc, "metric_type", json_string(v->metric_type ? v->metric_type : "COSINE"));
	if (v->host) {
		json_object_set_new(cc, "m", json_integer((json_int_t)v->hnsw_m));
		json_object_set_new(cc, "ef_construct", json_integer((json_int_t)v->hnsw_ef_construction));
		json_object_set_new(cc, "ef_search", json_integer((json_int_t)v->hnsw_ef_search));
	}
	json_object_set_new(t, "db_case_config", cc);
	json_object_set_new(t, "case_config", vdbb_case_config(v));
	json_object_set_new(t, "stages", json_pack("[s,s,s,s]", "drop_old", "load", "search_serial", "search_concurrent"));
	json_object_set_new(t, "load_concurrency", json_integer(0));
	return t;
}

int exportfmt_vdbb_json(const struct exportfmt_vdbb *v, struct buf *out, struct err *e)
{
	json_t *res = json_object();
	json_object_set_new(res, "metrics", vdbb_metrics(v));
	json_object_set_new(res, "task_config", vdbb_task_config(v));
	json_object_set_new(res, "label", json_string(":)"));
	json_t *root = json_object();
	json_object_set_new(root, "run_id", str_or_empty(v->run_id));
	json_object_set_new(root, "task_label", str_or_empty(v->task_label));
	json_object_set_new(root, "results", json_pack("[o]", res));
	json_object_set_new(root, "file_fmt", json_string("result_{}_{}_{}.json"));
	json_object_set_new(root, "timestamp", json_real(v->timestamp));
	char *s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	json_decref(root);
	if (!s)
		return err_set(e, ERR_INTERNAL, "vdbb: cannot encode the result as JSON");
	int rc = buf_append_str(out, s, e) || buf_append_str(out, "\n", e) ? -1 : 0;
	free(s);
	return rc;
}
