/*
 * bench-loadgen — a benchmark driver for engrave's open-loop executor.
 *
 *   bench-loadgen serve [--port N] [--port-file F] [--threads N]
 *       a small libmicrohttpd server answering every request with 200 "ok"
 *       (epoll, internal thread pool), until SIGTERM/SIGINT;
 *   bench-loadgen run --url URL --rate R [--duration S] [--max-in-flight N] [--live]
 *       one constant-rate open-loop run of GET URL; prints one key=value line;
 *   bench-loadgen max --url URL [--duration S] [--start R] [--max-in-flight N] [--on-time]
 *   (run and max also take --spin-us N: a fixed spin margin before due times,
 *   --workers N: loadgen worker threads, see loadgen.h, and
 *   --transport native|curl: the engine's HTTP transport, native by default)
 *       the highest rate engrave sustains: halve from --start until a rate is
 *       sustained, else grow by 1.5x until one is not, then bisect 5 times
 *       (a rate that fails is tried a second time); prints max_rate=...
 *
 * "Sustained" means: throughput >= 99% of the target rate, nothing dropped,
 * no errors, and at most 1% of the sends more than 1 ms late while the
 * in-flight cap had room (the executor's own saturation signal). That
 * counts a rate at which the cap is full most of the time (the server, not
 * the client, sets the pace: closed-loop behaviour, as wrk's -c32); with
 * --on-time a rate is sustained only if, besides, at most 1% of the sends
 * had to wait at the cap, i.e. requests left on time. "Late" here is the
 * executor's lateness bound set to 1 ms (opts.late_ns). Latencies are from
 * the intended send time (loadgen.h), computed exactly from the records
 * (metrics.h), with the client's wake-up error beside them (wakeup_p50_us,
 * wakeup_p99_us: the lateness of the sends the client had room for).
 * --spin-us N fixes the executor's spin margin (default: adaptive); 1 is
 * practically "sleep until the due time", the executor's old default.
 * tools/bench/loadgen.sh compares these figures with wrk's on the same server.
 */
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engrave/clock.h"
#include "engrave/err.h"
#include "engrave/loadgen.h"
#include "engrave/log.h"
#include "engrave/metrics.h"
#include "engrave/sched.h"

static volatile sig_atomic_t stop_flag;
static uint64_t spin_ns;
static int workers = 1;
static int transport = LOADGEN_NATIVE;
static int on_time; /* --on-time: a sustained rate also leaves (almost) no send waiting at the cap */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ---- serve ------------------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	(void)cls, (void)url, (void)method, (void)version, (void)upload;
	static int marker;
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	static const char body[] = "ok";
	struct MHD_Response *rs =
		MHD_create_response_from_buffer(2, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r = MHD_queue_response(c, 200, rs);
	MHD_destroy_response(rs);
	return r;
}

static int cmd_serve(int port, const char *port_file, int threads)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)port, NULL, NULL, handle, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 0 ? threads : 1),
		MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bench-loadgen: cannot start the server on port %d\n", port);
		return 1;
	}
	int bound = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (!f || fprintf(f, "%d\n", bound) < 0 || fclose(f) != 0) {
			fprintf(stderr, "bench-loadgen: cannot write %s\n", port_file);
			MHD_stop_daemon(d);
			return 1;
		}
	}
	fprintf(stderr, "bench-loadgen: serving on 127.0.0.1:%d\n", bound);
	while (!stop_flag)
		pause();
	MHD_stop_daemon(d);
	return 0;
}

/* ---- run / max ------------------------------------------------------------------ */

struct ctx {
	const char *url;
};

static int build(void *c, unsigned slot, const struct sched_op *op, struct http_request *rq,
		 struct err *e)
{
	(void)slot, (void)op, (void)e;
	rq->url = ((struct ctx *)c)->url;
	return 0;
}

struct outcome {
	double rate, throughput;
	uint64_t sent, late_free, cap_waits, dropped, errors;
	struct metrics m;
	int sustained;
};

