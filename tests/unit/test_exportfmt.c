/*
 * test_exportfmt.c — the layouts export writes for other tools: record
 * lines, HdrHistogram's percentile text, ground truth JSONL/ivecs and the
 * VectorDBBench result.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/exportfmt.h"
#include "engrave/hist.h"
#include "engrave/records.h"
#include "engrave/sched.h"

#define MS 1000000ULL

static struct record a_record(void)
{
	struct record r;
	memset(&r, 0, sizeof(r));
	r.index = 7;
	r.repeat = 1;
	r.op = OP_RECALL;
	r.intended = 1000;
	r.sent = 1500;
	r.done = 4000;
	r.status = 200;
	r.bytes_out = 12;
	r.bytes_in = 345;
	r.flags = RECORD_F_WARMUP;
	return r;
}

Test(exportfmt, record_csv_and_jsonl_lines)
{
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	struct record r = a_record();
	cr_assert_eq(exportfmt_record_csv(&r, &b, &e), 0);
	cr_assert_str_eq(b.data, "7,1,recall,1000,1500,4000,3000,2500,200,12,345,none,1,0\n");
	buf_reset(&b);
	cr_assert_eq(exportfmt_record_jsonl(&r, &b, &e), 0);
	cr_assert_str_eq(b.data, "{\"index\":7,\"repeat\":1,\"op\":\"recall\",\"intended_ns\":1000,\"sent_ns\":1500,"
				 "\"done_ns\":4000,\"latency_ns\":3000,\"service_ns\":2500,\"status\":200,"
				 "\"bytes_out\":12,\"bytes_in\":345,\"error\":\"none\",\"warmup\":true,\"dropped\":false}\n");
	/* a dropped store: never sent, its error class named */
	r.op = OP_STORE;
	r.flags = 0;
	r.sent = r.done = 9000;
	r.status = RECORD_STATUS_DROPPED;
	r.err = RECORD_ERR_DROPPED;
	buf_reset(&b);
	cr_assert_eq(exportfmt_record_csv(&r, &b, &e), 0);
	cr_assert_str_eq(b.data, "7,1,store,1000,9000,9000,8000,0,3,12,345,dropped,0,1\n");
	cr_assert_eq(strlen(EXPORTFMT_RECORD_FIELDS) > 0 && !strncmp(EXPORTFMT_RECORD_FIELDS, "index,repeat,op,", 16), 1);
	buf_release(&b);
}

struct hrow {
	double value, pct, inv;
	unsigned long long count;
};

/* Parse the rows of an hgrm text; returns how many. */
static size_t parse_rows(const char *text, struct hrow *rows, size_t cap)
{
	size_t n = 0;
	const char *p = strchr(text, '\n') + 2; /* header and blank line */
	while (*p && *p != '#' && n < cap) {
		char inv[32];
		cr_assert_eq(sscanf(p, "%lf %lf %llu %31s", &rows[n].value, &rows[n].pct, &rows[n].count, inv), 4);
		rows[n].inv = strcmp(inv, "inf") ? atof(inv) : INFINITY;
		n++;
		p = strchr(p, '\n') + 1;
	}
	return n;
}

Test(exportfmt, hgrm_is_hdrhistograms_layout_with_exact_values)
{
	uint64_t v[100];
	for (int i = 0; i < 100; i++)
		v[i] = (uint64_t)(i + 1) * MS; /* 1..100 ms */
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(exportfmt_hgrm(v, 100, EXPORTFMT_HGRM_TICKS, &b, &e), 0);
	cr_assert_eq(strncmp(b.data, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 57), 0, "%s", b.data);
	cr_assert_neq(strstr(b.data, "\n       1.000 0.000000000000          1           1.00\n"), NULL, "%s", b.data);
	cr_assert_neq(strstr(b.data, "\n      50.000 0.500000000000         50           2.00\n"), NULL, "%s", b.data);
	cr_assert_neq(strstr(b.data, "\n     100.000 1.000000000000        100            inf\n"), NULL, "%s", b.data);
	cr_assert_neq(strstr(b.data, "#[Mean    =       50.500, StdDeviation   =       28.866]\n"
				     "#[Max     =      100.000, Total count    =          100]\n"
				     "#[Buckets =           17, SubBuckets     =         2048]\n"),
		      NULL, "%s", b.data);
	struct hrow rows[200];
	size_t n = parse_rows(b.data, rows, 200);
	cr_assert_gt(n, 20);
	for (size_t i = 0; i < n; i++) {
		if (i) { /* monotone, and the ticks halve their step at each half-distance */
			cr_assert_geq(rows[i].value, rows[i - 1].value);
			cr_assert_gt(rows[i].pct, rows[i - 1].pct);
			cr_assert_geq(rows[i].count, rows[i - 1].count);
		}
		/* every row's value is the nearest-rank value of its percentile (metrics.h) */
		if (rows[i].pct > 0)
			cr_assert_float_eq(rows[i].value, (double)v[hist_rank(100, rows[i].pct * 100) - 1] / MS, 1e-9,
					   "row %zu: %f at %f", i, rows[i].value, rows[i].pct);
		cr_assert_eq(rows[i].count, (unsigned long long)(rows[i].value + 0.5), "row %zu", i);
	}
	cr_assert(isinf(rows[n - 1].inv) && rows[n - 1].pct == 1.0);
	/* HdrHistogram's steps: 10% to 50%, 5% to 75%, 2.5% to 87.5% */
	cr_assert_float_eq(rows[1].pct, 0.1, 1e-12);
	cr_assert_float_eq(rows[6].pct, 0.55, 1e-12);
	cr_assert_float_eq(rows[11].pct, 0.775, 1e-12);
	buf_release(&b);
}

