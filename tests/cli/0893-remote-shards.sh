# A load test split over three processes, k6-style execution segments, each
# shard a separate store meeting only at the nginx remote (start barrier,
# records), against the Engram contract server; `engrave merge` makes one
# run: exactly the unsharded request count and schedule digest, and
# percentiles equal to a single-process run's within the tolerance below.
# Overlapping segments are refused by merge.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
py=/usr/bin/python3
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "sharded load" "engram-server not built"; exit 0; }
nginx_start || exit 0
"$srv" --port 0 --port-file "$TMPDIR/engram.port" --no-dedup >/dev/null 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; nginx_stop; wait 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMPDIR/engram.port" ] && break; sleep 0.05; done
cd "$TMPDIR"
cat >spec.yaml <<YAML
name: shards
seed: 5
target: {driver: engram, url: "http://127.0.0.1:$(cat engram.port)"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 200, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  loadtest:
    duration: 3s
    warmup: 500ms
    arrival: {pattern: constant, rate: 200}
    mix: {store: 0.3, recall: 0.7, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 20}
YAML
field() { $py -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$@"; }
lt_meta() { # $1 store, $2 run: its measured-and-warm-up request count and schedule digest
	local a
	a=$("$ENGRAVE" --store "$1" show --json "$2" | $py -c 'import json,sys; r=json.load(sys.stdin); print([s for s in r["steps"] if s["name"]=="loadtest"][0]["outputs"][0])')
	"$ENGRAVE" --store "$1" export --format jsonl "$2" 2>/dev/null | wc -l | tr -d '\n'
	printf ' '
	"$ENGRAVE" --store "$1" store cat --raw "$a" 2>/dev/null | $py -c 'import re,sys; print(re.search(rb"schedule_digest.{1,3}?([0-9a-f]{64})", sys.stdin.buffer.read()).group(1).decode())'
}

"$ENGRAVE" --store s0 run --json spec.yaml >single.json 2>single.err || { fail "single-process run" "$(tail -3 single.err)"; exit 0; }
S0=$(field single.json id)
ok "single-process run"

G=g$$
for k in 0 1 2; do
	"$ENGRAVE" --store "s$((k + 1))" run --json spec.yaml --remote "$NGINX_URL" --segment "$k/3:$((k + 1))/3" --group "$G" \
		>"shard$k.json" 2>"shard$k.err" &
	echo $! >"shard$k.pid"
done
rcs=""
for k in 0 1 2; do wait "$(cat "shard$k.pid")"; rcs="$rcs$?"; done
[ "$rcs" = 000 ] && ok "three shards ran" || { fail "three shards ran" "exits $rcs: $(tail -2 shard*.err)"; exit 0; }
grep -q "waiting for 3 shard" shard0.err && ok "each shard waited at the start barrier" || fail "each shard waited at the start barrier"

"$ENGRAVE" --store sm merge --remote "$NGINX_URL" --json "$G" >merged.json 2>merge.err && ok "merge" || { fail "merge" "$(tail -3 merge.err)"; exit 0; }
"$ENGRAVE" --store sm merge --remote "$NGINX_URL" "$G" >merged.txt 2>/dev/null
M=$(field merged.json id)
read -r n0 d0 <<<"$(lt_meta s0 "$S0")"
read -r nm dm <<<"$(lt_meta sm "$M")"
[ -n "$n0" ] && [ "$n0" = "$nm" ] && [ "$(field merged.json merge.records)" = "$n0" ] && ok "merged run: exactly the unsharded request count ($n0)" \
	|| fail "merged run: exactly the unsharded request count" "$n0 vs $nm"
[ -n "$d0" ] && [ "$d0" = "$dm" ] && [ "$(field merged.json merge.schedule_digest)" = "$d0" ] && ok "... and the same schedule digest" \
	|| fail "... and the same schedule digest" "$d0 vs $dm"
parts=$(for k in 0 1 2; do lt_meta "s$((k + 1))" "$(field "shard$k.json" id)" | cut -d' ' -f1; done | paste -sd+ | bc)
[ "$parts" = "$n0" ] && ok "the shards' counts add up to the whole ($parts)" || fail "the shards' counts add up to the whole" "$parts"
# Tolerance: loopback latencies are sub-millisecond and the machine is shared,
# so the percentiles must agree within 2 ms + 100% of the single run's.
$py - single.json merged.json <<'PY' && ok "merged percentiles equal the single run's within tolerance" || fail "merged percentiles equal the single run's within tolerance"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
ma, mb = a["metrics"], b["metrics"]
for k in ("p50_ms", "p90_ms", "p99_ms"):
    x, y = ma[k], mb[k]
    assert abs(x - y) <= 2.0 + 1.0 * x, (k, x, y)
assert abs(ma["throughput"] - mb["throughput"]) <= 0.1 * ma["throughput"], (ma["throughput"], mb["throughput"])
assert mb["error_rate"] == 0, mb["error_rate"]
PY
grep -q "clock (offset to the remote's Date header" merged.txt && grep -q "skew" merged.txt \
	&& ok "merge reports the clock offsets and the skew it assumed" || fail "merge reports the clock offsets and the skew it assumed"
"$ENGRAVE" --store s9 pull --remote "$NGINX_URL" "$M" >/dev/null 2>&1 && ok "the merged run is on the remote" || fail "the merged run is on the remote"

# a shard alone waits at the barrier; SIGTERM stops it (exit 130), and merge
# refuses the incomplete group (exit 3)
G2=h$$
"$ENGRAVE" --store s4 run spec.yaml --remote "$NGINX_URL" --segment 0:1/2 --group "$G2" >/dev/null 2>o1.err &
p1=$!
for _ in $(seq 100); do grep -q "waiting for 2 shard" o1.err && break; sleep 0.1; done
kill -TERM $p1; wait $p1
rc=$?
[ $rc = 130 ] && grep -q "stopped while waiting" o1.err && ok "a lone shard waits at the barrier until stopped (exit 130)" \
	|| fail "a lone shard waits at the barrier until stopped" "exit $rc $(tail -2 o1.err)"
expect_exit 3 "merge refuses a group with a shard missing" "$ENGRAVE" --store s6 merge --remote "$NGINX_URL" "$G2"
grep -q "shard 0/1:1/2 has not finished\|shard 1/2:1/1 has not finished" last.out && ok "... naming the shard" || fail "... naming the shard" "$(cat last.out)"
expect_exit 2 "--segment without a remote is a usage error" env -u ENGRAVE_REMOTE "$ENGRAVE" --store s7 run spec.yaml --segment 0:1/3 --group x
exit 0
