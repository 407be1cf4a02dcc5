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
 */
#include "store_int.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static __thread struct {
	struct store *s;
	MDB_txn *txn;
	int holds_grow; /* the transaction holds s->grow shared (all but the opening one) */
	int depth;
	sigjmp_buf *recover;
} cur;

static struct sigaction prev_bus, prev_segv, prev_abrt;
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
}

void store_fault_install(void) { pthread_once(&installed, install); }

void store_fault_enter(struct store *s, MDB_txn *txn, int holds_grow)
{
	if (cur.depth++ == 0) {
		cur.s = s;
		cur.txn = txn;
		cur.holds_grow = holds_grow;
	}
}

void store_fault_leave(void)
{
	if (cur.depth > 0 && --cur.depth == 0)
		cur.s = NULL, cur.txn = NULL;
}

void store_fault_recover_at(sigjmp_buf *jb) { cur.recover = jb; }

struct store *store_fault_abandon(void)
{
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
