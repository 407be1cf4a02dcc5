/*
 * sysinfo.c — the machine a run measured on, and the conditions around it,
 * as environment keys (see include/engrave/sysinfo.h for the key list).
 *
 * Same shape as sysnoise.c, whose file reader and /proc/stat parser it
 * shares: parsers over the text of one file, a snapshot that reads the live
 * files and never fails, and two functions that turn snapshots into keys.
 * The snapshot reads a dozen small files (no per-process scan), so taking
 * one at the start and the end of every run costs well under a
 * millisecond. Frequency and governor come from cpu0 only: a run records
 * what the machine is set to, and a mixed setting is rare enough that cpu0
 * stands for it.
 */
#include "engrave/sysinfo.h"
#include "engrave/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- parsers ------------------------------------------------------------------ */

static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

/* The value after "key<spaces>: " on line p, up to the end of the line, trimmed. */
static void line_value(const char *p, char *out, size_t cap)
{
	const char *c = strchr(p, ':'), *nl = strchr(p, '\n');
	if (!nl)
		nl = p + strlen(p);
	if (!c || c > nl)
		c = nl;
	else
		c++;
	while (c < nl && isspace((unsigned char)*c))
		c++;
	size_t n = (size_t)(nl - c);
	while (n && isspace((unsigned char)c[n - 1]))
		n--;
	snprintf(out, cap, "%.*s", (int)n, c);
}

/* Whether the flags value on line p holds the word `w`. */
static int has_word(const char *p, const char *w)
{
	char flags[4096];
	line_value(p, flags, sizeof(flags));
	size_t n = strlen(w);
	for (const char *f = flags; (f = strstr(f, w)); f += n)
		if ((f == flags || f[-1] == ' ') && (f[n] == ' ' || f[n] == '\0'))
			return 1;
	return 0;
}

int sysinfo_parse_cpuinfo(const char *text, char *model, size_t cap, int *n_proc, int *hypervisor)
{
	int procs = 0, hv = -1, found = 0;
	for (const char *p = text; p && *p; p = next_line(p)) {
		if (!strncmp(p, "processor", 9) && (p[9] == ' ' || p[9] == '\t' || p[9] == ':'))
			procs++;
		else if (!found && !strncmp(p, "model name", 10)) {
			if (model && cap)
				line_value(p, model, cap);
			found = 1;
		} else if (hv != 1 && !strncmp(p, "flags", 5) && (p[5] == ' ' || p[5] == '\t' || p[5] == ':'))
			hv = has_word(p, "hypervisor");
	}
	if (n_proc)
		*n_proc = procs;
	if (hypervisor)
		*hypervisor = hv;
	return found ? 0 : -1;
}

int sysinfo_parse_meminfo(const char *text, uint64_t *total_kb, uint64_t *avail_kb)
{
	*total_kb = *avail_kb = 0;
	for (const char *p = text; p && *p; p = next_line(p)) {
		unsigned long long kb;
		if (!strncmp(p, "MemTotal:", 9) && sscanf(p + 9, "%llu", &kb) == 1)
			*total_kb = kb;
		else if (!strncmp(p, "MemAvailable:", 13) && sscanf(p + 13, "%llu", &kb) == 1)
			*avail_kb = kb;
	}
	return *total_kb ? 0 : -1;
}

int sysinfo_parse_loadavg(const char *text, double load[3])
{
	double v[3];
	if (sscanf(text, "%lf %lf %lf", &v[0], &v[1], &v[2]) != 3)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (!isfinite(v[i]) || v[i] < 0)
			return -1;
		load[i] = v[i];
	}
	return 0;
}

int sysinfo_parse_line(const char *text, char *out, size_t cap)
{
	while (*text == ' ' || *text == '\t')
		text++;
	size_t n = strcspn(text, "\r\n");
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (!n)
		return -1;
	snprintf(out, cap, "%.*s", (int)n, text);
	return 0;
}

int sysinfo_parse_khz(const char *text, double *mhz)
{
	char *end;
	double v = strtod(text, &end);
	if (end == text || !isfinite(v) || v <= 0)
		return -1;
	*mhz = v / 1000.0;
	return 0;
}

/* ---- the live machine -------------------------------------------------------- */

/* First line of a sysfs file into out (cap bytes); -1 when absent or empty. */
static int read_line(const char *path, struct buf *b, char *out, size_t cap)
{
	return sysnoise_read_text(path, b) ? -1 : sysinfo_parse_line(b->data, out, cap);
}

static void snap_cpufreq(struct sysinfo *s, struct buf *b)
{
	static const char cf[] = "/sys/devices/system/cpu/cpu0/cpufreq/";
	char path[128];
	snprintf(path, sizeof(path), "%sscaling_governor", cf);
	read_line(path, b, s->governor, sizeof(s->governor));
	snprintf(path, sizeof(path), "%scpuinfo_max_freq", cf);
	if (!sysnoise_read_text(path, b))
		sysinfo_parse_khz(b->data, &s->mhz_max);
	snprintf(path, sizeof(path), "%sscaling_cur_freq", cf);
	if (isnan(s->mhz) && !sysnoise_read_text(path, b))
		sysinfo_parse_khz(b->data, &s->mhz);
}

