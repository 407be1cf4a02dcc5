/*
 * perflog.c — renders PERFORMANCE_LOG.md entries (see perflog.h).
 *
 * Numbers follow the hand-written M17 log: latencies with three decimals
 * in ms, throughput with two, changes as signed percentages with two. The
 * change labels mirror compare_m17_performance.sh: P99 growth beyond the
 * tolerance is a regression, any P99 drop an improvement; throughput is
 * only labelled when it falls beyond its tolerance.
 */
#include "engrave/perflog.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/err.h"
#include "engrave/store.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void perflog_side_from_run(const struct run_record *r, struct perflog_side *s)
{
	memset(s, 0, sizeof(*s));
	s->present = 1;
	snprintf(s->run_id, sizeof(s->run_id), "%s", r->id);
	s->p50 = s->p95 = s->p99 = s->throughput = NAN;
	for (int i = 0; i < r->n_metrics; i++) {
		const struct run_metric *m = &r->metrics[i];
		if (!strcmp(m->key, "p50_ms"))
			s->p50 = m->value;
		else if (!strcmp(m->key, "p95_ms"))
			s->p95 = m->value;
		else if (!strcmp(m->key, "p99_ms"))
			s->p99 = m->value;
		else if (!strcmp(m->key, "throughput"))
			s->throughput = m->value;
	}
}

void perflog_fill(struct perflog_entry *en, const struct run_record *run, const struct run_record *base,
		  const struct check_result *cr)
{
	memset(en, 0, sizeof(*en));
	snprintf(en->spec, sizeof(en->spec), "%s", run->spec_name);
	snprintf(en->run_status, sizeof(en->run_status), "%s", run->status);
	perflog_side_from_run(run, &en->after);
	if (base)
		perflog_side_from_run(base, &en->before);
	en->p99_tol = 5;
	en->thr_tol = -5;
	en->pass = 1;
	if (strcmp(run->status, "done")) {
		en->missing = 1;
		snprintf(en->reason, sizeof(en->reason), "run is %.20s", run->status[0] ? run->status : "unfinished");
	}
	for (size_t i = 0; cr && i < cr->n; i++) {
		const struct check_row *w = &cr->rows[i];
		if (w->verdict == CHECK_MISSING && !en->missing) {
			en->missing = 1;
			snprintf(en->reason, sizeof(en->reason), "%.40s not measured in the %s", w->metric,
				 isnan(w->value) ? "run" : "baseline");
		}
		if (w->relative && !strcmp(w->metric, "p99_ms"))
			sscanf(w->threshold, "%lf", &en->p99_tol);
		if (w->relative && !strcmp(w->metric, "throughput"))
			sscanf(w->threshold, "%lf", &en->thr_tol);
		if (w->verdict != CHECK_FAIL || !en->pass)
			continue;
		en->pass = 0;
		en->missing = 0; /* a failed check outranks missing data */
		if (w->note[0] && isnan(w->value))
			snprintf(en->reason, sizeof(en->reason), "%.40s %.100s", w->metric, w->note);
		else if (w->relative && !isnan(w->change_pct))
			snprintf(en->reason, sizeof(en->reason), "%s %+.2f%s exceeds %s%s", w->metric, w->change_pct,
				 strstr(w->threshold, "pp") ? "pp" : "%", w->threshold,
				 w->sig_tested ? ", significant" : "");
		else
			snprintf(en->reason, sizeof(en->reason), "%s = %.4g fails '%s'", w->metric, w->value,
				 w->threshold);
	}
}

