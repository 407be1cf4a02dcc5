/*
 * test_engine_watch.c — other clients' sockets in the engine's loop
 * (engine_watch, the pgvector driver's libpq connections): a readable fd
 * runs its callback inside engine_poll, whose return counts the
 * completions the callback reports; a watch's deadline runs it with
 * events 0 and is then cleared; engine_poll's wait ends at the deadline,
 * not later; events can change; an unwatched fd is never reported again.
 */
#include <criterion/criterion.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engrave/clock.h"
#include "engrave/engine.h"
#include "engrave/err.h"

struct seen {
	int fd;
	int calls, timeouts;
	uint32_t last;
	int report; /* completions to report per call */
};

static int on_ready(void *user, uint32_t events)
{
	struct seen *s = user;
	s->calls++;
	s->last = events;
	if (events == 0) {
		s->timeouts++;
		return s->report;
	}
	char b[64];
	if (events & EPOLLIN)
		(void)!read(s->fd, b, sizeof(b));
	return s->report;
}

static struct engine *new_engine(void)
{
	struct engine *en = NULL;
	struct err e = ERR_INIT;
	cr_assert_eq(engine_new(NULL, &en, &e), 0, "%s", e.msg);
	return en;
}

Test(engine_watch, readable_fd_runs_the_callback_and_counts_its_completions)
{
	struct engine *en = new_engine();
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct seen s = { .fd = p[0], .report = 3 };
	struct err e = ERR_INIT;
	int id = engine_watch(en, p[0], EPOLLIN, on_ready, &s, &e);
	cr_assert_geq(id, 0, "%s", e.msg);
	/* nothing to read: the poll waits to its deadline and reports nothing */
	mono_ns t = clock_mono_now();
	cr_assert_eq(engine_poll(en, t + 20 * NS_PER_MS, &e), 0);
	cr_assert_geq(clock_mono_now() - t, 19 * NS_PER_MS);
	cr_assert_eq(s.calls, 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert_eq(engine_poll(en, clock_mono_now() + NS_PER_S, &e), 3, "the callback's completions");
	cr_assert_eq(s.calls, 1);
	cr_assert(s.last & EPOLLIN);
	/* unwatched: data waits unread, the callback is not called */
	engine_unwatch(en, id);
	cr_assert_eq(write(p[1], "y", 1), 1);
	cr_assert_eq(engine_poll(en, clock_mono_now() + 10 * NS_PER_MS, &e), 0);
	cr_assert_eq(s.calls, 1);
	engine_free(en);
	close(p[0]);
	close(p[1]);
}

Test(engine_watch, deadline_runs_the_callback_with_no_events_once)
{
	struct engine *en = new_engine();
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct seen s = { .fd = p[0], .report = 1 };
	struct err e = ERR_INIT;
	int id = engine_watch(en, p[0], EPOLLIN, on_ready, &s, &e);
	cr_assert_geq(id, 0);
	mono_ns t = clock_mono_now();
	engine_watch_deadline(en, id, t + 30 * NS_PER_MS);
	/* the caller's deadline is far; the watch's ends the wait */
	int got = engine_poll(en, t + 5 * NS_PER_S, &e);
	mono_ns took = clock_mono_now() - t;
	cr_assert_eq(got, 1);
	cr_assert_eq(s.timeouts, 1);
	cr_assert_eq(s.last, 0u);
	cr_assert_geq(took, 29 * NS_PER_MS);
	cr_assert_lt(took, 2 * NS_PER_S, "woke at the watch's deadline, not the caller's");
	/* cleared after it ran */
	cr_assert_eq(engine_poll(en, clock_mono_now() + 20 * NS_PER_MS, &e), 0);
	cr_assert_eq(s.timeouts, 1);
	engine_free(en);
	close(p[0]);
	close(p[1]);
}

Test(engine_watch, events_change_and_ids_are_reused)
{
	struct engine *en = new_engine();
	int p[2], q[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	struct seen s = { .fd = p[1], .report = 0 }, r = { .fd = q[0], .report = 1 };
	struct err e = ERR_INIT;
	/* the write end watched for nothing, then for writability */
	int id = engine_watch(en, p[1], 0, on_ready, &s, &e);
	cr_assert_geq(id, 0);
	cr_assert_eq(engine_poll(en, clock_mono_now() + 10 * NS_PER_MS, &e), 0);
	cr_assert_eq(s.calls, 0);
	cr_assert_eq(engine_watch_events(en, id, EPOLLOUT, &e), 0, "%s", e.msg);
	engine_poll(en, clock_mono_now() + NS_PER_S, &e);
	cr_assert_geq(s.calls, 1);
	cr_assert(s.last & EPOLLOUT);
	engine_unwatch(en, id);
	int id2 = engine_watch(en, q[0], EPOLLIN, on_ready, &r, &e);
	cr_assert_eq(id2, id, "a freed watch id is reused");
	cr_assert_eq(write(q[1], "z", 1), 1);
	cr_assert_eq(engine_poll(en, clock_mono_now() + NS_PER_S, &e), 1);
	cr_assert_eq(r.calls, 1);
	engine_free(en);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}