static void snap_product(struct sysinfo *s, struct buf *b)
{
	char vendor[48] = "", product[64] = "";
	read_line("/sys/class/dmi/id/sys_vendor", b, vendor, sizeof(vendor));
	read_line("/sys/class/dmi/id/product_name", b, product, sizeof(product));
	if (vendor[0] || product[0])
		snprintf(s->product, sizeof(s->product), "%s%s%s", vendor, vendor[0] && product[0] ? " " : "", product);
}

void sysinfo_snap(struct sysinfo *s)
{
	memset(s, 0, sizeof(*s));
	s->mhz = s->mhz_max = NAN;
	s->load[0] = s->load[1] = s->load[2] = NAN;
	s->hypervisor = -1;
	struct buf b;
	buf_init(&b, 0);
	if (!sysnoise_read_text("/proc/cpuinfo", &b)) {
		sysinfo_parse_cpuinfo(b.data, s->cpu_model, sizeof(s->cpu_model), NULL, &s->hypervisor);
		sysnoise_parse_cpuinfo_mhz(b.data, &s->mhz);
	}
	if (!sysnoise_read_text("/proc/meminfo", &b))
		sysinfo_parse_meminfo(b.data, &s->mem_total_kb, &s->mem_avail_kb);
	if (!sysnoise_read_text("/proc/loadavg", &b))
		sysinfo_parse_loadavg(b.data, s->load);
	if (!sysnoise_read_text("/proc/stat", &b))
		s->have_cpu = !sysnoise_parse_stat(b.data, &s->cpu);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	s->cores = n > 0 ? (int)n : s->cpu.ncpu > 0 ? s->cpu.ncpu : 1;
	snap_cpufreq(s, &b);
	snap_product(s, &b);
	buf_release(&b);
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(s->kernel_release, sizeof(s->kernel_release), "%.63s", u.release);
		snprintf(s->kernel_version, sizeof(s->kernel_version), "%.127s", u.version);
	}
}

const char *sysinfo_compiler(void)
{
#if defined(__clang__)
#define ENGRAVE_CC "clang " __clang_version__
#elif defined(__GNUC__)
#define ENGRAVE_CC "gcc " __VERSION__
#else
#define ENGRAVE_CC "unknown compiler"
#endif
#if defined(__OPTIMIZE__)
#define ENGRAVE_OPT ", optimized"
#else
#define ENGRAVE_OPT ", unoptimized"
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ENGRAVE_SAN ", ASan"
#else
#define ENGRAVE_SAN ""
#endif
	return ENGRAVE_CC ENGRAVE_OPT ENGRAVE_SAN;
}

/* ---- environment keys -------------------------------------------------------- */

static void set_or_unknown(struct envlist *l, const char *key, const char *v)
{
	envlist_set(l, key, v && v[0] ? v : "unknown");
}

static void set_load(struct envlist *l, const char *key, const double load[3])
{
	if (isnan(load[0]))
		envlist_set(l, key, "unknown");
	else
		envlist_setf(l, key, "%.2f %.2f %.2f", load[0], load[1], load[2]);
}

void sysinfo_env_start(const struct sysinfo *s, struct envlist *out)
{
	set_or_unknown(out, "cpu.model", s->cpu_model);
	envlist_set_num(out, "cpu.cores", s->cores);
	set_or_unknown(out, "cpu.governor", s->governor);
	envlist_set_num(out, "cpu.mhz", isnan(s->mhz) ? NAN : round(s->mhz));
	envlist_set_num(out, "cpu.mhz_max", isnan(s->mhz_max) ? NAN : round(s->mhz_max));
	envlist_set_num(out, "mem.total_mb", s->mem_total_kb ? (double)(s->mem_total_kb / 1024) : NAN);
	envlist_set_num(out, "mem.available_mb", s->mem_avail_kb ? (double)(s->mem_avail_kb / 1024) : NAN);
	set_or_unknown(out, "kernel.release", s->kernel_release);
	set_or_unknown(out, "kernel.version", s->kernel_version);
	set_or_unknown(out, "virt.hypervisor", s->hypervisor < 0 ? NULL : s->hypervisor ? "yes" : "no");
	set_or_unknown(out, "virt.product", s->product);
	envlist_set(out, "compiler", sysinfo_compiler());
	set_load(out, "load.before", s->load);
}

void sysinfo_env_end(const struct sysinfo *start, const struct sysinfo *end, struct envlist *out)
{
	set_load(out, "load.after", end->load);
	double steal = start->have_cpu && end->have_cpu ? sysnoise_steal_pct(&start->cpu, &end->cpu) : NAN;
	envlist_set_num(out, "steal_pct", isnan(steal) ? NAN : round(steal * 100) / 100);
}

int sysinfo_key_is_condition(const char *key)
{
	static const char *const conditions[] = { "cpu.mhz", "mem.available_mb", "load.before", "load.after",
						  "steal_pct", NULL };
	for (int i = 0; conditions[i]; i++)
		if (!strcmp(key, conditions[i]))
			return 1;
	return 0;
}
