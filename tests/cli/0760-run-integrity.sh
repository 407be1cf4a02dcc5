# Runs that lie: a refusal writes nothing, a finished run is never
# re-measured in place, a run that measured nothing is "incomplete" (never
# "done"), and check/log never turn missing data into a pass (exit 3, no nan).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
S="$TMPDIR/store"
E() { "$ENGRAVE" --store "$S" "$@"; }

spec() { # NAME RATE CHECKS
	cat >"$TMPDIR/$1.yaml" <<YAML
name: integrity-$1
seed: 3
target: {driver: embedded}
steps:
  corpus: {source: sample, limit: 30}
  embed: {embedder: hashing, dim: 16}
  ingest: {}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: $2}
    mix: {store: 1, recall: 0, search: 0}
$3
YAML
}
spec a 40 'checks:
  error_rate: "== 0"
  p99_ms: "< 60000"'
spec b 30 'checks:
  error_rate: "== 0"'
spec zero 0.1 'checks:
  error_rate: "== 0"'
spec recall 40 'checks:
  search_p99_ms: "< 60000"'
spec none 40 ''

expect_exit 0 "a finished run passes its checks" E run "$TMPDIR/a.yaml"
ID=$(E runs --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d['runs']; print(d[0]['id'])")
E show "$ID" --json >"$TMPDIR/before.json" 2>/dev/null
expect_exit 2 "resuming a run with another spec is refused" E run "$TMPDIR/b.yaml" --run "$ID"
grep -q "made from a different spec" "$TMPDIR/last.out" && ok "refusal names the cause" || fail "refusal names the cause"
E show "$ID" --json >"$TMPDIR/after.json" 2>/dev/null
cmp -s "$TMPDIR/before.json" "$TMPDIR/after.json" && ok "the refusal wrote nothing" || fail "the refusal wrote nothing"
expect_exit 2 "a done run is not re-measured in place" E run "$TMPDIR/a.yaml" --run "$ID"
grep -q "is done; its measurements are kept" "$TMPDIR/last.out" && ok "done-run refusal says why" || fail "done-run refusal says why"
E show "$ID" --json >"$TMPDIR/after2.json" 2>/dev/null
cmp -s "$TMPDIR/before.json" "$TMPDIR/after2.json" && ok "the done run is unchanged" || fail "the done run is unchanged"
expect_exit 0 "check of the finished run passes" E check "$ID"

expect_exit 3 "a load test that measured nothing exits 3" E run "$TMPDIR/zero.yaml"
grep -q "lacks the metrics throughput, error_rate, p50_ms, p99_ms" "$TMPDIR/last.out" \
	&& ok "the missing metrics are named" || fail "the missing metrics are named"
Z=$(E runs --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d['runs']; print([r['id'] for r in d if r['spec']=='integrity-zero'][0])")
E show "$Z" --json 2>/dev/null | grep -q '"status": "incomplete"' && ok "its status is incomplete, not done" || fail "its status is incomplete, not done"
expect_exit 3 "check of an incomplete run is missing data" E check "$Z"
E log "$Z" >"$TMPDIR/log.md" 2>&1
grep -qi "nan" "$TMPDIR/log.md" && fail "log never prints nan" "$(grep -i nan "$TMPDIR/log.md" | head -1)" || ok "log never prints nan"
grep -q "PASS" "$TMPDIR/log.md" && fail "log does not call missing data a pass" || ok "log does not call missing data a pass"
grep -q "MISSING DATA" "$TMPDIR/log.md" && ok "log says MISSING DATA" || fail "log says MISSING DATA"

expect_exit 3 "a run whose check names an unmeasured metric exits 3" E run "$TMPDIR/recall.yaml"
R=$(E runs --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d['runs']; print([r['id'] for r in d if r['spec']=='integrity-recall'][0])")
expect_exit 3 "a check on an unmeasured metric is missing data, not a pass" E check "$R"
grep -q "MISSING DATA" "$TMPDIR/last.out" && ok "check says MISSING DATA" || fail "check says MISSING DATA"
E check "$R" --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); assert d['pass'] is False and d['missing']==1 and d['verdict']=='MISSING DATA'" \
	&& ok "check --json: pass false, missing 1" || fail "check --json: pass false, missing 1"

expect_exit 0 "a run without checks" E run "$TMPDIR/none.yaml"
N=$(E runs --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d['runs']; print([r['id'] for r in d if r['spec']=='integrity-none'][0])")
expect_exit 3 "nothing to check is not a pass" E check "$N"
grep -q "NOTHING CHECKED" "$TMPDIR/last.out" && ok "check says NOTHING CHECKED" || fail "check says NOTHING CHECKED"
