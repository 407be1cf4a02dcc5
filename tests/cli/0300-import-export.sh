# engrave import / export: .npy, .fvecs and .jsonl in, npy/fvecs/csv/jsonl
# out; content addressing (same vectors from any format -> same digest),
# refs, exact round trips, and clear errors for bad files.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
S="$TMPDIR/store"
E() { "$ENGRAVE" --store "$S" "$@"; }

# 5 x 3 float32 matrix as .npy (v1 header, written by hand) and .fvecs.
$PY - "$TMPDIR" <<'PYEOF'
import struct, sys, os
d = sys.argv[1]
rows = [[i * 0.5 + j * 0.25 - 1.0 for j in range(3)] for i in range(5)]
data = b"".join(struct.pack("<3f", *r) for r in rows)
def npy(path, descr, shape, payload, fortran=False):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape)
    h += " " * (64 - (10 + len(h) + 1) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload)
npy(os.path.join(d, "m.npy"), "<f4", "(5, 3)", data)
npy(os.path.join(d, "f8.npy"), "<f8", "(5, 3)", b"\0" * 120)
open(os.path.join(d, "m.fvecs"), "wb").write(b"".join(struct.pack("<i3f", 3, *r) for r in rows))
with open(os.path.join(d, "v.jsonl"), "w") as f:
    for i, r in enumerate(rows):
        f.write('{"id": %d, "text": "row %d", "embedding": [%s], "confidence": 0.5}\n' % (100 + i, i, ", ".join(repr(x) for x in r)))
with open(os.path.join(d, "bad.jsonl"), "w") as f:
    f.write('{"id": 1, "embedding": [1, 2, 3]}\n{"id": 2, "embedding": [1, "two", 3]}\n')
with open(os.path.join(d, "corpus.jsonl"), "w") as f:
    f.write('{"id":1,"title":"Danube","text":"A river in Europe."}\n{"id":2,"title":"Ünïcode \\"q\\"","text":"Line\\nbreak"}\n')
PYEOF

