# engrave store: put/cat round trips, stats, verify (clean and corrupt), gc.
. "$(dirname "$0")/lib.sh"
S="$TMPDIR/store"
E() { "$ENGRAVE" --store "$S" "$@"; }

expect_exit 3 "stats on a missing store exits 3" E store stats
[ ! -e "$S" ] && ok "read-only commands do not create a store" || fail "read-only commands do not create a store"

# a 9 MiB file (3 chunks) with a unique marker in its last chunk, and a small one
/usr/bin/python3 - "$TMPDIR/big" <<'PY'
import sys, random
r = random.Random(42)
data = bytearray(r.getrandbits(8) for _ in range(9 * 1024 * 1024 + 777))
data[-500:-500 + 24] = b"ENGRAVE-CORRUPT-ME-HERE!"
open(sys.argv[1], "wb").write(data)
PY
echo "small file" > "$TMPDIR/small"

d1=$(E store put "$TMPDIR/big" 2>"$TMPDIR/err")
[[ "$d1" =~ ^[0-9a-f]{64}$ ]] && ok "put prints a digest" || fail "put prints a digest" "$d1 $(cat "$TMPDIR/err")"
d2=$(E store put "$TMPDIR/big")
[ "$d1" = "$d2" ] && ok "same content, same digest" || fail "same content, same digest"
d3=$(E store put - <"$TMPDIR/big")
[ "$d1" = "$d3" ] && ok "put from stdin" || fail "put from stdin"
ds=$(E store put --ref keep/small "$TMPDIR/small")

E store cat "$d1" >"$TMPDIR/back" && cmp -s "$TMPDIR/big" "$TMPDIR/back" && ok "cat returns the bytes" || fail "cat returns the bytes"
[ "$(E store cat keep/small)" = "small file" ] && ok "cat through a ref" || fail "cat through a ref"
E store refs >"$TMPDIR/refs"
grep -q "^keep/small $ds\$" "$TMPDIR/refs" && ok "refs lists the ref" || fail "refs lists the ref"

E store stats --json >"$TMPDIR/stats.json"
/usr/bin/python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))
assert s["objects"]==2 and s["chunks"]==4 and s["refs"]==1, s
assert s["logical_bytes"]==9*1024*1024+777+11, s
assert s["map_size"]>=s["map_used"]>0, s' "$TMPDIR/stats.json" && ok "stats --json counts" || fail "stats --json counts"
check "stats (text)" E store stats
check "verify a clean store" E store verify
E store verify --json | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["ok"] and j["blobs"]==6, j' \
	&& ok "verify --json" || fail "verify --json"

# gc: the big object is reachable from nothing
E store gc --dry-run --grace 0 >"$TMPDIR/dry"
grep -q "^would drop $d1 " "$TMPDIR/dry" && ok "gc --dry-run lists the unreachable object" || fail "gc --dry-run lists" "$(cat "$TMPDIR/dry")"
E store cat "$d1" | cmp -s - "$TMPDIR/big" && ok "dry run keeps it" || fail "dry run keeps it"
E store gc >"$TMPDIR/gc1"
grep -q "dropped 0 blobs" "$TMPDIR/gc1" && ok "gc keeps fresh blobs (grace period)" || fail "gc grace" "$(cat "$TMPDIR/gc1")"

# corruption: flip a byte of the stored chunk holding the marker
cp -r "$S" "$TMPDIR/store2"
/usr/bin/python3 - "$TMPDIR/store2/data.mdb" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.find(b"ENGRAVE-CORRUPT-ME-HERE!")
assert i >= 0
b[i] ^= 0x20
open(p, "wb").write(b)
PY
expect_exit 1 "verify exits 1 on corruption" "$ENGRAVE" --store "$TMPDIR/store2" store verify
grep -q "^hash-mismatch cas [0-9a-f]\{64\}" "$TMPDIR/last.out" && ok "verify names the bad blob" || fail "verify names the bad blob"
expect_exit 1 "cat of a corrupt object exits 1" "$ENGRAVE" --store "$TMPDIR/store2" store cat "$d1"

E store gc --grace 0 >"$TMPDIR/gc2"
grep -q "dropped 4 blobs" "$TMPDIR/gc2" && ok "gc --grace 0 drops the unreachable object" || fail "gc drops" "$(cat "$TMPDIR/gc2")"
expect_exit 3 "dropped object is missing" E store cat "$d1"
[ "$(E store cat keep/small)" = "small file" ] && ok "gc keeps what a ref reaches" || fail "gc keeps what a ref reaches"
check "verify after gc" E store verify

expect_exit 2 "unknown subcommand exits 2" E store verfy
grep -q "did you mean 'engrave store verify'" "$TMPDIR/last.out" && ok "subcommand suggestion" || fail "subcommand suggestion"
expect_exit 2 "cat needs an argument" E store cat
expect_exit 3 "cat of an unknown ref exits 3" E store cat no/such/ref
for sub in stats verify gc cat put refs runs; do
	"$ENGRAVE" store $sub --help >"$TMPDIR/h" 2>&1 && grep -q '^usage: ' "$TMPDIR/h" && ok "store $sub --help" || fail "store $sub --help"
done
