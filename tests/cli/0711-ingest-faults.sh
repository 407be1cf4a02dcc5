# Ingest against a misbehaving Engram: 503 with Retry-After, connections
# closed without a response, and a 1.5 s stall. The ingest must complete with
# nothing lost and the retries recorded, also when retries fall due while the
# stall holds every slot. An unreachable target fails with
# exit 4 and a message naming the URL.
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "faulty engram ingest" "engram-server not built"; exit 0; }
py=/usr/bin/python3
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
"$srv" --port 0 --port-file "$TMPDIR/port" --no-dedup --fail-503-every 25 --retry-after 1 \
	--reset-every 31 --stall-at-ms 300 --stall-ms 1500 >"$TMPDIR/srv.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$TMPDIR/port")"
cat >"$TMPDIR/f.yaml" <<YAML
name: ingest-faults
seed: 3
target: {driver: engram, url: "$url"}
steps:
  centroids: {from: random, k: 8, dim: 768}
  synthetic: {count: 600, std_dev: 0.1, normalize: true}
  ingest: {concurrency: 4, batch_size: 1, retries: 6, verify_sample: 40}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/f.yaml" >"$TMPDIR/f.json" 2>"$TMPDIR/f.err"
rc=$?
[ $rc -eq 0 ] && ok "ingest completes through 503s, resets and a stall" || { fail "ingest completes through faults" "exit $rc"; tail -5 "$TMPDIR/f.err" | sed 's/^/# /'; }
$py - "$TMPDIR/f.json" <<'PY' && ok "nothing lost, retries recorded" || fail "nothing lost, retries recorded"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print("# retries=%d stored=%d count_after=%d" % (m["ingest.retries"], m["ingest.stored"], m["ingest.count_after"]))
assert m["ingest.stored"] == 600 and m["ingest.count_after"] == 600 and m["ingest.lost"] == 0, m
# every 25th store answers 503 (about 24 of them); resets on a reused connection
# are re-sent by the HTTP client itself (both transports), so only the 503s are
# certain to be retries
assert m["ingest.failed"] == 0 and m["ingest.retries"] >= 20, m
assert m["ingest.sample_missing"] == 0 and m["ingest.sample_mismatched"] == 0, m
PY
kill $pid; wait $pid 2>/dev/null; pid=

# 503s whose retries fall due while the server stalls every slot: the retries
# wait for a free slot instead of spinning (this once took 50 s of busy CPU
# before the stalled answers were read); 30 s is a hang detector, not a timing
# (the run takes about 2 s).
"$srv" --port 0 --port-file "$TMPDIR/port2" --no-dedup --fail-503-every 25 --retry-after 1 \
	--stall-at-ms 300 --stall-ms 1500 >"$TMPDIR/srv2.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$TMPDIR/port2" ] && break; sleep 0.05; done
sed "s|$url|http://127.0.0.1:$(cat "$TMPDIR/port2")|" "$TMPDIR/f.yaml" >"$TMPDIR/g.yaml"
timeout 30 "$ENGRAVE" --store "$TMPDIR/s2" run --json "$TMPDIR/g.yaml" >"$TMPDIR/g.json" 2>"$TMPDIR/g.err"
rc=$?
[ $rc -eq 0 ] && ok "retries due while every slot is stalled complete" || { fail "retries due while every slot is stalled complete" "exit $rc"; tail -3 "$TMPDIR/g.err" | sed 's/^/# /'; }
$py - "$TMPDIR/g.json" <<'PY' && ok "stalled retries: nothing lost" || fail "stalled retries: nothing lost"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["ingest.stored"] == 600 and m["ingest.lost"] == 0 and m["ingest.failed"] == 0, m
PY
kill $pid; wait $pid 2>/dev/null; pid=

# unreachable: a port nobody listens on
port=$(free_port)
sed "s|$url|http://127.0.0.1:$port|" "$TMPDIR/f.yaml" >"$TMPDIR/u.yaml"
expect_exit 4 "unreachable target exits 4" "$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/u.yaml"
grep -q "127.0.0.1:$port" "$TMPDIR/last.out" && grep -qi "connect" "$TMPDIR/last.out" \
	&& ok "the error names the URL and the connection failure" || fail "the error names the URL and the connection failure"