static int one_run(const char *url, double rate, double seconds, int cap, int live,
		   struct outcome *out)
{
	struct sched_params p;
	memset(&p, 0, sizeof(p));
	p.pattern = SCHED_CONSTANT;
	p.rate = rate;
	p.duration_ns = (uint64_t)(seconds * 1e9);
	p.weight[OP_RECALL] = 1;
	p.seed = 1;
	struct sched s;
	struct err e = ERR_INIT;
	if (sched_init(&s, &p, &e) < 0) {
		fprintf(stderr, "bench-loadgen: %s\n", e.msg);
		return -1;
	}
	struct ctx c = { url };
	struct loadgen_target t = { &c, build, NULL, NULL };
	struct loadgen_opts o = { 0 };
	o.max_in_flight = cap;
	o.live = live;
	o.stop = &stop_flag;
	o.drop_after_ns = NS_PER_S;
	o.late_ns = NS_PER_MS; /* "sustained": <= 1% of sends > 1 ms late with room */
	o.spin_ns = spin_ns;
	o.threads = workers;
	o.transport = transport;
	struct loadgen_result res;
	if (loadgen_run(&s, &t, &o, &res, &e) < 0) {
		fprintf(stderr, "bench-loadgen: %s\n", e.msg);
		loadgen_result_release(&res);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (metrics_from_records(res.records.v, res.records.n, 0, p.duration_ns, &out->m, &e) < 0) {
		fprintf(stderr, "bench-loadgen: %s\n", e.msg);
		loadgen_result_release(&res);
		return -1;
	}
	out->rate = rate;
	out->throughput = out->m.throughput;
	out->sent = res.sent;
	out->late_free = res.late_free;
	out->cap_waits = res.cap_waits;
	out->dropped = res.dropped;
	out->errors = res.errors;
	out->sustained = out->throughput >= 0.99 * rate && res.dropped == 0 && res.errors == 0 &&
			 res.late_free * 100 <= res.sent && (!on_time || res.cap_waits * 100 <= res.sent);
	if (res.errors)
		for (int k = 0; k < RECORD_ERR_COUNT; k++)
			if (res.first_error[k][0])
				fprintf(stderr, "bench-loadgen: %s: %s\n", records_err_name((enum record_err)k),
					res.first_error[k]);
	loadgen_result_release(&res);
	return 0;
}

static void print_outcome(const struct outcome *o)
{
	const struct metrics_dist *l = &o->m.all.latency, *s = &o->m.all.service;
	const struct metrics_dist *w = &o->m.wakeup;
	printf("target_rate=%.0f throughput=%.1f sent=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f max_us=%.1f svc_p50_us=%.1f svc_p99_us=%.1f wakeup_p50_us=%.1f "
	       "wakeup_p99_us=%.1f late_free=%llu cap_waits=%llu dropped=%llu errors=%llu sustained=%d\n",
	       o->rate, o->throughput, (unsigned long long)o->sent, l->pct[0] / 1e3, l->pct[1] / 1e3,
	       l->pct[3] / 1e3, l->pct[4] / 1e3, l->max / 1e3, s->pct[0] / 1e3, s->pct[3] / 1e3,
	       w->pct[0] / 1e3, w->pct[3] / 1e3, (unsigned long long)o->late_free,
	       (unsigned long long)o->cap_waits, (unsigned long long)o->dropped,
	       (unsigned long long)o->errors, o->sustained);
	fflush(stdout);
}

/* One rate, tried twice when the first run is not sustained (a shared
 * machine has hiccups): 1 sustained, 0 not, -1 error. */
static int try_rate(const char *url, double r, double seconds, int cap)
{
	struct outcome o;
	for (int attempt = 0; attempt < 2 && !stop_flag; attempt++) {
		if (one_run(url, r, seconds, cap, 0, &o) < 0)
			return -1;
		print_outcome(&o);
		if (o.sustained)
			return 1;
	}
	return 0;
}

static int cmd_max(const char *url, double seconds, double start, int cap)
{
	double good = 0, bad = 0, r = start;
	int ok;
	/* find a sustained rate: halve from `start` while it is not */
	while (!stop_flag && r >= 250) {
		if ((ok = try_rate(url, r, seconds, cap)) < 0)
			return 1;
		if (ok) {
			good = r;
			break;
		}
		bad = r;
		r /= 2;
	}
	/* grow by 1.5x until it is not, unless the halving found the bound already */
	while (!stop_flag && good > 0 && bad == 0) {
		r = good * 1.5;
		if ((ok = try_rate(url, r, seconds, cap)) < 0)
			return 1;
		if (ok)
			good = r;
		else
			bad = r;
	}
	for (int k = 0; k < 5 && good > 0 && !stop_flag; k++) {
		r = (good + bad) / 2;
		if ((ok = try_rate(url, r, seconds, cap)) < 0)
			return 1;
		if (ok)
			good = r;
		else
			bad = r;
	}
	printf("max_rate=%.0f\n", good);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-loadgen serve [--port N] [--port-file F] [--threads N]\n"
		   "       bench-loadgen run --url URL --rate R [--duration S] [--max-in-flight N] [--live]\n"
		   "                         [--spin-us N] [--workers N] [--transport native|curl]\n"
		   "       bench-loadgen max --url URL [--duration S] [--start R] [--max-in-flight N]\n"
		   "                         [--spin-us N] [--workers N] [--transport native|curl] [--on-time]\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *mode = argv[1], *url = NULL, *port_file = NULL;
	double rate = 0, seconds = 5, start = 2000;
	int port = 0, threads = 1, cap = 64, live = 0;
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },	   { "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },	   { "start", required_argument, NULL, 's' },
		{ "max-in-flight", required_argument, NULL, 'c' }, { "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },	   { "threads", required_argument, NULL, 't' },
		{ "live", no_argument, NULL, 'l' },		   { "spin-us", required_argument, NULL, 'S' },
		{ "workers", required_argument, NULL, 'w' },		   { "help", no_argument, NULL, 'h' },
		{ "transport", required_argument, NULL, 'T' },	   { "on-time", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 's': start = atof(optarg); break;
		case 'c': cap = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'f': port_file = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'l': live = 1; break;
		case 'S': spin_ns = (uint64_t)(atof(optarg) * 1e3); break;
		case 'w': workers = atoi(optarg); break;
		case 'T':
			if (!strcmp(optarg, "native"))
				transport = LOADGEN_NATIVE;
			else if (!strcmp(optarg, "curl"))
				transport = LOADGEN_CURL;
			else {
				fprintf(stderr, "bench-loadgen: --transport wants native or curl, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'O': on_time = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (strcmp(mode, "serve") == 0)
		return cmd_serve(port, port_file, threads);
	if (!url) {
		usage(stderr);
		return 2;
	}
	if (strcmp(mode, "run") == 0) {
		if (rate <= 0) {
			usage(stderr);
			return 2;
		}
		struct outcome o;
		if (one_run(url, rate, seconds, cap, live, &o) < 0)
			return 1;
		print_outcome(&o);
		return 0;
	}
	if (strcmp(mode, "max") == 0)
		return cmd_max(url, seconds, start, cap);
	usage(stderr);
	return 2;
}
