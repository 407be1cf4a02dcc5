# Every corpus source works wherever corpus vectors are accepted: ingest
# sets, centroids (from the store), queries (source corpus) and groundtruth,
# then a recall load test against what was loaded. Sources: the built-in
# sample, a MediaWiki dump and JSONL texts (embedded by the hashing
# embedder), JSONL that carries its own embeddings, and .npy / .fvecs vector
# files (no embed step). Regression test for corpus vectors read from the
# embed step's slot only: a vector-file corpus passed spec check and was then
# never ingested ("nothing to load"), and queries from it failed with
# "no blob in cas with digest 0000...".
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
S="$TMPDIR/store"
E() { "$ENGRAVE" --store "$S" "$@"; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=60
DIM=16

$PY - "$TMPDIR" $ROWS $DIM <<'PYEOF'
import struct, sys, os, math, random
d, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(5)
rows = []
for i in range(n):
    c = i % 4
    v = [(1.0 if j == c else 0.0) + rnd.gauss(0, 0.05) for j in range(dim)]
    s = math.sqrt(sum(x * x for x in v))
    rows.append([x / s for x in v])
payload = b"".join(struct.pack("<%df" % dim, *r) for r in rows)
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, dim)
h += " " * (64 - (10 + len(h) + 1) % 64) + "\n"
open(os.path.join(d, "v.npy"), "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload)
open(os.path.join(d, "v.fvecs"), "wb").write(b"".join(struct.pack("<i%df" % dim, dim, *r) for r in rows))
words = ["river", "mountain", "city", "music", "history", "science", "football", "language"]
with open(os.path.join(d, "texts.jsonl"), "w") as f:
    for i in range(n):
        w = " ".join(words[(i * 3 + k) % 8] for k in range(30))
        f.write('{"id": %d, "title": "Article %d", "text": "%s about article %d and more words to pass min_chars"}\n' % (i + 1, i, w, i))
with open(os.path.join(d, "emb.jsonl"), "w") as f:
    for i, r in enumerate(rows):
        f.write('{"id": %d, "title": "T%d", "text": "text of row %d with enough characters to be kept here", "embedding": [%s]}\n'
                % (i + 1, i, i, ", ".join(repr(x) for x in r)))
PYEOF

# spec NAME CORPUS-YAML EMBED(0|1) -> $TMPDIR/NAME.yaml
spec() {
	local embed=""
	[ "$3" = 1 ] && embed="  embed: {embedder: hashing, dim: $DIM}"
	cat >"$TMPDIR/$1.yaml" <<YAML
name: src-$1
seed: 7
target: {driver: embedded}
steps:
  corpus: $2
$embed
  centroids: {k: 4, max_iter: 10}
  queries: {count: 20, source: corpus}
  groundtruth: {k: 5}
  ingest: {sets: [corpus]}
  loadtest:
    duration: 1s
    arrival: {pattern: constant, rate: 40}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 5, threshold: 0, queries: 20}
YAML
}
cp "$ROOT/experiments/data/sample-wiki.xml" "$TMPDIR/wiki.xml"
spec sample "{source: sample, limit: $ROWS}" 1
spec mediawiki "{source: mediawiki, path: wiki.xml}" 1
spec jsonl "{source: jsonl, path: texts.jsonl}" 1
spec jsonl-emb "{source: jsonl, path: emb.jsonl}" 1
spec npy "{source: npy, path: v.npy}" 0
spec fvecs "{source: fvecs, path: v.fvecs}" 0

# field NAME KEY: a metric from `show --json` of the last run of spec NAME
metric() { $PY -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(m.get(sys.argv[2], 'absent'))" "$TMPDIR/$1.json" "$2"; }
stepmsg() { $PY -c "import json,sys; print([s['message'] for s in json.load(open(sys.argv[1]))['steps'] if s['name']==sys.argv[2]][0])" "$TMPDIR/$1.json" "$2"; }

for src in sample mediawiki jsonl jsonl-emb npy fvecs; do
	expect_exit 0 "$src: spec check" E spec check "$TMPDIR/$src.yaml"
	if E run "$TMPDIR/$src.yaml" --json >"$TMPDIR/$src.json" 2>"$TMPDIR/$src.err"; then
		ok "$src: corpus -> ingest, centroids, queries, groundtruth, loadtest"
	else
		fail "$src: corpus -> ingest, centroids, queries, groundtruth, loadtest" "exit $?"
		sed 's/^/# /' "$TMPDIR/$src.err" | tail -8
		continue
	fi
	stored=$(metric "$src" ingest.stored)
	case "$src" in
	npy|fvecs|jsonl-emb) want=$ROWS ;;
	*) want=$(stepmsg "$src" embed | sed -E 's/^([0-9]+) vectors.*/\1/') ;;
	esac
	[ "$stored" != absent ] && [ "${stored%.*}" = "$want" ] && [ "$want" -gt 0 ] \
		&& ok "$src: ingest stored every corpus vector ($want)" || fail "$src: ingest stored every corpus vector" "stored $stored, want $want"
	stepmsg "$src" centroids | grep -q "^k=4 over $want vectors" \
		&& ok "$src: centroids cluster the corpus vectors" || fail "$src: centroids cluster the corpus vectors" "$(stepmsg "$src" centroids)"
	stepmsg "$src" queries | grep -q "^20 corpus queries" \
		&& ok "$src: queries drawn from the corpus vectors" || fail "$src: queries drawn from the corpus vectors" "$(stepmsg "$src" queries)"
	stepmsg "$src" groundtruth | grep -q "of 20 queries over $want vectors" \
		&& ok "$src: groundtruth over the corpus vectors" || fail "$src: groundtruth over the corpus vectors" "$(stepmsg "$src" groundtruth)"
	rec=$(metric "$src" recall)
	[ "$rec" = "1.0" ] || [ "$rec" = "1" ] \
		&& ok "$src: exact recall against the loaded corpus" || fail "$src: exact recall against the loaded corpus" "recall $rec"
done
