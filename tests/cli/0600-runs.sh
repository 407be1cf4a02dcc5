# Runs: list, show, diff, baselines, check, history, log, plot and replay on
# two real quickstart runs (embedded target, ~6 s each), then replay after
# tampering with the corpus input must report the mismatch and exit 1.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
S="$TMPDIR/s"
E() { "$ENGRAVE" --store "$S" "$@"; }
mkdir -p "$TMPDIR/exp"
cp experiments/quickstart.yaml "$TMPDIR/exp/" && cp -r experiments/data "$TMPDIR/exp/"

E run "$TMPDIR/exp/quickstart.yaml" >/dev/null 2>&1 || fail "first quickstart run"
E run "$TMPDIR/exp/quickstart.yaml" >/dev/null 2>&1 || fail "second quickstart run"
E runs --json >"$TMPDIR/runs.json" 2>/dev/null
A=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$TMPDIR/runs.json")
B=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["id"])' "$TMPDIR/runs.json")
[ -n "$A" ] && [ -n "$B" ] && ok "runs --json lists both runs" || fail "runs --json lists both runs"

expect_exit 0 "runs prints a table" E runs --spec quickstart --status done
[ "$(grep -c '^2026\|^20[0-9][0-9][01]' "$TMPDIR/last.out")" -eq 2 ] && ok "runs table has two rows" || fail "runs table has two rows"
expect_exit 0 "show RUN" E show "$A"
grep -q 'artifacts:' "$TMPDIR/last.out" && grep -q 'spec (canonical)' "$TMPDIR/last.out" && grep -q 'checks' "$TMPDIR/last.out" \
	&& ok "show has spec, artifacts and checks" || fail "show has spec, artifacts and checks"
expect_exit 0 "show by id prefix" E show "${A:0:18}"
expect_exit 3 "show of a missing run exits 3" E show nosuch-run
grep -q "no run 'nosuch-run'" "$TMPDIR/last.out" && grep -q 'engrave runs' "$TMPDIR/last.out" \
	&& ok "missing run error names it and hints engrave runs" || fail "missing run error names it and hints engrave runs"

# diff of two runs of the same spec: same spec, equal pure-step artifacts
E diff --json "$A" "$B" >"$TMPDIR/diff.json" 2>/dev/null
$py - "$TMPDIR/diff.json" <<'PY' && ok "diff of two runs of one spec shows equal artifacts" || fail "diff of two runs of one spec shows equal artifacts"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["spec"]["same"], d["spec"]
arts = {a["step"]: a["same"] for a in d["artifacts"]}
for s in ("corpus", "embed", "centroids", "synthetic", "queries", "groundtruth"):
    assert arts[s], s
p99 = [m for m in d["metrics"] if m["metric"] == "p99_ms"][0]
assert p99["verdict"] in ("no change", "regression", "improvement"), p99
assert p99["method"] in ("block bootstrap", "repeats"), p99
assert p99["ci_lo"] is not None and p99["ci_lo"] <= p99["change"] <= p99["ci_hi"], p99
assert d["rule"].startswith("regression:"), d["rule"]
PY
expect_exit 0 "diff text" E diff "$A" "$B"
grep -q 'corpus *same' "$TMPDIR/last.out" && ok "diff text shows corpus same" || fail "diff text shows corpus same"

# baselines and check
expect_exit 3 "check against a missing baseline exits 3" E check "$A" --baseline qs
expect_exit 0 "baseline set" E baseline set qs "$A"
expect_exit 0 "baseline list" E baseline list
grep -q "^qs *$A" "$TMPDIR/last.out" && ok "baseline list shows it" || fail "baseline list shows it"
expect_exit 0 "check of the baseline run against itself passes" E check "$A" --baseline qs
grep -q 'p99_ms *baseline' "$TMPDIR/last.out" && grep -q 'throughput *baseline' "$TMPDIR/last.out" \
	&& ok "check table has the default p99/throughput gates" || fail "check table has the default p99/throughput gates"
