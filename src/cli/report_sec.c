/*
 * report_sec.c — the report's table sections: spec, environment, steps,
 * recall, runbook, errors and verdicts (reporthtml.h).
 *
 * Every figure comes from code that already owns it: the run as JSON
 * (report_run_json, whose "env" object other changes extend: it is rendered
 * key by key, nested objects as nested tables, so new keys appear without a
 * change here), the error groups (errtable.h), the verdicts (check_run: the
 * same engine and the same rows as `engrave check`). A verdict the data
 * cannot support reads MISSING, never pass.
 */
#include "cli.h"
#include "html.h"
#include "reporthtml.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/errtable.h"
#include "engrave/rbplot.h"
#include "engrave/sched.h"
#include "engrave/spec.h"
#include "engrave/svgplot.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int report_none(struct buf *b, const char *why, struct err *e)
{
	return buf_append_str(b, "<p class=\"none\">", e) || html_text(b, why, e) || buf_append_str(b, "</p>\n", e);
}

double report_metric(const struct run_record *r, const char *key)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return r->metrics[i].value;
	return NAN;
}

static int kv_row(struct buf *b, const char *k, const char *v, struct err *e)
{
	const char *cells[] = { k, v };
	return html_row(b, e, 2, cells);
}

int report_sec_spec(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	const char *digest = json_string_value(json_object_get(c->j, "spec_digest"));
	json_t *ov = json_object_get(c->j, "overrides");
	if (html_section(b, "spec", "Spec", e) || buf_append_str(b, "<table class=\"kv\">\n", e) ||
	    kv_row(b, "name", c->run->spec_name, e) || kv_row(b, "digest", digest ? digest : "", e))
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach(ov, i, v)
	{
		if (kv_row(b, i ? "" : "overrides", json_string_value(v), e))
			return -1;
	}
	if (!json_array_size(ov) && kv_row(b, "overrides", "none", e))
		return -1;
	if (buf_append_str(b, "</table>\n", e))
		return -1;
	if (!c->run->spec_text)
		return report_none(b, "the run stored no spec text", e) || html_section_end(b, e);
	return buf_append_str(b, "<pre class=\"spec-text\">", e) || html_text(b, c->run->spec_text, e) ||
	       buf_append_str(b, "</pre>\n", e) || html_section_end(b, e);
}

/* A JSON value as a table cell's text (objects are tables of their own). */
static void scalar_text(json_t *v, char *out, size_t cap)
{
	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, cap, "%.6g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_null(v))
		snprintf(out, cap, "-");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
		snprintf(out, cap, "%s", s ? s : "?");
		free(s);
	}
}

static int env_table(struct buf *b, json_t *o, int depth, struct err *e)
{
	const char *k;
	json_t *v;
	if (buf_append_str(b, "<table class=\"kv\">\n", e))
		return -1;
	json_object_foreach(o, k, v)
	{
		if (json_is_object(v) && depth < 4) {
			if (buf_append_str(b, "<tr><td>", e) || html_text(b, k, e) || buf_append_str(b, "</td><td>", e) ||
			    env_table(b, v, depth + 1, e) || buf_append_str(b, "</td></tr>\n", e))
				return -1;
			continue;
		}
		char t[1024];
		scalar_text(v, t, sizeof(t));
		if (kv_row(b, k, t, e))
			return -1;
	}
	return buf_append_str(b, "</table>\n", e);
}

int report_sec_env(struct report_ctx *c, struct err *e)
{
	json_t *env = json_object_get(c->j, "env");
	if (html_section(c->out, "environment", "Environment", e))
		return -1;
	if (!json_is_object(env) || !json_object_size(env))
		return report_none(c->out, "the run recorded no environment", e) || html_section_end(c->out, e);
	return env_table(c->out, env, 0, e) || html_section_end(c->out, e);
}