Test(exportfmt, hgrm_of_one_value_empty_and_bad_ticks)
{
	uint64_t v[10];
	for (int i = 0; i < 10; i++)
		v[i] = 5 * MS;
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(exportfmt_hgrm(v, 10, 5, &b, &e), 0);
	struct hrow rows[8];
	cr_assert_eq(parse_rows(b.data, rows, 8), 2, "%s", b.data);
	cr_assert(rows[0].value == 5.0 && rows[0].pct == 0 && rows[0].count == 10);
	cr_assert(rows[1].value == 5.0 && rows[1].pct == 1.0 && rows[1].count == 10 && isinf(rows[1].inv));
	buf_reset(&b);
	cr_assert_eq(exportfmt_hgrm(NULL, 0, 5, &b, &e), 0);
	cr_assert_neq(strstr(b.data, "Total count    =            0]"), NULL, "%s", b.data);
	cr_assert_eq(parse_rows(b.data, rows, 8), 0);
	cr_assert_eq(exportfmt_hgrm(v, 10, 0, &b, &e), -1);
	cr_assert_eq(e.cls, ERR_USAGE);
	buf_release(&b);
}

Test(exportfmt, groundtruth_jsonl_and_ivecs)
{
	uint64_t ids[3] = { 4, 0, 2147483647 };
	float sc[3] = { 1.0f, 0.5f, 0.25f };
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(exportfmt_groundtruth_jsonl(9, ids, sc, 3, &b, &e), 0);
	cr_assert_str_eq(b.data, "{\"query\":9,\"ids\":[4,0,2147483647],\"scores\":[1,0.5,0.25]}\n");
	buf_reset(&b);
	cr_assert_eq(exportfmt_ivecs_row(ids, 3, &b, &e), 0);
	static const uint8_t want[16] = { 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
	cr_assert_eq(b.len, 16);
	cr_assert_eq(memcmp(b.data, want, 16), 0);
	ids[1] = 1ULL << 31;
	cr_assert_eq(exportfmt_ivecs_row(ids, 3, &b, &e), -1);
	cr_assert_eq(e.cls, ERR_INPUT);
	cr_assert_neq(strstr(e.msg, "2147483648"), NULL, "%s", e.msg);
	buf_release(&b);
}

Test(exportfmt, vdbb_has_the_models_fields)
{
	struct exportfmt_vdbb v = {
		.run_id = "20260101T000000Z-abcdef", .task_label = "m17", .timestamp = 1.5e9, .db = "Chroma",
		.db_label = "chroma", .version = "1.0", .note = "n", .host = "127.0.0.1", .port = 8000,
		.metric_type = "L2", .hnsw_m = 16, .hnsw_ef_construction = 200, .hnsw_ef_search = 64, .k = 10,
		.dataset_name = "m17", .dataset_size = 1000, .dim = 768, .qps = 123.5, .serial_latency_p99 = 0.012,
		.serial_latency_p95 = 0.009, .recall = 0.97, .load_duration = 42.25, .insert_duration = 42.25,
	};
	struct buf b;
	buf_init(&b, 0);
	struct err e = ERR_INIT;
	cr_assert_eq(exportfmt_vdbb_json(&v, &b, &e), 0);
	json_error_t je;
	json_t *root = json_loads(b.data, 0, &je);
	cr_assert_not_null(root, "%s", je.text);
	cr_assert_eq(json_object_size(root), 5);
	json_t *res = json_array_get(json_object_get(root, "results"), 0);
	json_t *m = json_object_get(res, "metrics"), *tc = json_object_get(res, "task_config");
	cr_assert_eq(json_object_size(m), 37); /* Metric's fields */
	cr_assert_float_eq(json_real_value(json_object_get(m, "qps")), 123.5, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(m, "serial_latency_p99")), 0.012, 1e-12);
	cr_assert_float_eq(json_real_value(json_object_get(m, "recall")), 0.97, 1e-12);
	cr_assert_float_eq(json_real_value(json_object_get(m, "load_duration")), 42.25, 1e-12);
	cr_assert_eq(json_integer_value(json_object_get(m, "max_load_count")), 0);
	cr_assert_eq(json_array_size(json_object_get(m, "conc_num_list")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(m, "payload_profile")), "ids_only");
	cr_assert_str_eq(json_string_value(json_object_get(tc, "db")), "Chroma");
	json_t *dbc = json_object_get(tc, "db_config"), *cc = json_object_get(tc, "db_case_config");
	cr_assert_eq(json_integer_value(json_object_get(dbc, "port")), 8000);
	cr_assert(json_is_null(json_object_get(dbc, "password")));
	cr_assert_eq(json_integer_value(json_object_get(cc, "ef_construct")), 200);
	cr_assert_str_eq(json_string_value(json_object_get(cc, "metric_type")), "L2");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(tc, "case_config"), "k")), 10);
	cr_assert_str_eq(json_string_value(json_object_get(res, "label")), ":)");
	json_decref(root);
	buf_release(&b);
}
