/*
 * perflog.c — renders PERFORMANCE_LOG.md entries (see perflog.h).
 *
 * Numbers follow the hand-written M17 log: latencies with three decimals
 * in ms, throughput with two, changes as signed percentages with two. The
 * change labels are the verdict engine's (verdict.h) for the same pair, so
 * the log never says "improvement" where `diff` says "no change"; the one
 * Status line is the check's verdict.
 */
#include "engrave/perflog.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/err.h"
#include "engrave/store.h"
#include "engrave/verdict.h"

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

static const char *const fig_metric[PERFLOG_NFIG] = { "p50_ms", "p95_ms", "p99_ms", "throughput" };
static const char *const fig_label[PERFLOG_NFIG] = { "P50", "P95", "P99", "Throughput" };

void perflog_fill(struct perflog_entry *en, const struct run_record *run, const struct run_record *base,
		  const struct check_result *cr, const struct verdict_set *vs)
{
	memset(en, 0, sizeof(*en));
	snprintf(en->spec, sizeof(en->spec), "%s", run->spec_name);
	snprintf(en->run_status, sizeof(en->run_status), "%s", run->status);
	perflog_side_from_run(run, &en->after);
	if (base)
		perflog_side_from_run(base, &en->before);
	en->pass = 1;
	if (strcmp(run->status, "done")) {
		en->missing = 1;
		snprintf(en->reason, sizeof(en->reason), "run is %.20s", run->status[0] ? run->status : "unfinished");
	}
	size_t ul = 0;
	for (int f = 0; base && vs && f < PERFLOG_NFIG; f++) {
		const struct verdict *v = verdict_find(vs, fig_metric[f]);
		if (!v || isnan(v->change))
			continue;
		struct perflog_change *c = &en->chg[f];
		c->present = 1;
		c->change = v->change;
		c->ci_lo = v->ci_lo;
		c->ci_hi = v->ci_hi;
		c->kind = (int)v->kind;
		c->untrusted = v->untrusted;
		if (v->kind == VERDICT_REGRESSION && !v->gated && ul < sizeof(en->ungated))
			ul += (size_t)snprintf(en->ungated + ul, sizeof(en->ungated) - ul, "%s%s %+.2f%%", ul ? ", " : "",
					       fig_label[f], v->change);
	}
	for (size_t i = 0; cr && i < cr->n; i++) {
		const struct check_row *w = &cr->rows[i];
		if (w->verdict == CHECK_MISSING && !en->missing) {
			en->missing = 1;
			snprintf(en->reason, sizeof(en->reason), "%.40s not measured in the %s", w->metric,
				 isnan(w->value) ? "run" : "baseline");
		}
		if (w->verdict != CHECK_FAIL || !en->pass)
			continue;
		en->pass = 0;
		en->missing = 0; /* a failed check outranks missing data */
		en->untrusted = cr->untrusted == cr->failures;
		if (w->note[0] && isnan(w->value))
			snprintf(en->reason, sizeof(en->reason), "%.40s %.100s", w->metric, w->note);
		else if (w->relative && !isnan(w->change_pct))
			snprintf(en->reason, sizeof(en->reason), "%s %+.2f%s beyond %s%s", w->metric, w->change_pct,
				 strstr(w->threshold, "pp") ? "pp" : "%", w->threshold,
				 w->has_verdict && w->v.method != VERDICT_BY_THRESHOLD ? ", 95% CI excludes 0" : "");
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

static int change_text(char *out, size_t cap, const struct perflog_change *c)
{
	if (!c->present)
		return snprintf(out, cap, "n/a");
	char ci[48] = "";
	if (isfinite(c->ci_lo))
		snprintf(ci, sizeof(ci), ", CI %+.1f..%+.1f%%", c->ci_lo, c->ci_hi);
	return snprintf(out, cap, "%+.2f%% (%s%s%s)", c->change, verdict_kind_name((enum verdict_kind)c->kind),
			c->untrusted ? ", untrusted: machine busy" : "", ci);
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
	if (buf_printf(out, e, "## %s: run %s\n\n**Run**: %s\n\nResults:\n", en->spec, en->after.run_id, status) ||
	    side_line(out, "Before", &en->before, e) || side_line(out, "After", &en->after, e))
		return -1;
	if (en->before.present) {
		if (buf_printf(out, e, "- Change:"))
			return -1;
		for (int f = 0; f < PERFLOG_NFIG; f++) {
			char t[128];
			change_text(t, sizeof(t), &en->chg[f]);
			if (buf_printf(out, e, "%s %s %s", f ? "," : "", fig_label[f], t))
				return -1;
		}
		if (buf_printf(out, e, "\n"))
			return -1;
	} else if (buf_printf(out, e, "- Change: n/a\n")) {
		return -1;
	}
	char extra[200] = "";
	if (en->ungated[0])
		snprintf(extra, sizeof(extra), "; not gated: %.150s regression", en->ungated);
	if (!en->pass && en->untrusted) {
		if (buf_printf(out, e, "- Status: \u26a0\ufe0f UNTRUSTED FAIL (%s; the machine was busy)%s\n",
			       en->reason[0] ? en->reason : "regression", extra))
			return -1;
	} else if (!en->pass) {
		if (buf_printf(out, e, "- Status: \u274c FAIL (%s)%s\n", en->reason[0] ? en->reason : "regression", extra))
			return -1;
	} else if (en->missing) {
		if (buf_printf(out, e, "- Status: \u26a0\ufe0f MISSING DATA (%s): no verdict\n", en->reason))
			return -1;
	} else if (!en->before.present) {
		if (buf_printf(out, e, "- Status: \u2705 PASS (absolute checks only)\n"))
			return -1;
	} else if (buf_printf(out, e, "- Status: \u2705 PASS (no gated regression%s)\n", extra)) {
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
			  "Written by `engrave log` from the run store; each entry names its runs by id\n"
			  "(`engrave show ID`). Latency runs from each request's intended send time.\n"
			  "Verdicts (the same as `engrave check` and `engrave diff`): %s.\n\n---\n\n",
			  verdict_rule_text);
}

int perflog_summary(size_t entries, size_t passed, size_t missing, struct buf *out, struct err *e)
{
	if (missing)
		return buf_printf(out, e, "## Summary\n\n- Entries: %zu (%zu pass, %zu fail, %zu missing data)\n",
				  entries, passed, entries - passed - missing, missing);
	return buf_printf(out, e, "## Summary\n\n- Entries: %zu (%zu pass, %zu fail)\n", entries, passed,
			  entries - passed);
}
