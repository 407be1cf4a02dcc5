# The data modules give the same bytes whatever the thread counts: synth
# over 1/2/3 workers and three chunk sizes, k-means and exact kNN under
# OPENBLAS_NUM_THREADS=1 and 2, each in a fresh process (build/tools/bench-data).
. "$(dirname "$0")/lib.sh"
tool="$BUILD/tools/bench-data"
if [ ! -x "$tool" ]; then
	skip "data determinism" "$tool not built"
	exit 0
fi
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

ref=""
same=1
for t in 1 2 3; do
	for c in 1000 4096 65536; do
		d=$("$tool" synth --count 20000 --dim 96 --k 10 --std 0.1 --threads $t --chunk $c --sink sha256 | field digest)
		[ -z "$ref" ] && ref=$d
		[ "$d" = "$ref" ] || { same=0; echo "# threads=$t chunk=$c: $d != $ref"; }
	done
done
[ -n "$ref" ] && [ $same = 1 ] && ok "synth digest independent of threads and chunk size" || fail "synth digest independent of threads and chunk size"

"$tool" synth --count 8000 --dim 64 --k 20 --std 0.2 --seed 3 --sink none --npy "$TMPDIR/x.npy" >/dev/null
for algo in lloyd minibatch; do
	a=$(OPENBLAS_NUM_THREADS=1 "$tool" kmeans --npy "$TMPDIR/x.npy" --k 20 --iters 5 --batch 256 --algo $algo)
	b=$(OPENBLAS_NUM_THREADS=2 "$tool" kmeans --npy "$TMPDIR/x.npy" --k 20 --iters 5 --batch 256 --algo $algo)
	ca=$(echo "$a" | field centroids_sha256) cb=$(echo "$b" | field centroids_sha256)
	ia=$(echo "$a" | field inertia) ib=$(echo "$b" | field inertia)
	if [ -n "$ca" ] && [ "$ca" = "$cb" ] && [ "$ia" = "$ib" ]; then
		ok "k-means $algo: same centroids with 1 and 2 BLAS threads"
	else
		fail "k-means $algo: same centroids with 1 and 2 BLAS threads" "$ca/$ia vs $cb/$ib"
	fi
done
for m in cosine l2; do
	a=$(OPENBLAS_NUM_THREADS=1 "$tool" knn --npy "$TMPDIR/x.npy" --queries 300 --k 10 --metric $m | field ids_sha256)
	b=$(OPENBLAS_NUM_THREADS=2 "$tool" knn --npy "$TMPDIR/x.npy" --queries 300 --k 10 --metric $m | field ids_sha256)
	[ -n "$a" ] && [ "$a" = "$b" ] && ok "knn $m: same ids with 1 and 2 BLAS threads" || fail "knn $m: same ids with 1 and 2 BLAS threads" "$a vs $b"
done
