#!/usr/bin/env bash
# ingest.sh — bulk ingest, engrave vs the original Python approach, side by side.
#
# Both sides load the same N synthetic 768-d records (default 100,000) into
# the same HTTP endpoint, a fresh instance per side, twice: tools/engram-server
# with dedup off (parses and keeps every record: on 2 cores its CPU competes
# with the client's), then with --sink (answers 201 and counts, the "any C
# server answering 201" of the issue: the client's own speed).
#   engrave:  the ingest step (the engine's native HTTP/1.1 transport,
#             keep-alive pool, concurrency 20,
#             journaled receipts; records/s is the send phase)
#   python:   Engram's bulk_ingest.py approach: httpx.AsyncClient, an
#             asyncio.Semaphore(20), one POST per record (Debian python3-httpx),
#             records loaded into memory first and not timed.
# Then the same load into a real Chroma server (CHROMA_N records, default
# 20,000; batched upserts), for a vectors/s figure.
# Prints records/s for each and the ratio (engrave through libcurl,
# ENGRAVE_HTTP_TRANSPORT=curl, is printed too).   N=... CHROMA_N=... to resize.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000}
CHROMA_N=${CHROMA_N:-20000}
BUILD=${BUILD:-build}
E="$BUILD/engrave"
SRV="$BUILD/tools/engram-server"
[ -x "$E" ] && [ -x "$SRV" ] || make -s BUILD="$BUILD" all
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
start_engram() { # $1: extra server flags; sets $url; runs in this shell so the trap can stop it
	rm -f "$work/port"
	"$SRV" --port 0 --port-file "$work/port" --no-dedup --threads 2 $1 >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
	url="http://127.0.0.1:$(cat "$work/port")"
}
spec() { # $1 driver, $2 url, $3 count
	cat <<YAML
name: bench-ingest-$1
seed: 5
target: {driver: $1, url: "$2"}
steps:
  centroids: {from: random, k: 100, dim: 768}
  synthetic: {count: $3, std_dev: 0.1, normalize: true}
  ingest: {concurrency: 20, batch_size: 1000, verify_sample: 100}
YAML
}
metric() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"][sys.argv[2]])' "$1" "$2"; }

echo "bulk ingest of $N x 768 records, concurrency 20 (machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
python_ingest() { # $1 url, $2 records.jsonl -> records/s
	/usr/bin/python3 - "$1" "$2" <<'PY'
import asyncio, json, sys, time
import httpx
url, path = sys.argv[1], sys.argv[2]
records = [json.loads(l) for l in open(path)]            # loaded first, as bulk_ingest.py does
for r in records:
    r["id"] = "py-" + str(r["id"]); r["content"] = r["content"] or r["id"]
async def main():
    sem = asyncio.Semaphore(20)
    ok = 0
    async with httpx.AsyncClient(timeout=30.0) as client:
        async def one(rec):
            nonlocal ok
            async with sem:
                resp = await client.post(url + "/api/v1/memories/remember", json=rec)
                if resp.status_code == 201:
                    ok += 1
        t0 = time.perf_counter()
        for i in range(0, len(records), 1000):               # bulk_ingest.py's --batch-size windows
            await asyncio.gather(*(one(r) for r in records[i:i + 1000]))
        return ok, time.perf_counter() - t0
ok, secs = asyncio.run(main())
assert ok == len(records), (ok, len(records))
print(ok / secs)
PY
}
for mode in contract sink; do
	if [ $mode = contract ]; then flags=""; what="contract server (parses and keeps every record)"
	else flags="--sink"; what="sink server (answers 201, keeps nothing)"; fi
	echo "endpoint: engram-server, $what"
	start_engram "$flags"
	spec engram "$url" "$N" >"$work/e.yaml"
	[ $mode = sink ] && sed -i 's/verify_sample: 100/verify_sample: 0/' "$work/e.yaml"
	"$E" -q --store "$work/store" run --json "$work/e.yaml" >"$work/e.json" || true
	eng=$(metric "$work/e.json" ingest.records_per_s)
	printf '  engrave  (native HTTP, 20 in flight)   %10.0f records/s\n' "$eng"
	start_engram "$flags" # the same through libcurl, into a fresh server and store
	spec engram "$url" "$N" >"$work/ec.yaml"
	[ $mode = sink ] && sed -i 's/verify_sample: 100/verify_sample: 0/' "$work/ec.yaml"
	ENGRAVE_HTTP_TRANSPORT=curl "$E" -q --store "$work/store-curl" run --json "$work/ec.yaml" >"$work/ec.json" || true
	printf '  engrave  (libcurl, 20 in flight)       %10.0f records/s\n' "$(metric "$work/ec.json" ingest.records_per_s)"
	rm -rf "$work/store-curl"
	if [ ! -s "$work/records.jsonl" ]; then
		syn=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([s for s in r["steps"] if s["name"]=="synthetic"][0]["outputs"][0])' "$work/e.json")
		"$E" --store "$work/store" export "$syn" --format jsonl -o "$work/records.jsonl"
	fi
	start_engram "$flags"
	py=$(python_ingest "$url" "$work/records.jsonl")
	printf '  python   (httpx, 20 concurrent)        %10.0f records/s\n' "$py"
	/usr/bin/python3 -c "import sys; print('  ratio engrave / python: %.1fx (target >= 20x)' % (float(sys.argv[1]) / float(sys.argv[2])))" "$eng" "$py"
done

chroma=tools/chroma/node_modules/.bin/chroma
if [ -x "$chroma" ]; then
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$chroma" run --path "$work/chroma" --host 127.0.0.1 --port "$port" >"$work/chroma.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done
	spec chroma "http://127.0.0.1:$port" "$CHROMA_N" >"$work/c.yaml"
	"$E" -q --store "$work/store" run --json "$work/c.yaml" >"$work/c.json"
	printf '  engrave into Chroma (%d records, batched upsert)  %8.0f records/s\n' "$CHROMA_N" "$(metric "$work/c.json" ingest.records_per_s)"
else
	echo "  chroma: not installed (tools/install-deps.sh --chroma)"
fi
