# Ingest verification by id, not by count alone:
#  - a new run against a target that already holds the spec's records (and the
#    previous load test's own stores) finds them present and sends nothing
#    (was: "acknowledged 300 records but holds 350 (expected 650: 300 lost)");
#  - acknowledged records the target lost (the server restarted empty) are
#    sent again on --resume and reported as re-sent (was: lost for good);
#  - an interrupted run on the embedded target, whose index dies with the
#    process, resumes by reloading it (was: "5042 lost").
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "ingest by id" "engram-server not built"; exit 0; }
py=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

start_server() { # $1 port (0: any); sets $url, $srvpid
	rm -f "$TMPDIR/port"
	for _ in $(seq 50); do
		"$srv" --port "$1" --port-file "$TMPDIR/port" --no-dedup >"$TMPDIR/srv.log" 2>&1 &
		srvpid=$!
		for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; kill -0 $srvpid 2>/dev/null || break; sleep 0.05; done
		[ -s "$TMPDIR/port" ] && break
		sleep 0.2 # the old socket is still closing
	done
	pids+=($srvpid)
	url="http://127.0.0.1:$(cat "$TMPDIR/port")"
}
count() { curl -s "$url/api/v1/memories?limit=1" | $py -c 'import json,sys; print(json.load(sys.stdin)["tier_counts"]["hot"])'; }
ingest_field() { $py -c 'import json,sys; v=json.load(open(sys.argv[1]))["metrics"].get(sys.argv[2]); print("absent" if v is None else "%g" % v)' "$1" "$2"; }
hot() { curl -s "$url/api/v1/memories?limit=1" | grep -o '"hot": *[0-9]*' | grep -o '[0-9]*$'; }

# --- a re-run against a target that holds the data --------------------------
start_server 0
cat >"$TMPDIR/a.yaml" <<YAML
name: by-id
seed: 11
target: {driver: engram, url: "$url"}
steps:
  centroids: {from: random, k: 10, dim: 768}
  synthetic: {count: 300, std_dev: 0.1, normalize: true}
  ingest: {concurrency: 4, batch_size: 1, verify_sample: 50}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: 50}
    mix: {store: 1, recall: 0, search: 0}
YAML
expect_exit 0 "first run loads 300 and stores 50 more" "$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/a.yaml"
n1=$(count)
[ "$n1" -eq 350 ] && ok "the target holds 350" || fail "the target holds 350" "count $n1"
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/a.yaml" >"$TMPDIR/r2.json" 2>"$TMPDIR/r2.err"
rc=$?
[ $rc -eq 0 ] && ok "a second run against the loaded target passes" || { fail "a second run against the loaded target passes" "exit $rc"; tail -4 "$TMPDIR/r2.err" | sed 's/^/# /'; }
[ "$(ingest_field "$TMPDIR/r2.json" ingest.present)" = "300" ] && ok "its 300 records are reported already present" \
	|| fail "its 300 records are reported already present" "present $(ingest_field "$TMPDIR/r2.json" ingest.present)"
[ "$(ingest_field "$TMPDIR/r2.json" ingest.lost)" = "0" ] && ok "nothing is called lost" || fail "nothing is called lost"
grep -q "ingest.*already present" "$TMPDIR/r2.err" && ok "the report says already present" || fail "the report says already present"

