# The shipped experiments/m17_baseline_1k.yaml runs as shipped, its target
# and duration chosen from the command line (--set): against the Engram
# contract server (semantic dedup on, as Engram's), then what
# `spec import-scenario` makes of Engram's own m17_baseline.toml, then (when
# the pinned Chroma is installed) the same spec against real Chroma.
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "m17 baseline" "engram-server not built"; exit 0; }
py=/usr/bin/python3
spec=experiments/m17_baseline_1k.yaml
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
# $1 name, $2 exit code, $3 run JSON, $4 stderr: exit 0 passes; exit 1 (a
# check failed) of a done run on a machine others kept busy (>= 10% CPU, where
# the run's report says "busy machine": 1000 ops/s against a brute-force server
# leaves 2 cores no room) is skipped: its latencies are not the target's alone.
exit0() {
	if [ "$2" -eq 0 ]; then ok "$1 (exit 0)"; return; fi
	busy=$($py -c 'import json,sys; r=json.load(open(sys.argv[1])); m=r["metrics"]
print("%.0f" % m["noise.other_cpu_pct"] if r["status"] == "done" and m.get("noise.other_cpu_pct", 0) >= 10 else "")' \
		"$3" 2>/dev/null)
	if [ "$2" -eq 1 ] && [ -n "$busy" ]; then skip "$1 (exit 0)" "a check failed while others used $busy% CPU"; return; fi
	fail "$1 (exit 0)" "exit $2"; tail -8 "$4" | sed 's/^/# /'
	$py -c 'import json,sys; [print("# check %s: %s %s" % (c["metric"], c["value"], c["threshold"]))
 for c in json.load(open(sys.argv[1])).get("checks", {}).get("rows", []) if c["verdict"] != "pass"]' "$3" 2>/dev/null
}
start_server() { # a fresh contract server (Engram's dedup on); sets $url
	rm -f "$TMPDIR/port"
	"$srv" --port 0 --port-file "$TMPDIR/port" >>"$TMPDIR/srv.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
	url="http://127.0.0.1:$(cat "$TMPDIR/port")"
}
start_server

expect_exit 0 "the shipped spec passes spec check" "$ENGRAVE" spec check "$spec"
E plan "$spec" --set "target.url=$url" 2>&1 | grep -q "^  queries " && ok "its plan has the recall cues (queries)" ||
	fail "its plan has the recall cues (queries)"

# as shipped, 1 s instead of 60 s: exit 0 (every check passes) and a done run. (Longer
# runs outgrow this machine: the contract server, like Engram, compares every store
# with every held memory and answers recalls by brute force, so by the third second
# of 1000 ops/s its p99 passes 50 ms on 2 shared cores.)
E run --json "$spec" --set "target.url=$url" --set steps.loadtest.duration=1s >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
exit0 "m17_baseline_1k.yaml runs against the contract server" $? "$TMPDIR/run.json" "$TMPDIR/run.err"
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json" 2>/dev/null)
E runs 2>/dev/null | grep -q "^$id .* done" && ok "the run exists and is done" || fail "the run exists and is done" "id '$id'"
E show --json "$id" >"$TMPDIR/show.json" 2>/dev/null
$py - "$TMPDIR/show.json" "$url" <<'PY' && ok "all 1000 nodes kept (no dedup loss), recalls sent, overrides recorded" ||
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
assert r["status"] == "done", r["status"]
assert m["ingest.count_after"] == 1000 and m["ingest.lost"] == 0, m
assert m["requests"] == 1000 and m["recall_count"] > 300, m
assert m["error_rate"] == 0 or m["noise.other_cpu_pct"] >= 20, m   # drops on a machine others kept busy
assert r["overrides"] == ["target.url=" + sys.argv[2], "steps.loadtest.duration=1s"], r["overrides"]
assert [s["name"] for s in r["steps"]] == ["centroids", "synthetic", "queries", "ingest", "loadtest"], r["steps"]
PY
	fail "all 1000 nodes kept, recalls sent, overrides recorded"

# what import-scenario makes of Engram's own scenario runs too
if [ -f "${SHARED:-}/fixtures/engram/m17_baseline.toml" ]; then
	"$ENGRAVE" spec import-scenario "$SHARED/fixtures/engram/m17_baseline.toml" -o "$TMPDIR/imp.yaml" 2>"$TMPDIR/imp.err"
	grep -q "queries: {source: heldout" "$TMPDIR/imp.yaml" && ok "the import has a queries step" ||
		fail "the import has a queries step"
	start_server # its own, as empty as the first one was
	E run --json "$TMPDIR/imp.yaml" --set "target.url=$url" --set loadtest.duration=1s \
		>"$TMPDIR/imp.json" 2>"$TMPDIR/imp.out"
	exit0 "the imported scenario runs against the contract server" $? "$TMPDIR/imp.json" "$TMPDIR/imp.out"
	$py -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; assert m["ingest.lost"] == 0 and m["recall_count"] > 0, m' \
		"$TMPDIR/imp.json" 2>/dev/null && ok "the import keeps its 1000 nodes and sends recalls" ||
		fail "the import keeps its 1000 nodes and sends recalls"
else
	skip "the imported scenario runs" "\$SHARED/fixtures/engram absent"
fi

# the same spec against real Chroma: only --set changes
chroma="tools/chroma/node_modules/.bin/chroma"
if [ ! -x "$chroma" ]; then
	skip "m17 against Chroma" "chroma not installed (tools/install-deps.sh --chroma)"
	exit 0
fi
cport=$(free_port)
"$chroma" run --path "$TMPDIR/chroma" --host 127.0.0.1 --port "$cport" >"$TMPDIR/chroma.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$cport/api/v2/heartbeat" >/dev/null && break; sleep 0.25; done
expect_exit 2 "with driver chroma the searches are refused" "$ENGRAVE" spec check "$spec" --set target.driver=chroma
grep -q "hint: .*--set steps.loadtest.mix.search=0" "$TMPDIR/last.out" && ok "the hint gives the --set" ||
	fail "the hint gives the --set"
# a rate and latency checks a shared 2-core machine holds: what is tested is that it runs
E run --json "$spec" --set target.driver=chroma --set "target.url=http://127.0.0.1:$cport" \
	--set steps.loadtest.mix.search=0 --set loadtest.arrival.rate=20 --set loadtest.duration=2s \
	--set 'checks={error_rate: "<= 0.01"}' >"$TMPDIR/chroma.json" 2>"$TMPDIR/chroma.err"
exit0 "m17_baseline_1k.yaml runs against Chroma" $? "$TMPDIR/chroma.json" "$TMPDIR/chroma.err"
$py - "$TMPDIR/chroma.json" <<'PY' && ok "Chroma holds the 1000 nodes and answered the recalls" || fail "Chroma run metrics"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
assert r["status"] == "done" and m["ingest.count_after"] == 1000 and m["ingest.lost"] == 0, m
assert m["requests"] == 40 and m["recall_count"] > 0, m
PY
