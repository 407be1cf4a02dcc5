#!/usr/bin/env bash
# chroma-ingest.sh — bulk ingest into a real Chroma server: engrave against
# Chroma's own JS client, side by side, same vectors, same batch, same
# concurrency, a fresh server (fresh data directory) for each side.
#
#   engrave:  the ingest step (native HTTP/1.1, upsert with base64
#             embeddings, journaled receipts, retries, the adaptive window
#             by default: `concurrency` is its most)
#   chroma-js: tools/chroma/bench-ingest.mjs, the pinned chromadb package's
#             ChromaClient: collection.upsert of BATCH records with
#             CONCURRENCY promises in flight; a failed batch is counted
#             (the client does not retry)
#
# Both sides get the plan's settings: batch 1000, 20 requests in flight,
# 30 s request timeout on engrave's side (the JS client has none), HNSW at
# Chroma's defaults (cosine, ef_construction 100, ef_search 100, M 16). Run
# twice: on the quiet machine, then with a CPU hog taking one of the two
# cores (the machine is busy, as when Chroma slows with size). Prints
# records/s, failed batches and retries for each, and the ratio (goal:
# engrave >= 1.3x the JS client, zero failed batches).
#   N=50000 (records)  BATCH=1000  CONC=20  CONDITIONS="quiet hog"
#   ADAPTIVE=false: engrave keeps CONC in flight (no adaptive window)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
N=${N:-50000}
BATCH=${BATCH:-1000}
CONC=${CONC:-20}
CONDITIONS=${CONDITIONS:-quiet hog}
BUILD=${BUILD:-build}
E="$BUILD/engrave"
chroma=tools/chroma/node_modules/.bin/chroma
[ -x "$E" ] || make -s BUILD="$BUILD" all
[ -x "$chroma" ] || { echo "chroma-ingest.sh: Chroma is not installed (tools/install-deps.sh --chroma)"; exit 1; }
command -v node >/dev/null || { echo "chroma-ingest.sh: node is missing"; exit 1; }

work=$(mktemp -d)
pids=()
hog=
cleanup() {
	[ -n "$hog" ] && kill "$hog" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_chroma() { # sets $curl; a fresh data directory every time
	local port dir
	port=$(free_port)
	dir="$work/chroma-$port"
	"$chroma" run --path "$dir" --host 127.0.0.1 --port "$port" >"$dir.log" 2>&1 &
	pids+=($!)
	chroma_pid=$!
	for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null || { echo "chroma did not start:"; cat "$dir.log"; exit 1; }
	curl_url="http://127.0.0.1:$port"
}
stop_chroma() { kill "$chroma_pid" 2>/dev/null || true; wait "$chroma_pid" 2>/dev/null || true; }
count_of() { # $1 url, $2 collection -> records held
	local id
	id=$(curl -sf "$1/api/v2/tenants/default_tenant/databases/default_database/collections/$2" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	curl -sf "$1/api/v2/tenants/default_tenant/databases/default_database/collections/$id/count"
}
metric() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"].get(sys.argv[2], 0))' "$1" "$2"; }
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

gen_spec() {
	cat <<YAML
name: bench-chroma-vectors
seed: 11
steps:
  centroids: {from: random, k: 100, dim: 768}
  synthetic: {count: $N, std_dev: 0.1, normalize: true}
YAML
}
ingest_spec() { # $1 url
	cat <<YAML
name: bench-chroma-ingest
seed: 11
target:
  driver: chroma
  url: "$1"
  collection: engrave
  timeout: 30s
  hnsw: {space: cosine, ef_construction: 100, ef_search: 100, m: 16}
steps:
  centroids: {from: random, k: 100, dim: 768}
  synthetic: {count: $N, std_dev: 0.1, normalize: true}
  ingest: {${ADAPTIVE:+adaptive: $ADAPTIVE, }concurrency: $CONC, batch_size: $BATCH, retries: 5, timeout: 30s, verify_sample: 100}
YAML
}

echo "Chroma ingest: $N x 768 records, batch $BATCH, $CONC in flight ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
gen_spec >"$work/gen.yaml"
"$E" -q --store "$work/store" run --json "$work/gen.yaml" >"$work/gen.json"
syn=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([s for s in r["steps"] if s["name"]=="synthetic"][0]["outputs"][0])' "$work/gen.json")
"$E" -q --store "$work/store" export "$syn" -f fvecs -o "$work/vectors.fvecs"

: >"$work/summary"
for cond in $CONDITIONS; do
	if [ "$cond" = hog ]; then
		# one core busy for the whole condition (both sides)
		sh -c 'while :; do :; done' &
		hog=$!
	fi
	echo "== $cond machine"
	start_chroma
	ingest_spec "$curl_url" >"$work/ingest.yaml"
	t0=$(date +%s.%N)
	rc=0
	"$E" -q --store "$work/store" run --json "$work/ingest.yaml" >"$work/e.json" 2>"$work/e.err" || rc=$?
	t1=$(date +%s.%N)
	if [ ! -s "$work/e.json" ]; then
		echo "engrave failed (exit $rc):"; cat "$work/e.err"; exit 1
	fi
	e_rate=$(metric "$work/e.json" ingest.records_per_s)
	e_failed=$(metric "$work/e.json" ingest.failed)
	e_retries=$(metric "$work/e.json" ingest.retries)
	e_timeouts=$(metric "$work/e.json" ingest.timeouts)
	e_wmin=$(metric "$work/e.json" ingest.window_min)
	e_wmax=$(metric "$work/e.json" ingest.window_max)
	e_wfin=$(metric "$work/e.json" ingest.window_final)
	e_held=$(count_of "$curl_url" engrave)
	printf '  engrave    %8.0f records/s  (exit %d, %.0f not stored, %.0f retries, %.0f timeouts; window %.0f..%.0f, final %.0f; Chroma holds %d; wall %.1f s)\n' \
		"$e_rate" "$rc" "$e_failed" "$e_retries" "$e_timeouts" "$e_wmin" "$e_wmax" "$e_wfin" "$e_held" "$(echo "$t1 - $t0" | bc)"
	stop_chroma

	start_chroma
	node tools/chroma/bench-ingest.mjs "$curl_url" jsclient "$work/vectors.fvecs" "$BATCH" "$CONC" >"$work/js.json" 2>"$work/js.err" ||
		{ echo "the JS client failed:"; cat "$work/js.err"; exit 1; }
	j_rate=$(field "$work/js.json" records_per_s)
	j_failed=$(field "$work/js.json" failed_batches)
	j_err=$(field "$work/js.json" first_error)
	j_held=$(count_of "$curl_url" jsclient)
	printf '  chroma-js  %8.0f records/s  (%d failed batches%s; Chroma holds %d)\n' "$j_rate" "$j_failed" \
		"${j_err:+, first: $j_err}" "$j_held"
	stop_chroma
	[ -n "$hog" ] && { kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null || true; hog=; }

	/usr/bin/python3 -c '
import sys
e, j, ef, jf = float(sys.argv[1]), float(sys.argv[2]), int(float(sys.argv[3])), int(float(sys.argv[4]))
r = e / j if j > 0 else 0
ok = r >= 1.3 and ef == 0
print("  %s: engrave / chroma-js = %.2fx; engrave failed batches %d (goal >= 1.3x and 0: %s)" % (sys.argv[5], r, ef, "met" if ok else "MISSED"))
' "$e_rate" "$j_rate" "$e_failed" "$j_failed" "$cond"
done
