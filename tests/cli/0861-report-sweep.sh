# `engrave report` of a sweep run (loadtest.concurrency, on the embedded
# target): the latency section draws one line per phase, named by the swept
# value, with a table row per phase whose request count is that phase's; a
# sweep is never pooled into one distribution, and `plot` of a sweep says so.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
cat >"$TMPDIR/sw.yaml" <<'YAML'
name: report-sweep
seed: 3
target: {driver: embedded}
steps:
  centroids: {from: random, k: 4, dim: 8}
  synthetic: {count: 2000}
  queries: {count: 20, source: heldout}
  groundtruth: {k: 10}
  ingest: {batch_size: 500}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: 100}
    mix: {store: 0, recall: 1, search: 0}
    concurrency: [1, 2, 4]
YAML
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
E run --json "$TMPDIR/sw.yaml" >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 0 ] && ok "a concurrency sweep runs (exit 0)" || { fail "a sweep run" "exit $rc"; tail -3 "$TMPDIR/run.err" | sed 's/^/# /'; exit 0; }
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json")
E report "$id" -o "$TMPDIR/r.html" >"$TMPDIR/rep.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "report of a sweep run (exit 0)" || { fail "report of a sweep run" "exit $rc: $(tail -2 "$TMPDIR/rep.out")"; exit 0; }
$py - "$TMPDIR/r.html" <<'PY' && ok "the latency section has a line and a row per phase, named by its concurrency, 100 requests each" || fail "sweep latency section"
import re, sys
h = open(sys.argv[1]).read()
i = h.index('id="latency"')
sec = h[i:h.index("</section>", i)]
assert "no request records" not in sec, sec[:300]
svgs = re.findall(r"<svg.*?</svg>", sec, re.S)
assert svgs, "no plot"
lines = re.findall(r"<polyline", svgs[0])
assert len(lines) >= 3, "%d lines in the first plot" % len(lines)
rows = re.findall(r"<tr><td>(concurrency [0-9]+)</td><td>([0-9]+)</td>", sec)
first = rows[:3]
assert [r[0] for r in first] == ["concurrency 1", "concurrency 2", "concurrency 4"], rows
assert all(r[1] == "100" for r in first), first
assert "by concurrency" in sec
PY
E plot "$id" -o "$TMPDIR/p.svg" >"$TMPDIR/plot.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "is a sweep of 3 phases" "$TMPDIR/plot.out" &&
	ok "plot of a sweep refuses to pool its phases, and says why (exit $rc)" ||
	fail "plot of a sweep" "exit $rc: $(cat "$TMPDIR/plot.out" | head -3)"

# export: a sweep run exports one phase at a time
E export "$id" --format jsonl >"$TMPDIR/x.out" 2>"$TMPDIR/x.err"
rc=$?
[ $rc -eq 2 ] && grep -q "a sweep of 3 phases" "$TMPDIR/x.err" && grep -q "0 (concurrency 1), 1 (concurrency 2), 2 (concurrency 4)" "$TMPDIR/x.err" &&
	ok "export of a sweep without --phase: exit 2 listing its phases" || fail "export of a sweep without --phase" "exit $rc: $(cat "$TMPDIR/x.err")"
E export "$id" --format jsonl --phase 2 >"$TMPDIR/p2.jsonl" 2>"$TMPDIR/x.err"
rc=$?
$py - "$TMPDIR/p2.jsonl" <<'PY' && [ $rc -eq 0 ] && ok "export --phase 2 writes that phase's 100 requests" || fail "export --phase 2" "exit $rc: $(cat "$TMPDIR/x.err")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 100 and all(r["op"] == "recall" for r in recs), len(recs)
assert sorted(r["index"] for r in recs) == list(range(100))
PY
E export "$id" --format hgrm --phase 0 -o "$TMPDIR/p0.hgrm" 2>"$TMPDIR/x.err" && grep -q "Total count *= *100" "$TMPDIR/p0.hgrm" &&
	ok "export --phase 0 as hgrm counts that phase's 100 requests" || fail "export --phase 0 hgrm" "$(cat "$TMPDIR/x.err"; tail -3 "$TMPDIR/p0.hgrm" 2>/dev/null)"
E export "$id" --phase 7 >/dev/null 2>"$TMPDIR/x.err"
rc=$?
[ $rc -eq 2 ] && grep -q "has no phase 7" "$TMPDIR/x.err" && ok "a phase the sweep lacks: exit 2" || fail "export --phase 7" "exit $rc"
