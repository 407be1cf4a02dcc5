/*
 * check.c — absolute thresholds and baseline tolerances (see check.h).
 *
 * Rows are produced in a fixed order: the spec's absolute checks (sorted by
 * metric, as the spec module keeps them), then the relative ones, whose
 * verdicts come from the verdict engine (verdict.h) unchanged: `diff` and
 * `log` read the same engine, so the three cannot disagree. The engine
 * loads the per-request records only when a tolerance is breached, so a
 * passing check never pays for the statistics.
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

/* A baseline-relative row from the engine's verdict. */
static void relative_row(struct check_result *res, size_t *cap, const struct verdict *v)
{
	struct check_row *row = new_row(res, cap);
	snprintf(row->metric, sizeof(row->metric), "%s", v->metric);
	row->relative = 1;
	row->v = *v;
	row->has_verdict = 1;
	row->value = v->b;
	row->baseline = v->a;
	row->change_pct = v->change;
	snprintf(row->threshold, sizeof(row->threshold), "%+g%s", v->worse_sign * v->tol, v->pp ? "pp" : "%");
	snprintf(row->note, sizeof(row->note), "%.191s", v->why);
	switch (v->kind) {
	case VERDICT_MISSING:
		row->verdict = CHECK_MISSING;
		break;
	case VERDICT_REGRESSION:
		row->verdict = CHECK_FAIL;
		break;
	case VERDICT_SAME:
		row->verdict = v->breach ? CHECK_NOISE : CHECK_PASS;
		break;
	case VERDICT_IMPROVEMENT:
	case VERDICT_INFO:
		row->verdict = CHECK_PASS;
		break;
	}
}

int check_run(struct store *st, const struct run_record *run, const struct spec *sp,
	      const struct run_record *base, const struct verdict_opts *o, struct check_result *out,
	      struct err *e)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->run_id, sizeof(out->run_id), "%s", run->id);
	if (base)
		snprintf(out->baseline_id, sizeof(out->baseline_id), "%s", base->id);
	size_t cap = 0;
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
		struct verdict_set vs;
		struct verdict_opts def;
		if (!o) {
			verdict_opts_default(&def);
			o = &def;
		}
		struct verdict_opts gated_only = *o;
		gated_only.all_metrics = 0;
		if (verdict_pair(st, base, run, sp, &gated_only, &vs, e)) {
			check_result_release(out);
			return -1;
		}
		for (size_t i = 0; i < vs.n; i++)
			if (vs.v[i].gated)
				relative_row(out, &cap, &vs.v[i]);
		snprintf(out->busy, sizeof(out->busy), "%s", vs.busy);
		verdict_set_release(&vs);
	}
	for (size_t i = 0; i < out->n; i++) {
		out->failures += out->rows[i].verdict == CHECK_FAIL;
		out->untrusted += out->rows[i].verdict == CHECK_FAIL && out->rows[i].v.untrusted;
		out->missing += out->rows[i].verdict == CHECK_MISSING;
	}
	return 0;
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
	int w = 16; /* the metric column: as wide as the longest name (runbook.3.write_rate) */
	for (size_t i = 0; i < r->n; i++)
		if ((int)strlen(r->rows[i].metric) > w)
			w = (int)strlen(r->rows[i].metric);
	if (buf_printf(out, e, "%-*s %-9s %12s %12s %9s %10s  %-7s %s\n", w, "metric", "kind", "value", "baseline",
		       "change", "threshold", "verdict", "note"))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct check_row *row = &r->rows[i];
		char v[32], b[32], c[32];
		fmt_num(v, sizeof(v), row->value);
		fmt_num(b, sizeof(b), row->baseline);
		if (isnan(row->change_pct))
			snprintf(c, sizeof(c), "-");
		else
			snprintf(c, sizeof(c), "%+.2f%s", row->change_pct, strstr(row->threshold, "pp") ? "pp" : "%");
		if (buf_printf(out, e, "%-*s %-9s %12s %12s %9s %10s  %-7s %s\n", w, row->metric,
			       row->relative ? "baseline" : "absolute", v, b, c, row->threshold,
			       check_verdict_name(row->verdict), row->note))
			return -1;
	}
	return 0;
}

/* Every failure is an untrusted regression (the machine was busy). */
static int only_untrusted(const struct check_result *r)
{
	return r->failures && r->untrusted == r->failures;
}

int check_exit_code(const struct check_result *r)
{
	if (only_untrusted(r))
		return r->strict_noise ? 3 : 1;
	return r->failures ? 1 : r->missing || r->n == 0 ? 3 : 0;
}

const char *check_summary_word(const struct check_result *r)
{
	if (only_untrusted(r))
		return r->strict_noise ? "NO VERDICT (machine busy)" : "UNTRUSTED REGRESSION (machine busy)";
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
	json_object_set_new(o, "untrusted", json_integer(r->untrusted));
	json_object_set_new(o, "machine_busy", r->busy[0] ? json_string(r->busy) : json_null());
	json_object_set_new(o, "rule", json_string(verdict_rule_text));
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
		if (w->has_verdict)
			json_object_set_new(x, "stats", verdict_json(&w->v));
		json_array_append_new(rows, x);
	}
	json_object_set_new(o, "rows", rows);
	return o;
}
