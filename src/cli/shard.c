/*
 * shard.c — distributed load tests from the command line: `run --segment`
 * (one shard of a run group) and `engrave merge GROUP`.
 *
 * A shard is an ordinary run whose load test sends one execution segment of
 * the schedule (sched.h). Around steps_run it: resolves the group id
 * (--group, or the spec digest's first 16 hex digits and --start), waits at
 * the start barrier on the remote right before its first request (shard.h),
 * and, once done, pushes its run and registers it under the group. merge
 * reads the group's sequence and shards from the remote, pulls their runs,
 * merges their load tests (shardmerge.h) into one run whose metrics are
 * computed exactly over every shard's records, and says what clock offsets
 * and start skew it assumed.
 */
#include "cli.h"
#include "report.h"
#include "shard_cli.h"
#include "engrave/log.h"
#include "engrave/remote.h"
#include "engrave/runmetrics.h"
#include "engrave/sched.h"
#include "engrave/shard.h"
#include "engrave/shardmerge.h"
#include "engrave/spec.h"
#include "engrave/steps.h"
#include "engrave/store.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BARRIER_LEAD_NS (3ULL * NS_PER_S)
#define BARRIER_TIMEOUT_NS (600ULL * NS_PER_S)

static int barrier(void *ctx, struct err *e)
{
	struct cli_shard *sh = ctx;
	struct shard_wait w = { BARRIER_LEAD_NS, sh->start_s > 0 ? sh->start_s * (int64_t)NS_PER_S : 0,
				BARRIER_TIMEOUT_NS, steps_stop_flag() };
	return shard_barrier(sh->remote, sh->group, sh->seg.text, sh->sequence, &w, &sh->clk, e);
}

int cli_shard_prepare(struct cli_shard *sh, const struct spec *sp, struct remote *r, struct runner_opts *ro,
		      struct err *e)
{
	if (!sh->segment)
		return 0;
	if (!r) {
		err_set(e, ERR_USAGE, "--segment needs a remote store shared by the shards");
		return err_hint(e, "give --remote URL, or set ENGRAVE_REMOTE");
	}
	if (sched_segment_parse(sh->segment, sh->sequence_arg, &sh->seg, e))
		return err_prefix(e, "--segment");
	if (sh->sequence_arg)
		snprintf(sh->sequence, sizeof(sh->sequence), "%s", sh->sequence_arg);
	else
		shard_default_sequence(sh->seg.den, sh->sequence, sizeof(sh->sequence));
	if (sh->group_arg) {
		snprintf(sh->group, sizeof(sh->group), "%s", sh->group_arg);
	} else if (sh->start_s > 0) {
		struct digest d;
		char hex[DIGEST_HEX_LEN + 1];
		spec_digest(sp, &d);
		digest_to_hex(&d, hex);
		snprintf(sh->group, sizeof(sh->group), "%.16s-%" PRId64, hex, sh->start_s);
	} else {
		err_set(e, ERR_USAGE, "--segment needs the run group: --group ID, or --start UNIX_SECONDS");
		return err_hint(e, "every shard of one load test gives the same --group (or the same --start)");
	}
	if (!cli_valid_name(sh->group, 100))
		return err_set(e, ERR_USAGE, "bad --group '%s' (letters, digits, '.', '_', '-'; 100 at most)", sh->group);
	sh->remote = r;
	ro->segment = &sh->seg;
	ro->before_load = barrier;
	ro->before_load_ctx = sh;
	log_info("shard %s of group %s (sequence %s)", sh->seg.text, sh->group, sh->sequence);
	return 0;
}

int cli_shard_finish(struct cli_shard *sh, struct store *st, struct run_record *rec, struct err *e)
{
	if (!sh->remote)
		return 0;
	envlist_set(&rec->env, "shard.group", sh->group);
	envlist_set(&rec->env, "shard.segment", sh->seg.text);
	envlist_set_num(&rec->env, "shard.clock_offset_ms", (double)sh->clk.offset_ns / 1e6);
	envlist_set_num(&rec->env, "shard.clock_uncertainty_ms", (double)sh->clk.uncertainty_ns / 1e6);
	envlist_set_num(&rec->env, "shard.start_skew_ms", (double)sh->clk.skew_ns / 1e6);
	if (run_put(st, rec, e) || remote_push_run(sh->remote, st, rec->id, e) ||
	    shard_register_run(sh->remote, sh->group, sh->seg.text, rec->id, &sh->clk, e))
		return err_prefix(e, "shard %s of group %s", sh->seg.text, sh->group);
	log_info("shard %s of group %s: run %s is on the remote; 'engrave merge %s' when every shard is done",
		 sh->seg.text, sh->group, rec->id, sh->group);
	return 0;
}

