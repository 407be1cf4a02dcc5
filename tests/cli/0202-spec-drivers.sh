# The driver table and specs: what a driver cannot do (text searches on
# chroma, a collection name Chroma refuses, a dim Engram refuses) is refused
# by spec check, plan and run with file:line:col and the key before anything
# runs (no store is created); the key reference takes the drivers from the
# table; a chroma spec gets the driver's defaults.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tests/specs"
for f in bad/chroma-search.yaml bad/chroma-collection.yaml bad/engram-dim.yaml; do
	want=$(head -1 "$f" | sed 's/^# expect: //')
	for cmd in "spec check" plan run; do
		# shellcheck disable=SC2086
		"$ENGRAVE" --store "$TMPDIR/store" $cmd "$f" >"$TMPDIR/out" 2>&1
		rc=$?
		if [ $rc -eq 2 ] && grep -qF -- "$want" "$TMPDIR/out" && [ ! -e "$TMPDIR/store" ]; then
			ok "$cmd refuses $f before anything runs"
		else
			fail "$cmd refuses $f" "exit $rc, wanted 2 and '$want', no store"; sed 's/^/# /' "$TMPDIR/out"
		fi
	done
done

# the same spec with searches turned off passes, with chroma's defaults filled in
sed 's/search: 0.1/search: 0/' bad/chroma-search.yaml | tail -n +2 >"$TMPDIR/ok.yaml"
expect_exit 0 "chroma without searches passes" "$ENGRAVE" spec check "$TMPDIR/ok.yaml"
"$ENGRAVE" spec show "$TMPDIR/ok.yaml" >"$TMPDIR/show" 2>&1
grep -q "^  url: http://localhost:8000" "$TMPDIR/show" && grep -q "^  collection: engrave" "$TMPDIR/show" &&
	! grep -q "^  space:" "$TMPDIR/show" && ok "show fills chroma's url and collection, no space" ||
	{ fail "show fills chroma's defaults"; sed 's/^/# /' "$TMPDIR/show"; }

# the key reference names the drivers of the table
"$ENGRAVE" spec keys >"$TMPDIR/keys"
grep -q "target.driver  (one of engram|chroma|embedded|pgvector, required)" "$TMPDIR/keys" &&
	grep -q "target.hnsw:  index parameters (only with driver chroma, embedded or pgvector)" "$TMPDIR/keys" &&
	ok "spec keys lists the drivers and which take a key" || fail "spec keys lists the drivers"
