# A run is owned by one live process (issue 11, item 2): `run --resume` or
# `run --run ID` while the original process still runs exits 4 naming the
# holder (pid, host, since) and leaves the run alone; once the original ends,
# resuming works. The lease dies with its process (kill -9).
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
S="$TMPDIR/s"
cat >"$TMPDIR/slow.yaml" <<'YAML'
name: lease-slow
seed: 7
target:
  driver: embedded
  hnsw: {space: cosine}
steps:
  centroids: {from: random, k: 4, dim: 16}
  loadtest:
    duration: 4s
    arrival: {pattern: constant, rate: 20}
    max_in_flight: 4
    mix: {store: 1.0, recall: 0, search: 0}
YAML
spec="$TMPDIR/slow.yaml"
E() { "$ENGRAVE" --store "$S" "$@"; }
# wait until the loadtest of the background run has started
wait_running() { for _ in $(seq 300); do grep -q "loadtest    running" "$1" && return 0; sleep 0.02; done; return 1; }

"$ENGRAVE" --store "$S" run "$spec" >"$TMPDIR/a.out" 2>&1 &
pid=$!
wait_running "$TMPDIR/a.out" || fail "background run reaches its loadtest" "$(tail -3 "$TMPDIR/a.out")"
id=$(E store runs | awk '{print $1}')
[ -n "$id" ] && ok "the live run is recorded ($id)" || fail "the live run is recorded"
expect_exit 4 "run --resume while the run is live exits 4" E run --resume "$spec"
grep -q "run $id is in use by another engrave process (pid $pid on host $(hostname)" "$TMPDIR/last.out" \
	&& ok "the refusal names the holder's pid and host" || fail "the refusal names the holder" "$(grep error "$TMPDIR/last.out")"
grep -q "since 20[0-9][0-9]-" "$TMPDIR/last.out" && ok "and since when" || fail "and since when"
grep -q "loadtest *running" "$TMPDIR/last.out" && fail "the refused process ran nothing" || ok "the refused process ran nothing"
expect_exit 4 "run --run ID while the run is live exits 4" E run --run "$id" "$spec"
wait $pid
rc=$?
[ $rc -eq 0 ] && ok "the original run finishes (exit 0)" || fail "the original run finishes" "exit $rc: $(tail -3 "$TMPDIR/a.out")"
E store runs --json | $py -c '
import json, sys
runs = json.load(sys.stdin)
assert len(runs) == 1 and runs[0]["status"] == "done", runs' \
	&& ok "the refused attempts left the run record alone (one run, done)" || fail "the refused attempts left the run record alone"
expect_exit 2 "after it ended, the done run is not re-measured (--run ID)" E run --run "$id" "$spec"
[ -z "$(ls "$S/leases" 2>/dev/null)" ] && ok "no lease file is left behind" || fail "no lease file is left behind" "$(ls "$S/leases")"

# a holder killed with -9 leaves no lease that blocks
"$ENGRAVE" --store "$S" run "$spec" >"$TMPDIR/b.out" 2>&1 &
pid=$!
wait_running "$TMPDIR/b.out"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
expect_exit 0 "after kill -9 of the holder, the run resumes" E run --resume "$spec"
