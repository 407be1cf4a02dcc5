# Journals and run records carry checksums (issue 11, item 9): a flipped byte
# in an ingest receipt or in a run record is found by `store verify` (exit
# 1, naming the run and the stream), and a resume does not believe it.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
S="$TMPDIR/s"
cat >"$TMPDIR/spec.yaml" <<'YAML'
name: receipts
seed: 9
target:
  driver: embedded
  hnsw: {space: cosine}
steps:
  centroids: {from: random, k: 4, dim: 16}
  synthetic: {count: 300, std_dev: 0.1, normalize: true}
  ingest: {sets: [synthetic], batch_size: 100}
YAML
"$ENGRAVE" --store "$S" run "$TMPDIR/spec.yaml" >"$TMPDIR/run.out" 2>&1 && ok "a run with an ingest" || fail "a run with an ingest" "$(tail -3 "$TMPDIR/run.out")"
id=$("$ENGRAVE" --store "$S" store runs | awk '{print $1}')
expect_exit 0 "verify is clean" "$ENGRAVE" --store "$S" store verify
grep -q "journal entries: ok" "$TMPDIR/last.out" && ok "verify checks the journal" || fail "verify checks the journal" "$(tail -1 "$TMPDIR/last.out")"

# flip the status byte of receipt #5: key "<run id>\0ingest\0" + be64(5), value right after it
cp -r "$S" "$TMPDIR/t"
$py - "$TMPDIR/t/data.mdb" "$id" <<'PY'
import sys
p, rid = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, "rb").read())
key = rid + b"\0ingest\0" + (5).to_bytes(8, "big")
i, n = b.find(key), 0
while i >= 0:   # every copy (freed pages may hold an older one)
    b[i + len(key)] ^= 0x01
    n += 1
    i = b.find(key, i + 1)
assert n >= 1, "receipt key found"
open(p, "wb").write(b)
PY
[ $? -eq 0 ] && ok "flipped a byte in an ingest receipt" || fail "flipped a byte in an ingest receipt"
expect_exit 1 "verify finds the damaged receipt" "$ENGRAVE" --store "$TMPDIR/t" store verify
grep -q "^checksum-mismatch journal $id/ingest/0000000000000005: run $id stream ingest: checksum mismatch" "$TMPDIR/last.out" \
	&& ok "naming the run, the stream and the key" || fail "naming the run, the stream and the key" "$(grep journal "$TMPDIR/last.out")"

# flip a byte inside the run record (its host name, which still decodes)
rm -rf "$TMPDIR/t"; cp -r "$S" "$TMPDIR/t"
host=$(hostname)
$py - "$TMPDIR/t/data.mdb" "$host" <<'PY'
import sys
p, host = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, "rb").read())
pat = b"\xa4host" + bytes([0xa0 + len(host)]) + host   # "host": fixstr
i, n = b.find(pat), 0
while i >= 0:   # every copy: older versions of the record may sit in freed pages
    b[i + 6] ^= 0x20   # flip the case of the host name's first letter
    n += 1
    i = b.find(pat, i + 1)
assert n >= 1, "run record found"
open(p, "wb").write(b)
PY
[ $? -eq 0 ] && ok "flipped a byte in the run record" || fail "flipped a byte in the run record"
expect_exit 1 "verify finds the damaged run record" "$ENGRAVE" --store "$TMPDIR/t" store verify
grep -q "^checksum-mismatch runs $id: " "$TMPDIR/last.out" && ok "naming the run" || fail "naming the run" "$(grep runs "$TMPDIR/last.out")"
expect_exit 1 "show of the damaged run exits 1" "$ENGRAVE" --store "$TMPDIR/t" show "$id"
