# gc during a run (issue 11, item 7): `store gc --grace 0` in a loop while a
# run writes a multi-chunk artifact must not drop the live run's new objects
# (runs hold a lease that gc honours), the store stays whole, and the next
# run reuses the cached steps and succeeds.
. "$(dirname "$0")/lib.sh"
S="$TMPDIR/s"
cat >"$TMPDIR/big.yaml" <<'YAML'
name: gc-live
seed: 5
steps:
  centroids: {from: random, k: 4, dim: 64}
  synthetic: {count: 400000, std_dev: 0.1, normalize: true}
  queries: {count: 10, source: synthetic}
YAML
E() { "$ENGRAVE" --store "$S" "$@"; }
"$ENGRAVE" --store "$S" run "$TMPDIR/big.yaml" >"$TMPDIR/a.out" 2>&1 &
pid=$!
n=0
while kill -0 $pid 2>/dev/null; do
	E store gc --grace 0 >>"$TMPDIR/gc.out" 2>&1 && n=$((n + 1))
done
wait $pid
rc=$?
echo "# $n gc runs during the run"
[ $rc -eq 0 ] && ok "the run survives gc --grace 0 in a loop" || fail "the run survives gc" "exit $rc: $(tail -3 "$TMPDIR/a.out")"
[ $n -gt 0 ] && ok "gc ran during the run" || skip "gc ran during the run" "the run ended first"
grep -q "live run .* began" "$TMPDIR/gc.out" && ok "gc reports the live run it honours" || skip "gc reports the live run" "no gc saw the run live"
expect_exit 0 "store verify is clean afterwards" E store verify
E run "$TMPDIR/big.yaml" >"$TMPDIR/b.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "the next run succeeds" || fail "the next run succeeds" "exit $rc: $(grep error "$TMPDIR/b.out")"
grep -q "synthetic   cached" "$TMPDIR/b.out" && ok "and reuses the cached artifact" || fail "and reuses the cached artifact"
