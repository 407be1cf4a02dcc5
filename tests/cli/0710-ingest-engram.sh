# Ingest into the Engram contract server (tools/engram-server):
#  - kill -9 in the middle of an ingest, then --resume: exact count, no duplicates;
#  - Engram's silent semantic dedup (201 but not stored) is reported as lost (exit 1).
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "engram ingest" "engram-server not built"; exit 0; }
py=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

start_server() { # $@: extra flags; sets $url
	rm -f "$TMPDIR/port"
	"$srv" --port 0 --port-file "$TMPDIR/port" "$@" >"$TMPDIR/srv.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
	url="http://127.0.0.1:$(cat "$TMPDIR/port")"
}
count() { curl -s "$url/api/v1/memories?limit=1" | $py -c 'import json,sys; print(json.load(sys.stdin)["tier_counts"]["hot"])'; }

write_spec() { # $1 file, $2 url, $3 std_dev, $4 count
	cat >"$1" <<YAML
name: ingest-engram
seed: 7
target: {driver: engram, url: "$2"}
steps:
  centroids: {from: random, k: 10, dim: 768}
  synthetic: {count: $4, std_dev: $3, normalize: true}
  ingest: {concurrency: 4, batch_size: 1, verify_sample: 50}
YAML
}

# --- kill -9 and resume --------------------------------------------------
start_server --no-dedup
write_spec "$TMPDIR/a.yaml" "$url" 0.1 4000
"$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/a.yaml" >"$TMPDIR/run1.out" 2>&1 &
runpid=$!
for _ in $(seq 200); do n=$(count 2>/dev/null || echo 0); [ "${n:-0}" -ge 500 ] && break; sleep 0.05; done
kill -9 $runpid 2>/dev/null; wait $runpid 2>/dev/null
n=$(count)
if [ "$n" -gt 0 ] && [ "$n" -lt 4000 ]; then ok "killed mid-ingest ($n of 4000 stored)"; else fail "killed mid-ingest" "count $n"; fi
"$ENGRAVE" --store "$TMPDIR/s" run --resume --json "$TMPDIR/a.yaml" >"$TMPDIR/run2.json" 2>"$TMPDIR/run2.err"
rc=$?
[ $rc -eq 0 ] && ok "resume finishes the ingest" || { fail "resume finishes the ingest" "exit $rc"; tail -5 "$TMPDIR/run2.err" | sed 's/^/# /'; }
n=$(count)
[ "$n" -eq 4000 ] && ok "exactly 4000 vectors in the target after resume" || fail "exactly 4000 vectors after resume" "count $n"
$py - "$TMPDIR/run2.json" <<'PY' && ok "resumed run verified count and sample" || fail "resumed run verified count and sample"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
st = {s["name"]: s["state"] for s in r["steps"]}
assert st["ingest"] == "resumed", st
assert m["ingest.lost"] == 0 and m["ingest.count_after"] == 4000, m
assert m["ingest.sample_checked"] == 50 and m["ingest.sample_missing"] == 0, m
# the adaptive window: fast requests are not judged by latency, so it grows to the most
assert m["ingest.window_max"] == 4 and 1 <= m["ingest.window_min"] <= 4, m
assert m["ingest.timeouts"] == 0 and m["ingest.window_cuts"] == 0, m
PY
$py - "$TMPDIR/run2.json" "$ENGRAVE" "$TMPDIR/s" <<'PY' && ok "the receipt keeps the window over time" || fail "the receipt keeps the window over time"
import json, subprocess, sys
r = json.load(open(sys.argv[1]))
d = [s for s in r["steps"] if s["name"] == "ingest"][0]["outputs"][0]
out = subprocess.run([sys.argv[2], "--store", sys.argv[3], "store", "cat", d], capture_output=True).stdout
assert b"window" in out and b"status" in out, out[:200]
PY
grep -q "resuming" "$TMPDIR/run2.err" && ok "resume says it skips receipted records" || fail "resume says it skips receipted records"

# a new run of the same spec reuses the verified load instead of sending again
before=$(grep -c 'POST' "$TMPDIR/srv.log" 2>/dev/null || echo 0)
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/a.yaml" >"$TMPDIR/run3.json" 2>/dev/null
$py -c 'import json,sys; r=json.load(open(sys.argv[1])); s=[x for x in r["steps"] if x["name"]=="ingest"][0]; assert "reused" in s["message"], s' "$TMPDIR/run3.json" \
	&& ok "a later run reuses the verified load" || fail "a later run reuses the verified load"
n=$(count)
[ "$n" -eq 4000 ] && ok "reuse sent nothing (count still 4000)" || fail "reuse sent nothing" "count $n"
# centroids from the target: k-means over what the server holds (not memoized)
cat >"$TMPDIR/c.yaml" <<YAML
name: centroids-from-target
seed: 7
target: {driver: engram, url: "$url"}
steps:
  centroids: {from: target, k: 8}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/c.yaml" >"$TMPDIR/c.json" 2>"$TMPDIR/c.err"
$py - "$TMPDIR/c.json" <<'PY' && ok "centroids from: target cluster the 4000 stored vectors" || { fail "centroids from: target"; tail -3 "$TMPDIR/c.err" | sed 's/^/# /'; }
import json, sys
r = json.load(open(sys.argv[1]))
s = [x for x in r["steps"] if x["name"] == "centroids"][0]
assert r["status"] == "done" and s["state"] == "ran" and "over 4000 vectors" in s["message"], s
PY
"$ENGRAVE" --store "$TMPDIR/s" plan "$TMPDIR/c.yaml" 2>&1 | grep -q "centroids *will-run" && ok "from: target is never taken from the cache" || fail "from: target is never taken from the cache"
cleanup; pids=()

# --- dedup loss is detected -----------------------------------------------
start_server
write_spec "$TMPDIR/d.yaml" "$url" 0.001 300
"$ENGRAVE" --store "$TMPDIR/s2" run "$TMPDIR/d.yaml" >"$TMPDIR/d.out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "dedup loss fails the run with exit 1" || fail "dedup loss fails the run with exit 1" "exit $rc"
grep -q "lost" "$TMPDIR/d.out" && grep -q "dedup" "$TMPDIR/d.out" && ok "the error names the loss and Engram's dedup" \
	|| { fail "the error names the loss and Engram's dedup"; tail -5 "$TMPDIR/d.out" | sed 's/^/# /'; }