int report_sec_steps(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	json_t *steps = json_object_get(c->j, "steps"), *s;
	size_t i;
	if (html_section(b, "steps", "Steps", e))
		return -1;
	if (!json_array_size(steps))
		return report_none(b, "the run has no steps", e) || html_section_end(b, e);
	if (buf_append_str(b, "<table>\n<tr><th>step</th><th>state</th><th>time</th><th>outputs</th><th>summary</th></tr>\n",
			   e))
		return -1;
	json_array_foreach(steps, i, s)
	{
		char t[32];
		double secs = json_number_value(json_object_get(s, "elapsed_s"));
		if (secs > 0)
			svgplot_format_ms(secs * 1000, t, sizeof(t));
		else
			snprintf(t, sizeof(t), "-");
		if (buf_append_str(b, "<tr><td>", e) || html_text(b, json_string_value(json_object_get(s, "name")), e) ||
		    buf_append_str(b, "</td><td>", e) || html_text(b, json_string_value(json_object_get(s, "state")), e) ||
		    buf_printf(b, e, "</td><td class=\"num\">%s</td><td>", t))
			return -1;
		size_t k;
		json_t *d;
		json_array_foreach(json_object_get(s, "outputs"), k, d)
		{
			if ((k && buf_append_str(b, " ", e)) || html_short_digest(b, json_string_value(d), e))
				return -1;
		}
		if (buf_append_str(b, "</td><td>", e) || html_text(b, json_string_value(json_object_get(s, "message")), e) ||
		    buf_append_str(b, "</td></tr>\n", e))
			return -1;
	}
	return buf_append_str(b, "</table>\n", e) || html_section_end(b, e);
}

/* ---- recall --------------------------------------------------------------- */

/* Sweep values with a recall: "sweep.<kind>=<value>.recall". */
static size_t sweep_recalls(const struct run_record *r, double *x, double *y, size_t cap, char *kind, size_t kcap)
{
	size_t n = 0;
	for (int i = 0; i < r->n_metrics && n < cap; i++) {
		const char *k = r->metrics[i].key, *eq = strchr(k, '=');
		size_t kl = strlen(k);
		if (strncmp(k, "sweep.", 6) || !eq || kl < 7 || strcmp(k + kl - 7, ".recall"))
			continue;
		snprintf(kind, kcap, "%.*s", (int)(eq - k - 6), k + 6);
		x[n] = strtod(eq + 1, NULL);
		y[n++] = r->metrics[i].value;
	}
	return n;
}

int report_sec_recall(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	int rows = 0;
	if (html_section(b, "recall", "Recall", e))
		return -1;
	for (int i = 0; i < c->run->n_metrics; i++) {
		const char *k = c->run->metrics[i].key;
		if (strncmp(k, "recall", 6) && !(strncmp(k, "sweep.", 6) == 0 && strstr(k, ".recall")))
			continue;
		char v[32];
		snprintf(v, sizeof(v), "%.4f", c->run->metrics[i].value);
		if ((!rows++ && buf_append_str(b, "<table>\n<tr><th>metric</th><th>value</th></tr>\n", e)) ||
		    kv_row(b, k, v, e))
			return -1;
	}
	if (!rows) {
		json_t *notes = json_object_get(c->j, "notes");
		const char *why = json_string_value(json_array_get(notes, 0));
		return report_none(b, why ? why : "no recall was measured (the load test has no recall queries)", e) ||
		       html_section_end(b, e);
	}
	if (buf_append_str(b, "</table>\n", e))
		return -1;
	double x[64], y[64];
	char kind[32] = "value", title[96];
	size_t n = sweep_recalls(c->run, x, y, 64, kind, sizeof(kind));
	if (n > 1) {
		snprintf(title, sizeof(title), "recall by %s", kind);
		struct svgplot_line l = { "recall@k", x, y, n };
		struct svgplot_xy p = { title, kind, "recall", SVGPLOT_NUMBER, 0, &l, 1 };
		struct buf svg;
		buf_init(&svg, 0);
		int rc = svgplot_lines(&p, &svg, e) || html_svg(b, &svg, e);
		buf_release(&svg);
		if (rc)
			return -1;
	}
	return html_section_end(b, e);
}


/* The runbook's phases: the steps.csv table, recall and p99 per phase
 * (rbplot.h) and the readiness tracers. */
