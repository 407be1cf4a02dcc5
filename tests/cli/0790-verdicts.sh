# One verdict engine: `check`, `diff` and `log` print the same verdict for
# every metric of the same pair of runs, against the Engram contract server
# and a second one whose recalls answer 3 ms later (--delay-us): a clear
# regression, and a rerun of the same build.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "verdicts agree" "engram-server not built"; exit 0; }
start() { # $1 name, $2.. options
	"$srv" --port 0 --port-file "$TMPDIR/$1.port" --no-dedup "${@:2}" >/dev/null 2>&1 &
	echo $! >"$TMPDIR/$1.pid"
	for _ in $(seq 100); do [ -s "$TMPDIR/$1.port" ] && break; sleep 0.05; done
}
start fast
start slow --delay-us 3000
trap 'kill $(cat "$TMPDIR"/*.pid) 2>/dev/null; wait 2>/dev/null' EXIT
spec() { # $1 file, $2 port
	cat >"$1" <<YAML
name: verdicts
seed: 3
target: {driver: engram, url: "http://127.0.0.1:$2"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 200, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  ingest: {concurrency: 2, verify_sample: 10}
  loadtest:
    duration: 2s
    warmup: 500ms
    arrival: {pattern: constant, rate: 200}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 20}
checks:
  baseline: {ref: v, p50_ms: "+5%", p99_ms: "+5%", throughput: "-5%"}
YAML
}
spec "$TMPDIR/fast.yaml" "$(cat "$TMPDIR/fast.port")"
spec "$TMPDIR/slow.yaml" "$(cat "$TMPDIR/slow.port")"
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
rid() { E run --json "$1" 2>>"$TMPDIR/run.err" | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
A=$(rid "$TMPDIR/fast.yaml")
B=$(rid "$TMPDIR/fast.yaml")
C=$(rid "$TMPDIR/slow.yaml")
[ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] && ok "three runs" || { fail "three runs"; tail -5 "$TMPDIR/run.err"; exit 0; }
E baseline set v "$A" >/dev/null

for pair in "$B same" "$C slow"; do
	set -- $pair
	E check --json "$1" >"$TMPDIR/check.json" 2>/dev/null
	echo $? >"$TMPDIR/check.rc"
	E diff --json "$A" "$1" >"$TMPDIR/diff.json" 2>/dev/null
	E log "$1" >"$TMPDIR/log.md" 2>/dev/null
	E check "$1" >"$TMPDIR/check.txt" 2>/dev/null
	$py - "$TMPDIR" "$2" <<'PY' && ok "$2: check, diff and log give the same verdict per metric" || fail "$2: check, diff and log give the same verdict per metric"
import json, re, sys
d = sys.argv[1]
check = json.load(open(d + "/check.json"))
diff = {m["metric"]: m for m in json.load(open(d + "/diff.json"))["metrics"]}
log = open(d + "/log.md").read()
text = open(d + "/check.txt").read()
rc = int(open(d + "/check.rc").read())
word = {"regression": "FAIL", "no change": None, "improvement": "pass"}
for r in check["rows"]:
    if r["kind"] != "baseline":
        continue
    v = r["stats"]["verdict"]
    assert diff[r["metric"]]["verdict"] == v, (r["metric"], v, diff[r["metric"]])
    assert (r["verdict"] == "FAIL") == (v == "regression"), r
    # the text table says the same
    line = [l for l in text.splitlines() if l.startswith(r["metric"]) and " baseline " in l][0]
    assert r["verdict"] in line, (line, r)
labels = {"P50": "p50_ms", "P95": "p95_ms", "P99": "p99_ms", "Throughput": "throughput"}
change = [l for l in log.splitlines() if l.startswith("- Change:")][0]
for label, metric in labels.items():
    m = re.search(r"\b%s ([+-][0-9.]+)%% \(([a-z ]+?)[,)]" % label, change)
    assert m, (label, change)
    assert m.group(2) == diff[metric]["verdict"], (label, m.group(2), diff[metric]["verdict"])
status = [l for l in log.splitlines() if l.startswith("- Status:")]
assert len(status) == 1 and "**Status**" not in log, log
assert ("FAIL" in status[0]) == (rc == 1), (status, rc)
if sys.argv[2] == "slow":
    assert rc == 1 and check["verdict"] in ("REGRESSION", "UNTRUSTED REGRESSION (machine busy)"), check
    assert diff["p50_ms"]["verdict"] == "regression", diff["p50_ms"]
PY
done
grep -q "95% CI .* excludes 0" "$TMPDIR/check.txt" && ok "check explains its verdicts" || fail "check explains its verdicts"
E log "$C" --append "$TMPDIR/PERF.md" >/dev/null 2>&1
grep -q -- "--rebuild" "$TMPDIR/PERF.md" && fail "an appended log's header does not claim --rebuild" || ok "an appended log's header does not claim --rebuild"
