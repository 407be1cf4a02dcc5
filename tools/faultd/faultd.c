/*
 * faultd — a fault-injecting HTTP server for measurement and failure tests.
 *
 *   faultd --port N [--port-file F] [--threads 2] [--delay-us U]
 *          [--stall-at-ms T --stall-ms D] [--fail-503-every N]
 *          [--reset-every N] [--status S] [--quiet]
 *
 * Any path answers GET with 200 and POST (or any other method) with 201 and
 * a small JSON body {"ok":true,"n":<request number>}. Faults, applied per
 * request in this order (n counts data requests from 1):
 *   --reset-every N     every Nth request: close the connection, no response
 *   --fail-503-every N  every Nth request: 503 with Retry-After: 1
 *   --status S          every other request: status S instead of 200/201
 *   --delay-us U        hold each response U µs
 *   --stall-at-ms T --stall-ms D
 *                       requests arriving in [T, T+D) ms after the first
 *                       request are held until T+D (a server pause, e.g. GC)
 * Control (never counted, never faulted):
 *   POST /_faultd/config  JSON with any of delay_us, stall_at_ms, stall_ms,
 *                         fail_503_every, reset_every, status; resets the
 *                         stall clock (the next request is "first" again)
 *   GET  /_faultd/stats   {"requests":N,"resets":N,"held":N,"status":{"200":N,...}}
 *   POST /_faultd/reset   zero the counters and the stall clock
 * --port 0 picks a free port; --port-file writes the chosen port (atomically,
 * via rename) so a test can wait for the file. Binds 127.0.0.1 only.
 *
 * Design: libmicrohttpd with an internal thread pool (2 threads, epoll).
 * Held requests do not block a thread: the handler suspends the connection
 * (MHD_suspend_connection) and a timer thread resumes it at its due time,
 * so thousands of requests can be held at once, as a real stalled server
 * holds them. Responses are queued on the second (or later) access-handler
 * call, never the first: queuing on the first makes MHD answer with
 * "Connection: close" (reference/platform.md section 4), which would turn
 * every keep-alive measurement into a connect-per-request one. SIGTERM and
 * SIGINT are taken with sigwait() in the main thread; held requests are
 * released before the daemon stops.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engrave/clock.h"
#include "engrave/xalloc.h"

struct config {
	long delay_us;
	long stall_at_ms, stall_ms;
	long fail_503_every, reset_every;
	long status;
};

struct held {
	struct MHD_Connection *conn;
	mono_ns due;
	struct held *next;
};

struct req {
	int phase;          /* 0 new, 1 held, 2 ready to answer */
	int control;
	unsigned status;
	long n;
	size_t body_len;
	char body[1024];    /* control request bodies only */
};

static struct config cfg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cv;
static struct held *held_list; /* sorted by due */
static int held_now;
static int shutting_down;
static long n_requests, n_resets, n_held_total;
static long status_counts[600];
static mono_ns first_at;
static int quiet;

/* ------------------------------------------------------------ timer thread */

