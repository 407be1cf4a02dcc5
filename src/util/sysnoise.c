/*
 * sysnoise.c — snapshots of the machine's load from /proc, and the noise
 * between two of them.
 *
 * Two halves. The parsers read the text of one /proc file each and know
 * nothing about files; the snapshot reads the live files into a struct
 * (machine-wide tick counters, load average, memory, CPU frequency, and
 * every process's pid, parent, name and CPU ticks) without ever failing: a
 * field it cannot read stays unknown. sysnoise_compare() then works on two
 * snapshots alone.
 *
 * "Other" CPU time is the machine-wide busy time (user + nice + system
 * ticks of /proc/stat, all CPUs) minus what the excluded process trees used
 * in between. Counting from the machine-wide counters instead of summing
 * processes keeps short-lived processes (a make -j of compiler runs) in the
 * figure; the per-process deltas only name the top three. Interrupt time is
 * left out: on a load test it is mostly the test's own network traffic.
 *
 * Finding the target's server: the socket listening on its loopback port is
 * an inode in /proc/net/tcp{,6}; the process holding it has a
 * /proc/PID/fd/N link "socket:[inode]". Only our own user's processes can
 * be looked at, which covers a server the same user started.
 */
#include "engrave/sysnoise.h"
#include "engrave/buf.h"
#include "engrave/xalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TEXT_MAX (4u << 20) /* no /proc file we read is larger */

/* ---- parsers ------------------------------------------------------------------ */

/* The next line of `text` after `p` (or NULL). */
static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

int sysnoise_parse_stat(const char *text, struct sysnoise_cpu *out)
{
	memset(out, 0, sizeof(*out));
	int found = 0;
	for (const char *p = text; p && *p; p = next_line(p)) {
		if (strncmp(p, "cpu", 3))
			continue;
		if (isdigit((unsigned char)p[3])) {
			out->ncpu++;
			continue;
		}
		unsigned long long v[8] = { 0 };
		int n = sscanf(p + 3, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
			       &v[5], &v[6], &v[7]);
		if (n < 4)
			return -1;
		out->user = v[0];
		out->nice = v[1];
		out->system = v[2];
		out->idle = v[3];
		out->iowait = v[4];
		out->irq = v[5];
		out->softirq = v[6];
		out->steal = v[7]; /* absent before Linux 2.6.11: 0 */
		found = 1;
	}
	return found ? 0 : -1;
}

int sysnoise_parse_loadavg(const char *text, double *load1)
{
	char *end;
	double v = strtod(text, &end);
	if (end == text || !isfinite(v) || v < 0)
		return -1;
	*load1 = v;
	return 0;
}

int sysnoise_parse_meminfo(const char *text, uint64_t *avail_kb)
{
	for (const char *p = text; p && *p; p = next_line(p)) {
		unsigned long long kb;
		if (!strncmp(p, "MemAvailable:", 13) && sscanf(p + 13, "%llu", &kb) == 1) {
			*avail_kb = kb;
			return 0;
		}
	}
	return -1;
}

int sysnoise_parse_cpuinfo_mhz(const char *text, double *mhz)
{
	double sum = 0;
	int n = 0;
	for (const char *p = text; p && *p; p = next_line(p)) {
		if (strncmp(p, "cpu MHz", 7))
			continue;
		const char *c = strchr(p, ':');
		const char *nl = strchr(p, '\n');
		if (!c || (nl && c > nl))
			continue;
		char *end;
		double v = strtod(c + 1, &end);
		if (end != c + 1 && isfinite(v) && v > 0) {
			sum += v;
			n++;
		}
	}
	if (!n)
		return -1;
	*mhz = sum / n;
	return 0;
}

int sysnoise_parse_pid_stat(const char *text, struct sysnoise_proc *p)
{
	/* "pid (comm) state ppid ... utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime ..."; comm may hold spaces and ')' */
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	if (!open || !close || close < open)
		return -1;
	size_t n = (size_t)(close - open - 1);
	if (n >= sizeof(p->comm))
		n = sizeof(p->comm) - 1;
	int pp;
	unsigned long long ut, st, start;
	if (sscanf(close + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu", &pp,
		   &ut, &st, &start) != 4)
		return -1;
	memcpy(p->comm, open + 1, n);
	p->comm[n] = '\0';
	p->ppid = pp;
	p->ticks = ut + st;
	p->start = start;
	return 0;
}

