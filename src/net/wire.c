/*
 * wire.c — a native HTTP/1.1 client for plain http:// (contract in wire.h).
 *
 * Why: at an open-loop benchmark's maximum rate libcurl's per-request work
 * (connection liveness poll()s, epoll_ctl churn, easy-handle reset and
 * option setting, URL parsing) was the client's ceiling, well under half of
 * wrk's. This is wrk's shape instead: our own sockets on the engine's epoll
 * set, one sendmsg per request, one recv per response, and Debian's
 * libhttp-parser (the parser wrk uses) for the response. Nothing here is a
 * hand-written parser.
 *
 * Requests (`struct wreq`) come from a free list and keep their buffers, so
 * steady state allocates nothing. At submit the request head (request line,
 * Host, User-Agent and Accept as libcurl sends them, the caller's headers,
 * Content-Type: application/json for a body without one, Content-Length) is
 * built once into the request's own buffer: a request that waits for a
 * connection needs its copy of the URL and headers anyway, and a re-send
 * reuses it. Head and body go out in one sendmsg (writev + MSG_NOSIGNAL);
 * EPOLLOUT is registered only while a write would block.
 *
 * Connections (`struct wconn`) live in slots; an open socket is registered
 * once (EPOLLIN, level-triggered) with data = WIRE_EPOLL_TAG | generation |
 * slot, so a stale event from a closed socket whose slot was reused is
 * recognised and dropped. An idle keep-alive connection stays registered:
 * a server closing it shows up as EOF and the connection is closed then, so
 * reuse needs no liveness probe. Each origin (host:port as written in the
 * URL) keeps a LIFO of idle connections (the warmest first) and a FIFO of
 * requests waiting for one; connections are capped in total
 * (max_connections, as CURLMOPT_MAX_TOTAL_CONNECTIONS). A request waiting
 * in the FIFO is in flight: its wait counts as service time and against its
 * timeout. getaddrinfo() runs once per origin (a failure is remembered for
 * a second); an origin's addresses are tried in order and the one that
 * answered is tried first next time.
 *
 * Responses are parsed as they arrive into the request's bounded body
 * buffer. Only Content-Type and Retry-After are captured (http.c parses
 * Retry-After for both transports). Connection: close, HTTP/1.0 and
 * read-until-EOF responses close the connection after the response; bytes
 * after a response (we never pipeline) close it too. A reused connection
 * that fails before the first byte of the response (the server closed or
 * reset it while it was idle) gets its request re-sent once on a fresh
 * connection, as libcurl does.
 *
 * Timeouts: every request in flight is in a binary min-heap keyed by its
 * deadline (the whole-request timeout from `sent`; while its connection is
 * being opened, the earlier of that and the connect timeout), so the next
 * wake-up is O(1) and insert/remove O(log n). Failures look like the
 * libcurl path's: status 0, the CURLcode curl would give, and a message
 * naming the host.
 *
 * Completions are queued on a done list and their callbacks run only in
 * wire_reap(), popping one at a time: a callback may submit (re-entrantly)
 * without finding wire in the middle of an update.
 */
#include "net/wire.h"
#include "engrave/err.h"
#include "engrave/xalloc.h"

#include <curl/curl.h> /* CURLE_* codes: failures read like the libcurl path's */
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RBUF_SIZE (64 * 1024)
#define MAX_ADDRS 8
#define RESOLVE_RETRY_NS NS_PER_S
#define USER_AGENT "engrave/0"

enum conn_state { C_FREE, C_CONNECTING, C_WRITING, C_READING, C_IDLE };
enum hdr_kind { H_NONE, H_CONTENT_TYPE, H_RETRY_AFTER };

struct origin;
struct wconn;

struct wreq {
	wire_done_fn fn;
	void *user;
	mono_ns sent, done;
	mono_ns deadline;           /* sent + timeout */
	mono_ns key;                /* heap key: deadline, or the connect deadline if earlier */
	uint64_t timeout_ns;
	struct origin *o;
	struct wconn *c;            /* the connection carrying it, if any */
	struct buf head;            /* request line and headers */
	const void *body;           /* borrowed */
	size_t body_len;
	size_t written;             /* of head + body */
	int heap_idx;               /* -1: not in the heap */
	int retried;
	int head_only;              /* HEAD: no response body */
	int waiting;                /* in its origin's FIFO */
	struct http_response rs;
	struct wreq *next, *prev;   /* FIFO, done list or free list */
};

struct origin {
	char *auth;                 /* the URL's authority, the lookup key */
	size_t auth_len;
	char *host;                 /* for getaddrinfo: no brackets */
	char *name;                 /* "host:port" for messages */
	char *host_hdr;             /* Host header value */
	size_t host_hdr_len;
	unsigned port;
	int via_proxy;              /* a proxy variable applies: wire declines it */
	struct sockaddr_storage addr[MAX_ADDRS];
	socklen_t addr_len[MAX_ADDRS];
	int n_addr, good;           /* good: the address that last connected */
	mono_ns resolve_failed_at;
	char resolve_err[160];
	struct wconn *idle;         /* idle connections, most recent first */
	struct wreq *wait_head, *wait_tail;
};

