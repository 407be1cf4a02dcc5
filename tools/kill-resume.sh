#!/usr/bin/env bash
# tools/kill-resume.sh — kill -9 engrave at a random point of every phase of a
# run against a real Chroma server, resume after each kill, and check that
# Chroma holds exactly the expected ids at the end.
#
#   tools/kill-resume.sh [--count N] [--dim D] [--hog] [--seed S] [--spec FILE]
#                        [--store DIR] [--port P] [--chroma-data DIR] [--set K=V]...
#
# Without --spec it writes a spec of N records (default 100,000): the sample
# wiki corpus (hashing embedder, D dims, default 128), 8 centroids, N minus
# the corpus synthetic vectors, 200 queries with exact ground truth, ingest
# in batches of 1000 with up to 20 in flight, and an 8 s open-loop load test
# (half stores, half recalls). With --spec (e.g. experiments/m17_1m_chroma.yaml
# at 1M) that spec runs instead, its target pointed at this script's Chroma.
# --hog keeps one core busy throughout (CPU contention). --set K=V passes an
# override to every `engrave run` (e.g. --set 'checks={}' for a spec whose
# baseline ref is not in this script's store).
#
# For each phase in order (corpus, embed, centroids, synthetic, queries,
# groundtruth, ingest, loadtest) the run is started or resumed, and once the
# phase is running engrave is killed with SIGKILL at a random point: a pure
# phase within its first moments (they last milliseconds to seconds), ingest
# when Chroma holds a random 10-90% of the records, the load test a random
# 1-7 s in. Then `engrave run --resume --verify-all` finishes the run and the
# script pages through every id Chroma holds: each synthetic id exactly once,
# as many corpus ids as the corpus has rows, and nothing else but the load
# test's own stores (load-<seed>-<j>). Exit 0 when all of that holds and
# every phase was killed while it ran (or finished in under 50 ms, too short
# to hit: reported); 1 otherwise. Seeded by --seed (default: the time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
COUNT=100000 DIM=128 HOG=0 SEED=$(date +%s) SPEC= STORE= PORT= CDATA=
extra_sets=() SPEC_GIVEN=
while [ $# -gt 0 ]; do
	case $1 in
	--count) COUNT=$2; shift 2 ;;
	--dim) DIM=$2; shift 2 ;;
	--hog) HOG=1; shift ;;
	--seed) SEED=$2; shift 2 ;;
	--spec) SPEC=$2; SPEC_GIVEN=1; shift 2 ;;
	--store) STORE=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--chroma-data) CDATA=$2; shift 2 ;;
	--set) extra_sets+=(--set "$2"); shift 2 ;;
	-h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "kill-resume.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
