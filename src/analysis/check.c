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
#include "engrave/err.h"
#include "engrave/spec.h"
#include "engrave/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *check_verdict_name(enum check_verdict v)
{
	return v == CHECK_PASS ? "pass" : v == CHECK_FAIL ? "FAIL" : "noise";
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

static struct check_row *new_row(struct check_result *res, size_t *cap, struct err *e)
{
	if (res->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct check_row *p = realloc(res->rows, nc * sizeof(*p));
		if (!p) {
			err_set(e, ERR_NOSPACE, "check: out of memory");
			return NULL;
		}
		res->rows = p;
		*cap = nc;
	}
	struct check_row *row = &res->rows[res->n++];
	memset(row, 0, sizeof(*row));
	row->baseline = row->change_pct = NAN;
	return row;
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
	struct check_row *row = new_row(res, cap, e);
	if (!row)
		return -1;
	snprintf(row->metric, sizeof(row->metric), "%s", metric);
	row->relative = 1;
	snprintf(row->threshold, sizeof(row->threshold), "%+g%%", pct);
	int hv = metric_of(run, metric, &row->value), hb = metric_of(base, metric, &row->baseline);
	if (!hv || !hb) {
		row->verdict = CHECK_FAIL;
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
		struct check_row *row = new_row(out, &cap, e);
		if (!row)
			goto out;
		snprintf(row->metric, sizeof(row->metric), "%s", c->metric);
		snprintf(row->threshold, sizeof(row->threshold), "%s %g", spec_op_names[c->op], c->value);
		if (!metric_of(run, c->metric, &row->value)) {
			row->verdict = CHECK_FAIL;
			snprintf(row->note, sizeof(row->note), "not measured in this run");
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
				struct check_row *row = new_row(out, &cap, e);
				if (!row)
					goto out;
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
	for (size_t i = 0; i < out->n; i++)
		out->failures += out->rows[i].verdict == CHECK_FAIL;
	rc = 0;
out:
	compare_recs_free(lz.ra);
	compare_recs_free(lz.rb);
	if (rc)
		check_result_release(out);
	return rc;
}
