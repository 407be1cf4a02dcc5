/*
 * exportfmt.h — the text and binary layouts `engrave export` writes for
 * other tools: pure formatters, no store access (runexport.h feeds them).
 *
 *   records   one load-test request per line, as CSV (with a header line)
 *             or JSONL, fields in EXPORTFMT_RECORD_FIELDS order
 *   hgrm      HdrHistogram's percentile distribution text
 *             (outputPercentileDistribution), computed from exact values
 *   groundtruth  JSONL {"query","ids","scores"} per query, or ivecs rows
 *             (int32 k, then k int32 ids: the TEXMEX/big-ann layout)
 *   vdbb      VectorDBBench's TestResult JSON (models.py / metric.py)
 *
 * Every function appends to `out` and returns 0, or -1 with `e` set
 * (ERR_NOSPACE when `out` cannot grow, ERR_INPUT for a value the layout
 * cannot hold). Thread-safe: no shared state.
 */
#ifndef ENGRAVE_EXPORTFMT_H
#define ENGRAVE_EXPORTFMT_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/records.h"

struct buf;
struct err;

/* The record columns, comma-separated: the CSV header without its newline. */
#define EXPORTFMT_RECORD_FIELDS                                                                                  \
	"index,repeat,op,intended_ns,sent_ns,done_ns,latency_ns,service_ns,status,bytes_out,bytes_in,error,warmup," \
	"dropped"

/*
 * One record as a CSV line (warmup and dropped as 0/1) or a JSON object
 * line (true/false), ending in '\n'. op is "store", "recall" or "search";
 * error is the record_err name ("none", "timeout", ...); latency_ns and
 * service_ns are record_latency_ns / record_service_ns (0 for a dropped
 * record, whose sent = done); dropped follows metrics_record_dropped.
 */
int exportfmt_record_csv(const struct record *r, struct buf *out, struct err *e);
int exportfmt_record_jsonl(const struct record *r, struct buf *out, struct err *e);

/* HdrHistogram's default ticks per half-distance. */
#define EXPORTFMT_HGRM_TICKS 5

/*
 * The percentile distribution of v[0..n) (nanoseconds, sorted ascending)
 * in HdrHistogram's text layout, values in milliseconds with 3 decimals:
 *
 *          Value     Percentile TotalCount 1/(1-Percentile)
 *   <blank line>
 *          0.412 0.000000000000          1           1.00
 *   ...
 *         12.034 1.000000000000       1000            inf
 *   #[Mean    =        1.234, StdDeviation   =        0.567]
 *   #[Max     =       12.034, Total count    =         1000]
 *   #[Buckets =           24, SubBuckets     =         2048]
 *
 * Rows follow HdrHistogram's percentile iterator exactly, with every
 * distinct value its own bucket: the next reported percentile starts at 0
 * and advances by 100 / (ticks * 2^(floor(log2(100 / (100 - p))) + 1)),
 * each row giving the smallest value whose cumulative count reaches it,
 * and that count; the last distinct value gives one row, then the 100%
 * row (the max, the total, "inf"). Percentiles are exact (no bucket
 * rounding); the value at percentile p is the nearest-rank value of
 * metrics.h. Mean and StdDeviation (population) are exact too. Buckets and
 * SubBuckets describe the HdrHistogram that would hold these nanosecond
 * values at 3 significant digits (2048 sub-buckets), for readers that
 * show them. n = 0 gives the header and a zero footer. ticks >= 1.
 */
int exportfmt_hgrm(const uint64_t *v, size_t n, int ticks, struct buf *out, struct err *e);

/* {"query":q,"ids":[...],"scores":[...]} and '\n' for one query's n answers. */
int exportfmt_groundtruth_jsonl(uint64_t query, const uint64_t *ids, const float *scores, uint32_t n,
				struct buf *out, struct err *e);
/* One ivecs row: int32 n, then n int32 ids, little-endian. ERR_INPUT when an
 * id does not fit an int32. */
int exportfmt_ivecs_row(const uint64_t *ids, uint32_t n, struct buf *out, struct err *e);

/*
 * What a VectorDBBench TestResult is made of (exportfmt.c says which field
 * each goes to). Strings may be NULL ("" is written); host NULL = not a
 * Chroma db_config. Seconds and fractions, as VectorDBBench stores them.
 */
struct exportfmt_vdbb {
	const char *run_id, *task_label;
	double timestamp;            /* unix seconds */
	const char *db;              /* a VectorDBBench DB value: "Chroma", "PgVector", "test" */
	const char *db_label, *version, *note;
	const char *host;            /* Chroma: db_config host/port */
	long port;
	const char *metric_type;     /* "COSINE", "L2", "IP" */
	uint64_t hnsw_m, hnsw_ef_construction, hnsw_ef_search;
	uint64_t k;
	const char *dataset_name;
	uint64_t dataset_size;
	uint32_t dim;
	double qps, serial_latency_p99, serial_latency_p95, recall, load_duration, insert_duration;
};
/* The TestResult as indented JSON (2 spaces, model field order) and '\n'. */
int exportfmt_vdbb_json(const struct exportfmt_vdbb *v, struct buf *out, struct err *e);

#endif
