/*
 * check.c — absolute thresholds and baseline tolerances (see check.h).
 *
 * Rows are produced in a fixed order: the spec's absolute checks (sorted by
 * metric, as the spec module keeps them), then the relative ones. The
 * per-request records of both runs are loaded once (compare_recs) and only
 * when a latency tolerance is breached, so a passing check never pays for
 * the statistics.
 */
#include "engrave/check.h"
#include "engrave/buf.h"
#include "engrave/err.h"
#include "engrave/recall.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *check_verdict_name(enum check_verdict v)
{
	return v == CHECK_PASS ? "pass" : v == CHECK_FAIL ? "FAIL" : v == CHECK_NOISE ? "noise" : "MISSING";
}

void check_result_release(struct check_result *r)
{
	if (!r)
		return;
	free(r->rows);
	r->rows = NULL;
	r->n = 0;
}

static int metric_of(const struct run_record *r, const char *key, double *v)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key)) {
			*v = r->metrics[i].value;
			return 1;
		}
	*v = NAN;
	return 0;
}

static struct check_row *new_row(struct check_result *res, size_t *cap)
{
	if (res->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		res->rows = xrealloc_array(res->rows, nc, sizeof(*res->rows));
		*cap = nc;
	}
	struct check_row *row = &res->rows[res->n++];
	memset(row, 0, sizeof(*row));
	row->baseline = row->change_pct = NAN;
	return row;
}

/*
 * An absolute check whose metric the run lacks: no verdict (MISSING), except
 * a recall score the spec asked for and the finished run could not produce,
 * which fails with the reason (recall_unscored_why).
 */
static void absent_row(struct check_row *row, const struct run_record *run, const struct spec *sp)
{
	char why[sizeof(row->note) - 16];
	if (recall_is_score_metric(row->metric) && recall_unscored_why(sp, run, why, sizeof(why))) {
		row->verdict = CHECK_FAIL;
		snprintf(row->note, sizeof(row->note), "not scored: %s", why);
		return;
	}
	row->verdict = CHECK_MISSING;
	snprintf(row->note, sizeof(row->note), "not measured in this run");
}

static int op_holds(enum spec_op op, double v, double t)
{
	switch (op) {
	case SPEC_OP_LT: return v < t;
	case SPEC_OP_LE: return v <= t;
	case SPEC_OP_GT: return v > t;
	case SPEC_OP_GE: return v >= t;
	case SPEC_OP_EQ: return fabs(v - t) <= 1e-12 * (fabs(t) > 1 ? fabs(t) : 1);
	}
	return 0;
}

struct lazy_recs {
	struct store *st;
	const struct run_record *a, *b;
	struct compare_recs *ra, *rb;
	int tried;
	char why[160];
};

static int lazy_load(struct lazy_recs *l)
{
	if (!l->tried) {
		struct err le = ERR_INIT;
		l->tried = 1;
		if (compare_recs_load(l->st, l->a, &l->ra, &le) || compare_recs_load(l->st, l->b, &l->rb, &le)) {
			snprintf(l->why, sizeof(l->why), "%.150s", le.msg);
			compare_recs_free(l->ra);
			compare_recs_free(l->rb);
			l->ra = l->rb = NULL;
		}
	}
	return l->ra && l->rb;
}

