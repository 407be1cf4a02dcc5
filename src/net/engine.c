/*
 * engine.c — many HTTP requests in flight over a keep-alive pool.
 *
 * Design (wrk's ae loop): one epoll set, shared by two transports.
 *
 *   - libcurl multi in socket-action mode, for everything: curl tells us
 *     which sockets to watch (CURLMOPT_SOCKETFUNCTION -> the epoll set, with
 *     the socket as the event data) and when it next needs a timeout
 *     (CURLMOPT_TIMERFUNCTION -> `timer_at`);
 *   - with opts.native, the native HTTP/1.1 transport (wire.c) for plain
 *     http:// URLs that no proxy variable applies to: it registers its own
 *     sockets with WIRE_EPOLL_TAG in the event data and keeps its own
 *     deadlines. At an open-loop benchmark's top rate libcurl's per-request
 *     work was the client's ceiling (tools/bench/loadgen.sh); https, proxies
 *     and odd URLs stay with curl, in the same engine.
 *
 * A third kind of socket comes from outside (engine_watch): another
 * client library's connection (libpq's, for the pgvector driver), with
 * WATCH_EPOLL_TAG and the watch's index in the event data. Its callback
 * reads and writes on its own and says how many requests it completed.
 *
 * wait_events() dispatches each event by its tag. We wait on the epoll set
 * until the earliest of the caller's deadline, curl's timer and wire's
 * earliest request deadline. Waiting uses epoll_pwait2() with a nanosecond
 * timeout, not curl_multi_poll(), whose millisecond resolution would make
 * an open-loop scheduler up to 1 ms late; the thread's timer slack is
 * lowered to 1 µs for the same reason (the kernel default of 50 µs would
 * otherwise be added to every wake-up). Nothing busy-spins: an idle engine
 * sleeps in the kernel until the deadline.
 *
 * On the curl path each request's state is one `struct req` attached to
 * its easy handle with CURLOPT_PRIVATE. Finished requests go back to a free
 * list with their easy handle and body buffer, so steady state allocates
 * nothing; header lists come from the http_hdr_cache (one curl_slist per
 * distinct header set). wire keeps its own request structs the same way.
 *
 * `sent` is read when the request is handed to a transport: engine_submit()
 * hands it over and starts it at once (curl: add the handle and run its
 * timeout action; wire: write it on an idle keep-alive connection, or start
 * connecting), so a request on an idle connection is on the socket before
 * submit returns. `done` is read when the transport sees the response
 * complete (curl: when it reports completion). Callbacks run on the
 * caller's thread, inside engine_poll()/engine_drain(), never inside curl
 * or wire. No statistics live here: the callback gets the raw times and
 * response.
 */
#include "engrave/engine.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"
#include "net/wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

struct req {
	struct http_xfer *x;
	engine_done_fn fn;
	void *user;
	mono_ns sent;
	struct req *next_free;
};

#define WATCH_EPOLL_TAG (1ULL << 62) /* below wire's tag (bit 63) */

struct watch {
	int fd;                /* -1: a free entry */
	engine_watch_fn fn;
	void *user;
	mono_ns deadline;      /* 0 = none */
};

