# history on synthetic runs (build/tools/synthrun: stored request records,
# a real loadtest artifact, metrics from runmetrics): issue 12's p99 20140 ->
# 775.8 -> 64.5 ms, once reported as "no step of 5% or more". The first two
# runs share a spec, the third raises the arrival rate: history must find
# the -96% step inside the first group with its significance, show the spec
# change with its key path instead of a step, and fit across it on request.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
SYN="$BUILD/tools/synthrun"
[ -x "$SYN" ] || { skip "history steps" "needs $SYN"; exit 0; }
S="$TMPDIR/s"
E() { "$ENGRAVE" --store "$S" "$@"; }
cat >"$TMPDIR/a.yaml" <<'EOF'
name: synth
seed: 1
target: {driver: embedded}
steps:
  loadtest:
    duration: 60s
    warmup: 6s
    arrival: {pattern: constant, rate: 200}
EOF
sed 's/rate: 200/rate: 2000/' "$TMPDIR/a.yaml" >"$TMPDIR/b.yaml"
R1=20260101T000001Z-000001 R2=20260101T000002Z-000002 R3=20260101T000003Z-000003
check "synthetic runs" sh -c "'$SYN' --store '$S' --spec '$TMPDIR/a.yaml' --id $R1 --p99 20140 --seed 1 &&
	'$SYN' --store '$S' --spec '$TMPDIR/a.yaml' --id $R2 --p99 775.8 --seed 2 &&
	'$SYN' --store '$S' --spec '$TMPDIR/b.yaml' --id $R3 --p99 64.5 --seed 3"

expect_exit 0 "history text" E history --spec synth --metric p99_ms
grep -q "^step at run $R2 (after $R1): 20140 -> 775.8 (-96.1%), z = " "$TMPDIR/last.out" \
	&& ok "the -96% step is found at its run, with its significance" || fail "the -96% step is found at its run, with its significance"
grep -q "^spec changed at run $R3 (after $R2): steps.loadtest.arrival.rate 200 -> 2000; p99_ms 775.8 -> 64.5 (-91.7%)" "$TMPDIR/last.out" \
	&& ok "the spec change is shown with its key path" || fail "the spec change is shown with its key path"
grep -q "2 spec groups" "$TMPDIR/last.out" && ! grep -q "no uncertainty of their own" "$TMPDIR/last.out" \
	&& ok "two groups, every run with an uncertainty from its records" || fail "two groups, every run with an uncertainty from its records"

E history --spec synth --metric p99_ms --json >"$TMPDIR/h.json" 2>/dev/null
$py - "$TMPDIR/h.json" "$R1" "$R2" "$R3" <<'PY' && ok "history --json: groups, step, spec change" || fail "history --json: groups, step, spec change"
import json, sys
h = json.load(open(sys.argv[1])); r1, r2, r3 = sys.argv[2:5]
assert len(h["groups"]) == 2 and h["groups"][1]["first_run"] == r3, h["groups"]
assert [s["run"] for s in h["steps"]] == [r2], h["steps"]
s = h["steps"][0]
assert s["previous_run"] == r1 and abs(s["change_pct"] + 96.15) < 0.05 and s["z"] > 10, s
assert all(p["sigma"] and 0 < p["sigma"] / p["value"] < 0.1 for p in h["points"]), h["points"]
c = h["spec_changes"]
assert len(c) == 1 and c[0]["run"] == r3, c
assert c[0]["changes"] == [{"path": "steps.loadtest.arrival.rate", "a": 200, "b": 2000}], c
assert "rule" in h and not h["across_specs"]
PY

E history --spec synth --metric p99_ms --across-specs --json >"$TMPDIR/x.json" 2>/dev/null
$py - "$TMPDIR/x.json" "$R2" "$R3" <<'PY' && ok "--across-specs fits both drops" || fail "--across-specs fits both drops"
import json, sys
h = json.load(open(sys.argv[1]))
assert [s["run"] for s in h["steps"]] == sys.argv[2:4], h["steps"]
assert abs(h["steps"][1]["change_pct"] + 91.69) < 0.05, h["steps"]
PY

# a run without request records has no uncertainty of its own, and says so
check "a run without records" "$SYN" --store "$S" --spec "$TMPDIR/b.yaml" --id 20260101T000004Z-000004 --p99 66 --no-records
expect_exit 0 "history with a run without records" E history --spec synth --metric p99_ms
grep -q "1 of 4 runs have no uncertainty of their own" "$TMPDIR/last.out" && grep -q "000004 .* 66 *- *$" "$TMPDIR/last.out" \
	&& ok "the run without records is named as such" || fail "the run without records is named as such"

expect_exit 0 "history --help" E history --help
grep -q "^Rule: a step is a jump of the piecewise-constant f minimising sum |ln x - f| / sigma + (3 + ln n) per level" "$TMPDIR/last.out" \
	&& ok "history --help states the rule" || fail "history --help states the rule"