/* A figure, or "n/a" when it was not measured: a log never prints nan. */
static void fmt_or_na(char *out, size_t cap, const char *fmt, double v)
{
	if (!isfinite(v)) {
		snprintf(out, cap, "n/a");
		return;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(out, cap, fmt, v);
#pragma GCC diagnostic pop
}

static int side_line(struct buf *out, const char *label, const struct perflog_side *s, struct err *e)
{
	if (!s->present)
		return buf_printf(out, e, "- %s: n/a (no baseline)\n", label);
	char p50[32], p95[32], p99[32], thr[32];
	fmt_or_na(p50, sizeof(p50), "%.3fms", s->p50);
	fmt_or_na(p95, sizeof(p95), "%.3fms", s->p95);
	fmt_or_na(p99, sizeof(p99), "%.3fms", s->p99);
	fmt_or_na(thr, sizeof(thr), "%.2f ops/s", s->throughput);
	return buf_printf(out, e, "- %s: P50=%s, P95=%s, P99=%s, Throughput=%s\n", label, p50, p95, p99, thr);
}

static double pct_change(double before, double after)
{
	return fabs(before) < 0.001 ? NAN : (after - before) / fabs(before) * 100.0;
}

int perflog_entry(const struct perflog_entry *en, struct buf *out, struct err *e)
{
	char status[32];
	if (!strcmp(en->run_status, "done"))
		snprintf(status, sizeof(status), "Complete");
	else {
		snprintf(status, sizeof(status), "%s", en->run_status);
		status[0] = (char)toupper((unsigned char)status[0]);
	}
	if (buf_printf(out, e, "## %s: run %s\n\n**Status**: %s\n\nResults:\n", en->spec, en->after.run_id, status) ||
	    side_line(out, "Before", &en->before, e) || side_line(out, "After", &en->after, e))
		return -1;
	double c99 = NAN, cthr = NAN;
	if (en->before.present) {
		c99 = pct_change(en->before.p99, en->after.p99);
		cthr = pct_change(en->before.throughput, en->after.throughput);
		char a[64] = "n/a", b[64] = "n/a";
		if (!isnan(c99))
			snprintf(a, sizeof(a), "%+.2f%%%s", c99,
				 c99 > en->p99_tol ? " (regression)" : c99 < 0 ? " (improvement)" : "");
		if (!isnan(cthr))
			snprintf(b, sizeof(b), "%+.2f%%%s", cthr, cthr < en->thr_tol ? " (regression)" : "");
		if (buf_printf(out, e, "- Change: P99 %s, Throughput %s\n", a, b))
			return -1;
	} else if (buf_printf(out, e, "- Change: n/a\n")) {
		return -1;
	}
	if (!en->pass) {
		if (buf_printf(out, e, "- Status: \u274c FAIL (%s)\n", en->reason[0] ? en->reason : "regression"))
			return -1;
	} else if (en->missing) {
		if (buf_printf(out, e, "- Status: \u26a0\ufe0f MISSING DATA (%s): no verdict\n", en->reason))
			return -1;
	} else if (!en->before.present) {
		if (buf_printf(out, e, "- Status: \u2705 PASS (absolute checks only)\n"))
			return -1;
	} else if (!isnan(c99) && c99 < -fabs(en->p99_tol)) {
		if (buf_printf(out, e, "- Status: \u2705 PASS (improvement exceeds typical variance)\n"))
			return -1;
	} else if (buf_printf(out, e, "- Status: \u2705 PASS (within %g%% target)\n", fabs(en->p99_tol))) {
		return -1;
	}
	if (en->before.present)
		return buf_printf(out, e, "- Runs: `%s`, `%s`\n\n---\n\n", en->before.run_id, en->after.run_id);
	return buf_printf(out, e, "- Runs: `%s`\n\n---\n\n", en->after.run_id);
}

int perflog_header(struct buf *out, struct err *e)
{
	return buf_printf(out, e,
			  "# Performance Log\n\n"
			  "**Regression Target**: <5%% increase in P99 latency, <5%% decrease in throughput\n\n"
			  "Generated by `engrave log --rebuild` from the run store; each entry names its runs by id\n"
			  "(`engrave show ID`). Latency runs from each request's intended send time.\n\n---\n\n");
}

int perflog_summary(size_t entries, size_t passed, size_t missing, struct buf *out, struct err *e)
{
	if (missing)
		return buf_printf(out, e, "## Summary\n\n- Entries: %zu (%zu pass, %zu fail, %zu missing data)\n",
				  entries, passed, entries - passed - missing, missing);
	return buf_printf(out, e, "## Summary\n\n- Entries: %zu (%zu pass, %zu fail)\n", entries, passed,
			  entries - passed);
}
