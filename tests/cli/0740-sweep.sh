# Load-test sweeps: a rate ramp (one measured phase per rate, the highest rate
# within the p99 SLO), the ramp stopping at the first rate over the SLO, and a
# concurrency sweep against the Engram contract server.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
sweep_spec() { # $1 file, $2 slo_p99_ms
	cat >"$1" <<YAML
name: sweep-rates
seed: 9
target: {driver: embedded}
steps:
  centroids: {from: random, k: 4, dim: 64}
  synthetic: {count: 2000, std_dev: 0.1, normalize: true}
  queries: {count: 50, source: synthetic}
  ingest: {batch_size: 500}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: 100}
    rates: [100, 300, 600]
    slo_p99_ms: $2
    mix: {store: 0.2, recall: 0.8, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 50}
YAML
}
sweep_spec "$TMPDIR/r.yaml" 1000
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/r.yaml" >"$TMPDIR/r.json" 2>/dev/null
$py - "$TMPDIR/r.json" <<'PY' && ok "rate ramp: three phases, each at its rate, max rate under the SLO" || fail "rate ramp"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["sweep_phases"] == 3, m
for r in (100, 300, 600):
    assert abs(m["sweep.rate=%d.throughput" % r] - r) / r < 0.02, (r, m)
    assert m["sweep.rate=%d.error_rate" % r] == 0
assert m["max_rate_under_slo"] == 600
PY
sweep_spec "$TMPDIR/t.yaml" 0.0001
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/t.yaml" >"$TMPDIR/t.json" 2>"$TMPDIR/t.err"
$py - "$TMPDIR/t.json" <<'PY' && ok "the ramp stops at the first rate over the SLO" || fail "the ramp stops at the first rate over the SLO"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["sweep_phases"] == 1 and m["max_rate_under_slo"] == 0, m
PY
grep -q "over the 0.0001 ms SLO" "$TMPDIR/t.err" && ok "the stop is explained" || fail "the stop is explained"

srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "concurrency sweep" "engram-server not built"; exit 0; }
"$srv" --port 0 --port-file "$TMPDIR/port" --no-dedup >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
cat >"$TMPDIR/c.yaml" <<YAML
name: sweep-concurrency
seed: 4
target: {driver: engram, url: "http://127.0.0.1:$(cat "$TMPDIR/port")"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 300, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  ingest: {concurrency: 4, verify_sample: 10}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: 150}
    concurrency: [1, 8]
    recall: {k: 5, threshold: 0.1, queries: 20}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/c.yaml" >"$TMPDIR/c.json" 2>"$TMPDIR/c.err"
$py - "$TMPDIR/c.json" <<'PY' && ok "concurrency sweep: one phase per in-flight cap" || { fail "concurrency sweep"; tail -3 "$TMPDIR/c.err" | sed 's/^/# /'; }
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["sweep_phases"] == 2, m
for c in (1, 8):
    assert m["sweep.concurrency=%d.error_rate" % c] == 0 and m["sweep.concurrency=%d.throughput" % c] > 140, m
PY