static void hold(struct MHD_Connection *c, mono_ns due)
{
	struct held *h = xmalloc(sizeof(*h));
	h->conn = c;
	h->due = due;
	pthread_mutex_lock(&lock);
	struct held **pp = &held_list;
	while (*pp && (*pp)->due <= due)
		pp = &(*pp)->next;
	h->next = *pp;
	*pp = h;
	held_now++;
	n_held_total++;
	/* suspend under the lock: the timer cannot resume it before it is suspended */
	MHD_suspend_connection(c);
	pthread_cond_signal(&timer_cv);
	pthread_mutex_unlock(&lock);
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		mono_ns now = clock_mono_now();
		while (held_list && (held_list->due <= now || shutting_down)) {
			struct held *h = held_list;
			held_list = h->next;
			held_now--;
			MHD_resume_connection(h->conn);
			free(h);
		}
		if (shutting_down == 2)
			break;
		if (held_list) {
			mono_ns due = held_list->due;
			struct timespec ts = { (time_t)(due / NS_PER_S), (long)(due % NS_PER_S) };
			pthread_cond_timedwait(&timer_cv, &lock, &ts);
		} else {
			pthread_cond_wait(&timer_cv, &lock);
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* --------------------------------------------------------------- handlers */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *body,
				 int retry_after)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", "1");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void set_long(json_t *o, const char *k, long *dst)
{
	json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		*dst = (long)json_integer_value(v);
	else if (json_is_real(v))
		*dst = (long)json_real_value(v);
}

static enum MHD_Result control(struct MHD_Connection *c, const char *url, const char *method,
			       struct req *rq)
{
	char out[8192];
	if (!strcmp(url, "/_faultd/stats")) {
		pthread_mutex_lock(&lock);
		int off = snprintf(out, sizeof(out),
				   "{\"requests\":%ld,\"resets\":%ld,\"held\":%ld,\"held_now\":%d,"
				   "\"status\":{",
				   n_requests, n_resets, n_held_total, held_now);
		int first = 1;
		for (int s = 100; s < 600 && off < (int)sizeof(out) - 64; s++)
			if (status_counts[s]) {
				off += snprintf(out + off, sizeof(out) - (size_t)off, "%s\"%d\":%ld",
						first ? "" : ",", s, status_counts[s]);
				first = 0;
			}
		pthread_mutex_unlock(&lock);
		snprintf(out + off, sizeof(out) - (size_t)off, "}}");
		return send_text(c, 200, out, 0);
	}
	if (!strcmp(url, "/_faultd/reset") && strcmp(method, "GET")) {
		pthread_mutex_lock(&lock);
		n_requests = n_resets = n_held_total = 0;
		memset(status_counts, 0, sizeof(status_counts));
		first_at = 0;
		pthread_mutex_unlock(&lock);
		return send_text(c, 200, "{\"ok\":true}", 0);
	}
	if (!strcmp(url, "/_faultd/config") && strcmp(method, "GET")) {
		json_error_t je;
		json_t *o = json_loadb(rq->body, rq->body_len, 0, &je);
		if (!json_is_object(o)) {
			json_decref(o);
			snprintf(out, sizeof(out), "{\"error\":\"config is not a JSON object\"}");
			return send_text(c, 400, out, 0);
		}
		pthread_mutex_lock(&lock);
		set_long(o, "delay_us", &cfg.delay_us);
		set_long(o, "stall_at_ms", &cfg.stall_at_ms);
		set_long(o, "stall_ms", &cfg.stall_ms);
		set_long(o, "fail_503_every", &cfg.fail_503_every);
		set_long(o, "reset_every", &cfg.reset_every);
		set_long(o, "status", &cfg.status);
		first_at = 0;
		pthread_mutex_unlock(&lock);
		json_decref(o);
	}
	pthread_mutex_lock(&lock);
	snprintf(out, sizeof(out),
		 "{\"delay_us\":%ld,\"stall_at_ms\":%ld,\"stall_ms\":%ld,\"fail_503_every\":%ld,"
		 "\"reset_every\":%ld,\"status\":%ld}",
		 cfg.delay_us, cfg.stall_at_ms, cfg.stall_ms, cfg.fail_503_every, cfg.reset_every,
		 cfg.status);
	pthread_mutex_unlock(&lock);
	return send_text(c, 200, out, 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls, (void)version;
	struct req *rq = *con_cls;
	if (!rq) {
		rq = xcalloc(1, sizeof(*rq));
		rq->control = !strncmp(url, "/_faultd/", 9);
		*con_cls = rq;
		return MHD_YES; /* never answer on the first call: keep-alive */
	}
	if (*upload_size) {
		if (rq->control) {
			size_t room = sizeof(rq->body) - 1 - rq->body_len;
			size_t k = *upload_size < room ? *upload_size : room;
			memcpy(rq->body + rq->body_len, upload, k);
			rq->body_len += k;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->control)
		return control(c, url, method, rq);

	if (rq->phase == 0) {
		mono_ns now = clock_mono_now(), due = 0;
		int reset = 0;
		pthread_mutex_lock(&lock);
		long n = ++n_requests;
		if (!first_at)
			first_at = now;
		rq->n = n;
		if (cfg.reset_every > 0 && n % cfg.reset_every == 0) {
			reset = 1;
			n_resets++;
		} else if (cfg.fail_503_every > 0 && n % cfg.fail_503_every == 0) {
			rq->status = 503;
		} else if (cfg.status > 0) {
			rq->status = (unsigned)cfg.status;
		} else {
			rq->status = strcmp(method, "GET") && strcmp(method, "HEAD") ? 201 : 200;
		}
		if (!reset && rq->status < 600)
			status_counts[rq->status]++;
		if (cfg.delay_us > 0)
			due = now + (mono_ns)cfg.delay_us * NS_PER_US;
		if (cfg.stall_ms > 0) {
			mono_ns s0 = first_at + (mono_ns)cfg.stall_at_ms * NS_PER_MS;
			mono_ns s1 = s0 + (mono_ns)cfg.stall_ms * NS_PER_MS;
			if (now >= s0 && now < s1 && due < s1)
				due = s1;
		}
		pthread_mutex_unlock(&lock);
		if (reset)
			return MHD_NO; /* MHD closes the connection without a response */
		rq->phase = 2;
		if (due > now) {
			rq->phase = 1;
			hold(c, due);
			return MHD_YES;
		}
	}
	/* phase 1 (resumed) or 2 */
	char body[96];
	snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%ld}", rq->n);
	return send_text(c, rq->status, body, rq->status == 503);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f, "usage: faultd --port N [--port-file F] [--threads 2] [--delay-us U]\n"
		   "              [--stall-at-ms T --stall-ms D] [--fail-503-every N]\n"
		   "              [--reset-every N] [--status S] [--quiet]\n");
}

static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static long num_arg(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "faultd: %s wants a non-negative integer, got '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, 0, 'p' },
		{ "port-file", required_argument, 0, 'f' },
		{ "threads", required_argument, 0, 't' },
		{ "delay-us", required_argument, 0, 'd' },
		{ "stall-at-ms", required_argument, 0, 'a' },
		{ "stall-ms", required_argument, 0, 's' },
		{ "fail-503-every", required_argument, 0, '5' },
		{ "reset-every", required_argument, 0, 'r' },
		{ "status", required_argument, 0, 'S' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	long port = -1, threads = 2;
	const char *port_file = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = num_arg("--port", optarg); break;
		case 'f': port_file = optarg; break;
		case 't': threads = num_arg("--threads", optarg); break;
		case 'd': cfg.delay_us = num_arg("--delay-us", optarg); break;
		case 'a': cfg.stall_at_ms = num_arg("--stall-at-ms", optarg); break;
		case 's': cfg.stall_ms = num_arg("--stall-ms", optarg); break;
		case '5': cfg.fail_503_every = num_arg("--fail-503-every", optarg); break;
		case 'r': cfg.reset_every = num_arg("--reset-every", optarg); break;
		case 'S': cfg.status = num_arg("--status", optarg); break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (port < 0 || port > 65535 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cfg.status && (cfg.status < 100 || cfg.status > 599)) {
		fprintf(stderr, "faultd: --status %ld is not an HTTP status\n", cfg.status);
		return 2;
	}
	if (threads < 1)
		threads = 1;

	/* block the signals before any thread starts; main takes them with sigwait */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&timer_cv, &ca);
	pthread_t timer;
	pthread_create(&timer, NULL, timer_main, NULL);

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)4000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "faultd: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	int bound = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	if (port_file && write_port_file(port_file, bound) < 0) {
		fprintf(stderr, "faultd: cannot write %s: %s\n", port_file, strerror(errno));
		MHD_stop_daemon(d);
		return 1;
	}
	if (!quiet)
		fprintf(stderr, "faultd: listening on 127.0.0.1:%d (%ld threads)\n", bound, threads);

	int sig = 0;
	sigwait(&sigs, &sig);

	/* release held requests, give MHD a moment to answer them, then stop */
	pthread_mutex_lock(&lock);
	shutting_down = 1;
	pthread_cond_signal(&timer_cv);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&lock);
		int left = held_now;
		pthread_mutex_unlock(&lock);
		if (!left)
			break;
		usleep(1000);
	}
	usleep(20000);
	MHD_stop_daemon(d);
	pthread_mutex_lock(&lock);
	shutting_down = 2;
	pthread_cond_signal(&timer_cv);
	pthread_mutex_unlock(&lock);
	pthread_join(timer, NULL);
	if (!quiet)
		fprintf(stderr, "faultd: stopped by signal %d after %ld requests\n", sig, n_requests);
	return 0;
}