E="$BUILD/engrave"
chroma="$root/tools/chroma/node_modules/.bin/chroma"
[ -x "$E" ] || { echo "kill-resume.sh: $E missing (make)"; exit 2; }
[ -x "$chroma" ] || { echo "kill-resume.sh: Chroma is not installed (tools/install-deps.sh --chroma)"; exit 2; }
work=$(mktemp -d)
STORE=${STORE:-$work/store}
CDATA=${CDATA:-$work/chroma}
PORT=${PORT:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
url="http://127.0.0.1:$PORT"
RANDOM=$((SEED % 32768))
cpid= hog= epid=
cleanup() { # never changes the script's exit status (set -e is off here)
	set +e
	[ -n "$epid" ] && kill -9 "$epid" 2>/dev/null
	[ -n "$hog" ] && kill "$hog" 2>/dev/null
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$work"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
say() { printf '[kill-resume %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

"$chroma" run --path "$CDATA" --host 127.0.0.1 --port "$PORT" >"$work/chroma.log" 2>&1 &
cpid=$!
for _ in $(seq 300); do curl -sf "$url/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done
curl -sf "$url/api/v2/heartbeat" >/dev/null || { echo "Chroma did not start:"; cat "$work/chroma.log"; exit 2; }
if [ $HOG = 1 ]; then
	sh -c 'while :; do :; done' &
	hog=$!
fi

overrides=()
if [ -z "$SPEC" ]; then
	SPEC="$work/kr.yaml"
	cat >"$SPEC" <<YAML
name: kill-resume
seed: 17
target: {driver: chroma, url: "$url", collection: kill-resume, timeout: 30s}
steps:
  corpus: {source: mediawiki, path: "$root/experiments/data/sample-wiki.xml", min_chars: 50}
  embed: {embedder: hashing, dim: $DIM}
  centroids: {k: 8, algorithm: lloyd, max_iter: 30}
  synthetic: {count: __SYN__, std_dev: 0.1, normalize: true}
  queries: {count: 200, source: synthetic, noise: 0.01}
  groundtruth: {k: 10}
  ingest: {sets: [corpus, synthetic], concurrency: 20, batch_size: 1000, verify_sample: 200}
  loadtest:
    duration: 8s
    warmup: 1s
    arrival: {pattern: constant, rate: 100}
    mix: {store: 0.5, recall: 0.5, search: 0}
    recall: {k: 10, threshold: 0, queries: 200}
YAML
	# the corpus row count decides the synthetic count: run the corpus step alone once
	sed -e 's/__SYN__/1/' -e '/^  synthetic\|^  queries\|^  groundtruth\|^  ingest\|^  loadtest\|^    /d' "$SPEC" >"$work/corpus-only.yaml"
	"$E" --store "$work/probe-store" -q run --json "$work/corpus-only.yaml" >"$work/probe.json" 2>/dev/null || true
	corpus_rows=$(/usr/bin/python3 -c '
import json, re, sys
r = json.load(open(sys.argv[1]))
msg = [s["message"] for s in r["steps"] if s["name"] == "embed"][0]
print(re.match(r"(\d+) vectors", msg).group(1))' "$work/probe.json")
	sed -i "s/__SYN__/$((COUNT - corpus_rows))/" "$SPEC"
else
	overrides=(--set target.url="$url")
fi
overrides+=("${extra_sets[@]}")

phases=(corpus embed centroids synthetic queries groundtruth ingest loadtest)
chroma_count() {
	/usr/bin/python3 - "$url" <<'PY' 2>/dev/null || echo 0
import json, sys, urllib.request
u = sys.argv[1] + "/api/v2/tenants/default_tenant/databases/default_database/collections"
cs = json.load(urllib.request.urlopen(u))
n = 0
for c in cs:
    n += json.load(urllib.request.urlopen(u + "/" + c["id"] + "/count"))
print(n)
PY
}
# start (or resume) the run in the background; its stderr in $work/run.err
launch() {
	: >"$work/run.err"
	if [ -s "$work/run.id" ]; then
		"$E" --store "$STORE" run "$SPEC" "${overrides[@]}" --run "$(cat "$work/run.id")" >/dev/null 2>"$work/run.err" &
	else
		"$E" --store "$STORE" run "$SPEC" "${overrides[@]}" >/dev/null 2>"$work/run.err" &
	fi
	epid=$!
}
# the run to resume: the newest in the store (this script's store has only its own)
remember_run_id() {
	[ -s "$work/run.id" ] && return 0
	"$E" --store "$STORE" runs --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
rs = json.load(sys.stdin)
print(sorted(rs, key=lambda r: r["id"])[-1]["id"] if rs else "")' >"$work/run.id" || true
}
# the records the ingest will store: --count, or with --spec the vectors the
# run's corpus/embed and synthetic steps made (done by the time ingest runs)
ingest_total() {
	[ -z "$SPEC_GIVEN" ] && { echo "$COUNT"; return; }
	remember_run_id
	"$E" --store "$STORE" show "$(cat "$work/run.id")" --json 2>/dev/null | /usr/bin/python3 -c '
import json, re, sys
r = json.load(sys.stdin)
n = 0
for s in r["steps"]:
    if s["name"] in ("embed", "synthetic"):
        m = re.match(r"(\d+) vectors", s.get("message") or "")
        n += int(m.group(1)) if m else 0
print(n or int(sys.argv[1]))' "$COUNT" || echo "$COUNT"
}
running() { grep -q "^$1 *running" "$work/run.err" 2>/dev/null; }
finished() { grep -qE "^$1 *(done|cached)" "$work/run.err" 2>/dev/null; }
: >"$work/report"
# One process covers phases until it is killed: a phase that finishes before
# its kill lands (milliseconds long) is reported, and the same process goes
# on to the next phase.
for ph in "${phases[@]}"; do
	[ -n "$epid" ] && kill -0 "$epid" 2>/dev/null || launch
	t0=$(date +%s%N)
	# a 5 ms poll catches short pure phases; after 2 s (a long ingest before
	# the load test) poll every 0.1 s so the script does not compete for CPU
	while kill -0 "$epid" 2>/dev/null && ! running "$ph" && ! finished "$ph"; do
		if [ $(( $(date +%s%N) - t0 )) -lt 2000000000 ]; then sleep 0.005; else sleep 0.1; fi
	done
	if finished "$ph" || ! kill -0 "$epid" 2>/dev/null; then
		echo "$ph: done before it could be killed (cached, or faster than the 5 ms poll)" >>"$work/report"
		say "$(tail -1 "$work/report")"
		continue
	fi
	case $ph in
	ingest)
		want=$(( ($(ingest_total) * (10 + RANDOM % 81)) / 100 ))
		while kill -0 "$epid" 2>/dev/null && ! finished ingest && [ "$(chroma_count)" -lt "$want" ]; do sleep 0.2; done
		;;
	loadtest)
		sleep "$((1 + RANDOM % 7)).$((RANDOM % 10))"
		;;
	*)
		sleep "0.00$((RANDOM % 10))"
		;;
	esac
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if finished "$ph"; then
		echo "$ph: finished before the kill ($ms ms after it started)" >>"$work/report"
		say "$(tail -1 "$work/report")"
		continue
	fi
	if kill -9 "$epid" 2>/dev/null; then
		wait "$epid" 2>/dev/null || true
		remember_run_id
		if finished "$ph"; then
			echo "$ph: finished just before the kill ($ms ms after it started)" >>"$work/report"
		else
			echo "$ph: KILLED while running ($ms ms after it started; Chroma held $(chroma_count))" >>"$work/report"
		fi
	else
		wait "$epid" 2>/dev/null || true
		echo "$ph: the run ended before the kill" >>"$work/report"
	fi
	say "$(tail -1 "$work/report")"
	epid=
done
[ -n "$epid" ] && { kill -9 "$epid" 2>/dev/null; wait "$epid" 2>/dev/null || true; epid=; }
remember_run_id

say "resuming to the end (--verify-all)"
rc=0
"$E" --store "$STORE" run "$SPEC" "${overrides[@]}" --run "$(cat "$work/run.id")" --verify-all --json >"$work/final.json" 2>"$work/final.err" || rc=$?
if [ $rc -ne 0 ]; then
	say "the resumed run failed (exit $rc):"; tail -8 "$work/final.err"; cat "$work/report"; exit 1
fi
# every id Chroma holds
/usr/bin/python3 - "$url" "$work/final.json" "$work/report" <<'PY'
import json, re, sys, urllib.request
url, final, report = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(final))
m = r["metrics"]
B = url + "/api/v2/tenants/default_tenant/databases/default_database/collections"
cs = json.load(urllib.request.urlopen(B))
ids = []
for c in cs:
    off = 0
    while True:
        req = urllib.request.Request(B + "/" + c["id"] + "/get", data=json.dumps({"limit": 20000, "offset": off, "include": []}).encode(),
                                     headers={"content-type": "application/json"})
        got = json.load(urllib.request.urlopen(req))["ids"]
        ids += got
        if len(got) < 20000:
            break
        off += len(got)