int report_sec_runbook(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out, csv, svg;
	if (html_section(b, "runbook", "Runbook", e))
		return -1;
	buf_init(&csv, 0);
	buf_init(&svg, 0);
	struct err le = ERR_INIT;
	if (rbplot_run_csv(c->st, c->run, &csv, &le)) {
		buf_release(&csv);
		if (le.cls != ERR_MISSING) {
			*e = le;
			return -1;
		}
		return report_none(b, "no runbook in this run (steps.runbook)", e) || html_section_end(b, e);
	}
	char title[300];
	snprintf(title, sizeof(title), "%s: recall and p99 per phase (run %s)", c->run->spec_name, c->run->id);
	struct err pe = ERR_INIT; /* a runbook without search phases has nothing to plot */
	int rc = rbplot_svg(csv.data, csv.len, title, &svg, &pe) == 0 && html_svg(b, &svg, e);
	rc = rc || buf_append_str(b, "<table>\n", e);
	/* our own CSV: a header line, then rows of plain fields (kind names, numbers) */
	for (char *line = csv.data, *next; !rc && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		const char *cells[16];
		size_t n = 0;
		for (char *f = line, *comma; n < 16; f = comma + 1) {
			comma = strchr(f, ',');
			if (comma)
				*comma = '\0';
			cells[n++] = f;
			if (!comma)
				break;
		}
		if (line == csv.data) {
			rc = buf_append_str(b, "<tr>", e);
			for (size_t k = 0; !rc && k < n; k++)
				rc = buf_append_str(b, "<th>", e) || html_text(b, cells[k], e) || buf_append_str(b, "</th>", e);
			rc = rc || buf_append_str(b, "</tr>\n", e);
		} else {
			rc = html_row(b, e, n, cells);
		}
	}
	rc = rc || buf_append_str(b, "</table>\n", e);
	int rows = 0;
	for (int i = 0; !rc && i < c->run->n_metrics; i++) {
		const char *k = c->run->metrics[i].key;
		if (strncmp(k, "runbook.", 8) || isdigit((unsigned char)k[8]))
			continue; /* the per-phase ones are the table above */
		char v[32];
		snprintf(v, sizeof(v), "%.4g", c->run->metrics[i].value);
		rc = (!rows++ && buf_append_str(b, "<table>\n<tr><th>metric</th><th>value</th></tr>\n", e)) || kv_row(b, k, v, e);
	}
	rc = rc || (rows && buf_append_str(b, "</table>\n", e));
	buf_release(&csv);
	buf_release(&svg);
	return rc || html_section_end(b, e);
}

/* ---- errors --------------------------------------------------------------- */

int report_sec_errors(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	if (html_section(b, "errors", "Errors", e))
		return -1;
	if (!c->have_recs)
		return report_none(b, c->no_recs, e) || html_section_end(b, e);
	struct errtable t;
	errtable_build(c->rr.recs.v, c->rr.recs.n, c->rr.msgs, c->rr.n_msgs, &t);
	int rc = 0;
	if (!t.n) {
		rc = report_none(b, "no request failed", e);
	} else {
		rc = buf_printf(b, e, "<p>%llu failed requests (warm-up excluded)%s</p>\n", (unsigned long long)t.total,
				c->rr.has_msgs ? "" : "; this run predates recorded messages: each shows its status's meaning") ||
		     buf_append_str(b,
				    "<table>\n<tr><th>op</th><th>status</th><th>class</th><th>count</th><th>warm-up</th>"
				    "<th>first message</th></tr>\n",
				    e);
		for (size_t i = 0; !rc && i < t.n; i++) {
			const struct errtable_row *r = &t.rows[i];
			char st[16], n[24], w[24], msg[LOADGEN_ERR_MSG + 32];
			snprintf(st, sizeof(st), "%u", r->status);
			snprintf(n, sizeof(n), "%llu", (unsigned long long)r->count);
			snprintf(w, sizeof(w), "%llu", (unsigned long long)r->warmup);
			snprintf(msg, sizeof(msg), "%s%s", r->msg, r->from_target ? "" : " (no message recorded)");
			const char *cells[] = { r->op < OP_KIND_COUNT ? sched_op_name((enum op_kind)r->op) : "?", st,
						records_err_name((enum record_err)r->err), n, w, msg };
			rc = html_row(b, e, 6, cells);
		}
		rc = rc || buf_append_str(b, "</table>\n", e);
	}
	errtable_release(&t);
	return rc || html_section_end(b, e);
}

/* ---- verdicts ------------------------------------------------------------- */

static void fmt_num(double v, char *out, size_t cap)
{
	if (isfinite(v))
		snprintf(out, cap, "%.4g", v);
	else
		snprintf(out, cap, "MISSING");
}

static const char *row_word(const struct check_row *r)
{
	switch (r->verdict) {
	case CHECK_PASS: return r->relative && r->has_verdict ? verdict_kind_name(r->v.kind) : "pass";
	case CHECK_FAIL: return r->relative && r->v.untrusted ? "UNTRUSTED regression" : "FAIL";
	case CHECK_NOISE: return "noise (passes)";
	default: return "MISSING";
	}
}

