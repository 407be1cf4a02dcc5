/*
 * history.c — a metric's series over a spec's runs (see history.h).
 *
 * Three passes. run_list visits runs in id order, which is creation order
 * (ids start with the UTC second), and the callback copies id, time and
 * value, since the record it gets lives only for the call (and the store
 * is not read again inside it). Then each run is loaded once more: its
 * stored spec text is loaded and digested by the current code (a default
 * added since, or a key written out, is then no change; a text that no
 * longer loads falls back to the digest stored with the run), and its
 * uncertainty comes from history_point_sigma. Runs whose digest differs
 * from the run before start a new group, and compare_spec_changes names
 * the key paths between the two runs at the boundary. Last,
 * stats_detect_steps fits each group (or, across_specs, the whole series)
 * and the steps are named by their run ids.
 *
 * history_point_sigma is the verdict engine's verdict_run_sigma (the
 * spread of the repeats, or a bootstrap of blocks of time of the run's
 * records), so history weighs runs by the same uncertainty check and diff
 * judge them with. The noise between runs on top of that is the step
 * detector's business (its tau).
 */
#include "engrave/history.h"
#include "engrave/verdict.h"
#include "engrave/buf.h"
#include "engrave/compare.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coll {
	const char *spec, *metric;
	int all;
	struct history *h;
	size_t cap;
};

static int visit(const struct run_record *r, void *ctx)
{
	struct coll *c = ctx;
	if (strcmp(r->spec_name, c->spec) || (!c->all && strcmp(r->status, "done")))
		return 0;
	for (int i = 0; i < r->n_metrics; i++) {
		if (strcmp(r->metrics[i].key, c->metric))
			continue;
		if (c->h->n == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 64;
			c->h->pts = xrealloc_array(c->h->pts, nc, sizeof(*c->h->pts));
			c->cap = nc;
		}
		struct history_point *p = &c->h->pts[c->h->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->run_id, sizeof(p->run_id), "%s", r->id);
		p->created = r->created;
		p->value = r->metrics[i].value;
		p->sigma = NAN;
		break;
	}
	return 0;
}

void history_release(struct history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_groups; i++)
		json_decref(h->groups[i].changes);
	free(h->pts);
	free(h->groups);
	free(h->steps);
	memset(h, 0, sizeof(*h));
}

int history_point_sigma(struct store *st, const struct run_record *r, const char *metric, double *sigma,
			struct err *e)
{
	*sigma = NAN;
	double pct;
	if (!compare_is_latency(metric, &pct) || pct >= 100)
		return 0; /* a max has no stable standard error */
	return verdict_run_sigma(st, r, metric, NULL, sigma, e);
}

/* The run's canonical spec digest under the current code; the stored
 * digest when its spec text is missing or no longer loads. */
static void canonical_digest(const struct run_record *r, struct digest *out)
{
	struct spec *sp = NULL;
	struct err e = ERR_INIT;
	*out = r->spec_digest;
	if (!r->spec_text)
		return;
	if (target_spec_load_stored(r->spec_text, strlen(r->spec_text), r->id, &sp, &e))
		log_debug("run %s: stored spec does not load, grouped by its stored digest: %s", r->id, e.msg);
	else
		spec_digest(sp, out);
	spec_free(sp);
}

static void group_open(struct history *h, size_t first, const struct digest *d, json_t *changes)
{
	h->groups = xrealloc_array(h->groups, h->n_groups + 1, sizeof(*h->groups));
	struct history_group *g = &h->groups[h->n_groups++];
	memset(g, 0, sizeof(*g));
	g->first = first;
	g->spec = *d;
	g->changes = changes;
}

/* Pass two: each run's sigma and canonical digest, and the groups. */
static int history_group(struct store *st, const char *metric, struct history *h, struct err *e)
{
	struct run_record prev, cur;
	memset(&prev, 0, sizeof(prev));
	struct digest pd = { 0 };
	int rc = -1;
	for (size_t i = 0; i < h->n; i++) {
		struct history_point *p = &h->pts[i];
		if (run_get(st, p->run_id, &cur, e))
			goto out;
		struct digest d;
		canonical_digest(&cur, &d);
		if (history_point_sigma(st, &cur, metric, &p->sigma, e)) {
			run_record_release(&cur);
			goto out;
		}
		h->n_unknown += isnan(p->sigma);
		if (!i || !digest_equal(&d, &pd))
			group_open(h, i, &d, i ? compare_spec_changes(&prev, &cur) : NULL);
		h->groups[h->n_groups - 1].n++;
		p->group = h->n_groups - 1;
		pd = d;
		run_record_release(&prev);
		prev = cur;
	}
	rc = 0;
out:
	run_record_release(&prev);
	return rc;
}

/* Pass three: steps in pts[first .. first + n), one fit; its noise and
 * scale go to groups g0 .. g1. */
static int history_fit(struct history *h, size_t first, size_t n, size_t g0, size_t g1, double min_rel,
		       struct err *e)
{
	double *x = xmalloc_array(n, sizeof(*x)), *s = xmalloc_array(n, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		x[i] = h->pts[first + i].value;
		s[i] = h->pts[first + i].sigma;
	}
	struct stats_steps f;
	int rc = stats_detect_steps(x, s, n, min_rel, &f, e);
	free(x);
	free(s);
	if (rc) {
		stats_steps_release(&f);
		return -1;
	}
	for (size_t g = g0; g <= g1; g++) {
		h->groups[g].fill = f.fill;
		h->groups[g].tau = f.tau;
		h->groups[g].log_scale = f.log_scale;
	}
	for (size_t i = 0; i < n; i++)
		h->pts[first + i].outlier = f.outlier[i];
	if (f.n_steps)
		h->steps = xrealloc_array(h->steps, h->n_steps + f.n_steps, sizeof(*h->steps));
	for (size_t i = 0; i < f.n_steps; i++) {
		struct history_step *hs = &h->steps[h->n_steps++];
		hs->s = f.steps[i];
		hs->s.index += first;
		hs->group = h->pts[hs->s.index].group;
		snprintf(hs->run_id, sizeof(hs->run_id), "%s", h->pts[hs->s.index].run_id);
		snprintf(hs->prev_id, sizeof(hs->prev_id), "%s", h->pts[hs->s.index - 1].run_id);
	}
	stats_steps_release(&f);
	return 0;
}

int history_collect(struct store *st, const char *spec_name, const char *metric, const struct history_opts *o,
		    struct history *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct coll c = { spec_name, metric, o->all_status, out, 0 };
	if (run_list(st, visit, &c, e) || history_group(st, metric, out, e))
		goto fail;
	if (o->across_specs && out->n) {
		if (history_fit(out, 0, out->n, 0, out->n_groups - 1, o->min_rel, e))
			goto fail;
		return 0;
	}
	for (size_t g = 0; g < out->n_groups; g++)
		if (history_fit(out, out->groups[g].first, out->groups[g].n, g, g, o->min_rel, e))
			goto fail;
	return 0;
fail:
	history_release(out);
	return -1;
}
