/*
 * test_sysnoise.c — the /proc parsers on fixture text, the noise between two
 * made-up snapshots, and a smoke test on the live machine.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engrave/clock.h"
#include "engrave/sysnoise.h"

static const char stat_text[] =
	"cpu  100 5 50 1000 10 1 2 30 0 0\n"
	"cpu0 50 2 25 500 5 1 1 15 0 0\n"
	"cpu1 50 3 25 500 5 0 1 15 0 0\n"
	"intr 12345 0 0 0\n"
	"ctxt 999\n"
	"btime 1700000000\n";

Test(sysnoise, parses_proc_stat)
{
	struct sysnoise_cpu c;
	cr_assert_eq(sysnoise_parse_stat(stat_text, &c), 0);
	const uint64_t got[] = { c.user, c.nice, c.system, c.idle, c.iowait, c.irq, c.softirq, c.steal, (uint64_t)c.ncpu },
		       want[] = { 100, 5, 50, 1000, 10, 1, 2, 30, 2 };
	for (size_t i = 0; i < sizeof(got) / sizeof(got[0]); i++)
		cr_assert_eq(got[i], want[i], "field %zu: %llu", i, (unsigned long long)got[i]);
	/* an old kernel without steal */
	cr_assert_eq(sysnoise_parse_stat("cpu  1 2 3 4\ncpu0 1 2 3 4\n", &c), 0);
	cr_assert_eq(c.steal, 0);
	cr_assert_eq(c.idle, 4);
	cr_assert_eq(sysnoise_parse_stat("intr 1 2\n", &c), -1);
}

Test(sysnoise, parses_loadavg_meminfo_and_cpuinfo)
{
	double l = -1;
	cr_assert_eq(sysnoise_parse_loadavg("0.52 0.58 0.59 1/467 12345\n", &l), 0);
	cr_assert_float_eq(l, 0.52, 1e-12);
	cr_assert_eq(sysnoise_parse_loadavg("", &l), -1);
	uint64_t kb = 0;
	cr_assert_eq(sysnoise_parse_meminfo("MemTotal:       16000000 kB\nMemFree:         1000 kB\n"
					    "MemAvailable:    8192000 kB\nBuffers: 1 kB\n", &kb), 0);
	cr_assert_eq(kb, 8192000);
	cr_assert_eq(sysnoise_parse_meminfo("MemTotal: 1 kB\n", &kb), -1);
	double mhz = 0;
	cr_assert_eq(sysnoise_parse_cpuinfo_mhz("processor\t: 0\nmodel name\t: Some CPU @ 2.40GHz\ncpu MHz\t\t: 2400.000\n\n"
						"processor\t: 1\ncpu MHz\t\t: 3600.000\n", &mhz), 0);
	cr_assert_float_eq(mhz, 3000.0, 1e-9);
	cr_assert_eq(sysnoise_parse_cpuinfo_mhz("processor\t: 0\nBogoMIPS\t: 50.00\n", &mhz), -1, "no MHz: unknown");
}

Test(sysnoise, parses_a_process_stat_line)
{
	struct sysnoise_proc p = { 0 };
	cr_assert_eq(sysnoise_parse_pid_stat("4242 (we) ird) x) R 17 4242 4242 0 -1 4194304 1000 0 0 0 250 50 0 0 20 0 "
					     "3 0 12345 1000000 100 18446744073709551615\n", &p), 0);
	cr_assert_str_eq(p.comm, "we) ird) x");
	cr_assert_eq(p.ppid, 17);
	cr_assert_eq(p.ticks, 300);
	cr_assert_eq(p.start, 12345);
	cr_assert_eq(sysnoise_parse_pid_stat("4242 (a-very-long-command-name) S 1 1 1 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 "
					     "99 0\n", &p), 0);
	cr_assert_eq(strlen(p.comm), 15);
	cr_assert_eq(p.ticks, 15);
	cr_assert_eq(p.start, 99);
	cr_assert_eq(sysnoise_parse_pid_stat("garbage", &p), -1);
	cr_assert_eq(sysnoise_parse_pid_stat("1 (short) S 1 1 1 0 -1 0 0 0 0 0 7 8\n", &p), -1);
}

