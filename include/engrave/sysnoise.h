/*
 * sysnoise.h — the machine's noise floor around a measurement, from /proc.
 *
 * A latency figure from a busy machine is a figure about the machine. The
 * load test takes a snapshot before its measured phase(s) and one after, and
 * sysnoise_compare() turns the pair into what the run records (run metrics
 * noise.*, see runmetrics.h):
 *   load1_before/after  1-minute load average (/proc/loadavg)
 *   ncpu                online CPUs (the "cpuN" lines of /proc/stat)
 *   cpu_mhz             mean current MHz over the CPUs at the start
 *                       (/proc/cpuinfo "cpu MHz", else cpufreq); NAN unknown
 *   steal_pct           steal ticks as % of all CPU ticks in between
 *   other_cpu_pct       CPU time (user + nice + system ticks of /proc/stat)
 *                       of everything but the excluded process trees
 *                       (engrave, the target's server), as % of the
 *                       machine's capacity ncpu x wall time, 0..100. From the
 *                       machine-wide counters, so processes that came and went
 *                       in between (a compiler run) count too.
 *   mem_available_mb    MemAvailable at the start (/proc/meminfo)
 *   top                 the three busiest other commands (processes of one
 *                       name summed, alive at the end), each with its share of
 *                       the same capacity: "python3 41.2%, cc1 12.0%"
 *
 * The parsers take the text of a /proc file, so tests feed them fixtures;
 * sysnoise_snap(), sysnoise_listener_pid() and sysnoise_read_text() (which
 * sysinfo.h shares) are the only functions that read the live files. Nothing here fails a run: what cannot be read stays
 * unknown (NAN, 0) and is left out by the caller.
 */
#ifndef ENGRAVE_SYSNOISE_H
#define ENGRAVE_SYSNOISE_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/clock.h"

/* The aggregate "cpu" line of /proc/stat, in USER_HZ ticks, and the CPU count. */
struct sysnoise_cpu {
	uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
	int ncpu; /* "cpuN" lines: the online CPUs */
};

/* One process at a snapshot: utime + stime of all its threads, in ticks;
 * (pid, start) names it (a pid may be reused, a kernel thread renames itself). */
struct sysnoise_proc {
	int pid, ppid;
	uint64_t ticks;
	uint64_t start;           /* start time, ticks after boot */
	char comm[16];
};

struct sysnoise_snap {
	mono_ns at;
	double load1;             /* NAN: unknown */
	struct sysnoise_cpu cpu;
	int have_cpu;
	uint64_t mem_avail_kb;    /* 0: unknown */
	double mhz;               /* NAN: unknown */
	struct sysnoise_proc *procs; /* sorted by pid */
	size_t n_procs;
};

struct sysnoise_result {
	double load1_before, load1_after; /* NAN: unknown */
	int ncpu;
	double cpu_mhz;           /* NAN: unknown */
	double steal_pct;         /* NAN: unknown */
	double other_cpu_pct;     /* 0..100; NAN: unknown */
	double mem_available_mb;  /* NAN: unknown */
	double cpu_speed_before, cpu_speed_after; /* sysnoise_cpu_speed; NAN: not measured */
	char top[160];            /* "" when no other process used the CPU */
};

/* ---- parsers (text of a /proc file; 0 ok, -1 when the field is absent) ---- */

int sysnoise_parse_stat(const char *text, struct sysnoise_cpu *out);
int sysnoise_parse_loadavg(const char *text, double *load1);
int sysnoise_parse_meminfo(const char *text, uint64_t *avail_kb);
/* The mean of the "cpu MHz" lines of /proc/cpuinfo. */
int sysnoise_parse_cpuinfo_mhz(const char *text, double *mhz);
/* /proc/PID/stat into p (all but p->pid): comm (truncated), ppid, utime +
 * stime ticks, start time. */
int sysnoise_parse_pid_stat(const char *text, struct sysnoise_proc *p);
/* /proc/net/tcp or tcp6: the inode of a socket listening on `port`; 0 none. */
uint64_t sysnoise_parse_net_tcp(const char *text, unsigned port);
/* 1 and *port when `url`'s host is loopback (127.x.y.z, localhost, [::1];
 * the port defaults to 80 / 443 by scheme), else 0. */
int sysnoise_loopback_port(const char *url, unsigned *port);

/* ---- the live machine ------------------------------------------------------ */

struct buf;
/* The whole of a small /proc or /sys file into b as a NUL-terminated string;
 * 0, or -1 when it cannot be read (absent, unreadable, over 4 MiB). */
int sysnoise_read_text(const char *path, struct buf *b);
/* Steal ticks between two readings of /proc/stat as % of all CPU ticks in
 * between; NAN when no tick passed. */
double sysnoise_steal_pct(const struct sysnoise_cpu *before, const struct sysnoise_cpu *after);

/* A snapshot now (release it). Never fails: what cannot be read is unknown. */
void sysnoise_snap(struct sysnoise_snap *s);
/*
 * The machine's effective single-thread speed now, in steps of a fixed
 * chain of dependent integer operations per microsecond: the best of five
 * ~1 ms trials, so a moment's preemption is filtered out while a sustained
 * slowdown (a throttled or shared virtual CPU, which neither steal nor the
 * MHz shows on every hypervisor) is not. About 10 ms.
 */
double sysnoise_cpu_speed(void);
void sysnoise_snap_release(struct sysnoise_snap *s); /* NULL-safe */

/* The pid owning the socket listening on TCP `port` (/proc/net/tcp{,6} inode
 * -> /proc/PID/fd/ "socket:[inode]"), 0 when none is found (e.g. another
 * user's process, or another network namespace). */
int sysnoise_listener_pid(unsigned port);

/*
 * The noise between two snapshots. `exclude` lists the roots of the process
 * trees that belong to the measurement (engrave, the target's server); they
 * and their descendants are not "other". `hz` is the tick rate
 * (sysconf(_SC_CLK_TCK)).
 */
void sysnoise_compare(const struct sysnoise_snap *before, const struct sysnoise_snap *after, const int *exclude,
		      size_t n_exclude, long hz, struct sysnoise_result *out);

#endif