struct engine {
	CURLM *m;
	int epfd;
	mono_ns timer_at;      /* curl's next timeout; 0 = none */
	int timer_set;
	int in_flight;         /* on the curl path (wire counts its own) */
	int max_in_flight;
	uint64_t connect_timeout_ns;
	struct req *free_list;
	struct req **all;      /* every req ever allocated, for engine_free */
	size_t n_all, cap_all;
	struct http_hdr_cache *hc;
	struct engine_stats st;
	int pwait2_missing;
	struct wire *w;        /* the native transport; NULL: curl for everything */
	struct watch *watches; /* engine_watch: other clients' sockets */
	int n_watches;
	int watch_done;        /* completions their callbacks reported, not yet returned */
};

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)easy;
	struct engine *en = userp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(en->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(en->m, s, NULL);
		return 0;
	}
	struct epoll_event ev = { 0 };
	ev.data.u64 = (uint64_t)s; /* never has WIRE_EPOLL_TAG */
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev.events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev.events |= EPOLLOUT;
	if (!socketp) {
		if (epoll_ctl(en->epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
			epoll_ctl(en->epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(en->m, s, en);
	} else {
		if (epoll_ctl(en->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
			epoll_ctl(en->epfd, EPOLL_CTL_ADD, s, &ev);
	}
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct engine *en = userp;
	if (timeout_ms < 0) {
		en->timer_set = 0;
	} else {
		en->timer_set = 1;
		en->timer_at = clock_mono_now() + (mono_ns)timeout_ms * NS_PER_MS;
	}
	return 0;
}

int engine_new(const struct engine_opts *o, struct engine **out, struct err *e)
{
	*out = NULL;
	http_global_init();
	struct engine *en = xcalloc(1, sizeof(*en));
	int maxc = o && o->max_connections > 0 ? o->max_connections : 64;
	en->max_in_flight = o && o->max_in_flight > 0 ? o->max_in_flight : 1024;
	en->connect_timeout_ns = o && o->connect_timeout_ns ? o->connect_timeout_ns : 10 * NS_PER_S;
	en->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (en->epfd < 0) {
		free(en);
		return err_set_errno(e, ERR_NET, errno, "epoll_create1");
	}
	en->m = curl_multi_init();
	if (!en->m) {
		close(en->epfd);
		free(en);
		return err_set(e, ERR_NET, "curl_multi_init failed");
	}
	curl_multi_setopt(en->m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(en->m, CURLMOPT_SOCKETDATA, en);
	curl_multi_setopt(en->m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(en->m, CURLMOPT_TIMERDATA, en);
	curl_multi_setopt(en->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)maxc);
	curl_multi_setopt(en->m, CURLMOPT_MAXCONNECTS, (long)maxc);
	curl_multi_setopt(en->m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	en->hc = http_hdr_cache_new();
	const char *tr = getenv("ENGRAVE_HTTP_TRANSPORT");
	if (o && o->native && !(tr && !strcmp(tr, "curl"))) {
		struct wire_opts wo = { .max_connections = maxc,
					.connect_timeout_ns = en->connect_timeout_ns };
		if (wire_new(en->epfd, &wo, &en->w, e) < 0) {
			engine_free(en);
			return -1;
		}
	}
	*out = en;
	return 0;
}

void engine_free(struct engine *en)
{
	if (!en)
		return;
	for (size_t i = 0; i < en->n_all; i++) {
		struct req *r = en->all[i];
		curl_multi_remove_handle(en->m, http_xfer_curl(r->x)); /* no-op if not added */
		http_xfer_free(r->x);
		free(r);
	}
	free(en->all);
	for (int i = 0; i < en->n_watches; i++)
		if (en->watches[i].fd >= 0)
			epoll_ctl(en->epfd, EPOLL_CTL_DEL, en->watches[i].fd, NULL);
	free(en->watches);
	wire_free(en->w);
	curl_multi_cleanup(en->m);
	close(en->epfd);
	http_hdr_cache_free(en->hc);
	free(en);
}

int engine_in_flight(const struct engine *en)
{
	return en->in_flight + (en->w ? wire_in_flight(en->w) : 0);
}

int engine_max_in_flight(const struct engine *en)
{
	return en->max_in_flight;
}

void engine_get_stats(const struct engine *en, struct engine_stats *out)
{
	*out = en->st;
	if (en->w) {
		struct wire_stats ws;
		wire_get_stats(en->w, &ws);
		out->completed += ws.completed;
		out->transport_errors += ws.transport_errors;
		out->native = ws.submitted;
		out->native_connects = ws.connects;
		out->native_resent = ws.resent;
	}
}

static struct req *req_get(struct engine *en, struct err *e)
{
	struct req *r = en->free_list;
	if (r) {
		en->free_list = r->next_free;
		return r;
	}
	r = xcalloc(1, sizeof(*r));
	r->x = http_xfer_new();
	if (!r->x) {
		free(r);
		err_set(e, ERR_NET, "curl_easy_init failed");
		return NULL;
	}
	if (en->n_all == en->cap_all) {
		en->cap_all = en->cap_all ? en->cap_all * 2 : 64;
		en->all = xrealloc_array(en->all, en->cap_all, sizeof(*en->all));
	}
	en->all[en->n_all++] = r;
	return r;
}

static void req_put(struct engine *en, struct req *r)
{
	r->fn = NULL;
	r->user = NULL;
	r->next_free = en->free_list;
	en->free_list = r;
}

static void kick_timeouts(struct engine *en)
{
	int running;
	en->timer_set = 0;
	curl_multi_socket_action(en->m, CURL_SOCKET_TIMEOUT, 0, &running);
}

int engine_submit(struct engine *en, const struct http_request *rq, engine_done_fn fn, void *user,
		  struct err *e)
{
	int inf = engine_in_flight(en);
	if (inf >= en->max_in_flight) {
		en->st.rejected++;
		return err_set(e, ERR_NET, "engine full: %d requests in flight (max_in_flight)", inf);
	}
	if (en->w) {
		int rc = wire_submit(en->w, rq, clock_mono_now(), fn, user, e);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			en->st.submitted++;
			return 0;
		}
		/* declined (https, a proxy applies, an unusual URL): curl sends it */
	}
	struct req *r = req_get(en, e);
	if (!r)
		return -1;
	if (http_xfer_prepare(r->x, rq, en->hc, en->connect_timeout_ns, e) < 0) {
		req_put(en, r);
		return -1;
	}
	CURL *h = http_xfer_curl(r->x);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	r->fn = fn;
	r->user = user;
	r->sent = clock_mono_now();
	CURLMcode mc = curl_multi_add_handle(en->m, h);
	if (mc != CURLM_OK) {
		req_put(en, r);
		return err_set(e, ERR_NET, "%s %s: curl_multi_add_handle: %s", http_method_of(rq),
			       rq->url, curl_multi_strerror(mc));
	}
	en->in_flight++;
	en->st.submitted++;
	kick_timeouts(en); /* start it now: connect, or write on a pooled connection */
	return 0;
}

/* ---- other clients' sockets ------------------------------------------------ */

int engine_watch(struct engine *en, int fd, uint32_t events, engine_watch_fn fn, void *user, struct err *e)
{
	int id = 0;
	while (id < en->n_watches && en->watches[id].fd >= 0)
		id++;
	if (id == en->n_watches) {
		en->watches = xrealloc_array(en->watches, (size_t)en->n_watches + 1, sizeof(*en->watches));
		en->n_watches++;
	}
	struct epoll_event ev = { .events = events, .data.u64 = WATCH_EPOLL_TAG | (uint64_t)id };
	if (epoll_ctl(en->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		en->watches[id].fd = -1;
		return err_set_errno(e, ERR_NET, errno, "engine: watching socket %d", fd);
	}
	en->watches[id] = (struct watch){ fd, fn, user, 0 };
	return id;
}

int engine_watch_events(struct engine *en, int id, uint32_t events, struct err *e)
{
	struct epoll_event ev = { .events = events, .data.u64 = WATCH_EPOLL_TAG | (uint64_t)id };
	if (epoll_ctl(en->epfd, EPOLL_CTL_MOD, en->watches[id].fd, &ev) < 0)
		return err_set_errno(e, ERR_NET, errno, "engine: watching socket %d", en->watches[id].fd);
	return 0;
}

void engine_watch_deadline(struct engine *en, int id, mono_ns deadline)
{
	en->watches[id].deadline = deadline;
}

void engine_unwatch(struct engine *en, int id)
{
	if (id < 0 || id >= en->n_watches || en->watches[id].fd < 0)
		return;
	epoll_ctl(en->epfd, EPOLL_CTL_DEL, en->watches[id].fd, NULL);
	en->watches[id].fd = -1;
	en->watches[id].deadline = 0;
}

/* The earliest watch deadline, 0 = none. */
static mono_ns watch_next_deadline(const struct engine *en)
{
	mono_ns at = 0;
	for (int i = 0; i < en->n_watches; i++)
		if (en->watches[i].fd >= 0 && en->watches[i].deadline && (!at || en->watches[i].deadline < at))
			at = en->watches[i].deadline;
	return at;
}

static void watch_expire(struct engine *en, mono_ns now)
{
	for (int i = 0; i < en->n_watches; i++) {
		struct watch *w = &en->watches[i];
		if (w->fd >= 0 && w->deadline && w->deadline <= now) {
			w->deadline = 0;
			en->watch_done += w->fn(w->user, 0);
		}
	}
}

/* Run callbacks for finished transfers; returns how many. */
static int reap(struct engine *en)
{
	int n = en->w ? wire_reap(en->w) : 0, left;
	n += en->watch_done;
	en->watch_done = 0;
	CURLMsg *msg;
	while (en->in_flight > 0 && (msg = curl_multi_info_read(en->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		mono_ns done = clock_mono_now();
		CURL *h = msg->easy_handle;
		CURLcode result = msg->data.result;
		struct req *r = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(en->m, h);
		en->in_flight--;
		http_xfer_finish(r->x, result, done - r->sent);
		const struct http_response *rs = http_xfer_response(r->x);
		en->st.completed++;
		if (rs->status == 0)
			en->st.transport_errors++;
		if (r->fn)
			r->fn(r->user, rs, r->sent, done);
		req_put(en, r);
		n++;
	}
	return n;
}

/* Wait for socket events until `until` (mono_ns; 0 = do not wait; `now` = the time). */
static int wait_events(struct engine *en, mono_ns now, mono_ns until, struct err *e)
{
	struct epoll_event evs[64];
	int nev;
	uint64_t ns = until > now ? until - now : 0;
	if (!en->pwait2_missing) {
		struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };
		nev = epoll_pwait2(en->epfd, evs, 64, &ts, NULL);
		if (nev < 0 && errno == ENOSYS) {
			en->pwait2_missing = 1;
			return wait_events(en, now, until, e);
		}
	} else {
		struct pollfd pfd = { en->epfd, POLLIN, 0 };
		struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };
		int pr = ppoll(&pfd, 1, &ts, NULL);
		nev = pr > 0 ? epoll_wait(en->epfd, evs, 64, 0) : pr;
	}
	if (nev < 0) {
		if (errno == EINTR)
			return 0;
		return err_set_errno(e, ERR_NET, errno, "engine: waiting for sockets");
	}
	for (int i = 0; i < nev; i++) {
		if (evs[i].data.u64 & WIRE_EPOLL_TAG) {
			wire_event(en->w, evs[i].data.u64, evs[i].events);
			continue;
		}
		if (evs[i].data.u64 & WATCH_EPOLL_TAG) {
			struct watch *w = &en->watches[evs[i].data.u64 & ~WATCH_EPOLL_TAG];
			if (w->fd >= 0) /* an earlier callback of this batch may have removed it */
				en->watch_done += w->fn(w->user, evs[i].events);
			continue;
		}
		int flags = 0, running;
		if (evs[i].events & (EPOLLIN | EPOLLHUP))
			flags |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[i].events & EPOLLERR)
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(en->m, (curl_socket_t)evs[i].data.u64, flags, &running);
	}
	return nev;
}

static __thread int engine_slack_set;

/* Run whatever timeouts are due at `now` (curl's timer, wire's deadlines). */
static void run_timeouts(struct engine *en, mono_ns now)
{
	if (en->timer_set && now >= en->timer_at)
		kick_timeouts(en);
	if (en->w) {
		mono_ns wd = wire_next_deadline(en->w);
		if (wd && wd <= now)
			wire_expire(en->w, now);
	}
	if (en->n_watches)
		watch_expire(en, now);
}

int engine_poll(struct engine *en, mono_ns deadline, struct err *e)
{
	if (!engine_slack_set) {
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 1 µs; see the top comment */
		engine_slack_set = 1;
	}
	int n = 0, waited = 0;
	for (;;) {
		run_timeouts(en, clock_mono_now());
		n += reap(en);
		if (n > 0)
			return n;
		mono_ns now = clock_mono_now(); /* after the timeouts' work: the wait stays exact */
		if (deadline == 0 || (now >= deadline && !waited)) {
			/* one pass without waiting: a caller whose deadline has already
			 * passed still gets its sockets read, never a busy loop that
			 * only looks at timers */
			if (wait_events(en, now, 0, e) < 0)
				return -1;
			run_timeouts(en, clock_mono_now());
			return reap(en);
		}
		if (now >= deadline)
			return 0;
		mono_ns until = deadline;
		if (en->timer_set && en->timer_at < until)
			until = en->timer_at;
		if (en->w) {
			mono_ns wd = wire_next_deadline(en->w);
			if (wd && wd < until)
				until = wd;
		}
		if (en->n_watches) {
			mono_ns wd = watch_next_deadline(en);
			if (wd && wd < until)
				until = wd;
		}
		if (wait_events(en, now, until, e) < 0)
			return -1;
		waited = 1;
	}
}

int engine_drain(struct engine *en, struct err *e)
{
	while (engine_in_flight(en) > 0)
		if (engine_poll(en, clock_mono_now() + NS_PER_S, e) < 0)
			return -1;
	return 0;
}
