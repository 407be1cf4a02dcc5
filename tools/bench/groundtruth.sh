#!/usr/bin/env bash
# tools/bench/groundtruth.sh — the queries and groundtruth steps at 1M x 768
# against the sgemm bound, side by side in one run.
#
# Workload (issue 13, "scale costs"): an engrave spec with 100 random
# centroids (dim 768), N synthetic vectors (default 1,000,000, std 0.1,
# normalised), 1000 queries sampled from them and exact top-10 ground truth
# (cosine), run in a fresh temporary store (--store). The steps run in three
# `engrave run`s of growing specs, so each process runs one new step (the
# earlier ones are action-cache hits) and its peak RSS (/usr/bin/time %M) is
# that step's:
#   synthetic    centroids + synthetic
#   queries      + queries   {count: 1000, source: synthetic}
#   groundtruth  + groundtruth {k: 10}
# Step times are the run record's elapsed_s. The sgemm bound is
# `bench-data sgemm`: the same 1000 x N x 768 inner products as OpenBLAS
# sgemm calls on 16384-row blocks held in memory (no store reads, no top-k),
# with the same OpenBLAS and environment as engrave, timed right after.
# Prints the figures, the ratio groundtruth / sgemm (target <= 2) and the
# load average before and after (the machine is shared).
# Env: BUILD (default build), N (rows), Q (queries), K (k), KEEP=1 keeps the store.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
N=${N:-1000000}
Q=${Q:-1000}
K=${K:-10}
DIM=768
PY=/usr/bin/python3
TIME=/usr/bin/time
eng="$BUILD/engrave"
tool="$BUILD/tools/bench-data"
if [ ! -x "$eng" ] || [ ! -x "$tool" ]; then
	make -C "$root" BUILD="$BUILD" "$eng" "$tool" >/dev/null
fi
if [ ! -x "$TIME" ]; then
	echo "groundtruth.sh: SKIP: no $TIME (apt-get install time; make bench installs it)"; exit 0
fi
work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
	echo "store kept in $work/store"
else
	trap 'rm -rf "$work"' EXIT
fi
export ENGRAVE_PROGRESS=0

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
	"OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-unset}"
echo "workload: N=$N x $DIM synthetic, $Q queries, k=$K (cosine)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

spec() { # stage: 1 synthetic, 2 + queries, 3 + groundtruth
	cat <<EOF
name: bench-groundtruth
seed: 42
target: {driver: embedded, hnsw: {space: cosine}}
steps:
  centroids: {from: random, k: 100, dim: $DIM}
  synthetic: {count: $N, std_dev: 0.1, normalize: true}
EOF
	[ "$1" -ge 2 ] && echo "  queries: {count: $Q, source: synthetic}"
	[ "$1" -ge 3 ] && echo "  groundtruth: {k: $K}"
	return 0
}

# stage NAME N: run the stage's spec; prints "<step seconds> <peak RSS MiB>"
stage() {
	spec "$2" >"$work/$1.yaml"
	if ! "$TIME" -f "%M" -o "$work/$1.rss" "$eng" --store "$work/store" run "$work/$1.yaml" --json \
		>"$work/$1.json" 2>"$work/$1.err"; then
		echo "groundtruth.sh: engrave run ($1) failed:" >&2
		cat "$work/$1.err" >&2
		exit 1
	fi
	$PY - "$work/$1.json" "$1" "$work/$1.rss" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = [s for s in d["steps"] if s["name"] == sys.argv[2]][0]
assert s["state"] == "ran", "step %s was %s" % (sys.argv[2], s["state"])
rss = int(open(sys.argv[3]).read().split()[-1]) / 1024.0
print("%.3f %.0f %s" % (s["elapsed_s"], rss, s["outputs"][0][:12]))
PY
}

read -r t_syn rss_syn _ < <(stage synthetic 1)
echo "engrave  synthetic step    seconds=$t_syn peak_rss_mib=$rss_syn"
read -r t_q rss_q _ < <(stage queries 2)
echo "engrave  queries step      seconds=$t_q peak_rss_mib=$rss_q"
read -r t_gt rss_gt gt_digest < <(stage groundtruth 3)
echo "engrave  groundtruth step  seconds=$t_gt peak_rss_mib=$rss_gt (output ${gt_digest}...)"

sg=$("$tool" sgemm --queries "$Q" --rows "$N" --dim "$DIM" --block 16384)
t_sg=$(echo "$sg" | sed -n 's/.* seconds=\([^ ]*\).*/\1/p')
echo "sgemm    bound ($Q x $N x $DIM, 16384-row blocks, in memory)  $sg"
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
	# what the same sgemm does with OpenBLAS's own kernel choice (information only:
	# the environment sets OPENBLAS_CORETYPE for every program here, engrave included)
	sg2=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$tool" sgemm --queries "$Q" --rows "$N" --dim "$DIM" --block 16384)
	echo "sgemm    the same without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (information)  $sg2"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio=$(awk -v a="$t_gt" -v b="$t_sg" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
peak=$(printf '%s\n' "$rss_syn" "$rss_q" "$rss_gt" | sort -n | tail -1)
echo "ratio groundtruth / sgemm bound = ${ratio}x  (target <= 2: $(awk -v r="$ratio" 'BEGIN { print (r <= 2) ? "met" : "MISSED" }'))"
echo "peak RSS: queries ${rss_q} MiB, groundtruth ${rss_gt} MiB, synthetic ${rss_syn} MiB  (target < 2048: $(awk -v p="$peak" 'BEGIN { print (p < 2048) ? "met" : "MISSED" }'))"
exit 0
