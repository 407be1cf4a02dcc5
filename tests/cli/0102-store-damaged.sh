# A damaged data.mdb is reported, never a crash and never a new store
# (issue 11, item 8): a truncated file (SIGBUS before), an empty one (a new
# store before), a directory holding other files or only lock.mdb, a damaged
# meta page, and a damaged B-tree page that only `store verify` reaches
# (walked in a child process).
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
S="$TMPDIR/s"
/usr/bin/python3 -c 'import random,sys; r=random.Random(1); open(sys.argv[1],"wb").write(bytes(r.getrandbits(8) for _ in range(9*1024*1024)))' "$TMPDIR/big"
for i in 1 2 3 4 5 6; do echo "small $i" >"$TMPDIR/f$i"; "$ENGRAVE" --store "$S" store put "$TMPDIR/f$i" >/dev/null; done
"$ENGRAVE" --store "$S" store put "$TMPDIR/big" >/dev/null && ok "a store with objects" || fail "a store with objects"
fresh() { rm -rf "$TMPDIR/t"; cp -r "$S" "$TMPDIR/t"; }
T() { "$ENGRAVE" --store "$TMPDIR/t" "$@"; }
damaged() { grep -q "^error: store damaged: $TMPDIR/t" "$TMPDIR/last.out" && ok "$1" || fail "$1" "$(head -2 "$TMPDIR/last.out")"; }

fresh
size=$(stat -c %s "$TMPDIR/t/data.mdb")
truncate -s $((size / 2)) "$TMPDIR/t/data.mdb"
expect_exit 1 "stats of a truncated data.mdb exits 1 (not SIGBUS)" T store stats
damaged "it says the store is damaged and truncated"
grep -q "truncated" "$TMPDIR/last.out" && ok "and names the truncation" || fail "and names the truncation"
expect_exit 1 "verify of a truncated data.mdb exits 1" T store verify
expect_exit 1 "put into a truncated data.mdb exits 1" T store put "$TMPDIR/f1"

fresh
: >"$TMPDIR/t/data.mdb"
expect_exit 1 "put into a store whose data.mdb is empty exits 1 (no new store)" T store put "$TMPDIR/f1"
damaged "an empty data.mdb is damage"
grep -q "^hint: .*remove" "$TMPDIR/last.out" && ok "with a hint" || fail "with a hint"
[ ! -s "$TMPDIR/t/data.mdb" ] && ok "the empty file is left as it was" || fail "the empty file is left as it was"

fresh
rm "$TMPDIR/t/data.mdb"
expect_exit 1 "data.mdb gone but lock.mdb there exits 1" T store put "$TMPDIR/f1"
[ ! -e "$TMPDIR/t/data.mdb" ] && ok "no new data.mdb was made" || fail "no new data.mdb was made"

mkdir -p "$TMPDIR/other" && echo notes >"$TMPDIR/other/notes.txt"
expect_exit 2 "a non-empty directory that is not a store is refused" "$ENGRAVE" --store "$TMPDIR/other" store put "$TMPDIR/f1"
grep -q "not an engrave store and not empty" "$TMPDIR/last.out" && ok "saying so" || fail "saying so"
[ ! -e "$TMPDIR/other/data.mdb" ] && ok "and nothing is created there" || fail "and nothing is created there"
mkdir -p "$TMPDIR/empty"
expect_exit 0 "an empty directory becomes a new store" "$ENGRAVE" --store "$TMPDIR/empty" store put "$TMPDIR/f1"

# a damaged meta page: LMDB's magic 0xBEEFC0DE at byte 16 of page 0
fresh
printf '\x00' | dd of="$TMPDIR/t/data.mdb" bs=1 seek=17 conv=notrunc status=none
expect_exit 1 "a damaged meta page exits 1" T store stats
damaged "and is named as damage"

# a damaged B-tree page header deep in the file: the 'born' tree's root page
fresh
$py - "$TMPDIR/t/data.mdb" <<'PY'
import struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
def meta(off): return struct.unpack_from("<I", b, off + 40)[0], struct.unpack_from("<Q", b, off + 128)[0], struct.unpack_from("<Q", b, off + 144)[0]
m0 = meta(0); m1 = meta(m0[0])
psize, main_root, _ = m1 if m1[2] > m0[2] else m0
off = main_root * psize
lower = struct.unpack_from("<H", b, off + 12)[0]
for i in range((lower - 16) // 2):       # the main tree's leaf: one node per sub-database
    ptr = struct.unpack_from("<H", b, off + 16 + 2 * i)[0]
    ks = struct.unpack_from("<H", b, off + ptr + 6)[0]
    if bytes(b[off + ptr + 8:off + ptr + 8 + ks]) == b"born":
        root = struct.unpack_from("<Q", b, off + ptr + 8 + ks + 40)[0]
        b[root * psize + 10] ^= 0x03       # leaf <-> branch
        open(p, "wb").write(b)
        sys.exit(0)
sys.exit(1)
PY
[ $? -eq 0 ] && ok "flipped the header of a B-tree page" || fail "flipped the header of a B-tree page"
expect_exit 1 "verify finds a damaged B-tree page (walked in a child)" T store verify
damaged "and reports the store as damaged"
grep -q "^lmdb-error " "$TMPDIR/last.out" && ok "listed as an lmdb-error problem" || fail "listed as an lmdb-error problem"
