/*
 * history.c — a metric's series over a spec's runs (see history.h).
 *
 * run_list visits runs in id order, which is creation order (ids start
 * with the UTC second); the callback copies what it needs, since the
 * record it gets lives only for the call. Step detection runs on the
 * collected values and each step is named by its run ids.
 */
#include "engrave/history.h"
#include "engrave/err.h"
#include "engrave/store.h"
#include "engrave/xalloc.h"

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
		snprintf(p->run_id, sizeof(p->run_id), "%s", r->id);
		p->created = r->created;
		p->value = r->metrics[i].value;
		break;
	}
	return 0;
}

void history_release(struct history *h)
{
	if (!h)
		return;
	free(h->pts);
	free(h->steps);
	memset(h, 0, sizeof(*h));
}

int history_collect(struct store *st, const char *spec_name, const char *metric, int all_status,
		    double min_rel, struct history *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct coll c = { spec_name, metric, all_status, out, 0 };
	int rc = run_list(st, visit, &c, e);
	if (rc < 0) {
		history_release(out);
		return -1;
	}
	if (out->n < 2)
		return 0;
	double *x = xmalloc_array(out->n, sizeof(*x));
	for (size_t i = 0; i < out->n; i++)
		x[i] = out->pts[i].value;
	struct stats_step *s = NULL;
	size_t ns = 0;
	rc = stats_detect_steps(x, out->n, min_rel, &s, &ns, e);
	free(x);
	if (rc) {
		history_release(out);
		return -1;
	}
	if (ns)
		out->steps = xcalloc(ns, sizeof(*out->steps));
	for (size_t i = 0; i < ns; i++) {
		struct history_step *hs = &out->steps[i];
		hs->s = s[i];
		snprintf(hs->run_id, sizeof(hs->run_id), "%s", out->pts[s[i].index].run_id);
		snprintf(hs->prev_id, sizeof(hs->prev_id), "%s", out->pts[s[i].index - 1].run_id);
	}
	out->n_steps = ns;
	free(s);
	return 0;
}