uint64_t sysnoise_parse_net_tcp(const char *text, unsigned port)
{
	const char *p = next_line(text); /* the header */
	for (; p && *p; p = next_line(p)) {
		unsigned lport, st;
		unsigned long long inode;
		/* sl: local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(p, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %llu", &lport, &st,
			   &inode) != 3)
			continue;
		if (st == 0x0A && lport == port && inode) /* TCP_LISTEN */
			return inode;
	}
	return 0;
}

int sysnoise_loopback_port(const char *url, unsigned *port)
{
	const char *h = strstr(url, "://");
	if (!h)
		return 0;
	unsigned def = !strncasecmp(url, "https", 5) ? 443 : 80;
	h += 3;
	size_t hl = strcspn(h, "/?#");
	const char *at = memchr(h, '@', hl);
	if (at) {
		hl -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	const char *pe; /* where the host ends */
	if (*h == '[') {
		pe = memchr(h, ']', hl);
		if (!pe)
			return 0;
		pe++;
	} else {
		pe = memchr(h, ':', hl);
		if (!pe)
			pe = h + hl;
	}
	size_t n = (size_t)(pe - h);
	int loop = (n == 9 && !strncasecmp(h, "localhost", 9)) || (n == 5 && !strncmp(h, "[::1]", 5)) ||
		   (n >= 4 && !strncmp(h, "127.", 4));
	if (!loop)
		return 0;
	*port = def;
	if (pe < h + hl && *pe == ':') {
		char *end;
		unsigned long v = strtoul(pe + 1, &end, 10);
		if (end == pe + 1 || v == 0 || v > 65535)
			return 0;
		*port = (unsigned)v;
	}
	return 1;
}

/* ---- the live machine -------------------------------------------------------- */

int sysnoise_read_text(const char *path, struct buf *b)
{
	buf_reset(b);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char tmp[8192];
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		if (b->len + (size_t)n > TEXT_MAX || buf_append(b, tmp, (size_t)n, NULL)) {
			rc = -1;
			break;
		}
	close(fd);
	if (n < 0 || rc || buf_append(b, "", 1, NULL))
		return -1;
	return 0;
}

/* The mean of cpufreq's scaling_cur_freq (kHz) over CPUs 0..ncpu-1. */
static int cpufreq_mhz(int ncpu, double *mhz)
{
	double sum = 0;
	int n = 0;
	for (int c = 0; c < ncpu; c++) {
		char path[96], line[32];
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", c);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && atof(line) > 0) {
			sum += atof(line) / 1000.0;
			n++;
		}
		fclose(f);
	}
	if (!n)
		return -1;
	*mhz = sum / n;
	return 0;
}

static int pid_of(const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);
	return *name && !*end && v > 0 && v < 1L << 30 ? (int)v : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	const struct sysnoise_proc *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Every process's ticks; a process that vanishes while we read is skipped. */
static void snap_procs(struct sysnoise_snap *s)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid = pid_of(de->d_name);
		if (!pid)
			continue;
		char path[64], text[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n <= 0)
			continue;
		text[n] = '\0';
		struct sysnoise_proc p = { .pid = pid };
		if (sysnoise_parse_pid_stat(text, &p))
			continue;
		if (s->n_procs == cap) {
			size_t nc = cap ? 2 * cap : 256;
			struct sysnoise_proc *v = xalloc_try_resize(s->procs, nc, sizeof(*v), "the process table", NULL);
			if (!v)
				break; /* the figures stay machine-wide; the top list is partial */
			s->procs = v;
			cap = nc;
		}
		s->procs[s->n_procs++] = p;
	}
	closedir(d);
	if (s->n_procs)
		qsort(s->procs, s->n_procs, sizeof(*s->procs), cmp_pid);
}