struct wconn {
	int fd;
	uint32_t slot, gen;
	enum conn_state st;
	uint32_t ev;                /* registered epoll events; 0 = not registered */
	struct origin *o;
	struct wreq *rq;
	int reused;                 /* completed a response before the current request */
	int addr_i, n_tried;        /* next address to try, addresses tried */
	int cur_addr;               /* the address of the current attempt */
	mono_ns connect_deadline;
	http_parser p;
	size_t rx;                  /* response bytes received for the current request */
	int msg_done, keep, fail;   /* fail: CURLcode from a parser callback */
	unsigned status;
	char hname[16];
	unsigned hname_len;         /* > sizeof(hname): a name we do not capture */
	int in_value;
	enum hdr_kind hkind;
	char hval[128];
	size_t hval_len;
	struct wconn *idle_prev, *idle_next;
	struct wconn *next_free;
};

struct wire {
	int epfd;
	int max_conns;
	uint64_t connect_timeout_ns;
	struct wconn **conns;       /* slots */
	uint32_t n_slots, cap_slots;
	struct wconn *free_slots;
	int open, n_idle, n_waiting;
	struct origin **origins;
	size_t n_origins;
	struct origin *last;
	struct wreq **heap;
	size_t heap_n, heap_cap;
	struct wreq *done_head, *done_tail;
	struct wreq *free_reqs;
	struct wreq **all;
	size_t n_all, cap_all;
	int in_flight;
	struct wire_stats st;
	/* proxy variables, read once at wire_new (curl reads them per transfer) */
	int proxy_set;
	char *no_proxy;
	char rbuf[RBUF_SIZE];
};

static const http_parser_settings parser_settings;

/* ------------------------------------------------------------------ heap */

static void heap_set(struct wire *w, size_t i, struct wreq *r)
{
	w->heap[i] = r;
	r->heap_idx = (int)i;
}

static void heap_up(struct wire *w, size_t i)
{
	struct wreq *r = w->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (w->heap[parent]->key <= r->key)
			break;
		heap_set(w, i, w->heap[parent]);
		i = parent;
	}
	heap_set(w, i, r);
}

static void heap_down(struct wire *w, size_t i)
{
	struct wreq *r = w->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, m = l;
		if (l >= w->heap_n)
			break;
		if (l + 1 < w->heap_n && w->heap[l + 1]->key < w->heap[l]->key)
			m = l + 1;
		if (w->heap[m]->key >= r->key)
			break;
		heap_set(w, i, w->heap[m]);
		i = m;
	}
	heap_set(w, i, r);
}

static void heap_push(struct wire *w, struct wreq *r)
{
	if (w->heap_n == w->heap_cap) {
		w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 64;
		w->heap = xrealloc_array(w->heap, w->heap_cap, sizeof(*w->heap));
	}
	w->heap[w->heap_n++] = r;
	heap_up(w, w->heap_n - 1);
}

static void heap_remove(struct wire *w, struct wreq *r)
{
	if (r->heap_idx < 0)
		return;
	size_t i = (size_t)r->heap_idx;
	struct wreq *last = w->heap[--w->heap_n];
	r->heap_idx = -1;
	if (last == r)
		return;
	heap_set(w, i, last);
	heap_down(w, i);
	heap_up(w, (size_t)last->heap_idx);
}

static void heap_rekey(struct wire *w, struct wreq *r, mono_ns key)
{
	r->key = key;
	if (r->heap_idx < 0)
		return;
	heap_up(w, (size_t)r->heap_idx);
	heap_down(w, (size_t)r->heap_idx);
}

/* ------------------------------------------------------------- requests */

static struct wreq *req_get(struct wire *w)
{
	struct wreq *r = w->free_reqs;
	if (r) {
		w->free_reqs = r->next;
		return r;
	}
	r = xcalloc(1, sizeof(*r));
	buf_init(&r->head, 0);
	http_response_init(&r->rs);
	r->heap_idx = -1;
	if (w->n_all == w->cap_all) {
		w->cap_all = w->cap_all ? w->cap_all * 2 : 64;
		w->all = xrealloc_array(w->all, w->cap_all, sizeof(*w->all));
	}
	w->all[w->n_all++] = r;
	return r;
}

static void req_put(struct wire *w, struct wreq *r)
{
	r->fn = NULL;
	r->user = NULL;
	r->body = NULL;
	r->next = w->free_reqs;
	w->free_reqs = r;
}

/* Take `done`, leave the heap and the connection, queue for wire_reap(). */
static void finish(struct wire *w, struct wreq *r)
{
	r->done = clock_mono_now();
	r->rs.elapsed_ns = r->done - r->sent;
	heap_remove(w, r);
	if (r->c) {
		r->c->rq = NULL;
		r->c = NULL;
	}
	r->next = NULL;
	if (w->done_tail)
		w->done_tail->next = r;
	else
		w->done_head = r;
	w->done_tail = r;
}

/* A response arrived (any status). */
static void finish_ok(struct wire *w, struct wreq *r, unsigned status)
{
	r->rs.status = status;
	r->rs.transport_error = 0;
	r->rs.error[0] = '\0';
	finish(w, r);
}

/* A transport failure: status 0, the CURLcode libcurl would give, a message. */
static void finish_fail(struct wire *w, struct wreq *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finish_fail(struct wire *w, struct wreq *r, int code, const char *fmt, ...)
{
	r->rs.status = 0;
	r->rs.transport_error = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->rs.error, sizeof(r->rs.error), fmt, ap);
	va_end(ap);
	finish(w, r);
}

/* --------------------------------------------------------------- origins */

