# Absolute checks on a runbook's metrics (runbook.recall_avg, readiness,
# runbook.<phase>.<metric>): `run` judges them like load-test checks (exit 1
# on a failed one), `spec check` refuses a phase the runbook lacks, a
# metric its phase does not measure, or a runbook metric without a runbook
# (exit 2, file:line:col and the key), and --set takes dotted metric names.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
body() { # $1 file; then the checks lines
	local f=$1
	shift
	cat >"$f" <<'YAML'
name: rb-checks
seed: 9
target: {driver: embedded}
steps:
  centroids: {from: random, k: 8, dim: 16}
  synthetic: {count: 3000}
  queries: {count: 40, source: heldout}
  runbook:
    batch_size: 200
    tracers: 2
    phases:
      - insert: {from: 0, to: 2000}
      - search: {rate: 50, duration: 1s}
      - delete: {from: 0, to: 500}
      - search: {rate: 50, duration: 1s}
checks:
YAML
	for c in "$@"; do printf '  %s\n' "$c" >>"$f"; done
}
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
body "$TMPDIR/ok.yaml" 'runbook.recall_avg: ">= 0.99"' 'runbook.1.p99_ms: "< 1000"' 'runbook.0.write_rate: "> 10"' \
	'runbook.gone_p99_ms: "< 30000"' 'runbook.3.errors: "== 0"'
E run --json "$TMPDIR/ok.yaml" >"$TMPDIR/ok.json" 2>"$TMPDIR/ok.err"
rc=$?
$py - "$TMPDIR/ok.json" <<'PY' && [ $rc -eq 0 ] && ok "run judges runbook checks: all 5 pass (exit 0)" || { fail "runbook checks pass" "exit $rc"; tail -12 "$TMPDIR/ok.err" | sed 's/^/# /'; }
import json, sys
d = json.load(open(sys.argv[1]))
rows = {c["metric"]: c for c in d["checks"]["rows"]} if isinstance(d.get("checks"), dict) else {c["metric"]: c for c in d["checks"]}
assert set(rows) == {"runbook.recall_avg", "runbook.1.p99_ms", "runbook.0.write_rate", "runbook.gone_p99_ms", "runbook.3.errors"}, rows.keys()
assert all(r["verdict"] == "pass" for r in rows.values()), rows
PY
body "$TMPDIR/bad.yaml" 'runbook.1.qps: "> 1000"'
E run "$TMPDIR/bad.yaml" >"$TMPDIR/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "runbook.1.qps .*FAIL" "$TMPDIR/bad.out" && ok "a failed runbook check fails the run (exit 1)" ||
	{ fail "a failed runbook check" "exit $rc"; tail -5 "$TMPDIR/bad.out" | sed 's/^/# /'; }
spec_err() { # $1 check line, $2 expected text, $3 label
	body "$TMPDIR/e.yaml" "$1"
	"$ENGRAVE" spec check "$TMPDIR/e.yaml" >"$TMPDIR/e.out" 2>&1
	local rc=$?
	[ $rc -eq 2 ] && grep -q "e.yaml:[0-9]*:[0-9]*: checks" "$TMPDIR/e.out" && grep -q "$2" "$TMPDIR/e.out" && ok "$3 (exit 2)" ||
		{ fail "$3" "exit $rc: $(head -2 "$TMPDIR/e.out")"; }
}
spec_err 'runbook.7.recall: ">= 0.9"' "phases 0..3, not 7" "spec check: a phase the runbook lacks"
spec_err 'runbook.0.recall: ">= 0.9"' "phase 0 (insert) measures write_rate" "spec check: a metric its phase does not measure"
spec_err 'runbook.recal_avg: ">= 0.9"' "unknown metric 'runbook.recal_avg'" "spec check: an unknown runbook metric"
spec_err 'p99_ms: "< 5"' "add steps.loadtest" "spec check: a load-test metric without a load test"
"$ENGRAVE" spec check "$TMPDIR/ok.yaml" --set 'checks.runbook.3.qps=">= 40"' >/dev/null 2>&1 &&
	"$ENGRAVE" spec show "$TMPDIR/ok.yaml" --set 'checks.runbook.3.qps=">= 40"' 2>/dev/null | grep -q 'runbook.3.qps: ">= 40"' &&
	ok "--set checks.runbook.3.qps adds a check on a dotted metric name" || fail "--set on a runbook check"

# the HTML report has a runbook section: the phase table, the per-phase chart
# and the readiness figures
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/ok.json")
E report "$id" -o "$TMPDIR/r.html" >/dev/null 2>"$TMPDIR/r.err"
rc=$?
$py - "$TMPDIR/r.html" <<'PY' && [ $rc -eq 0 ] && ok "report: the runbook section has a row per phase, the chart and the readiness metrics" || fail "report runbook section" "exit $rc: $(cat "$TMPDIR/r.err")"
import re, sys
h = open(sys.argv[1]).read()
i = h.index('id="runbook"')
sec = h[i:h.index("</section>", i)]
rows = re.findall(r"<tr><td>([0-9]+)</td><td>(insert|search|delete)</td>", sec)
assert [r[1] for r in rows] == ["insert", "search", "delete", "search"], rows
assert "<svg" in sec and "runbook.gone_p99_ms" in sec and "runbook.recall_avg" in sec
assert '<a href="#runbook">' in h
PY