static int relative_row(struct check_result *res, size_t *cap, const struct run_record *run,
			const struct run_record *base, const char *metric, double pct, struct lazy_recs *lz,
			const struct compare_opts *o, struct err *e)
{
	struct check_row *row = new_row(res, cap);
	snprintf(row->metric, sizeof(row->metric), "%s", metric);
	row->relative = 1;
	snprintf(row->threshold, sizeof(row->threshold), "%+g%%", pct);
	int hv = metric_of(run, metric, &row->value), hb = metric_of(base, metric, &row->baseline);
	if (!hv || !hb) {
		row->verdict = CHECK_MISSING;
		snprintf(row->note, sizeof(row->note), "not measured in the %s", !hv ? "run" : "baseline");
		return 0;
	}
	if (fabs(row->baseline) < 1e-9) {
		/* compare script: N/A below 0.001; treat as pass unless it appeared */
		row->verdict = CHECK_PASS;
		snprintf(row->note, sizeof(row->note), "baseline is 0: change undefined");
		return 0;
	}
	row->change_pct = (row->value - row->baseline) / fabs(row->baseline) * 100.0;
	int breach = pct >= 0 ? row->change_pct > pct : row->change_pct < pct;
	row->verdict = breach ? CHECK_FAIL : CHECK_PASS;
	if (breach && compare_is_latency(metric, NULL)) {
		if (lazy_load(lz)) {
			if (compare_latency_sig(lz->ra, lz->rb, metric, o, &row->sig, e))
				return -1;
			row->sig_tested = row->sig.tested;
			if (row->sig.tested && !row->sig.significant) {
				row->verdict = CHECK_NOISE;
				snprintf(row->note, sizeof(row->note), "not significant (p=%.2g, CI %+.3g..%+.3g ms)",
					 row->sig.mw.p, row->sig.ci.lo, row->sig.ci.hi);
			} else if (row->sig.tested) {
				snprintf(row->note, sizeof(row->note), "significant (p=%.2g, CI %+.3g..%+.3g ms)",
					 row->sig.mw.p, row->sig.ci.lo, row->sig.ci.hi);
			}
		} else {
			snprintf(row->note, sizeof(row->note), "significance not tested: %.100s", lz->why);
		}
	}
	return 0;
}

int check_run(struct store *st, const struct run_record *run, const struct spec *sp,
	      const struct run_record *base, const struct compare_opts *o, struct check_result *out,
	      struct err *e)
{
	struct compare_opts def;
	if (!o) {
		compare_opts_default(&def);
		o = &def;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->run_id, sizeof(out->run_id), "%s", run->id);
	if (base)
		snprintf(out->baseline_id, sizeof(out->baseline_id), "%s", base->id);
	size_t cap = 0;
	struct lazy_recs lz = { st, base, run, NULL, NULL, 0, "" };
	int rc = -1;
	for (size_t i = 0; sp && i < sp->n_checks; i++) {
		const struct spec_check *c = &sp->checks[i];
		struct check_row *row = new_row(out, &cap);
		snprintf(row->metric, sizeof(row->metric), "%s", c->metric);
		snprintf(row->threshold, sizeof(row->threshold), "%s %g", spec_op_names[c->op], c->value);
		if (!metric_of(run, c->metric, &row->value)) {
			absent_row(row, run, sp);
		} else {
			row->verdict = op_holds(c->op, row->value, c->value) ? CHECK_PASS : CHECK_FAIL;
		}
	}
	if (base) {
		if (sp && sp->baseline.present && sp->baseline.n_tol) {
			for (size_t i = 0; i < sp->baseline.n_tol; i++)
				if (relative_row(out, &cap, run, base, sp->baseline.tol[i].metric, sp->baseline.tol[i].pct,
						 &lz, o, e))
					goto out;
		} else {
			if (relative_row(out, &cap, run, base, "p99_ms", 5, &lz, o, e) ||
			    relative_row(out, &cap, run, base, "throughput", -5, &lz, o, e))
				goto out;
			double ra, rb;
			if (metric_of(run, "error_rate", &ra) && metric_of(base, "error_rate", &rb)) {
				struct check_row *row = new_row(out, &cap);
				snprintf(row->metric, sizeof(row->metric), "error_rate");
				row->relative = 1;
				row->value = ra;
				row->baseline = rb;
				row->change_pct = (ra - rb) * 100.0; /* percentage points */
				snprintf(row->threshold, sizeof(row->threshold), "+5pp");
				int bad = (ra >= 0.05 || rb >= 0.05) && ra > rb + 0.05;
				row->verdict = bad ? CHECK_FAIL : CHECK_PASS;
				snprintf(row->note, sizeof(row->note), "change in percentage points");
			}
		}
	}
	for (size_t i = 0; i < out->n; i++) {
		out->failures += out->rows[i].verdict == CHECK_FAIL;
		out->missing += out->rows[i].verdict == CHECK_MISSING;
	}
	rc = 0;
out:
	compare_recs_free(lz.ra);
	compare_recs_free(lz.rb);
	if (rc)
		check_result_release(out);
	return rc;
}