static int verdict_row(struct buf *b, const struct check_row *r, struct err *e)
{
	char val[24], base[24], chg[24] = "-", ci[48] = "-", noise[24] = "-", method[32] = "-";
	fmt_num(r->value, val, sizeof(val));
	if (r->relative)
		fmt_num(r->baseline, base, sizeof(base));
	else
		snprintf(base, sizeof(base), "-");
	const char *unit = r->has_verdict && r->v.pp ? "pp" : "%";
	if (isfinite(r->change_pct))
		snprintf(chg, sizeof(chg), "%+.2f%s", r->change_pct, unit);
	if (r->has_verdict && isfinite(r->v.ci_lo) && isfinite(r->v.ci_hi))
		snprintf(ci, sizeof(ci), "%+.2f .. %+.2f%s", r->v.ci_lo, r->v.ci_hi, unit);
	if (r->has_verdict && r->v.noise > 0)
		snprintf(noise, sizeof(noise), "%.2f%s", r->v.noise, unit);
	if (r->has_verdict)
		snprintf(method, sizeof(method), "%s", verdict_method_name(r->v.method));
	const char *word = row_word(r);
	const char *cells[] = { r->metric, val, base, chg, ci, noise, method, r->threshold, word, r->note };
	const char *cls = r->verdict == CHECK_FAIL ? "bad" : r->verdict == CHECK_MISSING ? "missing" : "good";
	if (buf_printf(b, e, "<tr class=\"%s\">", cls))
		return -1;
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		if (html_elem(b, "td", cells[i], e))
			return -1;
	return buf_append_str(b, "</tr>\n", e);
}

/* One table: the run against base (NULL: its absolute checks only). */
static int verdict_table(struct report_ctx *c, const struct run_record *base, const char *label, struct err *e)
{
	struct buf *b = c->out;
	struct check_result res;
	memset(&res, 0, sizeof(res));
	if (check_run(c->st, c->run, c->sp, base, NULL, &res, e))
		return -1;
	int rc = buf_append_str(b, "<h3>", e) || html_text(b, label, e) || buf_append_str(b, "</h3>\n", e);
	if (!rc && !res.n)
		rc = report_none(b, "nothing to check: the spec has no checks", e);
	else if (!rc) {
		rc = buf_printf(b, e, "<p class=\"summary\">%s: %d of %zu checks failed, %d missing</p>\n",
				check_summary_word(&res), res.failures, res.n, res.missing) ||
		     buf_append_str(b,
				    "<table>\n<tr><th>metric</th><th>run</th><th>baseline</th><th>change</th><th>95% CI</th>"
				    "<th>noise floor</th><th>method</th><th>threshold</th><th>verdict</th><th>note</th></tr>\n",
				    e);
		for (size_t i = 0; !rc && i < res.n; i++)
			rc = verdict_row(b, &res.rows[i], e);
		rc = rc || buf_append_str(b, "</table>\n", e);
		if (!rc && res.busy[0])
			rc = report_none(b, res.busy, e);
	}
	check_result_release(&res);
	return rc;
}

int report_sec_verdicts(struct report_ctx *c, struct err *e)
{
	struct buf *b = c->out;
	if (html_section(b, "verdicts", "Verdicts", e) ||
	    (buf_append_str(b, "<p class=\"rule\">", e) || html_text(b, verdict_rule_text, e) ||
	     buf_append_str(b, "</p>\n", e)))
		return -1;
	if (strcmp(c->run->status, "done"))
		return report_none(b, "the run did not finish: its metrics are incomplete, so there is no verdict (MISSING)",
				   e) ||
		       html_section_end(b, e);
	if (!c->n_base) {
		if (report_none(b, c->base_note[0] ? c->base_note : "no baseline", e) ||
		    (c->sp && c->sp->n_checks && verdict_table(c, NULL, "the spec's absolute checks", e)))
			return -1;
		return html_section_end(b, e);
	}
	for (int i = 0; i < c->n_base; i++) {
		char label[160];
		snprintf(label, sizeof(label), "against %s", c->base_label[i]);
		if (verdict_table(c, &c->base[i], label, e))
			return -1;
	}
	return html_section_end(b, e);
}
