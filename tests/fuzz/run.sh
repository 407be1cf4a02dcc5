#!/usr/bin/env bash
# tests/fuzz/run.sh — seed corpora, fuzzing campaigns and regression runs.
#
#   run.sh corpus   write the seed corpora into $FUZZ_BUILD/corpus/<harness>/
#   run.sh regress  run each harness once over its seeds + regressions/<harness>/
#   run.sh fuzz     fuzz each harness for $FUZZ_SECONDS (60); new inputs and
#                   crashes go to $FUZZ_DIR (~/.cache/engrave-fuzz)
#   run.sh long     the same with -fork=$FUZZ_JOBS (1) for $FUZZ_SECONDS (3600)
#   run.sh table [S] the campaign log's runs of S seconds or more (1800) as a
#                   Markdown table (harness, execs, coverage, time, result)
# Names after the mode (run.sh fuzz fuzz_spec fuzz_wire) pick harnesses
# exactly; FUZZ_ONLY=substr limits any mode to names containing it.
# fuzz and long append one line per harness to $FUZZ_DIR/campaign.tsv
# (date it ended, commit checked out when it started, harness, seconds,
# execs, cov edges, result): the record
# the closing notes' campaign tables are read from.
# Seeds are the project's own inputs: specs in tests/specs and experiments/,
# pages of experiments/data/sample-wiki.xml, files written by fuzz-seeds
# (engrave's own writers), and response bodies recorded from the Engram
# contract server (build-fuzz/tools/engram-server), plus answers in Chroma's
# and the embedding servers' shapes written here (corpus_loopback). Nothing
# is copied from ../shared. Prints one line per harness and exits 1 if any crashed.
set -u
mode=${1:-regress}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
B=${FUZZ_BUILD:-build-fuzz}
C=$B/corpus
FUZZ_DIR=${FUZZ_DIR:-$HOME/.cache/engrave-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_ONLY=${FUZZ_ONLY:-}
harnesses=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')

seed() { # harness name < bytes
	mkdir -p "$C/$1" && cat >"$C/$1/$2"
}

corpus_text() {
	local f i
	for f in tests/specs/good/*.yaml tests/specs/bad/*.yaml experiments/*.yaml; do
		cp "$f" "$C/fuzz_spec/$(basename "$(dirname "$f")")-$(basename "$f")"
	done
	printf '#set loadtest.arrival.rate=200\n' | cat - experiments/quickstart.yaml | seed fuzz_spec set-quickstart.yaml
	# wiki: the whole sample, then each page alone in a minimal dump; wikitext: each page's text
	cp experiments/data/sample-wiki.xml "$C/fuzz_wiki/sample-wiki.xml"
	gzip -c experiments/data/sample-wiki.xml | seed fuzz_wiki sample-wiki.xml.gz
	python3 - "$C" <<'PY'
import re, sys, os
c = sys.argv[1]
x = open("experiments/data/sample-wiki.xml", encoding="utf-8").read()
head = x[:x.index("<page>")] if "<page>" in x else "<mediawiki>\n"
for i, p in enumerate(re.findall(r"<page>.*?</page>", x, re.S)):
    open(f"{c}/fuzz_wiki/page{i:02d}.xml", "w").write(head + p + "\n</mediawiki>\n")
    m = re.search(r"<text[^>]*>(.*?)</text>", p, re.S)
    if m:
        import html
        open(f"{c}/fuzz_wikitext/page{i:02d}.txt", "w").write(html.unescape(m.group(1)))
PY
	# scenarios in the shape of reference/engram.md 4.2 (written here, not copied)
	seed fuzz_scenario basic.toml <<'T'
name = "Fuzz Baseline"
description = "seed scenario"
seed = 7

[duration]
total_seconds = 30

[arrival]
pattern = "poisson"
lambda = 250.0

[operations]
store_weight = 0.5
recall_weight = 0.4
embedding_search_weight = 0.1

[data]
num_nodes = 1000
embedding_dim = 8
memory_spaces = 2

[data.embedding_distribution]
type = "clustered"
num_clusters = 10
std_dev = 0.1

[validation]
expected_p99_latency_ms = 50
expected_throughput_ops_sec = 100
T
	seed fuzz_scenario burst.toml <<'T'
name = 'burst'
[arrival]
pattern = "periodic_burst"
base_rate = 100
burst_rate = 1_000
burst_duration_sec = 2.5
[chaos]
enabled = true
inline = { a = [1, 2, "three"], b = 'lit' }
T
}

# Response bodies and raw HTTP responses from the Engram contract server.
corpus_responses() {
	local srv=$B/tools/engram-server dir port pid i
	[ -x "$srv" ] || { echo "fuzz: $srv missing; no recorded responses" >&2; return 0; }
	dir=$(mktemp -d)
	"$srv" --port 0 --port-file "$dir/port" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
	port=$(cat "$dir/port" 2>/dev/null)
	if [ -n "$port" ]; then
		local u="http://127.0.0.1:$port" n=0 v w
		v=$(python3 -c "print('[' + ','.join(['0.01'] * 767 + ['0.5']) + ']')")
		w=$(python3 -c "print('[' + ','.join(['0.02'] * 767 + ['0.4']) + ']')")
		curl -s -X POST "$u/api/v1/memories/remember" -H 'Content-Type: application/json' \
			-d "{\"id\":\"a1\",\"content\":\"seed one\",\"embedding\":$v,\"confidence\":0.7}" >"$dir/store.json"
		curl -s -X POST "$u/api/v1/memories/remember" -H 'Content-Type: application/json' \
			-d "{\"id\":\"b2\",\"content\":\"seed two\",\"embedding\":$w}" >/dev/null
		curl -s -X POST "$u/api/v1/memories/remember" -H 'Content-Type: application/json' \
			-d '{"content":""}' >"$dir/store-400.json"
		curl -s -g "$u/api/v1/memories/recall?embedding=$v&max_results=5&threshold=0" >"$dir/recall.json"
		curl -s -g "$u/api/v1/memories/search?query=seed&limit=5" >"$dir/search.json"
		curl -s "$u/health" >"$dir/health.json"
		curl -s "$u/api/v1/memories?limit=1" >"$dir/count.json"
		curl -s "$u/api/v1/memories?tier=hot&include_embeddings=true&limit=1000&offset=0" >"$dir/fetch.json"

		# harness input: [driver/op byte][status byte][body]; statuses[] index 0 = 200, 3 = 400
		{ printf '\000\000'; cat "$dir/store.json"; } | seed fuzz_target_resp engram-store
		{ printf '\000\003'; cat "$dir/store-400.json"; } | seed fuzz_target_resp engram-store-400
		{ printf '\002\000'; cat "$dir/recall.json"; } | seed fuzz_target_resp engram-recall
		{ printf '\004\000'; cat "$dir/search.json"; } | seed fuzz_target_resp engram-search
		{ printf '\003\000'; printf '{"ids":[["a1","b2"]],"distances":[[0.1,0.7]]}'; } | seed fuzz_target_resp chroma-recall
		# fuzz_loopback: [call byte][status byte][body] (ops[] in fuzz_loopback.c: 0 engram
		# health, 1 count, 2 describe_env, 3 fetch, 4 fetch_all, 5 get_vectors, 6 has_ids,
		# 7 store); its targets are 4-d, so the fetched embeddings are cut to 4 floats
		{ printf '\000\000'; cat "$dir/health.json"; } | seed fuzz_loopback engram-health
		{ printf '\002\000'; cat "$dir/health.json"; } | seed fuzz_loopback engram-describe
		{ printf '\001\000'; cat "$dir/count.json"; } | seed fuzz_loopback engram-count
		{ printf '\001\003'; cat "$dir/store-400.json"; } | seed fuzz_loopback engram-count-400
		{ printf '\007\001'; cat "$dir/store.json"; } | seed fuzz_loopback engram-store
		python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
for m in j.get("memories", []):
    m["embedding"] = m["embedding"][:3] + m["embedding"][-1:]
print(json.dumps(j, separators=(",", ":")), end="")' "$dir/fetch.json" >"$dir/fetch4.json" &&
			for op in 3 4 5 6; do
				{ printf "\\00$op\\000"; cat "$dir/fetch4.json"; } | seed fuzz_loopback "engram-fetch-op$op"
			done
		cp "$dir/recall.json" "$C/fuzz_jsonf/recall.json"
		printf '[0.1,-2.5e3,1e-45,3.4028235e38]' | seed fuzz_jsonf floats.json
		printf 'zczMPc3MTD4=' | seed fuzz_jsonf b64
		for p in /health /api/v1/memories?limit=1 "/api/v1/memories/search?query=seed&limit=5"; do
			exec 3<>"/dev/tcp/127.0.0.1/$port" || continue
			printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$p" >&3
			cat <&3 >"$dir/raw"
			exec 3<&-
			[ -s "$dir/raw" ] && seed fuzz_wire "resp$((n++))" <"$dir/raw"
		done
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$dir"
}

# fuzz_loopback's Chroma and embedding-server answers, in the shapes the drivers
# read (chroma.c, embed_http.h), written here: [call byte][status byte][body].
corpus_loopback() {
	local coll='{"id":"0b3c9f2e-5d1a-4c7e-9a60-2f4d8e1b7c55","name":"fuzz-space","configuration_json":{"hnsw":{"space":"l2","ef_construction":100,"ef_search":100,"max_neighbors":16}},"metadata":null,"dimension":8,"tenant":"default_tenant","database":"default_database","version":0}'
	local rows='{"ids":["a1","b2"],"embeddings":[[0.1,0.2,0.3,0.4],"AAAAPwAAgL4AAIA/AAAAAA=="],"documents":null,"metadatas":null,"include":["embeddings"]}'
	printf '\010\000"1.0.0"' | seed fuzz_loopback chroma-health
	printf '\011\0002' | seed fuzz_loopback chroma-count
	{ printf '\012\000'; printf '%s' "$coll"; } | seed fuzz_loopback chroma-describe
	{ printf '\012\006'; printf '{"error":"NotFoundError","message":"Collection [fuzz-space] does not exists"}'; } |
		seed fuzz_loopback chroma-describe-404
	for op in 13 14 15; do # \013 fetch, \014 fetch_all, \015 get_vectors
		{ printf "\\0$op\\000"; printf '%s' "$rows"; } | seed fuzz_loopback "chroma-rows-op$op"
	done
	printf '\016\000{"ids":["b2","a1","zz"]}' | seed fuzz_loopback chroma-has-ids
	printf '\017\000{}' | seed fuzz_loopback chroma-store
	printf '\017\003{"error":"InvalidArgumentError","message":"Expected embeddings to be non-empty"}' |
		seed fuzz_loopback chroma-store-400
	printf '\020\000{}' | seed fuzz_loopback chroma-delete
	printf '\021\000{}' | seed fuzz_loopback chroma-set-ef
	# resolve and reset: one body that answers pre-flight and get-or-create alike
	{ printf '\022\000{"max_batch_size":4,"supports_base64_encoding":true,'; printf '%s' "${coll#\{}"; } |
		seed fuzz_loopback chroma-resolve
	{ printf '\023\000{"max_batch_size":4,'; printf '%s' "${coll#\{}"; } | seed fuzz_loopback chroma-reset
	printf '\023\006{"error":"NotFoundError","message":"Collection [fuzz-space] does not exists"}' |
		seed fuzz_loopback chroma-reset-404
	# embedders: \024/\025 openai in batches of 3/2, \026/\027 ollama likewise
	printf '\024\000{"object":"list","data":[{"object":"embedding","index":2,"embedding":[0.5,0.5,0.5,0.5]},{"object":"embedding","index":0,"embedding":[0.1,-0.2,3e-1,4E2]},{"object":"embedding","index":1,"embedding":[0,0,0,1]}],"model":"fuzz-model","usage":{"prompt_tokens":5,"total_tokens":5}}' |
		seed fuzz_loopback openai
	printf '\025\000{"data":[{"embedding":[0.1,0.2,0.3,0.4]},{"embedding":[1,2,3,4]}]}' | seed fuzz_loopback openai-batch2
	printf '\024\012{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}' |
		seed fuzz_loopback openai-429
	printf '\026\000{"model":"fuzz-model","embeddings":[[0.1,0.2,0.3,0.4],[-1,-2,-3,-4],[1e-3,2e-3,3e-3,4e-3]],"total_duration":1,"load_duration":1,"prompt_eval_count":5}' |
		seed fuzz_loopback ollama
	printf '\027\000{"embeddings":[[0.1,0.2,0.3,0.4],[0.5,0.6,0.7,0.8]]}' | seed fuzz_loopback ollama-batch2
	printf '\026\003{"error":"model \\"fuzz-model\\" not found, try pulling it first"}' | seed fuzz_loopback ollama-404
	printf '\000\016' | seed fuzz_loopback hang-up
}

corpus() {
	rm -rf "$C"
	mkdir -p "$C"
	for h in $harnesses; do mkdir -p "$C/$h"; done
	"$B/fuzz-seeds" "$C" || exit 1
	corpus_text
	corpus_responses
	corpus_loopback
	seed fuzz_store undamaged </dev/null
	printf '\000\000\000\000\001\377' | seed fuzz_store meta-byte
	for h in $harnesses; do printf '%-22s %4d seeds\n' "$h" "$(ls "$C/$h" | wc -l)"; done
}

run_one() { # mode harness
	local m=$1 h=$2 bin=$B/$2 log rc
	[ -x "$bin" ] || { echo "fuzz: $bin not built (make fuzz-build)" >&2; return 1; }
	local regs=tests/fuzz/regressions/$h
	mkdir -p "$regs"
	log=$(mktemp)
	local t0 commit; t0=$(date +%s) commit=$(git rev-parse --short HEAD 2>/dev/null)
	# fuzz_store: a damaged page faults inside LMDB and store/fault.c jumps
	# back to the harness, abandoning that read's buffers by design (a
	# command ends there instead): not leaks of the code under test
	local opts=() envs=()
	[ "$h" = fuzz_store ] && opts=(-detect_leaks=0) envs=("ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-}")
	case "$m" in
	regress)
		# -runs=0: execute every seed and regression input once, fuzz nothing;
		# a crashing input is written beside the log, never into the checkout
		env "${envs[@]}" "$bin" -runs=0 "${opts[@]}" -artifact_prefix="${log}-" "$C/$h" "$regs" >"$log" 2>&1 ;;
	fuzz|long)
		mkdir -p "$FUZZ_DIR/corpus/$h" "$FUZZ_DIR/crashes/$h"
		touch "$log.start"
		local extra=()
		[ "$m" = long ] && extra=(-fork="${FUZZ_JOBS:-1}" -ignore_crashes=1)
		env "${envs[@]}" "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$FUZZ_DIR/crashes/$h/" "${extra[@]}" "${opts[@]}" \
			"$FUZZ_DIR/corpus/$h" "$C/$h" "$regs" >"$log" 2>&1 ;;
	esac
	rc=$?
	# a crash inside a forked child (store verify's B-tree walk) is written
	# by libFuzzer's handler in that child while the parent fuzzes on:
	# every crash, leak, timeout or out-of-memory file the run left counts
	# (slow-unit-* files are libFuzzer's note of a slow input, not a finding)
	local left result dir=$FUZZ_DIR/crashes/$h pre='' newer=()
	[ "$m" = regress ] && dir=$(dirname "$log") pre="$(basename "$log")-"
	[ "$m" = regress ] || newer=(-newer "$log.start")
	left=$(find "$dir" -maxdepth 1 -type f "${newer[@]}" \( -name "${pre}crash-*" -o -name "${pre}leak-*" \
		-o -name "${pre}timeout-*" -o -name "${pre}oom-*" \) | wc -l)
	rm -f "$log.start"
	[ "$left" -gt 0 ] && [ $rc -eq 0 ] && rc=1
	result=ok
	[ $rc -ne 0 ] && result="exit $rc"
	[ "$left" -gt 0 ] && result="$result, $left crash files"
	local secs=$(( $(date +%s) - t0 ))
	local cov execs
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	[ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
	if [ "$m" != regress ]; then
		[ -s "$FUZZ_DIR/campaign.tsv" ] || printf 'date\tcommit\tharness\tseconds\texecs\tcov\tresult\n' >"$FUZZ_DIR/campaign.tsv"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" \
			"$h" "$secs" "${execs:-0}" "${cov:-?}" "$result" >>"$FUZZ_DIR/campaign.tsv"
	fi
	if [ $rc -eq 0 ]; then
		printf 'ok   %-22s execs %-10s cov %-6s %ss\n' "$h" "${execs:-0}" "${cov:-?}" "$secs"
	else
		printf 'FAIL %-22s %s%s (log below)\n' "$h" "$result" "$([ "$left" -gt 0 ] && echo " in $dir")"
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x|Test unit written' "$log" | head -25 | sed 's/^/    /'
	fi
	rm -f "$log"
	return $rc
}

case "$mode" in
corpus) corpus ;;
regress|fuzz|long)
	[ -d "$C" ] || corpus >/dev/null
	shift
	if [ $# -gt 0 ]; then
		for h in "$@"; do
			[ -f "tests/fuzz/$h.c" ] || { echo "fuzz: no harness $h (have: $(echo $harnesses))" >&2; exit 2; }
		done
		harnesses="$*"
	fi
	bad=0
	for h in $harnesses; do
		[ -n "$FUZZ_ONLY" ] && [[ "$h" != *$FUZZ_ONLY* ]] && continue
		run_one "$mode" "$h" || bad=1
	done
	exit $bad ;;
table)
	# the campaign log as a Markdown table: every run of at least
	# ${2:-1800} seconds (0: all), one row each, by harness then date
	t=$FUZZ_DIR/campaign.tsv
	[ -s "$t" ] || { echo "fuzz: no campaign log at $t (run.sh fuzz writes it)" >&2; exit 3; }
	echo "| harness | execs | cov (edges) | time | result | commit | ended (UTC) |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' -v min="${2:-1800}" '
		NR == 1 { next }
		$4 >= min {
			n = $5; s = ""
			while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) }
			printf "%s\t%s\t| %s | %s%s | %s | %d min %02d s | %s | %s | %s |\n", $3, $1, $3, n, s, $6,
				int($4 / 60), $4 % 60, $7, $2, substr($1, 1, 10) " " substr($1, 12, 5)
		}' "$t" | sort -t $'\t' -k1,1 -k2,2 | cut -f3- ;;
*) sed -n '2,16p' "$0"; exit 2 ;;
esac
