/*
 * runbook.c — steps.runbook.phases: a list of phases, parsed, checked and
 * written back in canonical form.
 *
 * The key table of spec.c describes maps of fixed keys; a runbook is a list
 * whose items each name their kind (`- insert: {set, from, to, rate}`), so
 * it has this small parser of its own. One table (`params`) says which
 * parameter each kind takes, its type and default; loading fills the
 * defaults, then every written parameter is parsed with the same scalar
 * parsers as the rest of the spec, errors naming the phase and key
 * ("spec.yaml:12:7: steps.runbook.phases[2].delete.to: must be greater than
 * from"). The canonical form lists, per phase, every parameter of its kind
 * with its value (defaults included) in sorted key order, as one compact
 * JSON list: JSON is also YAML flow syntax, so `spec show` prints the same
 * text and it loads back. Specs without a runbook step never reach this
 * file, so their digests are what they were.
 */
#include "engrave/spec.h"
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/text.h"
#include "spec_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *const spec_phase_kind_names[] = { "insert", "delete", "replace", "search", "wait", NULL };
const char *const spec_order_names[] = { "sequential", "clustered", "shuffled", NULL };
static const char *const set_names[] = { "corpus", "synthetic", NULL };

enum ptype { PT_BOOL, PT_SET, PT_U64, PT_RATE, PT_ORDER, PT_DUR, PT_UNTIL };

#define K_INS (1u << SPEC_PHASE_INSERT)
#define K_DEL (1u << SPEC_PHASE_DELETE)
#define K_REP (1u << SPEC_PHASE_REPLACE)
#define K_SEA (1u << SPEC_PHASE_SEARCH)
#define K_WAI (1u << SPEC_PHASE_WAIT)
#define K_WRITE (K_INS | K_DEL | K_REP)
#define K_ALL (K_WRITE | K_SEA | K_WAI)

/* A phase parameter; sorted by name (the canonical order). */
struct param {
	const char *name;
	enum ptype type;
	unsigned kinds;      /* K_* of the kinds that take it */
	unsigned required;   /* K_* of the kinds that must give it */
	size_t off;          /* field of struct spec_phase */
};

#define POFF(m) offsetof(struct spec_phase, m)

static const struct param params[] = {
	{ "concurrent", PT_BOOL, K_ALL, 0, POFF(concurrent) },
	{ "duration", PT_DUR, K_SEA, 0, POFF(duration_ns) },
	{ "from", PT_U64, K_WRITE, 0, POFF(from) },
	{ "k", PT_U64, K_SEA, 0, POFF(k) },
	{ "order", PT_ORDER, K_INS, 0, POFF(order) },
	{ "queries", PT_U64, K_SEA, 0, POFF(queries) },
	{ "rate", PT_RATE, K_WRITE | K_SEA, 0, POFF(rate) },
	{ "set", PT_SET, K_WRITE, 0, POFF(set) },
	{ "to", PT_U64, K_WRITE, K_WRITE, POFF(to) },
	{ "until", PT_UNTIL, K_WAI, K_WAI, POFF(duration_ns) },
	{ "with_from", PT_U64, K_REP, K_REP, POFF(with_from) },
	{ "with_set", PT_SET, K_REP, 0, POFF(with_set) },
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static void phase_defaults(struct spec_phase *p, enum spec_phase_kind kind)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->set = p->with_set = SPEC_SET_SYNTHETIC;
	p->order = SPEC_ORDER_SEQUENTIAL;
	p->rate = kind == SPEC_PHASE_SEARCH ? 100 : 0;
	p->duration_ns = kind == SPEC_PHASE_SEARCH ? 10 * NS_PER_S : 0;
	p->k = 10;
}

