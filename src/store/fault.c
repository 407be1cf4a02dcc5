/*
 * fault.c — a damaged data.mdb ends a command with an error, not a crash.
 *
 * LMDB trusts its pages: a page number past the end of a truncated or
 * damaged file is a read past the mapped file (SIGBUS), a damaged branch
 * page a wild pointer (SIGSEGV). store_open checks the meta pages before
 * mapping and `store verify` walks every B-tree in a forked child, but any
 * read deeper down can still touch such a page. So every store transaction
 * marks its thread while it is open (store_fault_enter/leave, called by the
 * transaction functions of env.c, the only place LMDB is entered), and a
 * SIGBUS/SIGSEGV/SIGABRT handler (LMDB's own assertions on a damaged page
 * abort) installed at the first store_open decides:
 *  - a fault on a thread inside a store transaction is the store's: with a
 *    recovery point (store_fault_recover_at, for programs that must go on,
 *    such as the fuzz harness) it jumps there; otherwise it writes one
 *    message naming the store and ends the process with exit status 1
 *    (ERR_CORRUPT's). Nothing is lost: LMDB writes copy-on-write, so an
 *    uncommitted write transaction leaves the file as it was.
 *  - any other fault is not ours: the previous handler (the default, or a
 *    sanitizer's) is put back and the faulting instruction runs again.
 * The handler only reads thread-local state and calls write/_exit/
 * sigaction/siglongjmp, all async-signal-safe.
 *
 * A damaged page can also make LMDB loop instead of fault: its binary
 * search over a page whose key count is garbage overflows an int and never
 * ends (fuzz_store found one in mdb_get). So each LMDB read call is marked
 * too (store_fault_call, through the store_mdb_* wrappers of store_int.h:
 * two relaxed increments of a per-thread counter, odd while inside), and a
 * watchdog thread, started by the first marked call of a process, looks
 * four times a second: a thread that has spent WATCH_CPU_NS (2 s) of its own CPU time
 * inside one call (no legitimate LMDB read takes a fraction of that; time
 * blocked on disk is not CPU time) is sent SIGXCPU carrying that call's
 * counter, and its handler, when the thread is still inside that very call,
 * takes the fault path above ("a read of the store did not finish").
 *
 * A damaged node can also point a key or value outside the data file
 * without any fault (into the heap); that is caught before the bytes are
 * read, by env.c's checks against the map's place (mapcheck.c), which ask
 * store_fault_txn_rdonly whether the thread's transaction may hold pages
 * outside the map.
 */
#include "store_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread struct {
	struct store *s;
	MDB_txn *txn;
	int holds_grow; /* the transaction holds s->grow shared (all but the opening one) */
	int rdonly;
	int depth;
	sigjmp_buf *recover;
} cur;

static struct sigaction prev_bus, prev_segv, prev_abrt;

/* ---- the watchdog's view of LMDB read calls ---- */
#define WATCH_SLOTS 256
#define WATCH_CPU_NS (2LL * 1000000000LL)
struct call_slot {
	_Atomic unsigned long gen; /* odd while inside an LMDB read call */
	_Atomic int used;
	pthread_t th;
	clockid_t cpu;
};
static struct call_slot slots[WATCH_SLOTS];
static __thread struct call_slot *mine;
static pthread_key_t slot_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Atomic int watchdog_pid; /* the process whose watchdog runs (a forked child starts its own) */
static pthread_mutex_t watchdog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void put(const char *m) { (void)!write(2, m, strlen(m)); }

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (cur.depth <= 0) {
		sigaction(sig, sig == SIGBUS ? &prev_bus : sig == SIGSEGV ? &prev_segv : &prev_abrt, NULL);
		return; /* not the store's: the instruction faults again (abort() raises again), under the previous handler */
	}
	if (cur.recover)
		siglongjmp(*cur.recover, sig);
	put("error: store '");
	put(cur.s ? cur.s->path : "?");
	put(sig == SIGBUS    ? "' is damaged: a read reached past the end of its data file (SIGBUS in LMDB)\n"
	    : sig == SIGSEGV ? "' is damaged: a page points outside its data file (SIGSEGV in LMDB)\n"
			     : "' is damaged: LMDB found a page it cannot use and gave up (its assertion above)\n");
	put("hint: nothing was written; run 'engrave store verify' on it, then restore it from a copy or "
	    "a remote ('engrave pull')\n");
	_exit(1);
}

/* SIGXCPU from the watchdog: the value is the call it saw stuck. */
static void on_stuck(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!mine || cur.depth <= 0 || atomic_load_explicit(&mine->gen, memory_order_relaxed) !=
						  (unsigned long)(uintptr_t)si->si_value.sival_ptr)
		return; /* the call has ended meanwhile */
	if (cur.recover)
		siglongjmp(*cur.recover, sig);
	put("error: store '");
	put(cur.s ? cur.s->path : "?");
	put("' is damaged: a read of it did not finish (LMDB loops on a damaged page)\n");
	put("hint: nothing was written; run 'engrave store verify' on it, then restore it from a copy or "
	    "a remote ('engrave pull')\n");
	_exit(1);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev_bus);
	sigaction(SIGSEGV, &sa, &prev_segv);
	sigaction(SIGABRT, &sa, &prev_abrt); /* LMDB's mdb_assert on a damaged page calls abort() */
	sa.sa_sigaction = on_stuck;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGXCPU, &sa, NULL);
}