d_npy=$(E import "$TMPDIR/m.npy" --name vec/m 2>"$TMPDIR/err") && [ ${#d_npy} -eq 64 ] \
	&& ok "import .npy prints a digest" || { fail "import .npy prints a digest"; sed 's/^/# /' "$TMPDIR/err"; }
grep -q "vectors, 5 x 3 float32, ref vec/m" "$TMPDIR/err" && ok "import reports shape and ref" || fail "import reports shape and ref"
d_fv=$(E import "$TMPDIR/m.fvecs" 2>/dev/null)
[ "$d_fv" = "$d_npy" ] && ok "same vectors from .fvecs give the same digest" || fail "same vectors from .fvecs give the same digest" "$d_fv vs $d_npy"
E import "$TMPDIR/m.npy" --json >"$TMPDIR/j" 2>/dev/null
grep -q '"rows": 5' "$TMPDIR/j" && grep -q '"dim": 3' "$TMPDIR/j" && grep -q '"type": "vectors"' "$TMPDIR/j" \
	&& ok "import --json" || fail "import --json"

check "export by ref to npy" E export vec/m -o "$TMPDIR/out.npy"
d_re=$(E import "$TMPDIR/out.npy" 2>/dev/null)
[ "$d_re" = "$d_npy" ] && ok "npy export re-imports to the same digest" || fail "npy export re-imports to the same digest"
cmp -s <(tail -c 60 "$TMPDIR/out.npy") <(tail -c 60 "$TMPDIR/m.npy") && ok "npy payload is bit-identical" || fail "npy payload is bit-identical"
E export "$d_npy" --format fvecs >"$TMPDIR/out.fvecs" 2>"$TMPDIR/err"
cmp -s "$TMPDIR/out.fvecs" "$TMPDIR/m.fvecs" && ok "fvecs export to a pipe is byte-identical" || fail "fvecs export to a pipe is byte-identical"
E export "$d_npy" --format npy | cat >"$TMPDIR/pipe.npy"
cmp -s "$TMPDIR/pipe.npy" "$TMPDIR/out.npy" && ok "npy export through a pipe" || fail "npy export through a pipe"
if $PY -c 'import numpy' 2>/dev/null; then
	$PY -c "import numpy as n, sys; a=n.load(sys.argv[1]); b=n.load(sys.argv[2]); assert a.dtype==n.float32 and a.shape==(5,3) and (a==b).all()" \
		"$TMPDIR/out.npy" "$TMPDIR/m.npy" && ok "numpy loads the export" || fail "numpy loads the export"
else
	skip "numpy loads the export" "no numpy"
fi
E export vec/m --format csv -o "$TMPDIR/out.csv"
[ "$(head -1 "$TMPDIR/out.csv")" = "id,v0,v1,v2" ] && [ "$(wc -l <"$TMPDIR/out.csv")" -eq 6 ] \
	&& grep -q '^4,1,1.25,1.5$' "$TMPDIR/out.csv" && ok "csv export" || { fail "csv export"; sed 's/^/# /' "$TMPDIR/out.csv"; }
E export vec/m -o "$TMPDIR/out.jsonl"
[ "$(wc -l <"$TMPDIR/out.jsonl")" -eq 5 ] && head -1 "$TMPDIR/out.jsonl" | grep -q '^{"content":"","embedding":\[-1,-0.75,-0.5\],"confidence":1,"id":0}$' \
	&& ok "jsonl export in the original tool's shape" || { fail "jsonl export in the original tool's shape"; head -2 "$TMPDIR/out.jsonl" | sed 's/^/# /'; }

d_jl=$(E import "$TMPDIR/v.jsonl" 2>/dev/null)
[ ${#d_jl} -eq 64 ] && [ "$d_jl" != "$d_npy" ] && ok "jsonl with embeddings imports (with ids)" || fail "jsonl with embeddings imports (with ids)"
E export "$d_jl" --format jsonl | head -1 | grep -q '"confidence":0.5,"id":100}$' && ok "ids and confidence survive" || fail "ids and confidence survive"

d_c=$(E import "$TMPDIR/corpus.jsonl" --name corpus/x 2>"$TMPDIR/err")
grep -q "corpus, 2 records" "$TMPDIR/err" && ok "jsonl without embeddings is a corpus" || fail "jsonl without embeddings is a corpus"
E export corpus/x >"$TMPDIR/c.out"
cmp -s "$TMPDIR/c.out" "$TMPDIR/corpus.jsonl" && ok "corpus jsonl round trip is exact" || { fail "corpus jsonl round trip is exact"; diff "$TMPDIR/c.out" "$TMPDIR/corpus.jsonl" | sed 's/^/# /'; }

expect_exit 2 "wrong dim is an input error" E import "$TMPDIR/m.npy" --dim 768
grep -q "m.npy: vectors have dim 3 but dim 768 was expected" "$TMPDIR/last.out" && ok "wrong dim message" || fail "wrong dim message"
expect_exit 2 "float64 npy rejected" E import "$TMPDIR/f8.npy"
grep -q "dtype '<f8' is not supported" "$TMPDIR/last.out" && grep -q "hint:" "$TMPDIR/last.out" && ok "dtype message with hint" || fail "dtype message with hint"
expect_exit 2 "non-numeric embedding rejected" E import "$TMPDIR/bad.jsonl"
grep -q "bad.jsonl:2: 'embedding' must be an array of numbers (item 1 is a string)" "$TMPDIR/last.out" && ok "jsonl error names file:line" || fail "jsonl error names file:line"
expect_exit 3 "missing file" E import "$TMPDIR/nope.npy"
expect_exit 2 "unknown extension" E import "$TMPDIR/err"
expect_exit 3 "unknown ref" E export no/such/ref
expect_exit 2 "corpus cannot be npy" E export corpus/x --format npy -o "$TMPDIR/x.npy"
expect_exit 2 "unknown format" E export vec/m --format parquet
# engram-loadtest-json exports a RUN: a vectors artifact cannot be written so (exit 2,
# naming the formats a vectors artifact takes)
expect_exit 2 "engram-loadtest-json wants a run" E export vec/m --format engram-loadtest-json
grep -q "is a 'vectors', which export writes as npy, fvecs, csv, jsonl, not engram-loadtest-json" "$TMPDIR/last.out" &&
	ok "the message names the formats vectors take" || fail "the message names the formats vectors take"

# --content fills the original tool's "content" from the corpus the vectors came from.
printf '{"id":1,"embedding":[1,0]}\n{"id":2,"embedding":[0,1]}\n' >"$TMPDIR/v2.jsonl"
d_v2=$(E import "$TMPDIR/v2.jsonl" 2>/dev/null)
E export "$d_v2" --content corpus/x >"$TMPDIR/vc.out" 2>"$TMPDIR/err"
head -1 "$TMPDIR/vc.out" | grep -q '^{"content":"Danube\\n\\nA river in Europe.","embedding":\[1,0\],"confidence":1,"id":1}$' \
	&& ok "export --content fills content" || { fail "export --content fills content"; sed 's/^/# /' "$TMPDIR/vc.out" "$TMPDIR/err"; }
expect_exit 2 "--content with mismatched ids" E export vec/m --content corpus/x
grep -q "does not match the vectors at row 0" "$TMPDIR/last.out" && ok "mismatch message" || fail "mismatch message"

# A failed export leaves an existing -o FILE as it was (it was emptied); a
# successful one replaces it whole, keeping its mode, and leaves no temporary file.
printf 'precious\n' >"$TMPDIR/keep.jsonl"
chmod 640 "$TMPDIR/keep.jsonl"
expect_exit 2 "a failing export to an existing file fails" E export vec/m --content corpus/x -o "$TMPDIR/keep.jsonl"
[ "$(cat "$TMPDIR/keep.jsonl")" = precious ] && ok "a failed export leaves the existing file as it was" ||
	fail "a failed export leaves the existing file as it was" "now $(wc -c <"$TMPDIR/keep.jsonl") bytes"
ls -a "$TMPDIR" | grep -q '^\.keep\.jsonl\.' && fail "no temporary file is left after a failure" ||
	ok "no temporary file is left after a failure"
E export vec/m -o "$TMPDIR/keep.jsonl" 2>/dev/null
[ "$(wc -l <"$TMPDIR/keep.jsonl")" -eq 5 ] && [ "$(stat -c %a "$TMPDIR/keep.jsonl")" = 640 ] &&
	! ls -a "$TMPDIR" | grep -q '^\.keep\.jsonl\.' && ok "a successful export replaces the file, mode kept" ||
	fail "a successful export replaces the file, mode kept"
E export corpus/x -o "$TMPDIR/new-corpus.jsonl" 2>/dev/null && cmp -s "$TMPDIR/new-corpus.jsonl" "$TMPDIR/corpus.jsonl" &&
	ok "export to a new file" || fail "export to a new file"
E export vec/m --format npy -o /dev/null && ok "export to /dev/null (written in place)" || fail "export to /dev/null"

# NaN and infinity in .npy / .fvecs are refused with the row and column, by
# import and by the corpus step (the JSONL reader already refused them).
$PY - "$TMPDIR" <<'PYEOF'
import struct, sys, os
d = sys.argv[1]
nan, inf = float("nan"), float("inf")
rows = [[0.5, 0.25, 1.0], [0.0, 1.0, 0.0], [0.1, nan, 0.2]]
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }"
h += " " * (64 - (10 + len(h) + 1) % 64) + "\n"
open(os.path.join(d, "nan.npy"), "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() +
                                          b"".join(struct.pack("<3f", *r) for r in rows))
rows[2] = [0.1, 0.3, 0.2]; rows[1][2] = -inf
open(os.path.join(d, "inf.fvecs"), "wb").write(b"".join(struct.pack("<i3f", 3, *r) for r in rows))
PYEOF
expect_exit 2 "import refuses NaN in .npy" E import "$TMPDIR/nan.npy"
grep -q "nan.npy: row 2, column 1 holds NaN" "$TMPDIR/last.out" && ok "the NaN is named by row and column" ||
	fail "the NaN is named by row and column"
expect_exit 2 "import refuses infinity in .fvecs" E import "$TMPDIR/inf.fvecs"
grep -q "inf.fvecs: row 1, column 2 holds infinity" "$TMPDIR/last.out" && ok "the infinity is named by row and column" ||
	fail "the infinity is named by row and column"
cat >"$TMPDIR/nan-corpus.yaml" <<'YAML'
name: nan-corpus
steps:
  corpus: {source: npy, path: nan.npy}
  centroids: {k: 2}
YAML
expect_exit 2 "the corpus step refuses NaN in .npy" E run "$TMPDIR/nan-corpus.yaml"
grep -q "nan.npy: row 2, column 1 holds NaN" "$TMPDIR/last.out" && ok "the corpus step names row and column" ||
	fail "the corpus step names row and column"