void sysnoise_snap(struct sysnoise_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->load1 = s->mhz = NAN;
	struct buf b;
	buf_init(&b, 0);
	if (!sysnoise_read_text("/proc/loadavg", &b))
		sysnoise_parse_loadavg(b.data, &s->load1);
	if (!sysnoise_read_text("/proc/meminfo", &b))
		sysnoise_parse_meminfo(b.data, &s->mem_avail_kb);
	if (!sysnoise_read_text("/proc/cpuinfo", &b))
		sysnoise_parse_cpuinfo_mhz(b.data, &s->mhz);
	snap_procs(s);
	s->at = clock_mono_now();
	if (!sysnoise_read_text("/proc/stat", &b))
		s->have_cpu = !sysnoise_parse_stat(b.data, &s->cpu);
	buf_release(&b);
	if (s->cpu.ncpu <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->cpu.ncpu = n > 0 ? (int)n : 1;
	}
	if (isnan(s->mhz))
		cpufreq_mhz(s->cpu.ncpu, &s->mhz);
}

void sysnoise_snap_release(struct sysnoise_snap *s)
{
	if (!s)
		return;
	free(s->procs);
	s->procs = NULL;
	s->n_procs = 0;
}

/* Whether /proc/PID/fd holds the socket `inode`. */
static int holds_socket(int pid, uint64_t inode)
{
	char dir[64], want[48];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)inode);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		char path[320], link[64];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

int sysnoise_listener_pid(unsigned port)
{
	struct buf b;
	buf_init(&b, 0);
	uint64_t inode = 0;
	if (!sysnoise_read_text("/proc/net/tcp", &b))
		inode = sysnoise_parse_net_tcp(b.data, port);
	if (!inode && !sysnoise_read_text("/proc/net/tcp6", &b))
		inode = sysnoise_parse_net_tcp(b.data, port);
	buf_release(&b);
	if (!inode)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int pid = 0;
	struct dirent *de;
	while (!pid && (de = readdir(d))) {
		int p = pid_of(de->d_name);
		if (p && holds_socket(p, inode))
			pid = p;
	}
	closedir(d);
	return pid;
}

/* ---- the noise between two snapshots ---------------------------------------- */

static const struct sysnoise_proc *find_proc(const struct sysnoise_snap *s, int pid)
{
	struct sysnoise_proc key = { .pid = pid };
	return s->n_procs ? bsearch(&key, s->procs, s->n_procs, sizeof(key), cmp_pid) : NULL;
}

/* In one of the excluded trees (following parents in `s`, at most 64 up). */
static int excluded(const struct sysnoise_snap *s, int pid, const int *roots, size_t n_roots)
{
	for (int depth = 0; pid > 0 && depth < 64; depth++) {
		for (size_t i = 0; i < n_roots; i++)
			if (roots[i] > 0 && pid == roots[i])
				return 1;
		const struct sysnoise_proc *p = find_proc(s, pid);
		if (!p)
			return 0;
		pid = p->ppid;
	}
	return 0;
}