void store_fault_install(void) { pthread_once(&installed, install); }

void store_fault_enter(struct store *s, MDB_txn *txn, int holds_grow, int rdonly)
{
	if (cur.depth++ == 0) {
		cur.s = s;
		cur.txn = txn;
		cur.holds_grow = holds_grow;
		cur.rdonly = rdonly;
	}
}

int store_fault_txn_rdonly(void)
{
	return cur.depth > 0 ? cur.rdonly : -1;
}

void store_fault_leave(void)
{
	if (cur.depth > 0 && --cur.depth == 0)
		cur.s = NULL, cur.txn = NULL;
}

void store_fault_recover_at(sigjmp_buf *jb) { cur.recover = jb; }

struct store *store_fault_abandon(void)
{
	if (mine && (atomic_load_explicit(&mine->gen, memory_order_relaxed) & 1))
		atomic_fetch_add_explicit(&mine->gen, 1, memory_order_relaxed); /* jumped out of a call */
	if (cur.depth <= 0)
		return NULL;
	struct store *s = cur.s;
	MDB_txn *txn = cur.txn;
	int holds_grow = cur.holds_grow;
	cur.depth = 0;
	cur.s = NULL;
	cur.txn = NULL;
	if (txn)
		mdb_txn_abort(txn);
	if (s && holds_grow)
		pthread_rwlock_unlock(&s->grow);
	return s;
}

/* ---- the watchdog ---- */

static long long cpu_ns(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts))
		return -1;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *watchdog(void *arg)
{
	(void)arg;
	static unsigned long seen[WATCH_SLOTS];
	static long long since[WATCH_SLOTS];
	for (;;) {
		struct timespec tick = { 0, 250000000L };
		nanosleep(&tick, NULL);
		for (int i = 0; i < WATCH_SLOTS; i++) {
			struct call_slot *c = &slots[i];
			unsigned long g = atomic_load_explicit(&c->gen, memory_order_relaxed);
			if (!atomic_load(&c->used) || !(g & 1)) {
				seen[i] = 0;
				continue;
			}
			long long now = cpu_ns(c->cpu);
			if (now < 0)
				continue;
			if (seen[i] != g) { /* a call not seen before: start its clock */
				seen[i] = g;
				since[i] = now;
				continue;
			}
			if (now - since[i] >= WATCH_CPU_NS) {
				union sigval v = { .sival_ptr = (void *)(uintptr_t)g };
				pthread_sigqueue(c->th, SIGXCPU, v);
				seen[i] = 0;
			}
		}
	}
	return NULL;
}

static void slot_release(void *p)
{
	struct call_slot *c = p;
	atomic_store(&c->gen, 0);
	atomic_store(&c->used, 0);
}

/* A forked child (store verify walks B-trees in one) has only the forking
 * thread: forget the parent's other threads, take this one's CPU clock
 * again (its thread id changed) and let the next marked call start the
 * child's own watchdog. */
static void after_fork_child(void)
{
	for (int i = 0; i < WATCH_SLOTS; i++)
		if (&slots[i] != mine)
			atomic_store(&slots[i].used, 0);
	if (mine) {
		mine->th = pthread_self();
		if (pthread_getcpuclockid(mine->th, &mine->cpu))
			atomic_store(&mine->used, 0), mine = NULL;
	}
	atomic_store(&watchdog_pid, 0);
	pthread_mutex_init(&watchdog_lock, NULL); /* another parent thread may have held it */
}

static void key_make(void)
{
	pthread_key_create(&slot_key, slot_release);
	pthread_atfork(NULL, NULL, after_fork_child);
}

static void watchdog_start(void);

/* This thread's slot, and the process's watchdog, on first use. */
static struct call_slot *claim(void)
{
	pthread_once(&key_once, key_make);
	for (int i = 0; i < WATCH_SLOTS; i++) {
		int free_ = 0;
		if (atomic_compare_exchange_strong(&slots[i].used, &free_, 1)) {
			slots[i].th = pthread_self();
			if (pthread_getcpuclockid(slots[i].th, &slots[i].cpu)) {
				atomic_store(&slots[i].used, 0);
				return NULL;
			}
			pthread_setspecific(slot_key, &slots[i]);
			mine = &slots[i];
			break;
		}
	}
	watchdog_start();
	return mine;
}

static void watchdog_start(void)
{
	pid_t me = getpid();
	if (atomic_load(&watchdog_pid) != me) {
		pthread_mutex_lock(&watchdog_lock);
		if (atomic_load(&watchdog_pid) != me) {
			pthread_attr_t a;
			pthread_t t;
			pthread_attr_init(&a);
			pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
			sigset_t all, old;
			sigfillset(&all); /* the watchdog takes no signals: they are the workers' */
			pthread_sigmask(SIG_SETMASK, &all, &old);
			if (pthread_create(&t, &a, watchdog, NULL) == 0)
				atomic_store(&watchdog_pid, me);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_attr_destroy(&a);
		}
		pthread_mutex_unlock(&watchdog_lock);
	}
}

void store_fault_call(int inside)
{
	if (!mine && !claim())
		return; /* more threads than slots: that one goes unwatched */
	if (inside && !atomic_load_explicit(&watchdog_pid, memory_order_relaxed))
		watchdog_start(); /* a forked child's first call */
	atomic_fetch_add_explicit(&mine->gen, 1, memory_order_relaxed);
}
