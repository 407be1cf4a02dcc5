#!/usr/bin/env bash
# tools/bench/synth.sh — synthetic vectors: engrave vs NumPy, side by side.
#
# Workload (the 1M-node spec): 950,000 x 768 float32 rows, 100 unit
# centroids, noise std 0.1, rows L2-normalised.
#   engrave  build/tools/bench-data synth (synth_run over 2 workers):
#            sink=none (generation only), sha256 (plus hashing every byte),
#            store (streamed into an obj_writer object in a fresh store);
#            and `engrave run` of a spec with random centroids and the
#            synthetic step (vectors, ids, labels and confidences streamed
#            into a fresh store: the step's own elapsed time)
#   numpy    /usr/bin/python3, the same maths in memory:
#            chunked: 65,536-row blocks, rng.standard_normal(out=blk,
#                     dtype=float32); blk*=0.1; blk+=C[lab]; blk/=norms
#            naive:   the whole array at once (float32); on a machine with
#                     < 16 GB available it runs N/4 rows and scales x4
# Prints one line per contender and the ratios; target (issue 3): the
# synthetic step into the store >= 2x faster than chunked NumPy in memory.
# Env: BUILD (default build), N (rows), SKIP_STORE=1, SKIP_NAIVE=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
N=${N:-950000}
PY=/usr/bin/python3
tool="$BUILD/tools/bench-data"
if [ ! -x "$tool" ]; then
	make -C "$root" BUILD="$BUILD" "$BUILD/tools/bench-data" >/dev/null
fi
if ! $PY -c 'import numpy' 2>/dev/null; then
	echo "synth.sh: SKIP: $PY has no numpy (make bench installs it)"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

eng_none=$("$tool" synth --count "$N" --dim 768 --k 100 --std 0.1 --threads 2 --chunk 4096 --sink none)
echo "engrave  sink=none    $eng_none"
eng_sha=$("$tool" synth --count "$N" --dim 768 --k 100 --std 0.1 --threads 2 --chunk 4096 --sink sha256)
echo "engrave  sink=sha256  $eng_sha"
t_none=$(echo "$eng_none" | val seconds)
t_sha=$(echo "$eng_sha" | val seconds)
t_store=""
if [ "${SKIP_STORE:-0}" != 1 ]; then
	eng_store=$("$tool" synth --count "$N" --dim 768 --k 100 --std 0.1 --threads 2 --chunk 4096 \
		--sink store --store "$work/store")
	echo "engrave  sink=store   $eng_store"
	t_store=$(echo "$eng_store" | val seconds)
	rm -rf "$work/store"
	cat >"$work/synth.yaml" <<EOF
name: bench-synth
seed: 42
target: {driver: embedded}
steps:
  centroids: {from: random, k: 100, dim: 768}
  synthetic: {count: $N, std_dev: 0.1, normalize: true}
EOF
	ENGRAVE_PROGRESS=0 "$BUILD/engrave" --store "$work/store" run "$work/synth.yaml" --json >"$work/run.json" 2>/dev/null
	t_step=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("%.3f" % [s["elapsed_s"] for s in d["steps"] if s["name"] == "synthetic"][0])' "$work/run.json")
	echo "engrave  run: synthetic step into the store (vectors, ids, labels, confidences)  seconds=$t_step"
	rm -rf "$work/store"
fi

np_out=$($PY - "$N" "${SKIP_NAIVE:-0}" <<'PY'
import sys, time
import numpy as np
N = int(sys.argv[1]); skip_naive = sys.argv[2] == "1"
D, K, B, STD = 768, 100, 65536, np.float32(0.1)
rng = np.random.default_rng(42)
C = rng.standard_normal((K, D), dtype=np.float32)
C /= np.linalg.norm(C, axis=1, keepdims=True)

blk = np.empty((B, D), np.float32)
t = time.perf_counter()
for s in range(0, N, B):
    n = min(B, N - s)
    b = blk[:n]
    rng.standard_normal(out=b, dtype=np.float32)
    lab = rng.integers(0, K, n)
    b *= STD
    b += C[lab]
    b /= np.linalg.norm(b, axis=1, keepdims=True)
print("chunked %.3f" % (time.perf_counter() - t))

if not skip_naive:
    avail = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) * 1024
    scale, n = 1, N
    if avail < 16 << 30:
        scale, n = 4, N // 4
    del blk
    t = time.perf_counter()
    lab = rng.integers(0, K, n)
    X = C[lab] + STD * rng.standard_normal((n, D), dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    el = (time.perf_counter() - t) * scale
    print("naive %.3f %d" % (el, scale))
PY
)
t_chunk=$(echo "$np_out" | awk '$1=="chunked"{print $2}')
echo "numpy    chunked (65536-row blocks, float32)  seconds=$t_chunk"
t_naive=$(echo "$np_out" | awk '$1=="naive"{print $2}')
if [ -n "$t_naive" ]; then
	sc=$(echo "$np_out" | awk '$1=="naive"{print $3}')
	echo "numpy    naive (whole array, float32)        seconds=$t_naive$([ "$sc" != 1 ] && echo " (N/$sc rows, x$sc)")"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }
echo "ratio numpy-chunked / engrave(none)   = $(ratio "$t_none" "$t_chunk")x  (generation only)"
echo "ratio numpy-chunked / engrave(sha256) = $(ratio "$t_sha" "$t_chunk")x"
if [ -n "$t_store" ]; then
	echo "ratio numpy-chunked / engrave(store)  = $(ratio "$t_store" "$t_chunk")x  (engrave also hashes and commits to LMDB)"
	r=$(ratio "$t_step" "$t_chunk")
	echo "ratio numpy-chunked / engrave run synthetic step = ${r}x  (target >= 2: $(awk -v r="$r" 'BEGIN { print (r >= 2) ? "met" : "MISSED" }'))"
fi
[ -n "$t_naive" ] && echo "ratio numpy-naive   / engrave(none)   = $(ratio "$t_none" "$t_naive")x"
exit 0