/* Ticks a process used between the snapshots (all of them if it is new). */
static uint64_t proc_delta(const struct sysnoise_snap *before, const struct sysnoise_proc *p)
{
	const struct sysnoise_proc *b = find_proc(before, p->pid);
	if (b && b->start == p->start)
		return p->ticks >= b->ticks ? p->ticks - b->ticks : 0;
	return p->ticks;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

double sysnoise_steal_pct(const struct sysnoise_cpu *b, const struct sysnoise_cpu *a)
{
	uint64_t total = sub(a->user, b->user) + sub(a->nice, b->nice) + sub(a->system, b->system) +
			 sub(a->idle, b->idle) + sub(a->iowait, b->iowait) + sub(a->irq, b->irq) +
			 sub(a->softirq, b->softirq) + sub(a->steal, b->steal);
	return total ? 100.0 * (double)sub(a->steal, b->steal) / (double)total : NAN;
}

struct by_name {
	char comm[16];
	uint64_t ticks;
};

static int cmp_ticks_desc(const void *a, const void *b)
{
	const struct by_name *x = a, *y = b;
	if (x->ticks != y->ticks)
		return x->ticks < y->ticks ? 1 : -1;
	return strcmp(x->comm, y->comm);
}

/* The three busiest other commands as "name 12.3%, ..." into out->top. */
static void top_other(const struct sysnoise_snap *before, const struct sysnoise_snap *after, const int *exclude,
		      size_t n_exclude, double capacity, struct sysnoise_result *out)
{
	struct by_name *v = after->n_procs ? xalloc_try_array(after->n_procs, sizeof(*v), "the process table", NULL)
					   : NULL;
	if (!v)
		return;
	size_t n = 0;
	for (size_t i = 0; i < after->n_procs; i++) {
		const struct sysnoise_proc *p = &after->procs[i];
		uint64_t d = proc_delta(before, p);
		if (!d || excluded(after, p->pid, exclude, n_exclude))
			continue;
		size_t k = 0;
		while (k < n && strcmp(v[k].comm, p->comm))
			k++;
		if (k == n) {
			memcpy(v[n].comm, p->comm, sizeof(v[n].comm));
			v[n++].ticks = 0;
		}
		v[k].ticks += d;
	}
	qsort(v, n, sizeof(*v), cmp_ticks_desc);
	size_t used = 0;
	for (size_t i = 0; i < n && i < 3 && used < sizeof(out->top); i++) {
		double pct = 100.0 * (double)v[i].ticks / capacity;
		int w = snprintf(out->top + used, sizeof(out->top) - used, "%s%s %.1f%%", i ? ", " : "", v[i].comm,
				 pct > 100 ? 100 : pct);
		used = w > 0 ? used + (size_t)w : used;
	}
	free(v);
}

void sysnoise_compare(const struct sysnoise_snap *before, const struct sysnoise_snap *after, const int *exclude,
		      size_t n_exclude, long hz, struct sysnoise_result *out)
{
	memset(out, 0, sizeof(*out));
	out->load1_before = before->load1;
	out->load1_after = after->load1;
	out->ncpu = after->cpu.ncpu > 0 ? after->cpu.ncpu : before->cpu.ncpu;
	out->cpu_mhz = before->mhz;
	out->mem_available_mb = before->mem_avail_kb ? (double)before->mem_avail_kb / 1024.0 : NAN;
	out->steal_pct = out->other_cpu_pct = NAN;
	if (!before->have_cpu || !after->have_cpu || after->at <= before->at || hz <= 0 || out->ncpu <= 0)
		return;
	const struct sysnoise_cpu *a = &after->cpu, *b = &before->cpu;
	uint64_t busy = sub(a->user, b->user) + sub(a->nice, b->nice) + sub(a->system, b->system);
	out->steal_pct = sysnoise_steal_pct(b, a);
	if (isnan(out->steal_pct))
		out->steal_pct = 0;
	uint64_t mine = 0;
	for (size_t i = 0; i < after->n_procs; i++)
		if (excluded(after, after->procs[i].pid, exclude, n_exclude))
			mine += proc_delta(before, &after->procs[i]);
	double capacity = (double)out->ncpu * (double)(after->at - before->at) / 1e9 * (double)hz;
	double pct = 100.0 * (double)sub(busy, mine) / capacity;
	out->other_cpu_pct = pct > 100 ? 100 : pct;
	top_other(before, after, exclude, n_exclude, capacity, out);
}

static volatile uint64_t speed_sink; /* keeps the chain from being optimised away */

double sysnoise_cpu_speed(void)
{
	enum { STEPS = 1 << 20, TRIALS = 5 };
	double best = 0;
	for (int t = 0; t < TRIALS; t++) {
		uint64_t x = 88172645463325252ULL + (uint64_t)t;
		mono_ns t0 = clock_mono_now();
		for (int i = 0; i < STEPS; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		mono_ns dt = clock_mono_now() - t0;
		speed_sink ^= x;
		double s = dt > 0 ? (double)STEPS / ((double)dt / 1e3) : 0;
		best = s > best ? s : best;
	}
	return best;
}