/* ---- merge ---- */

struct shard_row {
	char segment[64];
	char run_id[64];
	struct shard_clock clk;
};

/* Every shard of the group, pulled into the store. */
static int fetch_shards(struct remote *r, struct store *st, const char *group, struct shard_row *rows, int *n,
			struct run_record *recs, struct err *e)
{
	char seq[512], segs[SHARD_MAX][64];
	int got = shard_group_sequence(r, group, seq, sizeof(seq), e);
	if (got == 0) {
		err_set(e, ERR_MISSING, "the remote %s has no run group '%s'", remote_url(r), group);
		return err_hint(e, "shards register with 'engrave run SPEC --segment A:B --group %s'", group);
	}
	if (got < 0 || shard_sequence_segments(seq, segs, SHARD_MAX, n, e))
		return -1;
	for (int i = 0; i < *n; i++) {
		snprintf(rows[i].segment, sizeof(rows[i].segment), "%s", segs[i]);
		got = shard_group_run(r, group, segs[i], rows[i].run_id, sizeof(rows[i].run_id), &rows[i].clk, e);
		if (got == 0) {
			err_set(e, ERR_MISSING, "group %s: shard %s has not finished (sequence %s)", group, segs[i], seq);
			return err_hint(e, "run it, or wait for it, then merge again");
		}
		if (got < 0 || remote_pull_run(r, st, rows[i].run_id, e) || run_get(st, rows[i].run_id, &recs[i], e))
			return -1;
	}
	return 0;
}

/* The merged run: shard 0's record with the merged load test, metrics recomputed. */
static int merged_run(struct store *st, const char *group, const struct shard_row *rows, int n,
		      const struct digest *lt, struct run_record *m, struct err *e)
{
	if (run_get(st, rows[0].run_id, m, e))
		return -1;
	run_new_id(m->id, sizeof(m->id));
	m->created = m->updated = clock_unix_now();
	snprintf(m->status, sizeof(m->status), "done");
	for (int i = 0; i < m->n_steps; i++)
		if (!strcmp(m->steps[i].name, "loadtest")) {
			m->steps[i].out[0] = *lt;
			m->steps[i].n_out = 1;
			snprintf(m->steps[i].message, sizeof(m->steps[i].message), "merged from %d shards of group %s", n,
				 group);
		}
	m->n_metrics = 0;
	double off = 0, unc = 0, skew = 0;
	for (int i = 0; i < n; i++) {
		off = fmax(off, fabs((double)rows[i].clk.offset_ns));
		unc = fmax(unc, (double)rows[i].clk.uncertainty_ns);
		skew = fmax(skew, fabs((double)rows[i].clk.skew_ns));
	}
	envlist_set(&m->env, "shard.group", group);
	envlist_set_num(&m->env, "shard.count", n);
	if (runmetrics_compute(st, m, e))
		return -1;
	run_metric_set(m, "shards", n);
	run_metric_set(m, "clock_offset_max_ms", off / 1e6);
	run_metric_set(m, "clock_uncertainty_max_ms", unc / 1e6);
	run_metric_set(m, "start_skew_max_ms", (skew + unc) / 1e6);
	return run_put(st, m, e);
}

static void print_merge(const char *group, const struct shard_row *rows, int n, const struct shardmerge_report *rep,
			const struct run_record *m, double rate)
{
	printf("merged group %s: %d shards (%s), %" PRIu64 " records = the schedule's %" PRIu64 " requests x repeats\n",
	       group, n, rep->segments, rep->records, rep->scheduled);
	printf("schedule digest %s (every shard's)\nrun %s\n\nclock (offset to the remote's Date header, assumed for each shard):\n",
	       rep->schedule_digest, m->id);
	double worst = 0;
	for (int i = 0; i < n; i++) {
		const struct shard_clock *c = &rows[i].clk;
		double s = (fabs((double)c->skew_ns) + (double)c->uncertainty_ns) / 1e6;
		worst = fmax(worst, s);
		printf("  %-12s run %s  offset %+9.3f ms +- %.3f ms, started %+.3f ms from the agreed start\n",
		       rows[i].segment, rows[i].run_id, (double)c->offset_ns / 1e6, (double)c->uncertainty_ns / 1e6,
		       (double)c->skew_ns / 1e6);
	}
	printf("\nskew: the shards started within %.3f ms of each other (skew + clock uncertainty). Latency is\n"
	       "measured on each shard's own clock, from its intended time to done, so skew does not bias the\n"
	       "percentiles; it only shifts when each shard's share of the load reached the target",
	       2 * worst);
	if (rate > 0)
		printf(" (%.2f of the\nmean gap between requests at %.0f/s)", 2 * worst / (1e3 / rate), rate);
	printf(".\n\n");
	report_run_text(stdout, m, NULL);
}

