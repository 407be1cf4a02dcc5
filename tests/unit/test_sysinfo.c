/*
 * test_sysinfo.c — the environment a run records: the /proc and /sys
 * parsers on fixture text, the envlist (order, replacement, bounds,
 * numbers), the keys made from two made-up snapshots, and the live machine.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engrave/envlist.h"
#include "engrave/sysinfo.h"

/* an x86 VM: two processors, the hypervisor flag, no cpufreq */
static const char cpuinfo_vm[] =
	"processor\t: 0\n"
	"vendor_id\t: AuthenticAMD\n"
	"model name\t: AMD EPYC 7B13  \n"
	"cpu MHz\t\t: 2450.000\n"
	"flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n"
	"\n"
	"processor\t: 1\n"
	"vendor_id\t: AuthenticAMD\n"
	"model name\t: AMD EPYC 7B13\n"
	"cpu MHz\t\t: 2450.000\n"
	"flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n";

/* bare metal: "hypervisor" appears only inside another word */
static const char cpuinfo_metal[] =
	"processor\t: 0\n"
	"model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
	"flags\t\t: fpu vme nohypervisor_x avx512f\n";

/* arm64: no model name, no flags line */
static const char cpuinfo_arm[] =
	"processor\t: 0\n"
	"BogoMIPS\t: 50.00\n"
	"Features\t: fp asimd evtstrm\n"
	"CPU implementer\t: 0x41\n";

Test(sysinfo, parses_cpuinfo)
{
	char model[64];
	int n = 0, hv = 7;
	cr_assert_eq(sysinfo_parse_cpuinfo(cpuinfo_vm, model, sizeof(model), &n, &hv), 0);
	cr_assert_str_eq(model, "AMD EPYC 7B13", "the first model name, trimmed");
	cr_assert_eq(n, 2);
	cr_assert_eq(hv, 1);
	cr_assert_eq(sysinfo_parse_cpuinfo(cpuinfo_metal, model, sizeof(model), &n, &hv), 0);
	cr_assert_str_eq(model, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
	cr_assert_eq(n, 1);
	cr_assert_eq(hv, 0, "a word containing 'hypervisor' is not the flag");
	cr_assert_eq(sysinfo_parse_cpuinfo(cpuinfo_arm, model, sizeof(model), &n, &hv), -1, "no model name");
	cr_assert_eq(n, 1);
	cr_assert_eq(hv, -1, "no flags line: unknown");
	/* a short buffer cuts the model; NULL outputs are allowed */
	char tiny[8];
	cr_assert_eq(sysinfo_parse_cpuinfo(cpuinfo_vm, tiny, sizeof(tiny), NULL, NULL), 0);
	cr_assert_str_eq(tiny, "AMD EPY");
}

Test(sysinfo, parses_meminfo_loadavg_and_sysfs_values)
{
	uint64_t total, avail;
	cr_assert_eq(sysinfo_parse_meminfo("MemTotal:       16318480 kB\nMemFree:  1 kB\n"
					   "MemAvailable:   12000000 kB\n",
					   &total, &avail),
		     0);
	cr_assert_eq(total, 16318480);
	cr_assert_eq(avail, 12000000);
	cr_assert_eq(sysinfo_parse_meminfo("MemTotal: 2048 kB\n", &total, &avail), 0);
	cr_assert_eq(avail, 0, "an old kernel without MemAvailable");
	cr_assert_eq(sysinfo_parse_meminfo("MemFree: 1 kB\n", &total, &avail), -1);

	double l[3] = { -1, -1, -1 };
	cr_assert_eq(sysinfo_parse_loadavg("0.52 0.40 1.33 2/345 6789\n", l), 0);
	cr_assert_float_eq(l[0], 0.52, 1e-12);
	cr_assert_float_eq(l[1], 0.40, 1e-12);
	cr_assert_float_eq(l[2], 1.33, 1e-12);
	cr_assert_eq(sysinfo_parse_loadavg("0.52 0.40\n", l), -1);
	cr_assert_eq(sysinfo_parse_loadavg("", l), -1);

	char v[32];
	cr_assert_eq(sysinfo_parse_line("performance\n", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "performance");
	cr_assert_eq(sysinfo_parse_line("  Standard PC (Q35 + ICH9, 2009) \nsecond\n", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "Standard PC (Q35 + ICH9, 2009)");
	cr_assert_eq(sysinfo_parse_line("\n", v, sizeof(v)), -1);
	double mhz = 0;
	cr_assert_eq(sysinfo_parse_khz("3600000\n", &mhz), 0);
	cr_assert_float_eq(mhz, 3600, 1e-9);
	cr_assert_eq(sysinfo_parse_khz("<unknown>\n", &mhz), -1);
	cr_assert_eq(sysinfo_parse_khz("0\n", &mhz), -1);
}

Test(sysinfo, envlist_keeps_order_replaces_and_is_bounded)
{
	static struct envlist l;
	envlist_init(&l);
	cr_assert_eq(envlist_set(&l, "b", "one"), 0);
	cr_assert_eq(envlist_set_num(&l, "a", 2), 0);
	cr_assert_eq(envlist_set(&l, "b", "two\tlines\n"), 0, "replaced in place");
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.v[0].key, "b");
	cr_assert_str_eq(l.v[0].value, "two lines ", "control characters become spaces");
	cr_assert_eq(l.v[0].is_num, 0);
	cr_assert_str_eq(l.v[1].value, "2");
	cr_assert_eq(l.v[1].is_num, 1);
	cr_assert_eq(envlist_set_num(&l, "a", NAN), 0);
	cr_assert_str_eq(envlist_get(&l, "a")->value, "unknown");
	cr_assert_eq(envlist_get(&l, "a")->is_num, 0);
	cr_assert_null(envlist_get(&l, "c"));
	cr_assert_eq(envlist_set(&l, "", "x"), -1, "an empty key");
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(envlist_set(&l, big, big), 0);
	cr_assert_eq(strlen(l.v[2].key), ENVLIST_KEY_MAX - 1, "the key is cut");
	cr_assert_eq(strlen(l.v[2].value), ENVLIST_VAL_MAX - 1, "the value is cut");
	cr_assert_eq(envlist_set(&l, big, "again"), 0, "the cut key is found again");
	cr_assert_eq(l.n, 3);
	for (int i = l.n; i < ENVLIST_MAX; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		cr_assert_eq(envlist_set(&l, k, "v"), 0);
	}
	cr_assert_eq(envlist_set(&l, "one.more", "v"), -1, "a full list refuses");
	cr_assert_eq(envlist_set(&l, "b", "three"), 0, "but still replaces");

	static struct envlist from, to;
	envlist_init(&from);
	envlist_init(&to);
	envlist_set(&from, "version", "1.0.0");
	envlist_set_num(&from, "hnsw.ef_search", 100);
	cr_assert_eq(envlist_merge(&to, "target.", &from), 0);
	cr_assert_str_eq(to.v[0].key, "target.version");
	cr_assert_str_eq(to.v[1].key, "target.hnsw.ef_search");
	cr_assert_eq(to.v[1].is_num, 1);
	cr_assert_eq(envlist_merge(&l, "x.", &from), 2, "what does not fit is counted");
}

static void fake_snap(struct sysinfo *s, double load1, uint64_t steal, uint64_t idle)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->cpu_model, sizeof(s->cpu_model), "AMD EPYC 7B13");
	s->cores = 2;
	s->mhz = 2450.4;
	s->mhz_max = NAN;
	s->mem_total_kb = 16318480;
	s->mem_avail_kb = 12000000;
	snprintf(s->kernel_release, sizeof(s->kernel_release), "6.1.0-18-amd64");
	snprintf(s->kernel_version, sizeof(s->kernel_version), "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1");
	s->load[0] = load1, s->load[1] = 0.5, s->load[2] = 0.25;
	s->have_cpu = 1;
	s->cpu.user = 100, s->cpu.idle = idle, s->cpu.steal = steal;
	s->cpu.ncpu = 2;
	s->hypervisor = 1;
}