E check "$B" --baseline qs --json >"$TMPDIR/check.json" 2>/dev/null
rc=$?
$py - "$TMPDIR/check.json" "$rc" <<'PY' && ok "check --json agrees with the exit code" || fail "check --json agrees with the exit code"
import json, sys
c = json.load(open(sys.argv[1])); rc = int(sys.argv[2])
assert c["baseline"] and c["rows"], c
assert (rc == 0) == c["pass"] and rc in (0, 1), (rc, c["pass"])
PY
expect_exit 3 "check of a missing run exits 3" E check nosuch-run

# history, log, plot
expect_exit 0 "history" E history --spec quickstart --metric p99_ms
grep -q "$B" "$TMPDIR/last.out" && ok "history lists the runs" || fail "history lists the runs"
expect_exit 3 "history of an unknown metric exits 3" E history --spec quickstart --metric nosuch_ms
expect_exit 2 "history without --metric exits 2" E history --spec quickstart
expect_exit 0 "log RUN" E log "$B" --baseline qs
grep -q "^## quickstart: run $B" "$TMPDIR/last.out" && grep -q '^- Runs: `'"$A"'`, `'"$B"'`' "$TMPDIR/last.out" \
	&& ok "log entry names the runs" || fail "log entry names the runs"
expect_exit 0 "log --append" E log "$B" --baseline qs --append "$TMPDIR/PERF.md"
expect_exit 0 "log --append again" E log "$A" --append "$TMPDIR/PERF.md"
[ "$(grep -c '^# Performance Log' "$TMPDIR/PERF.md")" -eq 1 ] && [ "$(grep -c '^## quickstart: run' "$TMPDIR/PERF.md")" -eq 2 ] \
	&& ok "append writes one header and two entries" || fail "append writes one header and two entries"
expect_exit 0 "log --rebuild" E log --rebuild "$TMPDIR/REBUILT.md"
grep -q '^## Summary' "$TMPDIR/REBUILT.md" && grep -q '^- Before: P50=' "$TMPDIR/REBUILT.md" \
	&& ok "rebuilt log has entries and a summary" || fail "rebuilt log has entries and a summary"
expect_exit 0 "plot RUN --baseline" E plot "$B" --baseline qs -o "$TMPDIR/p.svg"
expect_exit 0 "plot --history" E plot --history --spec quickstart --metric p99_ms -o "$TMPDIR/h.svg"
$py - "$TMPDIR/p.svg" "$TMPDIR/h.svg" <<'PY' && ok "plots are well-formed SVG" || fail "plots are well-formed SVG"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
p = ET.parse(sys.argv[1]).getroot(); h = ET.parse(sys.argv[2]).getroot()
assert p.tag == ns + "svg" and h.tag == ns + "svg"
assert len(p.findall(ns + "polyline")) == 2
assert len(h.findall(ns + "circle")) == 2
PY
expect_exit 2 "plot without -o exits 2" E plot "$B"

# replay: identical, then detect a tampered input
expect_exit 0 "replay reproduces every pure artifact" E replay "$A" --spec-dir "$TMPDIR/exp"
grep -q 'every regenerated artifact matches' "$TMPDIR/last.out" && ok "replay says ok" || fail "replay says ok"
sed -i 's/the /teh /' "$TMPDIR/exp/data/sample-wiki.xml"
expect_exit 1 "replay detects a tampered input" E replay "$A" --spec-dir "$TMPDIR/exp"
grep -q 'corpus *MISMATCH' "$TMPDIR/last.out" && ok "replay names the mismatching step" || fail "replay names the mismatching step"
expect_exit 3 "replay of a missing run exits 3" E replay nosuch-run

expect_exit 0 "baseline rm" E baseline rm qs
expect_exit 3 "baseline rm again exits 3" E baseline rm qs
