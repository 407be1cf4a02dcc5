# The store works under `ulimit -v` (issue 11, item 13): the 64 GiB default
# map is address space, which an address-space limit refuses; the store then
# starts with a map that fits and grows it on demand, and when even that is
# impossible the error says how to fix it.
. "$(dirname "$0")/lib.sh"
S="$TMPDIR/s"
if ! (ulimit -v 1500000; "$ENGRAVE" --help >/dev/null 2>&1); then
	skip "store under ulimit -v" "this build cannot start under an address-space limit (sanitizers reserve terabytes)"
	exit 0
fi
/usr/bin/python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(9*1024*1024 + 5))' "$TMPDIR/big"
(
	ulimit -v 1500000 # ~1.4 GiB
	"$ENGRAVE" --store "$S" store put "$TMPDIR/big" >"$TMPDIR/put.out" 2>&1
) && ok "put under ulimit -v 1.4 GiB" || fail "put under ulimit -v 1.4 GiB" "$(cat "$TMPDIR/put.out")"
(
	ulimit -v 1500000
	"$ENGRAVE" --store "$S" store cat "$(cat "$TMPDIR/put.out")" | cmp -s - "$TMPDIR/big"
) && ok "cat under the limit returns the bytes" || fail "cat under the limit returns the bytes"
(
	ulimit -v 1500000
	"$ENGRAVE" --store "$S" store verify >"$TMPDIR/v.out" 2>&1
) && ok "verify under the limit" || fail "verify under the limit" "$(cat "$TMPDIR/v.out")"
# more data than the first map holds: the map grows within the limit
/usr/bin/python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(300*1024*1024))' "$TMPDIR/huge"
(
	ulimit -v 1500000
	"$ENGRAVE" --store "$S" store put "$TMPDIR/huge" >"$TMPDIR/put2.out" 2>&1
) && ok "a 300 MiB put grows the map under the limit" || fail "a 300 MiB put grows the map under the limit" "$(cat "$TMPDIR/put2.out")"
rm -f "$TMPDIR/huge"
# a limit below what the data needs: a clear error naming the remedy, no crash
(
	ulimit -v 300000
	"$ENGRAVE" --store "$S" store stats >"$TMPDIR/low.out" 2>&1
)
rc=$?
[ $rc -eq 4 ] && ok "a limit below the store's size exits 4" || fail "a limit below the store's size exits 4" "exit $rc: $(cat "$TMPDIR/low.out")"
grep -q "ulimit -v" "$TMPDIR/low.out" && grep -q "ENGRAVE_STORE_MAPSIZE" "$TMPDIR/low.out" \
	&& ok "the error names ulimit -v and ENGRAVE_STORE_MAPSIZE" || fail "the error names the remedy" "$(cat "$TMPDIR/low.out")"
