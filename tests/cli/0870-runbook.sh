# A streaming runbook on the embedded target: inserts, a delete beside a
# search, a replace, searches scored for exact recall per phase; readiness
# figures; `show --runbook` CSV and SVG; a killed run resumes from its
# journal of acknowledged writes (replayed into the in-process index) and
# sends no acknowledged batch twice; engram is refused a delete phase.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
cat >"$TMPDIR/rb.yaml" <<'YAML'
name: rb-cli
seed: 5
target: {driver: embedded}
steps:
  centroids: {from: random, k: 8, dim: 32}
  synthetic: {count: 4000}
  queries: {count: 100, source: heldout}
  runbook:
    batch_size: 100
    tracers: 4
    phases:
      - insert: {from: 0, to: 3000, order: shuffled}
      - search: {rate: 100, duration: 1s}
      - delete: {from: 0, to: 1000, rate: 2000}
      - search: {rate: 100, duration: 1s, concurrent: true}
      - replace: {from: 1000, to: 1500, with_from: 3000}
      - wait: {until: indexed}
      - search: {rate: 100, duration: 1s, k: 5}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/rb.yaml" >"$TMPDIR/rb.json" 2>"$TMPDIR/rb.err"
rc=$?
[ $rc -eq 0 ] && ok "the runbook runs (exit 0)" || { fail "the runbook runs" "exit $rc"; tail -5 "$TMPDIR/rb.err" | sed 's/^/# /'; }
$py - "$TMPDIR/rb.json" <<'PY' && ok "recall, p50/p99, qps per search phase; the average; write rates; readiness" || fail "runbook metrics"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
for p in (1, 3, 6):
    for k in ("recall", "p50_ms", "p99_ms", "qps", "errors"):
        assert "runbook.%d.%s" % (p, k) in m, (p, k, sorted(m))
    assert m["runbook.%d.errors" % p] == 0, m
assert m["runbook.1.recall"] > 0.99 and m["runbook.6.recall"] > 0.99, m   # the embedded index is exact
assert 0.99 < m["runbook.recall_avg"] <= 1, m
for p in (0, 2, 4):
    assert m["runbook.%d.write_rate" % p] > 0, m
assert 1500 < m["runbook.2.write_rate"] < 2600, m  # delete at its own rate
for k in ("searchable_p50_ms", "searchable_max_ms", "gone_p50_ms", "gone_max_ms"):
    assert m["runbook." + k] >= 0, (k, m)
assert m["runbook.tracers_timed_out"] == 0, m
PY
run=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/rb.json")
"$ENGRAVE" --store "$TMPDIR/s" show "$run" --runbook --svg "$TMPDIR/rb.svg" >"$TMPDIR/rb.csv" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(head -1 "$TMPDIR/rb.csv")" = "phase,kind,concurrent,start_s,duration_s,searches,errors,qps,p50_ms,p99_ms,recall,written,write_rate" ] &&
	[ "$(wc -l <"$TMPDIR/rb.csv")" -eq 8 ] && grep -q '^3,search,1,' "$TMPDIR/rb.csv" && grep -q '^2,delete,0,.*,1000,' "$TMPDIR/rb.csv" &&
	ok "show --runbook: one CSV row per phase" || { fail "show --runbook" "exit $rc"; sed 's/^/# /' "$TMPDIR/rb.csv"; }
grep -q '<svg' "$TMPDIR/rb.svg" && [ "$(grep -c '<circle' "$TMPDIR/rb.svg")" -eq 6 ] &&
	ok "--svg: recall and p99 points for the 3 search phases" || fail "--svg" "$(head -c 300 "$TMPDIR/rb.svg")"
expect_exit 2 "--svg needs --runbook" "$ENGRAVE" --store "$TMPDIR/s" show "$run" --svg x.svg
"$ENGRAVE" --store "$TMPDIR/s2" run "$TMPDIR/rb.yaml" --set 'steps.runbook.phases=[{search: {rate: 10, duration: 1s}}]' >/dev/null 2>&1
r2=$("$ENGRAVE" --store "$TMPDIR/s2" runs --json | $py -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>/dev/null)
expect_exit 0 "a runbook of one search on an empty index runs" test -n "$r2"

# kill it mid-write, resume: the journal's batches are replayed, not sent again
cat >"$TMPDIR/slow.yaml" <<'YAML'
name: rb-resume
seed: 5
target: {driver: embedded}
steps:
  centroids: {from: random, k: 8, dim: 32}
  synthetic: {count: 4000}
  queries: {count: 100, source: heldout}
  runbook:
    batch_size: 100
    tracers: 0
    phases:
      - insert: {from: 0, to: 3000, rate: 1000}
      - delete: {from: 0, to: 500}
      - search: {rate: 50, duration: 1s}
YAML
"$ENGRAVE" --store "$TMPDIR/k" run "$TMPDIR/slow.yaml" >/dev/null 2>"$TMPDIR/k1.err" &
pid=$!
sleep 1.6
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
"$ENGRAVE" --store "$TMPDIR/k" run --resume --json "$TMPDIR/slow.yaml" >"$TMPDIR/k.json" 2>"$TMPDIR/k2.err"
rc=$?
[ $rc -eq 0 ] && grep -q "replaying" "$TMPDIR/k2.err" && ok "a killed runbook resumes, replaying its acknowledged batches" ||
	{ fail "resume" "exit $rc"; tail -5 "$TMPDIR/k2.err" | sed 's/^/# /'; }
$py - "$TMPDIR/k.json" "$TMPDIR/k2.err" <<'PY' && ok "after the resume the index holds 2500 ids and the search's recall is exact" || fail "resumed state"
import json, re, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["runbook.2.recall"] > 0.99, m
err = open(sys.argv[2]).read()
n = int(re.search(r"phase 0 \(insert\) wrote (\d+) batches", err).group(1))
assert 0 < n < 30, n   # only what the killed run had not acknowledged
PY

# a driver without delete is refused before anything runs
sed 's/driver: embedded/driver: engram/; s/dim: 32/dim: 768/' "$TMPDIR/rb.yaml" >"$TMPDIR/engram.yaml"
"$ENGRAVE" spec check "$TMPDIR/engram.yaml" >"$TMPDIR/e.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "phase 2 (delete, line 14): driver engram cannot delete records" "$TMPDIR/e.out" &&
	ok "spec check refuses a delete phase for engram" || { fail "engram delete" "exit $rc"; sed 's/^/# /' "$TMPDIR/e.out"; }
