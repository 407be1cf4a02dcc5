# --set KEY=VALUE on spec check, spec show, plan and run: an override is the
# spec edited to say it (same digest), both key forms are taken, flow values
# work, errors name the --set, and a run stores the effective spec and the
# overrides (show, show --json, run --json).
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
spec() { # $1 file, $2 duration, $3 rate, $4 mix
	cat >"$1" <<YAML
name: set-embedded
seed: 5
target: {driver: embedded}
steps:
  centroids: {from: random, k: 4, dim: 16}
  synthetic: {count: 200, std_dev: 0.1}
  queries: {count: 10, source: synthetic}
  ingest: {batch_size: 100}
  loadtest:
    duration: $2
    arrival: {pattern: constant, rate: $3}
    mix: $4
checks: {error_rate: "<= 1"}
YAML
}
spec "$TMPDIR/a.yaml" 60s 100 "{store: 0.5, recall: 0.5, search: 0}"
spec "$TMPDIR/b.yaml" 300ms 50 "{store: 0.2, recall: 0.8, search: 0}"

# an override is the edited file
want=$("$ENGRAVE" spec show --digest "$TMPDIR/b.yaml")
got=$("$ENGRAVE" spec show --digest "$TMPDIR/a.yaml" --set steps.loadtest.duration=300ms \
	--set loadtest.arrival.rate=50 --set 'steps.loadtest.mix={store: 0.2, recall: 0.8, search: 0}')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "overrides give the digest of the edited file" ||
	fail "overrides give the digest of the edited file" "$got vs $want"
"$ENGRAVE" spec check "$TMPDIR/a.yaml" --set loadtest.duration=300ms --set loadtest.arrival.rate=50 \
	--set 'loadtest.mix={store: 0.2, recall: 0.8, search: 0}' | grep -q "ok (digest $want)" &&
	ok "spec check takes --set" || fail "spec check takes --set"
"$ENGRAVE" spec show "$TMPDIR/a.yaml" --set loadtest.duration=300ms | grep -q "^#   --set loadtest.duration=300ms$" &&
	ok "spec show lists the overrides" || fail "spec show lists the overrides"

# errors name the --set argument (exit 2)
expect_exit 2 "an unknown key is a spec error" "$ENGRAVE" spec check "$TMPDIR/a.yaml" --set steps.loadtest.rate=200
grep -q "error: .*a.yaml: --set steps.loadtest.rate: unknown key 'rate' in steps.loadtest" "$TMPDIR/last.out" &&
	grep -q "hint: did you mean 'steps.loadtest.arrival.rate'?" "$TMPDIR/last.out" &&
	ok "the error names the --set and suggests the key" || { fail "the error names the --set"; sed 's/^/# /' "$TMPDIR/last.out"; }
expect_exit 2 "a bad value is a spec error" E plan "$TMPDIR/a.yaml" --set loadtest.duration=soon
grep -q "error: --set loadtest.duration: bad duration 'soon'" "$TMPDIR/last.out" &&
	ok "plan: the value error names the --set" || { fail "plan: the value error names the --set"; sed 's/^/# /' "$TMPDIR/last.out"; }
expect_exit 2 "--set without '=' is refused" E run "$TMPDIR/a.yaml" --set loadtest.duration
[ ! -d "$TMPDIR/s" ] && ok "a refused --set creates no store" || fail "a refused --set creates no store"
expect_exit 2 "a driver rule names the --set" "$ENGRAVE" spec check "$TMPDIR/a.yaml" --set target.driver=chroma \
	--set loadtest.mix.search=0.5
grep -q -- "--set loadtest.mix.search: driver chroma has no text search" "$TMPDIR/last.out" &&
	ok "driver rules blame the --set that wrote the key" || fail "driver rules blame the --set"

# plan: the overrides and the effective digest
E plan --json "$TMPDIR/a.yaml" --set loadtest.duration=300ms --set loadtest.arrival.rate=50 \
	--set 'loadtest.mix={store: 0.2, recall: 0.8, search: 0}' >"$TMPDIR/plan.json" 2>/dev/null
$py - "$TMPDIR/plan.json" "$want" <<'PY' && ok "plan --json: effective digest and the overrides" || fail "plan --json"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["spec_digest"] == sys.argv[2], p
assert p["overrides"][0] == "loadtest.duration=300ms" and len(p["overrides"]) == 3, p
PY
E plan "$TMPDIR/a.yaml" --set loadtest.duration=300ms | grep -q "^  --set loadtest.duration=300ms$" &&
	ok "plan lists the overrides" || fail "plan lists the overrides"

# run: the effective spec and the overrides are stored
E run --json "$TMPDIR/a.yaml" --set loadtest.duration=300ms --set loadtest.arrival.rate=50 \
	--set 'loadtest.mix={store: 0.2, recall: 0.8, search: 0}' >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 0 ] && ok "run with --set completes" || { fail "run with --set completes" "exit $rc"; tail -5 "$TMPDIR/run.err" | sed 's/^/# /'; }
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json" 2>/dev/null)
E show --json "$id" >"$TMPDIR/show.json" 2>/dev/null
$py - "$TMPDIR/run.json" "$TMPDIR/show.json" "$want" <<'PY' && ok "the run stores the effective spec and its overrides" ||
import json, sys
r, s, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
for o in (r, s):
    assert o["spec_digest"] == want, o["spec_digest"]
    assert o["overrides"] == ["loadtest.duration=300ms", "loadtest.arrival.rate=50",
                              "loadtest.mix={store: 0.2, recall: 0.8, search: 0}"], o["overrides"]
assert r["metrics"]["requests"] == 15, r["metrics"]["requests"]   # 50/s x 300 ms: the overridden schedule
t = s["spec_text"]
assert t.startswith("# ") and "#   --set loadtest.arrival.rate=50\n" in t, t
assert "duration: 300ms" in t and "rate: 50" in t, t
assert "duration: 300ms" in s["spec_yaml"], s["spec_yaml"]
PY
	fail "the run stores the effective spec and its overrides"
E show "$id" >"$TMPDIR/show.txt" 2>&1
grep -q "^  with --set loadtest.duration=300ms$" "$TMPDIR/show.txt" && grep -q "^       --set loadtest.arrival.rate=50$" "$TMPDIR/show.txt" &&
	ok "show lists the overrides" || { fail "show lists the overrides"; head -5 "$TMPDIR/show.txt" | sed 's/^/# /'; }
E runs >"$TMPDIR/runs.txt" 2>&1 && grep -q "$id" "$TMPDIR/runs.txt" && ok "runs lists it" || fail "runs lists it"
E check "$id" >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && ok "check reads the stored effective spec" || fail "check reads the stored effective spec" "exit $rc"
# a run without the overrides is another spec: --run names them
E run "$TMPDIR/a.yaml" --run "$id" >/dev/null 2>"$TMPDIR/resume.err"
grep -q "hint: it was run with its overrides: --set loadtest.duration=300ms" "$TMPDIR/resume.err" &&
	ok "resuming without the overrides says which they were" || { fail "resuming without the overrides"; sed 's/^/# /' "$TMPDIR/resume.err"; }
# the help documents it
for c in run plan "spec check" "spec show"; do
	$ENGRAVE $c --help | grep -q -- "--set KEY=VALUE" && ok "$c --help documents --set" || fail "$c --help documents --set"
done