static const char tcp_text[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 0100007F:1F90 0100007F:D3C2 01 00000000:00000000 00:00000000 00000000  1000        0 555 1 "
	"0000000000000000 20 4 30 10 -1\n"
	"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 "
	"0000000000000000 100 0 0 10 0\n"
	"   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 "
	"0000000000000000 100 0 0 10 0\n";
static const char tcp6_text[] =
	"  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
	"tm->when retrnsmt   uid  timeout inode\n"
	"   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 "
	"00:00000000 00000000  1000        0 777 1 0000000000000000 100 0 0 10 0\n";

Test(sysnoise, finds_the_listening_socket_in_net_tcp)
{
	cr_assert_eq(sysnoise_parse_net_tcp(tcp_text, 8080), 424242, "the LISTEN row, not the connection");
	cr_assert_eq(sysnoise_parse_net_tcp(tcp_text, 22), 1111);
	cr_assert_eq(sysnoise_parse_net_tcp(tcp_text, 8081), 0);
	cr_assert_eq(sysnoise_parse_net_tcp(tcp6_text, 8081), 777);
	cr_assert_eq(sysnoise_parse_net_tcp("", 8080), 0);
}

Test(sysnoise, loopback_urls_and_their_ports)
{
	unsigned port = 0;
	cr_assert_eq(sysnoise_loopback_port("http://127.0.0.1:7432", &port), 1);
	cr_assert_eq(port, 7432);
	cr_assert_eq(sysnoise_loopback_port("http://localhost/v1", &port), 1);
	cr_assert_eq(port, 80);
	cr_assert_eq(sysnoise_loopback_port("https://[::1]:8443/x", &port), 1);
	cr_assert_eq(port, 8443);
	cr_assert_eq(sysnoise_loopback_port("https://LOCALHOST", &port), 1);
	cr_assert_eq(port, 443);
	cr_assert_eq(sysnoise_loopback_port("http://user:pw@127.0.0.2:9000/", &port), 1);
	cr_assert_eq(port, 9000);
	cr_assert_eq(sysnoise_loopback_port("http://example.com:80", &port), 0);
	cr_assert_eq(sysnoise_loopback_port("http://localhost.example.com:80", &port), 0);
	cr_assert_eq(sysnoise_loopback_port("http://127.0.0.1:abc", &port), 0);
	cr_assert_eq(sysnoise_loopback_port("127.0.0.1:80", &port), 0);
}

/* Two made-up snapshots 10 s apart on 2 CPUs at 100 ticks/s: capacity 2000 ticks. */
Test(sysnoise, noise_between_two_snapshots)
{
	/* kworker renames itself between the snapshots: the same thread; pid 400
	 * is reused by a new process: all of its ticks are new */
	struct sysnoise_proc pb[] = {
		{ 1, 0, 10, 1, "init" },      { 50, 2, 70, 5, "kworker/0:1-a" }, { 100, 1, 0, 9, "engrave" },
		{ 200, 1, 0, 9, "server" },    { 201, 200, 0, 9, "worker" },       { 300, 1, 0, 9, "python3" },
		{ 301, 1, 0, 9, "python3" },   { 400, 1, 500, 3, "old" },
	};
	struct sysnoise_proc pa[] = {
		{ 1, 0, 10, 1, "init" },       { 50, 2, 70, 5, "kworker/0:1-b" }, { 100, 1, 300, 9, "engrave" },
		{ 200, 1, 100, 9, "server" },   { 201, 200, 100, 9, "worker" },     { 300, 1, 200, 9, "python3" },
		{ 301, 1, 200, 9, "python3" },  { 302, 1, 50, 20, "cc1" },          { 400, 1, 30, 30, "sh" },
	};
	struct sysnoise_snap b = { 0 }, a = { 0 };
	b.at = 1000000000ULL;
	a.at = b.at + 10000000000ULL;
	b.load1 = 0.5;
	a.load1 = 1.5;
	b.mhz = 2400;
	b.mem_avail_kb = 2048 * 1024;
	b.have_cpu = a.have_cpu = 1;
	b.cpu = (struct sysnoise_cpu){ 1000, 0, 0, 5000, 0, 0, 0, 100, 2 };
	a.cpu = (struct sysnoise_cpu){ 1900, 0, 100, 5960, 0, 0, 0, 140, 2 };
	b.procs = pb;
	b.n_procs = sizeof(pb) / sizeof(pb[0]);
	a.procs = pa;
	a.n_procs = sizeof(pa) / sizeof(pa[0]);
	int roots[] = { 100, 200 };
	struct sysnoise_result r;
	sysnoise_compare(&b, &a, roots, 2, 100, &r);
	cr_assert_float_eq(r.load1_before, 0.5, 1e-12);
	cr_assert_float_eq(r.load1_after, 1.5, 1e-12);
	cr_assert_eq(r.ncpu, 2);
	cr_assert_float_eq(r.cpu_mhz, 2400, 1e-9);
	cr_assert_float_eq(r.mem_available_mb, 2048, 1e-9);
	/* ticks: busy 1000 + idle 960 + steal 40 = 2000 */
	cr_assert_float_eq(r.steal_pct, 2.0, 1e-9);
	/* busy 1000 - engrave 300 - server tree 200 = 500 of 2000 */
	cr_assert_float_eq(r.other_cpu_pct, 25.0, 1e-9);
	cr_assert_str_eq(r.top, "python3 20.0%, cc1 2.5%, sh 1.5%", "%s", r.top);

	/* nothing excluded: the server tree is "other" too */
	sysnoise_compare(&b, &a, NULL, 0, 100, &r);
	cr_assert_float_eq(r.other_cpu_pct, 50.0, 1e-9);
	cr_assert_str_eq(r.top, "python3 20.0%, engrave 15.0%, server 5.0%", "%s", r.top);
}

/* The live machine: snapshots read, our own listening socket found, the
 * figures in range. Nothing about the machine's actual load is asserted. */
Test(sysnoise, live_snapshots_and_our_own_listener)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	socklen_t sl = sizeof(sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	unsigned port = ntohs(sa.sin_port);
	cr_assert_eq(sysnoise_listener_pid(port), getpid(), "the process holding 127.0.0.1:%u", port);
	close(fd);
	cr_assert_eq(sysnoise_listener_pid(port), 0, "nobody listens any more");

	struct sysnoise_snap b, a;
	sysnoise_snap(&b);
	mono_ns until = clock_mono_now() + 50000000ULL;
	volatile uint64_t spin = 0;
	while (clock_mono_now() < until)
		spin++;
	sysnoise_snap(&a);
	cr_assert(b.have_cpu && a.have_cpu, "/proc/stat is readable");
	cr_assert(b.cpu.ncpu >= 1);
	cr_assert(isfinite(b.load1) && b.load1 >= 0);
	cr_assert(b.mem_avail_kb > 0);
	cr_assert(b.n_procs > 0);
	int me = 0;
	for (size_t i = 0; i < a.n_procs; i++)
		me |= a.procs[i].pid == getpid();
	cr_assert(me, "our own process is in the table");
	int roots[] = { getpid() };
	struct sysnoise_result r;
	sysnoise_compare(&b, &a, roots, 1, sysconf(_SC_CLK_TCK), &r);
	cr_assert_eq(r.ncpu, b.cpu.ncpu);
	cr_assert(r.other_cpu_pct >= 0 && r.other_cpu_pct <= 100, "%g", r.other_cpu_pct);
	cr_assert(r.steal_pct >= 0 && r.steal_pct <= 100, "%g", r.steal_pct);
	cr_assert(isnan(r.cpu_mhz) || r.cpu_mhz > 0);
	sysnoise_snap_release(&b);
	sysnoise_snap_release(&a);
	sysnoise_snap_release(NULL);
}