static int is_loopback(const char *host)
{
	return !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

/* curl's no_proxy matching: "*", or a name equal to the host or a domain suffix of it. */
static int no_proxy_covers(const char *list, const char *host)
{
	size_t hl = strlen(host);
	const char *p = list;
	while (*p) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",");
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		const char *ent = p;
		if (m == 1 && ent[0] == '*')
			return 1;
		if (m && ent[0] == '.') {
			ent++;
			m--;
		}
		if (m && m <= hl && !strncasecmp(host + hl - m, ent, m) &&
		    (m == hl || host[hl - m - 1] == '.'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * host [":" port] | "[" v6 "]" [":" port] -> the host (without brackets),
 * the port (80 when absent) and whether it is IPv6. -1 for what wire leaves
 * to libcurl: control bytes or spaces, user info, an unreadable port.
 */
static int split_authority(const char *a, size_t alen, const char **h, const char **hend,
			   unsigned *pn, int *v6)
{
	for (size_t i = 0; i < alen; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f)
			return -1; /* curl says what such a URL means */
	const char *port = NULL;
	*h = a;
	*v6 = 0;
	if (alen && a[0] == '[') {
		const char *rb = memchr(a, ']', alen);
		if (!rb)
			return -1;
		*h = a + 1;
		*hend = rb;
		*v6 = 1;
		if (rb + 1 < a + alen) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
	} else {
		const char *colon = memchr(a, ':', alen);
		*hend = colon ? colon : a + alen;
		if (colon)
			port = colon + 1;
	}
	if (*hend == *h || memchr(a, '@', alen))
		return -1;
	for (const char *q = *h; q < *hend; q++)
		if (!*v6 && *q == ':')
			return -1;
	*pn = 80;
	if (port) {
		const char *pe = a + alen;
		if (port == pe || pe - port > 5)
			return -1;
		*pn = 0;
		for (const char *q = port; q < pe; q++) {
			if (*q < '0' || *q > '9')
				return -1;
			*pn = *pn * 10 + (unsigned)(*q - '0');
		}
		if (*pn == 0 || *pn > 65535)
			return -1;
	}
	return 0;
}

/*
 * The origin for an authority, created on first use; NULL when wire leaves
 * this URL to libcurl (a port it cannot read, user info, a proxy applies).
 */
static struct origin *origin_get(struct wire *w, const char *a, size_t alen)
{
	struct origin *o = w->last;
	if (o && o->auth_len == alen && !memcmp(o->auth, a, alen))
		return o->via_proxy ? NULL : o;
	for (size_t i = 0; i < w->n_origins; i++) {
		o = w->origins[i];
		if (o->auth_len == alen && !memcmp(o->auth, a, alen)) {
			w->last = o;
			return o->via_proxy ? NULL : o;
		}
	}
	const char *h, *hend;
	unsigned pn;
	int v6;
	if (split_authority(a, alen, &h, &hend, &pn, &v6) < 0)
		return NULL;
	o = xcalloc(1, sizeof(*o));
	o->auth = xstrndup(a, alen);
	o->auth_len = alen;
	o->host = xstrndup(h, (size_t)(hend - h));
	o->port = pn;
	size_t nl = strlen(o->host) + 16;
	o->name = xmalloc(nl);
	o->host_hdr = xmalloc(nl);
	snprintf(o->name, nl, v6 ? "[%s]:%u" : "%s:%u", o->host, pn);
	if (pn == 80)
		snprintf(o->host_hdr, nl, v6 ? "[%s]" : "%s", o->host);
	else
		snprintf(o->host_hdr, nl, "%s", o->name);
	o->host_hdr_len = strlen(o->host_hdr);
	o->via_proxy = w->proxy_set && !is_loopback(o->host) &&
		       !(w->no_proxy && no_proxy_covers(w->no_proxy, o->host));
	w->origins = xrealloc_array(w->origins, w->n_origins + 1, sizeof(*w->origins));
	w->origins[w->n_origins++] = o;
	w->last = o;
	return o->via_proxy ? NULL : o;
}

static void origin_free(struct origin *o)
{
	free(o->auth);
	free(o->host);
	free(o->name);
	free(o->host_hdr);
	free(o);
}

/* 0 when `o` has addresses; -1 with o->resolve_err. Blocking, once per origin. */
static int origin_resolve(struct origin *o, mono_ns now)
{
	if (o->n_addr)
		return 0;
	if (o->resolve_failed_at && now - o->resolve_failed_at < RESOLVE_RETRY_NS)
		return -1;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", o->port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int rc = getaddrinfo(o->host, ps, &hints, &res);
	if (rc != 0) {
		snprintf(o->resolve_err, sizeof(o->resolve_err), "cannot resolve host '%s': %s",
			 o->host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		o->resolve_failed_at = now ? now : 1;
		return -1;
	}
	for (struct addrinfo *ai = res; ai && o->n_addr < MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(o->addr[0]))
			continue;
		memcpy(&o->addr[o->n_addr], ai->ai_addr, ai->ai_addrlen);
		o->addr_len[o->n_addr++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (!o->n_addr) {
		snprintf(o->resolve_err, sizeof(o->resolve_err),
			 "cannot resolve host '%s': no usable address", o->host);
		o->resolve_failed_at = now ? now : 1;
		return -1;
	}
	return 0;
}

static void wait_push(struct wire *w, struct origin *o, struct wreq *r)
{
	r->next = NULL;
	r->prev = o->wait_tail;
	if (o->wait_tail)
		o->wait_tail->next = r;
	else
		o->wait_head = r;
	o->wait_tail = r;
	r->waiting = 1;
	w->n_waiting++;
}

static void wait_unlink(struct wire *w, struct wreq *r)
{
	struct origin *o = r->o;
	if (r->prev)
		r->prev->next = r->next;
	else
		o->wait_head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		o->wait_tail = r->prev;
	r->next = r->prev = NULL;
	r->waiting = 0;
	w->n_waiting--;
}

/* ----------------------------------------------------------- connections */

static void idle_push(struct wire *w, struct wconn *c)
{
	struct origin *o = c->o;
	c->st = C_IDLE;
	c->idle_prev = NULL;
	c->idle_next = o->idle;
	if (o->idle)
		o->idle->idle_prev = c;
	o->idle = c;
	w->n_idle++;
}

static void idle_unlink(struct wire *w, struct wconn *c)
{
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		c->o->idle = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	w->n_idle--;
}

static int conn_want(struct wire *w, struct wconn *c, uint32_t events)
{
	if (c->ev == events)
		return 0;
	struct epoll_event ev;
	ev.events = events;
	ev.data.u64 = WIRE_EPOLL_TAG | ((uint64_t)c->gen << 32) | c->slot;
	if (epoll_ctl(w->epfd, c->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	c->ev = events;
	return 0;
}

/* Close the socket; the slot goes back to the free list. Leaves c->rq alone. */
static void conn_close(struct wire *w, struct wconn *c)
{
	if (c->st == C_IDLE)
		idle_unlink(w, c);
	if (c->fd >= 0) {
		close(c->fd); /* also leaves the epoll set: the fd is never duplicated */
		c->fd = -1;
	}
	c->ev = 0;
	c->gen = (c->gen + 1) & 0x7fffffffu;
	c->st = C_FREE;
	c->o = NULL;
	c->reused = 0;
	c->next_free = w->free_slots;
	w->free_slots = c;
	w->open--;
}

static struct wconn *slot_get(struct wire *w)
{
	struct wconn *c = w->free_slots;
	if (c) {
		w->free_slots = c->next_free;
	} else {
		if (w->n_slots == w->cap_slots) {
			w->cap_slots = w->cap_slots ? w->cap_slots * 2 : 16;
			w->conns = xrealloc_array(w->conns, w->cap_slots, sizeof(*w->conns));
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = -1;
		c->slot = w->n_slots;
		w->conns[w->n_slots++] = c;
	}
	w->open++;
	return c;
}

/* Per-response state for the request now on `c`. */
static void conn_attach(struct wconn *c, struct wreq *r)
{
	c->rq = r;
	r->c = c;
	r->written = 0;
	c->rx = 0;
	c->msg_done = c->keep = c->fail = 0;
	c->status = 0;
	c->hname_len = 0;
	c->in_value = 0;
	c->hkind = H_NONE;
	http_parser_init(&c->p, HTTP_RESPONSE);
	c->p.data = c;
}

static void conn_write(struct wire *w, struct wconn *c);
static int conn_connect(struct wire *w, struct wconn *c, int err);

/*
 * Open a connection for `r` (which is not waiting and has no connection).
 * On failure the request is finished with the reason.
 */
static void conn_open(struct wire *w, struct origin *o, struct wreq *r)
{
	mono_ns now = clock_mono_now();
	if (origin_resolve(o, now) < 0) {
		finish_fail(w, r, CURLE_COULDNT_RESOLVE_HOST, "%s", o->resolve_err);
		return;
	}
	struct wconn *c = slot_get(w);
	c->o = o;
	c->reused = 0;
	c->addr_i = o->good < o->n_addr ? o->good : 0;
	c->n_tried = 0;
	c->connect_deadline = now + w->connect_timeout_ns;
	conn_attach(c, r);
	w->st.connects++;
	conn_connect(w, c, 0);
}

/* Forget the socket of a failed connect attempt; the slot stays ours. */
static void conn_drop_socket(struct wconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ev = 0;
	c->gen = (c->gen + 1) & 0x7fffffffu;
}

/*
 * Start a non-blocking connect to the origin's next untried address (the
 * following ones on immediate failure). `err` is the previous attempt's
 * error, if any. 0 while the connection lives (connecting, or connected
 * and writing), -1 when the request was finished (connect failure).
 */
static int conn_connect(struct wire *w, struct wconn *c, int err)
{
	struct origin *o = c->o;
	while (c->n_tried < o->n_addr) {
		int i = c->addr_i;
		c->n_tried++;
		c->addr_i = (i + 1) % o->n_addr; /* where the next attempt goes */
		int fd = socket(o->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->ev = 0;
		c->cur_addr = i;
		if (connect(fd, (struct sockaddr *)&o->addr[i], o->addr_len[i]) == 0) {
			o->good = i;
			c->st = C_WRITING;
			conn_write(w, c);
			return 0;
		}
		err = errno;
		if (err == EINPROGRESS || err == EINTR) {
			c->st = C_CONNECTING;
			if (conn_want(w, c, EPOLLOUT) == 0) {
				struct wreq *r = c->rq;
				if (c->connect_deadline < r->key) /* the connect timeout comes first */
					heap_rekey(w, r, c->connect_deadline);
				return 0;
			}
			err = errno;
		}
		conn_drop_socket(c);
	}
	struct wreq *r = c->rq;
	c->rq = NULL;
	r->c = NULL;
	conn_close(w, c);
	if (err == ECONNREFUSED)
		finish_fail(w, r, CURLE_COULDNT_CONNECT, "connection refused to %s", o->name);
	else
		finish_fail(w, r, CURLE_COULDNT_CONNECT, "cannot connect to %s: %s", o->name,
			    strerror(err ? err : EINVAL));
	return -1;
}

/* EPOLLOUT (or an error) on a connecting socket. */
static void conn_connected(struct wire *w, struct wconn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		conn_drop_socket(c);
		conn_connect(w, c, soerr); /* the next address, or fail the request */
		return;
	}
	struct wreq *r = c->rq;
	c->o->good = c->cur_addr;
	c->st = C_WRITING;
	if (r->key != r->deadline)
		heap_rekey(w, r, r->deadline);
	conn_write(w, c);
}

/*
 * The connection failed while carrying a request (EOF, reset, I/O error).
 * A reused connection that failed before any response byte gets the
 * request re-sent once on a fresh connection; otherwise the request fails
 * with `code` and a message: `what` + " HOST:PORT after N bytes received"
 * (for GOT_NOTHING and PARTIAL_FILE the message is fixed).
 */
static void conn_fail(struct wire *w, struct wconn *c, int code, const char *what)
{
	struct wreq *r = c->rq;
	struct origin *o = c->o;
	int resend = r && c->reused && c->rx == 0 && !r->retried;
	size_t rx = c->rx;
	c->rq = NULL;
	if (r)
		r->c = NULL;
	conn_close(w, c);
	if (!r)
		return;
	if (resend) {
		r->retried = 1;
		w->st.resent++;
		conn_open(w, o, r);
		return;
	}
	if (code == CURLE_GOT_NOTHING)
		finish_fail(w, r, code,
			    "empty reply from %s (the connection closed before a response)", o->name);
	else if (code == CURLE_PARTIAL_FILE)
		finish_fail(w, r, code,
			    "connection to %s closed after %zu bytes, before the response was complete",
			    o->name, rx);
	else
		finish_fail(w, r, code, "%s %s after %zu bytes received", what, o->name, rx);
}

static void conn_write(struct wire *w, struct wconn *c)
{
	struct wreq *r = c->rq;
	size_t hl = r->head.len, total = hl + r->body_len;
	while (r->written < total) {
		struct iovec iov[2];
		int n = 0;
		if (r->written < hl) {
			iov[n].iov_base = r->head.data + r->written;
			iov[n++].iov_len = hl - r->written;
		}
		if (r->body_len) {
			size_t off = r->written > hl ? r->written - hl : 0;
			iov[n].iov_base = (char *)r->body + off;
			iov[n++].iov_len = r->body_len - off;
		}
		struct msghdr m;
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		ssize_t k = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (conn_want(w, c, EPOLLIN | EPOLLOUT) < 0)
					conn_fail(w, c, CURLE_SEND_ERROR,
						  "epoll_ctl failed on the connection to");
				return;
			}
			char what[128];
			snprintf(what, sizeof(what), "send failed (%s) to", strerror(errno));
			conn_fail(w, c, CURLE_SEND_ERROR, what);
			return;
		}
		r->written += (size_t)k;
	}
	if (c->st == C_WRITING)
		c->st = C_READING;
	if (conn_want(w, c, EPOLLIN) < 0)
		conn_fail(w, c, CURLE_RECV_ERROR, "epoll_ctl failed on the connection to");
}

/* -------------------------------------------------------------- parsing */

static void header_done(struct wconn *c)
{
	struct http_response *rs = &c->rq->rs;
	if (c->hkind != H_NONE) {
		size_t n = c->hval_len;
		while (n && (c->hval[n - 1] == ' ' || c->hval[n - 1] == '\t'))
			n--;
		c->hval[n] = '\0';
		if (c->hkind == H_CONTENT_TYPE) {
			size_t k = n < sizeof(rs->content_type) - 1 ? n : sizeof(rs->content_type) - 1;
			memcpy(rs->content_type, c->hval, k); /* truncated as the libcurl path does */
			rs->content_type[k] = '\0';
		}
		else if (rs->retry_after_s < 0)
			rs->retry_after_s = http_retry_after_parse(c->hval);
	}
	c->hname_len = 0;
	c->in_value = 0;
	c->hkind = H_NONE;
}

static int on_message_begin(http_parser *p)
{
	struct wconn *c = p->data;
	if (c->msg_done)
		return -1; /* bytes after the response: we never pipeline */
	struct http_response *rs = &c->rq->rs;
	buf_reset(&rs->body);
	rs->content_type[0] = '\0';
	rs->retry_after_s = -1;
	c->hname_len = 0;
	c->in_value = 0;
	c->hkind = H_NONE;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct wconn *c = p->data;
	if (c->in_value)
		header_done(c);
	if (c->hname_len + n < sizeof(c->hname)) {
		memcpy(c->hname + c->hname_len, at, n);
		c->hname_len += (unsigned)n;
	} else {
		c->hname_len = sizeof(c->hname); /* too long to be one we capture */
	}
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct wconn *c = p->data;
	if (!c->in_value) {
		c->in_value = 1;
		c->hval_len = 0;
		if (c->hname_len == 12 && !strncasecmp(c->hname, "content-type", 12))
			c->hkind = H_CONTENT_TYPE;
		else if (c->hname_len == 11 && !strncasecmp(c->hname, "retry-after", 11))
			c->hkind = H_RETRY_AFTER;
		else
			c->hkind = H_NONE;
	}
	if (c->hkind != H_NONE) {
		size_t room = sizeof(c->hval) - 1 - c->hval_len;
		size_t k = n < room ? n : room;
		memcpy(c->hval + c->hval_len, at, k);
		c->hval_len += k;
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct wconn *c = p->data;
	struct wreq *r = c->rq;
	if (c->in_value)
		header_done(c);
	if (p->status_code < 200)
		return 0;
	if (r->head_only)
		return 1; /* no body follows */
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->rs.body.max) {
		c->fail = CURLE_FILESIZE_EXCEEDED;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct wconn *c = p->data;
	if (buf_append(&c->rq->rs.body, at, n, NULL) < 0) {
		c->fail = CURLE_WRITE_ERROR;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct wconn *c = p->data;
	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
		return 0; /* an interim response (100 Continue, 103): the real one follows */
	c->msg_done = 1;
	c->status = p->status_code;
	c->keep = http_should_keep_alive(p);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* The response on `c` is complete: hand it over, then reuse or close `c`. */
static void conn_response_done(struct wire *w, struct wconn *c, int force_close)
{
	struct wreq *r = c->rq;
	int keep = c->keep && !force_close && r->written == r->head.len + r->body_len;
	finish_ok(w, r, c->status);
	if (!keep) {
		conn_close(w, c);
		return;
	}
	c->reused = 1;
	struct origin *o = c->o;
	if (o->wait_head) {
		struct wreq *next = o->wait_head;
		wait_unlink(w, next);
		c->st = C_WRITING;
		conn_attach(c, next);
		conn_write(w, c);
		return;
	}
	idle_push(w, c);
}

/* A parser callback or the parser itself refused the response. */
static void conn_parse_failed(struct wire *w, struct wconn *c)
{
	struct wreq *r = c->rq;
	const char *name = c->o->name;
	int code = c->fail;
	size_t max = r->rs.body.max;
	enum http_errno he = HTTP_PARSER_ERRNO(&c->p);
	c->rq = NULL;
	r->c = NULL;
	conn_close(w, c);
	if (code == CURLE_FILESIZE_EXCEEDED) /* the messages of the libcurl path (http.c) */
		finish_fail(w, r, code,
			    "response body larger than the %zu-byte limit (Content-Length)", max);
	else if (code == CURLE_WRITE_ERROR)
		finish_fail(w, r, code, "response body larger than the %zu-byte limit", max);
	else
		finish_fail(w, r, CURLE_WEIRD_SERVER_REPLY, "malformed response from %s: %s", name,
			    http_errno_description(he));
}

/* EOF on a connection carrying a request. */
static void conn_eof(struct wire *w, struct wconn *c)
{
	if (c->rx > 0) {
		http_parser_execute(&c->p, &parser_settings, NULL, 0); /* ends a read-until-EOF body */
		if (c->msg_done) {
			conn_response_done(w, c, 1);
			return;
		}
		if (c->fail) {
			conn_parse_failed(w, c);
			return;
		}
		conn_fail(w, c, CURLE_PARTIAL_FILE, NULL);
		return;
	}
	conn_fail(w, c, CURLE_GOT_NOTHING, NULL);
}

static void conn_readable(struct wire *w, struct wconn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (c->st == C_IDLE) {
				conn_close(w, c);
				return;
			}
			int en = errno;
			char what[128];
			if (en == ECONNRESET)
				snprintf(what, sizeof(what), "connection reset by");
			else
				snprintf(what, sizeof(what), "receive failed (%s) from", strerror(en));
			conn_fail(w, c, CURLE_RECV_ERROR, what);
			return;
		}
		if (c->st == C_IDLE) { /* the server closed it, or sent what nobody asked for */
			conn_close(w, c);
			return;
		}
		if (n == 0) {
			conn_eof(w, c);
			return;
		}
		c->rx += (size_t)n;
		size_t k = http_parser_execute(&c->p, &parser_settings, w->rbuf, (size_t)n);
		if (c->msg_done) {
			conn_response_done(w, c, k != (size_t)n);
			return;
		}
		if (c->fail || k != (size_t)n || HTTP_PARSER_ERRNO(&c->p) != HPE_OK) {
			conn_parse_failed(w, c);
			return;
		}
		if (n < RBUF_SIZE)
			return; /* level-triggered: anything left wakes us again */
	}
}

/* Waiting requests take free capacity (after closes, or idle connections elsewhere). */
static void pump(struct wire *w)
{
	while (w->n_waiting > 0) {
		if (w->open >= w->max_conns && w->n_idle == 0)
			return;
		struct origin *o = NULL;
		for (size_t i = 0; i < w->n_origins && !o; i++)
			if (w->origins[i]->wait_head)
				o = w->origins[i];
		if (!o)
			return;
		struct wreq *r = o->wait_head;
		wait_unlink(w, r);
		if (o->idle) { /* cannot normally happen: idle connections take waiters first */
			struct wconn *c = o->idle;
			idle_unlink(w, c);
			c->st = C_WRITING;
			conn_attach(c, r);
			conn_write(w, c);
			continue;
		}
		if (w->open >= w->max_conns) { /* make room: close an idle connection elsewhere */
			for (size_t i = 0; i < w->n_origins; i++)
				if (w->origins[i]->idle) {
					conn_close(w, w->origins[i]->idle);
					break;
				}
		}
		conn_open(w, o, r);
	}
}

/* ------------------------------------------------------------------- API */

int wire_new(int epfd, const struct wire_opts *o, struct wire **out, struct err *e)
{
	(void)e;
	struct wire *w = xcalloc(1, sizeof(*w));
	w->epfd = epfd;
	w->max_conns = o && o->max_connections > 0 ? o->max_connections : 64;
	w->connect_timeout_ns = o && o->connect_timeout_ns ? o->connect_timeout_ns : 10 * NS_PER_S;
	static const char *const proxy_vars[] = { "http_proxy", "HTTP_PROXY", "all_proxy",
						  "ALL_PROXY" };
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++) {
		const char *v = getenv(proxy_vars[i]);
		if (v && *v)
			w->proxy_set = 1;
	}
	const char *np = getenv("no_proxy");
	if (!np || !*np)
		np = getenv("NO_PROXY");
	if (np && *np)
		w->no_proxy = xstrdup(np);
	*out = w;
	return 0;
}

void wire_free(struct wire *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n_slots; i++) {
		if (w->conns[i]->fd >= 0)
			close(w->conns[i]->fd);
		free(w->conns[i]);
	}
	free(w->conns);
	for (size_t i = 0; i < w->n_all; i++) {
		buf_release(&w->all[i]->head);
		http_response_release(&w->all[i]->rs);
		free(w->all[i]);
	}
	free(w->all);
	for (size_t i = 0; i < w->n_origins; i++)
		origin_free(w->origins[i]);
	free(w->origins);
	free(w->heap);
	free(w->no_proxy);
	free(w);
}

int wire_in_flight(const struct wire *w)
{
	return w->in_flight;
}

void wire_get_stats(const struct wire *w, struct wire_stats *out)
{
	*out = w->st;
}

mono_ns wire_next_deadline(const struct wire *w)
{
	return w->heap_n ? w->heap[0]->key : 0;
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Build the request head into r->head. -1 ERR_USAGE on a header curl would refuse too.
 * Long on purpose: the pass that sizes the head and the pass that writes it stay side by side. */
static int build_head(struct wreq *r, const struct http_request *rq, const char *method,
		      const char *path, size_t path_len, struct err *e)
{
	const struct origin *o = r->o;
	int has_ua = 0, has_accept = 0, has_ct = 0, has_cl = 0, has_host = 0;
	size_t mlen = strlen(method), hdr_bytes = 0;
	for (int i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i].name, *v = rq->headers[i].value;
		if (!n || !v || strchr(n, ':') || strpbrk(n, "\r\n") || strpbrk(v, "\r\n"))
			return err_set(e, ERR_USAGE, "invalid HTTP header #%d (%s) for %s", i + 1,
				       n ? n : "(null name)", rq->url);
		if (!strcasecmp(n, "Expect"))
			continue; /* never: we do not wait for 100-continue */
		has_ua |= !strcasecmp(n, "User-Agent");
		has_accept |= !strcasecmp(n, "Accept");
		has_ct |= !strcasecmp(n, "Content-Type");
		has_cl |= !strcasecmp(n, "Content-Length");
		has_host |= !strcasecmp(n, "Host");
		hdr_bytes += strlen(n) + strlen(v) + 4;
	}
	int want_cl = !has_cl && (rq->body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
				  !strcmp(method, "PATCH"));
	int want_ct = rq->body && !has_ct;
	char cl[24];
	size_t cl_len = 0;
	if (want_cl) {
		char tmp[24];
		size_t v = rq->body ? rq->body_len : 0;
		do {
			tmp[cl_len++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		for (size_t i = 0; i < cl_len; i++)
			cl[i] = tmp[cl_len - 1 - i];
	}
	static const char ua[] = "User-Agent: " USER_AGENT "\r\n", acc[] = "Accept: */*\r\n",
			  ct[] = "Content-Type: application/json\r\n", clh[] = "Content-Length: ";
	int slash = path_len == 0 || path[0] != '/';
	size_t need = mlen + 1 + (size_t)slash + path_len + 11 + (has_host ? 0 : 8 + o->host_hdr_len) +
		      (has_ua ? 0 : sizeof(ua) - 1) + (has_accept ? 0 : sizeof(acc) - 1) + hdr_bytes +
		      (want_ct ? sizeof(ct) - 1 : 0) + (want_cl ? sizeof(clh) - 1 + cl_len + 2 : 0) + 2;
	buf_reset(&r->head);
	if (buf_reserve(&r->head, need, e) < 0)
		return -1;
	char *p = r->head.data;
	p = put(p, method, mlen);
	*p++ = ' ';
	if (slash)
		*p++ = '/';
	p = put(p, path, path_len);
	p = put(p, " HTTP/1.1\r\n", 11);
	if (!has_host) {
		p = put(p, "Host: ", 6);
		p = put(p, o->host_hdr, o->host_hdr_len);
		p = put(p, "\r\n", 2);
	}
	if (!has_ua)
		p = put(p, ua, sizeof(ua) - 1);
	if (!has_accept)
		p = put(p, acc, sizeof(acc) - 1);
	for (int i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i].name, *v = rq->headers[i].value;
		if (!strcasecmp(n, "Expect"))
			continue;
		p = put(p, n, strlen(n));
		*p++ = ':';
		if (*v) {
			*p++ = ' ';
			p = put(p, v, strlen(v));
		}
		p = put(p, "\r\n", 2);
	}
	if (want_ct)
		p = put(p, ct, sizeof(ct) - 1);
	if (want_cl) {
		p = put(p, clh, sizeof(clh) - 1);
		p = put(p, cl, cl_len);
		p = put(p, "\r\n", 2);
	}
	p = put(p, "\r\n", 2);
	r->head.len = (size_t)(p - r->head.data);
	*p = '\0';
	return 0;
}

int wire_submit(struct wire *w, const struct http_request *rq, mono_ns sent, wire_done_fn fn,
		void *user, struct err *e)
{
	const char *url = rq->url;
	if (!url || strncmp(url, "http://", 7))
		return 1;
	const char *a = url + 7;
	size_t alen = strcspn(a, "/?#");
	const char *path = a + alen;
	size_t plen = 0;
	for (; path[plen] && path[plen] != '#'; plen++) {
		unsigned char ch = (unsigned char)path[plen];
		if (ch <= ' ' || ch == 0x7f)
			return 1; /* curl decides what such a URL means */
	}
	if (!alen)
		return 1;
	struct origin *o = origin_get(w, a, alen);
	if (!o)
		return 1;
	struct wreq *r = req_get(w);
	r->o = o;
	const char *method = http_method_of(rq);
	if (build_head(r, rq, method, path, plen, e) < 0) {
		req_put(w, r);
		return -1;
	}
	r->fn = fn;
	r->user = user;
	r->sent = sent;
	r->body = rq->body;
	r->body_len = rq->body ? rq->body_len : 0;
	r->head_only = !strcmp(method, "HEAD");
	r->retried = 0;
	r->waiting = 0;
	r->c = NULL;
	r->written = 0;
	r->timeout_ns = rq->timeout_ns ? rq->timeout_ns : HTTP_TIMEOUT_DEFAULT_NS;
	r->deadline = r->key = sent + r->timeout_ns;
	http_response_reset(&r->rs);
	r->rs.body.max = rq->max_body ? rq->max_body : HTTP_BODY_MAX_DEFAULT;
	heap_push(w, r);
	w->in_flight++;
	w->st.submitted++;
	if (o->idle && !o->wait_head) {
		struct wconn *c = o->idle;
		idle_unlink(w, c);
		c->st = C_WRITING;
		conn_attach(c, r);
		conn_write(w, c);
	} else if (!o->wait_head && (w->open < w->max_conns || w->n_idle > 0)) {
		if (w->open >= w->max_conns) {
			for (size_t i = 0; i < w->n_origins; i++)
				if (w->origins[i]->idle) {
					conn_close(w, w->origins[i]->idle);
					break;
				}
		}
		conn_open(w, o, r);
	} else {
		wait_push(w, o, r);
	}
	if (w->n_waiting)
		pump(w);
	return 0;
}

void wire_event(struct wire *w, uint64_t data, uint32_t events)
{
	uint32_t slot = (uint32_t)(data & 0xffffffffu);
	uint32_t gen = (uint32_t)((data >> 32) & 0x7fffffffu);
	if (slot >= w->n_slots)
		return;
	struct wconn *c = w->conns[slot];
	if (c->gen != gen || c->st == C_FREE)
		return; /* an event for a socket closed earlier in this batch */
	switch (c->st) {
	case C_CONNECTING:
		conn_connected(w, c);
		break;
	case C_WRITING:
		if (events & EPOLLOUT)
			conn_write(w, c);
		if (c->gen == gen && c->st != C_FREE && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			conn_readable(w, c);
		break;
	case C_READING:
	case C_IDLE:
		conn_readable(w, c);
		break;
	case C_FREE:
		break;
	}
	if (w->n_waiting)
		pump(w);
}

void wire_expire(struct wire *w, mono_ns now)
{
	while (w->heap_n && w->heap[0]->key <= now) {
		struct wreq *r = w->heap[0];
		struct wconn *c = r->c;
		uint64_t ms = r->timeout_ns / NS_PER_MS; /* the timeout, not our wake-up jitter */
		if (c && c->st == C_CONNECTING && now >= c->connect_deadline) {
			const char *name = c->o->name;
			uint64_t cms = w->connect_timeout_ns / NS_PER_MS;
			c->rq = NULL;
			r->c = NULL;
			conn_close(w, c);
			finish_fail(w, r, CURLE_OPERATION_TIMEDOUT,
				    "connection to %s timed out after %llu ms", name,
				    (unsigned long long)cms);
			continue;
		}
		size_t rx = c ? c->rx : 0;
		if (c) {
			c->rq = NULL;
			r->c = NULL;
			conn_close(w, c); /* its state is unknown now: never reuse it */
		}
		if (r->waiting)
			wait_unlink(w, r);
		finish_fail(w, r, CURLE_OPERATION_TIMEDOUT,
			    "timed out after %llu ms with %zu bytes received", (unsigned long long)ms,
			    rx);
	}
	if (w->n_waiting)
		pump(w);
}

int wire_reap(struct wire *w)
{
	int n = 0;
	struct wreq *r;
	while ((r = w->done_head)) {
		w->done_head = r->next;
		if (!w->done_head)
			w->done_tail = NULL;
		w->in_flight--;
		w->st.completed++;
		if (r->rs.status == 0)
			w->st.transport_errors++;
		if (r->fn)
			r->fn(r->user, &r->rs, r->sent, r->done);
		req_put(w, r);
		n++;
	}
	return n;
}