static int node_err(struct err *e, const char *file, const struct snode *n, const char *path, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));
static int node_err(struct err *e, const char *file, const struct snode *n, const char *path, const char *fmt, ...)
{
	char reason[ERR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return spec_err_at(e, file, n ? n->line : 1, n ? n->col : 1, n ? n->origin : NULL, path, reason);
}

static int index_of(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return i;
	return -1;
}

static int bad_name(struct err *e, const char *file, const struct snode *n, const char *path,
		    const char *const *names, const char *what)
{
	node_err(e, file, n, path, "unknown %s '%.60s'", what, n->str);
	const char *sug = text_suggest(n->str, names);
	return sug ? err_hint(e, "did you mean '%s'?", sug) : -1;
}

static int parse_param(const struct param *pp, const struct snode *v, struct spec_phase *p, const char *file,
		       const char *path, struct err *e)
{
	void *dst = (char *)p + pp->off;
	if (v->kind != SN_SCALAR || snode_is_null(v))
		return node_err(e, file, v, path, "expected a single value");
	int neg = 0, i;
	switch (pp->type) {
	case PT_BOOL:
		if (!strcmp(v->str, "true") || !strcmp(v->str, "false")) {
			*(int *)dst = v->str[0] == 't';
			return 0;
		}
		return node_err(e, file, v, path, "expected true or false, got '%.60s'", v->str);
	case PT_SET:
		if ((i = index_of(set_names, v->str)) < 0)
			return bad_name(e, file, v, path, set_names, "set");
		*(enum spec_set *)dst = (enum spec_set)i;
		return 0;
	case PT_ORDER:
		if ((i = index_of(spec_order_names, v->str)) < 0)
			return bad_name(e, file, v, path, spec_order_names, "order");
		*(enum spec_order *)dst = (enum spec_order)i;
		return 0;
	case PT_U64:
		if (!v->plain || spec_parse_u64(v->str, dst, &neg) || *(uint64_t *)dst > (uint64_t)1e12)
			return node_err(e, file, v, path, neg ? "must not be negative, got %s"
							      : "expected a whole number up to 10^12, got '%.60s'", v->str);
		return 0;
	case PT_RATE:
		if (!v->plain || spec_parse_f64(v->str, dst) || *(double *)dst < 0 || *(double *)dst > 1e7)
			return node_err(e, file, v, path, "expected a rate from 0 to 1e7 per second, got '%.60s'", v->str);
		return 0;
	case PT_UNTIL:
		if (!strcmp(v->str, "indexed")) {
			p->until_indexed = 1;
			return 0;
		}
		__attribute__((fallthrough)); /* a duration */
	case PT_DUR:
		if (spec_parse_dur(v->str, dst) || !*(uint64_t *)dst) {
			node_err(e, file, v, path, "bad duration '%.60s'", v->str);
			return err_hint(e, pp->type == PT_UNTIL ? "write until: indexed, or a duration such as 30s"
								: "write a number with a unit: 500ms, 10s, 2m");
		}
		return 0;
	}
	return 0;
}

static int load_phase(struct spec_phase *p, const struct snode *item, size_t i, const char *file, struct err *e)
{
	char path[160];
	snprintf(path, sizeof(path), "steps.runbook.phases[%zu]", i);
	if (item->kind != SN_MAP || item->n != 1) {
		node_err(e, file, item, path, "expected one phase such as {insert: {set: synthetic, from: 0, to: 1000}}");
		return err_hint(e, "a phase is insert, delete, replace, search or wait, with its settings");
	}
	const struct snode *kn = item->keys[0], *m = item->vals[0];
	int kind = index_of(spec_phase_kind_names, kn->str);
	if (kind < 0)
		return bad_name(e, file, kn, path, spec_phase_kind_names, "phase");
	phase_defaults(p, (enum spec_phase_kind)kind);
	p->line = kn->origin ? 0 : kn->line;
	p->col = kn->origin ? 0 : kn->col;
	snprintf(path, sizeof(path), "steps.runbook.phases[%zu].%s", i, kn->str);
	if (!snode_is_null(m) && m->kind != SN_MAP)
		return node_err(e, file, m, path, "expected a map of settings");
	unsigned bit = 1u << kind, given = 0;
	char kpath[240];
	const char *mine[NPARAMS + 1];
	size_t nm = 0;
	for (size_t j = 0; j < NPARAMS; j++)
		if (params[j].kinds & bit)
			mine[nm++] = params[j].name;
	mine[nm] = NULL;
	for (size_t j = 0; !snode_is_null(m) && j < m->n; j++) {
		snprintf(kpath, sizeof(kpath), "%s.%.40s", path, m->keys[j]->str);
		size_t q = 0;
		while (q < NPARAMS && (strcmp(params[q].name, m->keys[j]->str) || !(params[q].kinds & bit)))
			q++;
		if (q == NPARAMS)
			return bad_name(e, file, m->keys[j], kpath, mine, "key");
		if (parse_param(&params[q], m->vals[j], p, file, kpath, e))
			return -1;
		given |= 1u << q;
	}
	for (size_t q = 0; q < NPARAMS; q++)
		if ((params[q].required & bit) && !(given & (1u << q))) {
			snprintf(kpath, sizeof(kpath), "%s.%s", path, params[q].name);
			return node_err(e, file, kn, kpath, "required key missing");
		}
	int with_set_given = 0;
	for (size_t j = 0; !snode_is_null(m) && j < m->n; j++)
		with_set_given |= !strcmp(m->keys[j]->str, "with_set");
	if (!with_set_given) /* replace: new vectors from the same set by default */
		p->with_set = p->set;
	return 0;
}

int spec_runbook_load(struct spec *s, const struct snode *n, const char *file, struct err *e)
{
	struct spec_runbook *rb = &s->runbook;
	if (n->kind != SN_SEQ || !n->n) {
		node_err(e, file, n, "steps.runbook.phases", "expected a list of phases");
		return err_hint(e, "e.g. phases: [{insert: {set: synthetic, from: 0, to: 10000}}, "
				   "{search: {rate: 100, duration: 10s}}]");
	}
	if (n->n > SPEC_PHASES_MAX)
		return node_err(e, file, n, "steps.runbook.phases", "%zu phases (at most %d)", n->n, SPEC_PHASES_MAX);
	rb->n_phases = 0;
	for (size_t i = 0; i < n->n; i++, rb->n_phases++)
		if (load_phase(&rb->phases[i], n->vals[i], i, file, e))
			return -1;
	return 0;
}

/* ---- rules against the rest of the spec --------------------------------------- */

/* Rows of a set when the spec knows them (0: unknown, e.g. a corpus without limit). */
static uint64_t set_rows(const struct spec *s, enum spec_set set, int *exists)
{
	int vec_corpus = s->corpus.present && (s->corpus.source == SPEC_SRC_NPY || s->corpus.source == SPEC_SRC_FVECS);
	if (set == SPEC_SET_SYNTHETIC) {
		*exists = s->synthetic.present;
		return s->synthetic.count;
	}
	*exists = s->embed.present || vec_corpus;
	return s->corpus.present ? s->corpus.limit : 0;
}

static int phase_err(const char *file, int line, int col, const struct spec_phase *p, size_t i, const char *key,
		     struct err *e, const char *reason)
{
	char path[200];
	snprintf(path, sizeof(path), "steps.runbook.phases[%zu].%s%s%.40s", i, spec_phase_kind_names[p->kind],
		 key ? "." : "", key ? key : "");
	return spec_err_at(e, file, p->line ? p->line : line, p->line ? p->col : col, NULL, path, reason);
}

static int check_rows(const struct spec *s, const char *file, int line, int col, const struct spec_phase *p, size_t i,
		      enum spec_set set, uint64_t from, uint64_t n, const char *key, struct err *e)
{
	char why[200];
	int exists;
	uint64_t rows = set_rows(s, set, &exists);
	if (!exists) {
		snprintf(why, sizeof(why), "set %s needs %s", set_names[set],
			 set == SPEC_SET_SYNTHETIC ? "steps.synthetic" : "corpus vectors (steps.corpus and steps.embed)");
		return phase_err(file, line, col, p, i, key, e, why);
	}
	if (rows && from + n > rows) {
		snprintf(why, sizeof(why), "rows %llu..%llu are past the %llu rows of set %s", (unsigned long long)from,
			 (unsigned long long)(from + n), (unsigned long long)rows, set_names[set]);
		return phase_err(file, line, col, p, i, key, e, why);
	}
	return 0;
}

int spec_runbook_check(const struct spec *s, const char *file, int line, int col, struct err *e)
{
	const struct spec_runbook *rb = &s->runbook;
	for (size_t i = 0; i < rb->n_phases; i++) {
		const struct spec_phase *p = &rb->phases[i];
		char why[200];
		if (i == 0 && p->concurrent)
			return phase_err(file, line, col, p, i, "concurrent", e, "the first phase has no phase to run with");
		if (p->kind == SPEC_PHASE_SEARCH) {
			if (!s->queries.present)
				return phase_err(file, line, col, p, i, NULL, e, "a search needs steps.queries (its query vectors)");
			if (!(p->rate > 0))
				return phase_err(file, line, col, p, i, "rate", e, "a search runs at a rate above 0");
			if (p->k < 1 || p->k > 1000)
				return phase_err(file, line, col, p, i, "k", e, "k must be from 1 to 1000");
			if (p->queries > s->queries.count) {
				snprintf(why, sizeof(why), "%llu queries, but steps.queries makes %llu",
					 (unsigned long long)p->queries, (unsigned long long)s->queries.count);
				return phase_err(file, line, col, p, i, "queries", e, why);
			}
			if (p->rate * ((double)p->duration_ns / 1e9) > 1e8)
				return phase_err(file, line, col, p, i, "duration", e, "more than 10^8 searches in one phase");
			continue;
		}
		if (p->kind == SPEC_PHASE_WAIT)
			continue;
		if (p->to <= p->from)
			return phase_err(file, line, col, p, i, "to", e, "must be greater than from");
		if (check_rows(s, file, line, col, p, i, p->set, p->from, p->to - p->from, "to", e))
			return -1;
		if (p->kind == SPEC_PHASE_REPLACE &&
		    check_rows(s, file, line, col, p, i, p->with_set, p->with_from, p->to - p->from, "with_from", e))
			return -1;
		if (p->order == SPEC_ORDER_CLUSTERED && p->set != SPEC_SET_SYNTHETIC)
			return phase_err(file, line, col, p, i, "order", e,
					 "clustered order needs centroid labels: only set synthetic has them");
	}
	return 0;
}

/* ---- canonical form ----------------------------------------------------------- */

static int emit_param(const struct param *pp, const struct spec_phase *p, struct buf *out, struct err *e)
{
	const void *f = (const char *)p + pp->off;
	char tmp[64];
	switch (pp->type) {
	case PT_BOOL:
		return buf_append_str(out, *(const int *)f ? "true" : "false", e);
	case PT_SET:
		return buf_printf(out, e, "\"%s\"", set_names[*(const enum spec_set *)f]);
	case PT_ORDER:
		return buf_printf(out, e, "\"%s\"", spec_order_names[*(const enum spec_order *)f]);
	case PT_U64:
		return buf_printf(out, e, "%llu", (unsigned long long)*(const uint64_t *)f);
	case PT_RATE:
		spec_fmt_double(*(const double *)f, tmp, sizeof(tmp));
		return buf_append_str(out, tmp, e);
	case PT_UNTIL:
		if (p->until_indexed)
			return buf_append_str(out, "\"indexed\"", e);
		__attribute__((fallthrough));
	case PT_DUR:
		spec_fmt_duration(*(const uint64_t *)f, tmp, sizeof(tmp));
		return buf_printf(out, e, "\"%s\"", tmp);
	}
	return 0;
}

int spec_runbook_emit(const struct spec *s, struct buf *out, struct err *e)
{
	const struct spec_runbook *rb = &s->runbook;
	if (buf_append_str(out, "[", e))
		return -1;
	for (size_t i = 0; i < rb->n_phases; i++) {
		const struct spec_phase *p = &rb->phases[i];
		if (buf_printf(out, e, "%s{\"%s\":{", i ? "," : "", spec_phase_kind_names[p->kind]))
			return -1;
		int first = 1;
		for (size_t q = 0; q < NPARAMS; q++) {
			if (!(params[q].kinds & (1u << p->kind)))
				continue;
			if (buf_printf(out, e, "%s\"%s\":", first ? "" : ",", params[q].name) ||
			    emit_param(&params[q], p, out, e))
				return -1;
			first = 0;
		}
		if (buf_append_str(out, "}}", e))
			return -1;
	}
	return buf_append_str(out, "]", e);
}
