#!/usr/bin/env bash
# 0900 — every libFuzzer harness over its seed corpus and its regression
# inputs (tests/fuzz/regressions/<harness>/), once: a crash a fuzzer found
# and we fixed must stay fixed. Builds build-fuzz/ with clang (make
# fuzz-corpus); skipped when clang or its libFuzzer runtime is missing.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if ! command -v clang >/dev/null 2>&1; then
	skip "fuzz regressions" "clang not installed (tools/install-deps.sh --fuzz)"
	exit 0
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' |
	clang -x c -fsanitize=fuzzer - -o "$TMPDIR/probe" >/dev/null 2>&1; then
	skip "fuzz regressions" "clang cannot link -fsanitize=fuzzer (libclang-rt-14-dev)"
	exit 0
fi
if ! make -s -j2 fuzz-corpus >"$TMPDIR/build.log" 2>&1; then
	fail "fuzz harnesses build" "make fuzz-corpus failed"
	tail -20 "$TMPDIR/build.log" | sed 's/^/# /'
	exit 0
fi
ok "fuzz harnesses build and seed corpora generate"
n=$(ls tests/fuzz/fuzz_*.c | wc -l)
built=$(ls build-fuzz/fuzz_* 2>/dev/null | wc -l)
[ "$n" -eq "$built" ] && ok "every harness built ($n)" || fail "every harness built" "$built of $n"
out=$(tests/fuzz/run.sh regress 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && ok "every harness runs its seeds and regressions without a crash" ||
	fail "fuzz regressions" "$(echo "$out" | grep -c '^FAIL') harness(es) failed"
# each harness really executed inputs (a harness with no seeds runs only the empty input)
empty=$(echo "$out" | awk '/^ok/ && $4 < 2 { print $2 }')
[ -z "$empty" ] && ok "every harness has seeds" || fail "every harness has seeds" "$empty"

# a damaged data.mdb whose page points past the end of the file: a command
# (no recovery point) ends with exit 1 and names the damaged store, no signal
reg=tests/fuzz/regressions/fuzz_store/sigbus-page-past-eof
FUZZ_STORE_EXIT=1 build-fuzz/fuzz_store -runs=1 "$reg" >"$TMPDIR/dmg.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "is damaged: a read reached past the end of its data file" "$TMPDIR/dmg.out" &&
	grep -q "engrave store verify" "$TMPDIR/dmg.out" &&
	ok "a damaged store page ends the process with exit 1 and a message, not SIGBUS" ||
	{ fail "damaged store page" "exit $rc"; tail -3 "$TMPDIR/dmg.out" | sed 's/^/# /'; }

# a damaged page on which LMDB's binary search never ends (a garbage key
# count overflows it): the store's watchdog sees one read spend seconds of
# CPU and ends the command with exit 1 and a message, not a hang
reg=tests/fuzz/regressions/fuzz_store/lmdb-search-loops
ASAN_OPTIONS=detect_leaks=0 FUZZ_STORE_EXIT=1 timeout 120 build-fuzz/fuzz_store -runs=1 -detect_leaks=0 "$reg" >"$TMPDIR/loop.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "is damaged: a read of it did not finish" "$TMPDIR/loop.out" &&
	ok "a store read that loops on a damaged page ends with exit 1 and a message, not a hang" ||
	{ fail "looping store read" "exit $rc"; tail -3 "$TMPDIR/loop.out" | sed 's/^/# /'; }
