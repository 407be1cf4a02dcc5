/*
 * rbready.c — readiness tracers: how long after an acknowledged write a
 * search sees it.
 *
 * A write phase hands over the first key of every (batches / tracers)-th
 * batch once that batch is acknowledged (runbook.c). One thread for the runbook,
 * on its own target handle, searches for each pending tracer's own vector
 * (top 10) in rounds, RB_POLL_NS apart:
 *   insert  "searchable after": the first search that returns its id;
 *   delete  "gone after": the first search that no longer returns it.
 * The figure is that search's completion time minus the acknowledgement, so
 * it includes one search's latency and up to one round's wait. A tracer
 * not resolved within steps.runbook.wait_timeout is counted as timed out.
 * Results are journaled (RB_READY) so a resumed run keeps them. A replace
 * keeps its id searchable and is not traced.
 */
#include "runbook_int.h"
#include "engrave/err.h"
#include "engrave/log.h"
#include "engrave/target.h"
#include "engrave/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define RB_POLL_NS (2 * NS_PER_MS)
#define RB_TRACE_K 10

void rb_tracer_add(struct rb *R, const struct rb_tracer *tr)
{
	pthread_mutex_lock(&R->tr_lock);
	if (R->n_tr == R->cap_tr) {
		R->cap_tr = R->cap_tr ? 2 * R->cap_tr : 64;
		R->tr = xrealloc(R->tr, R->cap_tr * sizeof(*R->tr));
	}
	R->tr[R->n_tr++] = *tr;
	__atomic_add_fetch(&R->tr_pending, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&R->tr_lock);
}

static void record_ready(struct rb *R, const struct rb_tracer *tr, double ms, int ok)
{
	uint8_t key[6] = { (uint8_t)(tr->phase >> 8), (uint8_t)tr->phase, (uint8_t)(tr->n >> 24),
			   (uint8_t)(tr->n >> 16), (uint8_t)(tr->n >> 8), (uint8_t)tr->n };
	uint8_t val[10];
	val[0] = (uint8_t)tr->is_delete;
	memcpy(val + 1, &ms, 8);
	val[9] = (uint8_t)ok;
	struct err e = ERR_INIT;
	if (rb_journal_put(R, RB_READY, key, sizeof(key), val, sizeof(val), &e))
		log_warn("runbook: readiness of phase %u not kept: %s", tr->phase, e.msg);
}

/* Probe one tracer: 1 resolved (or timed out), 0 still pending. */
static int probe(struct rb *R, struct target *t, const struct rb_tracer *tr, struct target_hits *h)
{
	char id[TARGET_ID_MAX];
	rb_key_id(R, tr->key, id, sizeof(id));
	struct err e = ERR_INIT;
	int found = 0;
	if (!target_recall(t, tr->vec, RB_TRACE_K, -3.0e38f, h, &e))
		for (size_t i = 0; i < h->n && !found; i++)
			found = !strcmp(h->v[i].id, id);
	unix_ns now = clock_unix_now();
	double ms = (double)(now - tr->ack) / 1e6;
	if (found != tr->is_delete) {
		record_ready(R, tr, ms, 1);
		return 1;
	}
	if ((uint64_t)(now - tr->ack) > R->book->wait_timeout_ns) {
		record_ready(R, tr, ms, 0);
		return 1;
	}
	return 0;
}

void *rb_tracer_main(void *arg)
{
	struct rb *R = arg;
	struct target *t;
	struct err e = ERR_INIT;
	if (steps_target_open_more(R->c, &t, &e)) {
		log_warn("runbook: no readiness tracers: %s", e.msg);
		return NULL;
	}
	struct target_hits h;
	target_hits_init(&h);
	while (!__atomic_load_n(&R->tr_stop, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&R->tr_lock);
		size_t n = R->n_tr;
		struct rb_tracer *snap = n ? xmalloc_array(n, sizeof(*snap)) : NULL;
		if (n)
			memcpy(snap, R->tr, n * sizeof(*snap));
		pthread_mutex_unlock(&R->tr_lock);
		for (size_t i = 0; i < n; i++) {
			if (!probe(R, t, &snap[i], &h))
				continue;
			pthread_mutex_lock(&R->tr_lock); /* drop it: find it again, the list may have grown */
			for (size_t j = 0; j < R->n_tr; j++)
				if (R->tr[j].phase == snap[i].phase && R->tr[j].n == snap[i].n) {
					R->tr[j] = R->tr[--R->n_tr];
					break;
				}
			pthread_mutex_unlock(&R->tr_lock);
			__atomic_sub_fetch(&R->tr_pending, 1, __ATOMIC_SEQ_CST);
		}
		free(snap);
		clock_sleep_until(clock_mono_now() + RB_POLL_NS);
	}
	target_hits_release(&h);
	target_close(t);
	return NULL;
}

int rb_tracers_drain(struct rb *R, uint64_t timeout_ns)
{
	mono_ns end = clock_mono_now() + timeout_ns + NS_PER_S;
	while (__atomic_load_n(&R->tr_pending, __ATOMIC_SEQ_CST)) {
		if (clock_mono_now() > end || steps_stop_requested())
			return -1;
		clock_sleep_until(clock_mono_now() + RB_POLL_NS);
	}
	return 0;
}