# --- acknowledged but lost: sent again on --resume --------------------------
kill $srvpid; wait $srvpid 2>/dev/null
start_server 0
port=$(cat "$TMPDIR/port")
sed -e "s#url: \".*\"#url: \"$url\"#" -e 's/count: 300/count: 30000/' -e 's/verify_sample: 50/verify_sample: 20/' -e '/loadtest:/,$d' "$TMPDIR/a.yaml" >"$TMPDIR/b.yaml"
"$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/b.yaml" >"$TMPDIR/b1.out" 2>&1 &
runpid=$!
for _ in $(seq 2000); do n=$(hot 2>/dev/null); [ "${n:-0}" -ge 600 ] && break; sleep 0.01; done
sleep 0.4 # receipts are committed at least every 250 ms: let one batch land
kill -9 $runpid 2>/dev/null; wait $runpid 2>/dev/null
n=$(count)
if [ "$n" -gt 0 ] && [ "$n" -lt 30000 ]; then ok "killed mid-ingest ($n of 30000 acknowledged)"; else fail "killed mid-ingest" "count $n"; fi
kill $srvpid; wait $srvpid 2>/dev/null
start_server "$port" # the same address, but empty: it lost what it acknowledged
[ "$(count)" -eq 0 ] && ok "the restarted target holds nothing" || fail "the restarted target holds nothing"
"$ENGRAVE" --store "$TMPDIR/s" run --resume --json "$TMPDIR/b.yaml" >"$TMPDIR/b2.json" 2>"$TMPDIR/b2.err"
rc=$?
[ $rc -eq 0 ] && ok "resume re-sends what the target lost" || { fail "resume re-sends what the target lost" "exit $rc"; tail -4 "$TMPDIR/b2.err" | sed 's/^/# /'; }
[ "$(count)" -eq 30000 ] && ok "all 30000 are held after resume" || fail "all 30000 are held after resume" "count $(count)"
resent=$(ingest_field "$TMPDIR/b2.json" ingest.resent)
# receipts are committed in small batches: the re-sent are the acknowledged
# records whose receipt was committed before the kill (at most all n)
[ "$resent" != absent ] && [ "$resent" -gt 0 ] && [ "$resent" -le "$n" ] 2>/dev/null \
	&& ok "the report counts them as re-sent ($resent of $n)" || fail "the report counts them as re-sent" "resent $resent, lost by restart $n"
grep -q "not in the engram target; sending them again" "$TMPDIR/b2.err" && ok "resume says why it sends again" || fail "resume says why it sends again"

# --- the embedded target dies with the process -----------------------------
cat >"$TMPDIR/e.yaml" <<YAML
name: embedded-resume
seed: 5
target: {driver: embedded}
steps:
  corpus: {source: sample, limit: 200}
  embed: {embedder: hashing, dim: 32}
  centroids: {k: 4}
  synthetic: {count: 2000, std_dev: 0.1}
  ingest: {}
  loadtest:
    duration: 4s
    arrival: {pattern: constant, rate: 50}
    mix: {store: 0.5, recall: 0, search: 0.5}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/e.yaml" >"$TMPDIR/e1.out" 2>&1 &
runpid=$!
for _ in $(seq 300); do grep -q "loadtest *running" "$TMPDIR/e1.out" && break; sleep 0.05; done
sleep 0.5
kill -9 $runpid 2>/dev/null; wait $runpid 2>/dev/null
grep -q "loadtest *running" "$TMPDIR/e1.out" && ok "killed during the load test" || fail "killed during the load test"
"$ENGRAVE" --store "$TMPDIR/s" run --resume --json "$TMPDIR/e.yaml" >"$TMPDIR/e2.json" 2>"$TMPDIR/e2.err"
rc=$?
[ $rc -eq 0 ] && ok "the embedded run resumes" || { fail "the embedded run resumes" "exit $rc"; tail -4 "$TMPDIR/e2.err" | sed 's/^/# /'; }
grep -q "does not outlive the process" "$TMPDIR/e2.err" && ok "resume says it reloads the in-process index" || fail "resume says it reloads the in-process index"
[ "$(ingest_field "$TMPDIR/e2.json" ingest.lost)" = "0" ] && ok "nothing is called lost" || fail "nothing is called lost"

# --- --verify-all: every acknowledged id asked for ---------------------------
rm -f "$TMPDIR/port"
"$srv" --port 0 --port-file "$TMPDIR/port" >"$TMPDIR/srv2.log" 2>&1 & # Engram's dedup on
pids+=($!)
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$TMPDIR/port")"
cat >"$TMPDIR/d.yaml" <<YAML
name: verify-all
seed: 2
target: {driver: engram, url: "$url"}
steps:
  centroids: {from: random, k: 5, dim: 768}
  synthetic: {count: 200, std_dev: 0.001, normalize: true}
  ingest: {concurrency: 4, batch_size: 1, verify_sample: 0}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --verify-all --json "$TMPDIR/d.yaml" >"$TMPDIR/d.json" 2>"$TMPDIR/d.err"
rc=$?
[ $rc -eq 1 ] && ok "near-duplicates Engram dropped fail the load" || fail "near-duplicates Engram dropped fail the load" "exit $rc"
grep -q "acknowledged records are not in the target by id (first: syn-" "$TMPDIR/d.err" \
	&& ok "--verify-all names the absent ids" || { fail "--verify-all names the absent ids"; tail -3 "$TMPDIR/d.err" | sed 's/^/# /'; }
