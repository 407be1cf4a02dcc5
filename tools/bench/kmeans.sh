#!/usr/bin/env bash
# tools/bench/kmeans.sh — k-means: engrave vs faiss and scikit-learn.
#
# Data: 50,000 x 768 float32 clustered rows made by engrave's synth
# (100 unit centroids, noise std 0.03, normalised, seed 7), saved as .npy.
# Contenders, k = 100, same OPENBLAS_NUM_THREADS / OMP_NUM_THREADS (THREADS,
# default 2) for all:
#   engrave Lloyd      greedy k-means++ init, 20 full Lloyd passes
#   faiss              faiss.Kmeans(768, 100, niter=20, max_points_per_centroid=1000)
#                      (its own random init)
#   engrave mini-batch batch 1024, max_iter 100 (epochs), max_no_improvement 10
#   sklearn            MiniBatchKMeans(100, batch_size=1024, max_iter=100, n_init=1)
# Inertia is recomputed the same way for every contender: the sum over all
# 50,000 points of the squared distance to the nearest final centroid.
# Targets: engrave Lloyd faster than faiss with inertia no worse.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
THREADS=${THREADS:-2}
PY=/usr/bin/python3
tool="$BUILD/tools/bench-data"
if [ ! -x "$tool" ]; then
	make -C "$root" BUILD="$BUILD" "$BUILD/tools/bench-data" >/dev/null
fi
if ! $PY -c 'import numpy, faiss, sklearn' 2>/dev/null; then
	echo "kmeans.sh: SKIP: $PY lacks numpy/faiss/sklearn (make bench installs them)"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

echo "machine: $(nproc) cores; OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$tool" synth --count 50000 --dim 768 --k 100 --std 0.03 --seed 7 --sink none --npy "$work/x.npy" >/dev/null

lloyd=$("$tool" kmeans --npy "$work/x.npy" --k 100 --iters 20 --algo lloyd)
echo "engrave  lloyd      $lloyd"
mb=$("$tool" kmeans --npy "$work/x.npy" --k 100 --iters 100 --algo minibatch --batch 1024 --no-improve 10)
echo "engrave  minibatch  $mb"

$PY - "$work/x.npy" <<'PY'
import sys, time
import numpy as np
import faiss
from sklearn.cluster import MiniBatchKMeans
x = np.load(sys.argv[1])
n, d = x.shape

def inertia(c):
    c = np.ascontiguousarray(c, dtype=np.float32)
    xx = (x * x).sum(1); cc = (c * c).sum(1); tot = 0.0
    for s in range(0, n, 8192):
        dd = xx[s:s+8192, None] - 2 * x[s:s+8192] @ c.T + cc[None]
        tot += float(np.maximum(dd.min(1), 0).astype(np.float64).sum())
    return tot

t = time.perf_counter()
km = faiss.Kmeans(d, 100, niter=20, max_points_per_centroid=1000, seed=1234)
km.train(x)
tf = time.perf_counter() - t
print("faiss    lloyd      seconds=%.3f inertia=%.6f omp_threads=%d" % (tf, inertia(km.centroids), faiss.omp_get_max_threads()))

t = time.perf_counter()
mb = MiniBatchKMeans(100, batch_size=1024, max_iter=100, n_init=1, random_state=0).fit(x)
ts = time.perf_counter() - t
print("sklearn  minibatch  seconds=%.3f inertia=%.6f n_steps=%d" % (ts, inertia(mb.cluster_centers_), mb.n_steps_))
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
