# An ef_search sweep against a real Chroma server (tools/chroma, started here):
# one measured phase per search breadth, each scored for recall, the index
# changed in place (no re-ingest) and Chroma restarted between phases with
# --between-phases so it loads the index with the new ef_search. A driver
# without a search breadth (engram) is refused by spec check.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
chroma="$(cd "$(dirname "$0")/../.." && pwd)/tools/chroma/node_modules/.bin/chroma"
[ -x "$chroma" ] || { skip "ef_search sweep" "chroma not installed (tools/install-deps.sh --chroma)"; exit 0; }
port=$(free_port)
cat >"$TMPDIR/restart.sh" <<SH
#!/bin/sh
[ -f "$TMPDIR/chroma.pid" ] && kill \$(cat "$TMPDIR/chroma.pid") 2>/dev/null
sleep 0.5
"$chroma" run --path "$TMPDIR/cdata" --host 127.0.0.1 --port $port >>"$TMPDIR/chroma.log" 2>&1 &
echo \$! >"$TMPDIR/chroma.pid"
echo "\$ENGRAVE_SWEEP_KEY=\$ENGRAVE_SWEEP_VALUE phase \$ENGRAVE_SWEEP_PHASE" >>"$TMPDIR/hook.log"
SH
chmod +x "$TMPDIR/restart.sh"
cleanup() { [ -f "$TMPDIR/chroma.pid" ] && kill "$(cat "$TMPDIR/chroma.pid")" 2>/dev/null; }
trap cleanup EXIT
"$TMPDIR/restart.sh"
: >"$TMPDIR/hook.log"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done

cat >"$TMPDIR/ef.yaml" <<YAML
name: ef-sweep
seed: 3
target: {driver: chroma, url: "http://127.0.0.1:$port", collection: efsweep}
steps:
  centroids: {from: random, k: 20, dim: 64}
  synthetic: {count: 8000, std_dev: 2.0, normalize: true}
  queries: {count: 200, source: synthetic}
  groundtruth: {k: 10}
  ingest: {concurrency: 4, batch_size: 1000}
  loadtest:
    duration: 3s
    warmup: 1s
    arrival: {pattern: constant, rate: 100}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 10, threshold: 0}
    ef_search: [10, 400]
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json --between-phases "$TMPDIR/restart.sh" "$TMPDIR/ef.yaml" >"$TMPDIR/ef.json" 2>"$TMPDIR/ef.err"
rc=$?
[ $rc -eq 0 ] && ok "the sweep runs (exit 0)" || { fail "the sweep runs" "exit $rc"; tail -5 "$TMPDIR/ef.err" | sed 's/^/# /'; }
$py - "$TMPDIR/ef.json" <<'PY' && ok "each phase has its recall, p99 and throughput; ef 400 recalls more than ef 10" || fail "per-phase recall"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["sweep_phases"] == 2, m
for ef in (10, 400):
    for k in ("recall", "p99_ms", "throughput", "recall_scored"):
        assert "sweep.ef_search=%d.%s" % (ef, k) in m, (ef, k, sorted(m))
    assert m["sweep.ef_search=%d.recall_scored" % ef] > 100, m
assert m["sweep.ef_search=400.recall"] > m["sweep.ef_search=10.recall"], m
assert m["sweep.ef_search=400.recall"] > 0.97, m
assert m["ingest.stored"] == 8000, m
PY
[ "$(cat "$TMPDIR/hook.log")" = "$(printf 'ef_search=10 phase 1\nef_search=400 phase 2')" ] &&
	ok "--between-phases ran before each phase with the sweep's value" || fail "--between-phases" "$(cat "$TMPDIR/hook.log")"
grep -q "ef_search sweep, 2 phases" "$TMPDIR/ef.err" && ok "the step summary names the sweep" || fail "the step summary names the sweep"

# the same spec on a driver without a search breadth
sed -e 's/driver: chroma, url: "[^"]*", collection: efsweep/driver: engram, url: "http:\/\/127.0.0.1:1"/' -e 's/dim: 64/dim: 768/' "$TMPDIR/ef.yaml" >"$TMPDIR/en.yaml"
"$ENGRAVE" spec check "$TMPDIR/en.yaml" >"$TMPDIR/en.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "steps.loadtest.ef_search.*no search breadth" "$TMPDIR/en.out" &&
	ok "spec check refuses an ef_search sweep on engram (exit 2, names the key)" || { fail "engram refused" "exit $rc"; sed 's/^/# /' "$TMPDIR/en.out"; }
# a spec without the new key keeps its digest (the key is left out while empty)
grep -v "ef_search" "$TMPDIR/ef.yaml" >"$TMPDIR/plain.yaml"
"$ENGRAVE" spec show "$TMPDIR/plain.yaml" 2>/dev/null | grep -q "ef_search: \[\]" && fail "an empty ef_search list is left out" || ok "an empty ef_search list is left out of the canonical form"