/* ---- rendering ------------------------------------------------------------------ */

static void fmt_num(char *out, size_t cap, double v)
{
	if (isnan(v))
		snprintf(out, cap, "-");
	else
		snprintf(out, cap, "%.4g", v);
}

int check_table(const struct check_result *r, struct buf *out, struct err *e)
{
	if (buf_printf(out, e, "%-16s %-9s %12s %12s %9s %10s  %-7s %s\n", "metric", "kind", "value", "baseline",
		       "change", "threshold", "verdict", "note"))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct check_row *w = &r->rows[i];
		char v[32], b[32], c[32];
		fmt_num(v, sizeof(v), w->value);
		fmt_num(b, sizeof(b), w->baseline);
		if (isnan(w->change_pct))
			snprintf(c, sizeof(c), "-");
		else
			snprintf(c, sizeof(c), "%+.2f%s", w->change_pct, strstr(w->threshold, "pp") ? "pp" : "%");
		if (buf_printf(out, e, "%-16s %-9s %12s %12s %9s %10s  %-7s %s\n", w->metric,
			       w->relative ? "baseline" : "absolute", v, b, c, w->threshold, check_verdict_name(w->verdict),
			       w->note))
			return -1;
	}
	return 0;
}

int check_exit_code(const struct check_result *r)
{
	return r->failures ? 1 : r->missing || r->n == 0 ? 3 : 0;
}

const char *check_summary_word(const struct check_result *r)
{
	return r->failures ? "REGRESSION" : r->missing ? "MISSING DATA" : r->n == 0 ? "NOTHING CHECKED" : "PASS";
}

static json_t *num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

json_t *check_json(const struct check_result *r)
{
	json_t *o = json_object(), *rows = json_array();
	json_object_set_new(o, "run", json_string(r->run_id));
	json_object_set_new(o, "baseline", r->baseline_id[0] ? json_string(r->baseline_id) : json_null());
	json_object_set_new(o, "pass", json_boolean(check_exit_code(r) == 0));
	json_object_set_new(o, "verdict", json_string(check_summary_word(r)));
	json_object_set_new(o, "failures", json_integer(r->failures));
	json_object_set_new(o, "missing", json_integer(r->missing));
	for (size_t i = 0; i < r->n; i++) {
		const struct check_row *w = &r->rows[i];
		json_t *x = json_object();
		json_object_set_new(x, "metric", json_string(w->metric));
		json_object_set_new(x, "kind", json_string(w->relative ? "baseline" : "absolute"));
		json_object_set_new(x, "value", num_or_null(w->value));
		json_object_set_new(x, "baseline", num_or_null(w->baseline));
		json_object_set_new(x, "change_pct", num_or_null(w->change_pct));
		json_object_set_new(x, "threshold", json_string(w->threshold));
		json_object_set_new(x, "verdict", json_string(check_verdict_name(w->verdict)));
		json_object_set_new(x, "note", json_string(w->note));
		if (w->sig_tested) {
			json_object_set_new(x, "p_value", json_real(w->sig.mw.p));
			json_object_set_new(x, "ci_lo_ms", json_real(w->sig.ci.lo));
			json_object_set_new(x, "ci_hi_ms", json_real(w->sig.ci.hi));
			json_object_set_new(x, "significant", json_boolean(w->sig.significant));
		}
		json_array_append_new(rows, x);
	}
	json_object_set_new(o, "rows", rows);
	return o;
}