def rows(step):
    msg = [x["message"] for x in r["steps"] if x["name"] == step]
    g = re.match(r"(\d+) vectors", msg[0]) if msg else None
    return int(g.group(1)) if g else 0
n_syn = rows("synthetic")
n_corpus = int(m["ingest.records"]) - n_syn
problems = []
if len(ids) != len(set(ids)):
    problems.append("%d duplicate ids" % (len(ids) - len(set(ids))))
s = set(ids)
syn_ids = {i for i in s if i.startswith("syn-")}
want_syn = {"syn-%d" % i for i in range(n_syn)}
if syn_ids != want_syn:
    problems.append("synthetic ids: %d missing, %d unexpected" % (len(want_syn - syn_ids), len(syn_ids - want_syn)))
corpus_ids = {i for i in s if i.startswith("wiki-")}
if len(corpus_ids) != n_corpus:
    problems.append("corpus ids: %d held, %d expected" % (len(corpus_ids), n_corpus))
load = {i for i in s if re.match(r"load-\d+-\d+$", i)}
other = s - syn_ids - corpus_ids - load
if other:
    problems.append("%d ids that are neither ingested nor load-test stores (first: %s)" % (len(other), sorted(other)[0]))
if m.get("ingest.lost", 0) or m.get("ingest.failed", 0) or m.get("ingest.absent_by_id", 0):
    problems.append("engrave: lost %s, failed %s, absent by id %s" % (m.get("ingest.lost"), m.get("ingest.failed"), m.get("ingest.absent_by_id")))
print(open(report).read().rstrip())
print("Chroma holds %d ids: %d synthetic (of %d), %d corpus (of %d), %d load-test stores; engrave verified %d by id" % (
    len(ids), len(syn_ids), n_syn, len(corpus_ids), n_corpus, len(load), m.get("ingest.count_after", 0)))
if problems:
    print("FAIL: " + "; ".join(problems))
    sys.exit(1)
print("OK: exactly the expected ids")
PY
rc=$?
# a phase that lasted long enough must have been hit
if grep -qE "^(ingest|loadtest): (finished|done|the run ended)" "$work/report"; then
	say "FAIL: ingest and the load test must be killed while running"; exit 1
fi
exit $rc