static json_t *merge_json(const char *group, const struct shard_row *rows, int n, const struct shardmerge_report *rep,
			  const struct run_record *m)
{
	json_t *o = report_run_json(m, NULL), *sh = json_array();
	for (int i = 0; i < n; i++) {
		json_t *x = json_object();
		json_object_set_new(x, "segment", json_string(rows[i].segment));
		json_object_set_new(x, "run", json_string(rows[i].run_id));
		json_object_set_new(x, "clock_offset_ms", json_real((double)rows[i].clk.offset_ns / 1e6));
		json_object_set_new(x, "clock_uncertainty_ms", json_real((double)rows[i].clk.uncertainty_ns / 1e6));
		json_object_set_new(x, "start_skew_ms", json_real((double)rows[i].clk.skew_ns / 1e6));
		json_array_append_new(sh, x);
	}
	json_t *g = json_object();
	json_object_set_new(g, "group", json_string(group));
	json_object_set_new(g, "shards", sh);
	json_object_set_new(g, "records", json_integer((json_int_t)rep->records));
	json_object_set_new(g, "scheduled", json_integer((json_int_t)rep->scheduled));
	json_object_set_new(g, "schedule_digest", json_string(rep->schedule_digest));
	json_object_set_new(o, "merge", g);
	return o;
}

int cmd_merge(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *remote_arg = NULL;
	int json = 0;
	static const struct cli_help help = {
		"merge", "engrave merge [--remote NAME|URL] [--json] GROUP",
		"Merge the shards of a distributed load test into one run with exact percentiles.",
		"Reads run group GROUP from the remote (the shards ran 'engrave run SPEC --segment A:B\n"
		"--group GROUP'), pulls every shard's run, checks they ran the same schedule and that\n"
		"their segments cover it exactly once (each request index once per repeat: exit 1\n"
		"otherwise), and stores one run holding all their records; its metrics are computed\n"
		"from them exactly. The merged run is pushed back to the remote. It reports the clock\n"
		"offset assumed for each shard (from the remote's Date header) and how far apart the\n"
		"shards started: latencies are per shard, so skew shifts load, not latency."
	};
	const struct cli_opt opts[] = {
		{ "remote", 0, OPT_STRING, &remote_arg, "NAME|URL", "the shared remote (default: $ENGRAVE_REMOTE, origin)" },
		{ "json", 0, OPT_FLAG, &json, NULL, "print the merged run and the shards as JSON" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (argc - pos != 1)
		return cli_usage_error(&help, "expected GROUP");
	if (!cli_valid_name(argv[pos], 100))
		return cli_usage_error(&help, "bad GROUP '%s'", argv[pos]);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	char url[512];
	struct remote *r = NULL;
	struct shard_row rows[SHARD_MAX];
	struct run_record recs[SHARD_MAX], m;
	memset(recs, 0, sizeof(recs));
	memset(&m, 0, sizeof(m));
	int n = 0;
	struct digest lt;
	struct shardmerge_report rep;
	rc = cli_remote_url(ctx->store, remote_arg, NULL, url, sizeof(url), &e) || remote_open(url, &r, &e) ||
	     fetch_shards(r, ctx->store, argv[pos], rows, &n, recs, &e) ||
	     shardmerge_loadtest(ctx->store, recs, n, &lt, &rep, &e) || merged_run(ctx->store, argv[pos], rows, n, &lt, &m, &e) ||
	     remote_push_run(r, ctx->store, m.id, &e);
	if (!rc && json)
		report_print_json(merge_json(argv[pos], rows, n, &rep, &m));
	else if (!rc) {
		double rate = 0;
		for (int i = 0; i < m.n_metrics; i++)
			if (!strcmp(m.metrics[i].key, "throughput"))
				rate = m.metrics[i].value;
		print_merge(argv[pos], rows, n, &rep, &m, rate);
	}
	for (int i = 0; i < SHARD_MAX; i++)
		run_record_release(&recs[i]);
	run_record_release(&m);
	remote_close(r);
	return rc ? cli_fail(&e) : 0;
}
