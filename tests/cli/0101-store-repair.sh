# A corrupt chunk can be repaired (issue 11, item 6):
#  - storing the same content again (run --force) overwrites a damaged blob;
#  - `store verify --repair` drops the damaged chunk and the action-cache
#    entry that leads to it, lists the run that names it, and a re-run then
#    rebuilds it with the same digest.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
S="$TMPDIR/s"
cat >"$TMPDIR/spec.yaml" <<'YAML'
name: repair
seed: 3
steps:
  centroids: {from: random, k: 4, dim: 64}
  synthetic: {count: 50000, std_dev: 0.1, normalize: true}
  queries: {count: 10, source: synthetic}
YAML
E() { "$ENGRAVE" --store "$S" "$@"; }
outputs() { $py -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(s["name"]+"="+s["outputs"][0] for s in r["steps"]))' "$1"; }
states() { $py -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(s["name"]+"="+s["state"] for s in r["steps"]))' "$1"; }

E run --json "$TMPDIR/spec.yaml" >"$TMPDIR/r1.json" 2>/dev/null && ok "first run" || fail "first run"
want=$(outputs "$TMPDIR/r1.json")
art=$($py -c 'import json,sys; r=json.load(open(sys.argv[1])); print([s for s in r["steps"] if s["name"]=="synthetic"][0]["outputs"][0])' "$TMPDIR/r1.json")

# the synthetic vectors' object: the largest object the artifact names
E store cat --raw "$art" >"$TMPDIR/art.raw"
obj=$($py - "$TMPDIR/art.raw" "$ENGRAVE" "$S" <<'PY'
import subprocess, sys
raw = open(sys.argv[1], "rb").read()
best, size = None, -1
i = raw.find(b"\xc4\x20")
while i >= 0:
    d = raw[i + 2:i + 34].hex()
    r = subprocess.run([sys.argv[2], "--store", sys.argv[3], "store", "cat", d], capture_output=True)
    if r.returncode == 0 and len(r.stdout) > size:
        best, size = d, len(r.stdout)
    i = raw.find(b"\xc4\x20", i + 34)
print(best)
PY
)
E store cat "$obj" >"$TMPDIR/vectors"
# flip one byte inside the object's first chunk where it sits in data.mdb
corrupt() {
	$py - "$S/data.mdb" "$TMPDIR/vectors" <<'PY'
import sys
db = bytearray(open(sys.argv[1], "rb").read())
vec = open(sys.argv[2], "rb").read()
probe = vec[1000000:1000064]
i, n = db.find(probe), 0
while i >= 0:  # every copy (a freed page may hold an old one)
    db[i + 10] ^= 0x5a
    n += 1
    i = db.find(probe, i + 1)
assert n >= 1, "chunk bytes found in data.mdb"
open(sys.argv[1], "wb").write(db)
PY
}
corrupt && ok "flipped a byte of a stored chunk" || fail "flipped a byte of a stored chunk"
expect_exit 1 "verify finds it" E store verify
grep -q "^hash-mismatch cas " "$TMPDIR/last.out" && ok "as a hash mismatch" || fail "as a hash mismatch"

# storing the same content again overwrites the damaged blob
E run --force --json "$TMPDIR/spec.yaml" >"$TMPDIR/r2.json" 2>"$TMPDIR/r2.err"
[ "$(outputs "$TMPDIR/r2.json")" = "$want" ] && ok "run --force rebuilds the same digests" || fail "run --force rebuilds the same digests"
expect_exit 0 "after run --force the store is whole again (put replaced the damaged chunk)" E store verify

# verify --repair drops the damaged chunk and the cache entry leading to it
corrupt && ok "flipped a byte again" || fail "flipped a byte again"
expect_exit 1 "verify --repair exits 1 (there was damage)" E store verify --repair
grep -q "^dropped cas " "$TMPDIR/last.out" && ok "repair drops the damaged chunk" || fail "repair drops the damaged chunk" "$(tail -5 "$TMPDIR/last.out")"
grep -q "^dropped ac " "$TMPDIR/last.out" && ok "and the action-cache entry that leads to it" || fail "and the action-cache entry"
grep -q "^damaged-run runs " "$TMPDIR/last.out" && ok "and lists the runs that name it" || fail "and lists the runs that name it"
grep -q "^repair: dropped 1 blob, 1 action-cache entry" "$TMPDIR/last.out" && ok "repair summary" || fail "repair summary" "$(grep repair: "$TMPDIR/last.out")"
E run --json "$TMPDIR/spec.yaml" >"$TMPDIR/r3.json" 2>/dev/null && ok "the re-run succeeds" || fail "the re-run succeeds"
case "$(states "$TMPDIR/r3.json")" in
*"synthetic=ran"*) ok "it rebuilds the dropped step" ;;
*) fail "it rebuilds the dropped step" "$(states "$TMPDIR/r3.json")" ;;
esac
[ "$(outputs "$TMPDIR/r3.json")" = "$want" ] && ok "with the same digests" || fail "with the same digests" "$(outputs "$TMPDIR/r3.json")"
expect_exit 0 "verify is clean after the re-run" E store verify
E store cat "$obj" | cmp -s - "$TMPDIR/vectors" && ok "the object reads back whole" || fail "the object reads back whole"