Test(sysinfo, keys_from_two_snapshots)
{
	struct sysinfo a, b;
	fake_snap(&a, 1.5, 10, 1000);
	fake_snap(&b, 2.25, 30, 1180); /* 20 steal of 200 ticks: 10% */
	static struct envlist l;
	envlist_init(&l);
	sysinfo_env_start(&a, &l);
	sysinfo_env_end(&a, &b, &l);
	static const char *const want[][2] = {
		{ "cpu.model", "AMD EPYC 7B13" },
		{ "cpu.cores", "2" },
		{ "cpu.governor", "unknown" },
		{ "cpu.mhz", "2450" },
		{ "cpu.mhz_max", "unknown" },
		{ "mem.total_mb", "15936" },
		{ "mem.available_mb", "11718" },
		{ "kernel.release", "6.1.0-18-amd64" },
		{ "kernel.version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1" },
		{ "virt.hypervisor", "yes" },
		{ "virt.product", "unknown" },
		{ "compiler", NULL },
		{ "load.before", "1.50 0.50 0.25" },
		{ "load.after", "2.25 0.50 0.25" },
		{ "steal_pct", "10" },
	};
	cr_assert_eq(l.n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < l.n; i++) {
		cr_assert_str_eq(l.v[i].key, want[i][0], "key %d", i);
		if (want[i][1])
			cr_assert_str_eq(l.v[i].value, want[i][1], "%s", want[i][0]);
	}
	cr_assert_eq(envlist_get(&l, "cpu.cores")->is_num, 1);
	cr_assert_eq(envlist_get(&l, "load.after")->is_num, 0);
	cr_assert(strstr(envlist_get(&l, "compiler")->value, "gcc") || strstr(envlist_get(&l, "compiler")->value, "clang"),
		  "%s", envlist_get(&l, "compiler")->value);
	/* no /proc/stat at the end: steal is unknown, not 0 */
	b.have_cpu = 0;
	sysinfo_env_end(&a, &b, &l);
	cr_assert_str_eq(envlist_get(&l, "steal_pct")->value, "unknown");
	cr_assert(sysinfo_key_is_condition("load.before"));
	cr_assert(sysinfo_key_is_condition("steal_pct"));
	cr_assert_not(sysinfo_key_is_condition("cpu.mhz_max"));
	cr_assert_not(sysinfo_key_is_condition("cpu.model"));
}

Test(sysinfo, live_machine)
{
	struct sysinfo s;
	sysinfo_snap(&s);
	cr_assert_geq(s.cores, 1);
	cr_assert_gt(s.mem_total_kb, 0);
	cr_assert(!isnan(s.load[0]) && s.load[0] >= 0);
	cr_assert(s.kernel_release[0]);
	static struct envlist l;
	envlist_init(&l);
	sysinfo_env_start(&s, &l);
	sysinfo_env_end(&s, &s, &l);
	cr_assert_str_eq(envlist_get(&l, "steal_pct")->value, "unknown", "no tick passed between the same snapshot");
	cr_assert_gt(atof(envlist_get(&l, "mem.total_mb")->value), 0);
}
