/*
 * sysinfo.h — what a run's machine is, and the conditions around the run,
 * as the environment keys every run record stores (envlist.h).
 *
 * A snapshot is taken when a run starts and one when it ends;
 * sysinfo_env_start() and sysinfo_env_end() turn them into keys, in this
 * order (numbers marked so; "unknown" where the machine does not say, as
 * for the governor and frequencies on most VMs):
 *
 *   cpu.model         /proc/cpuinfo "model name"
 *   cpu.cores         online CPUs (number)
 *   cpu.governor      cpufreq scaling_governor of cpu0
 *   cpu.mhz           mean current MHz at the start (number)      [condition]
 *   cpu.mhz_max       cpufreq cpuinfo_max_freq of cpu0 (number)
 *   mem.total_mb      MemTotal (number)
 *   mem.available_mb  MemAvailable at the start (number)          [condition]
 *   kernel.release    uname -r
 *   kernel.version    uname -v
 *   virt.hypervisor   "yes"/"no": the cpu flag "hypervisor" (x86)
 *   virt.product      DMI sys_vendor + product_name
 *   compiler          the compiler that built engrave, and how
 *   load.before       "1m 5m 15m" load averages at the start      [condition]
 *   load.after        the same at the end                          [condition]
 *   steal_pct         steal ticks as % of all CPU ticks over the run
 *                     (/proc/stat, as sysnoise) (number)          [condition]
 *
 * "Condition" keys describe the moment, not the machine: they differ
 * between any two runs, so `engrave diff` shows them apart from the keys
 * that say two runs were measured on different machines or builds.
 *
 * The parsers take the text of one file each so tests feed them fixtures;
 * sysinfo_snap() is the only function here that reads the live files, and
 * it never fails: what cannot be read stays unknown.
 */
#ifndef ENGRAVE_SYSINFO_H
#define ENGRAVE_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

#include "engrave/envlist.h"
#include "engrave/sysnoise.h"

struct sysinfo {
	char cpu_model[128];      /* "" unknown */
	int cores;                /* online CPUs; >= 1 */
	char governor[32];        /* "" unknown */
	double mhz, mhz_max;      /* NAN unknown */
	uint64_t mem_total_kb, mem_avail_kb; /* 0 unknown */
	char kernel_release[64], kernel_version[128];
	double load[3];           /* 1, 5, 15 minutes; NAN unknown */
	struct sysnoise_cpu cpu;  /* /proc/stat */
	int have_cpu;
	int hypervisor;           /* 1 flag set, 0 flags without it, -1 no flags line */
	char product[128];        /* DMI vendor + product; "" unknown */
};

/* ---- parsers (text of one file; 0 ok, -1 when what is wanted is absent) ---- */

/* /proc/cpuinfo: the first "model name" (model, may be NULL), the number of
 * "processor" lines (*n_proc, may be NULL) and the "hypervisor" flag
 * (*hypervisor, may be NULL: 1, 0, or -1 without a "flags" line). -1 when
 * there is no model name. */
int sysinfo_parse_cpuinfo(const char *text, char *model, size_t cap, int *n_proc, int *hypervisor);
/* /proc/meminfo: MemTotal and MemAvailable in kB (0 when absent); -1 without MemTotal. */
int sysinfo_parse_meminfo(const char *text, uint64_t *total_kb, uint64_t *avail_kb);
/* /proc/loadavg: the 1, 5 and 15 minute averages. */
int sysinfo_parse_loadavg(const char *text, double load[3]);
/* A one-value sysfs file (a governor, a DMI name): its first line, trimmed;
 * -1 when empty. */
int sysinfo_parse_line(const char *text, char *out, size_t cap);
/* A cpufreq file in kHz ("3600000\n") as MHz. */
int sysinfo_parse_khz(const char *text, double *mhz);

/* ---- the live machine ------------------------------------------------------ */

void sysinfo_snap(struct sysinfo *s);
/* "gcc 12.2.0, optimized" (+ ", ASan"): how this engrave was built. */
const char *sysinfo_compiler(void);

/* ---- environment keys ------------------------------------------------------ */

/* The machine's keys and the start conditions, from the start snapshot. */
void sysinfo_env_start(const struct sysinfo *start, struct envlist *out);
/* load.after and steal_pct, from the start and end snapshots. */
void sysinfo_env_end(const struct sysinfo *start, const struct sysinfo *end, struct envlist *out);
/* 1 when `key` is a condition of the moment (see above), not a fact of the machine. */
int sysinfo_key_is_condition(const char *key);

#endif
