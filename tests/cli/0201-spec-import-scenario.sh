# engrave spec import-scenario: each Engram fixture scenario becomes a spec
# that passes `spec check`; dropped keys are named on stderr.
. "$(dirname "$0")/lib.sh"
if [ ! -d "${SHARED:-}/fixtures/engram" ]; then
	skip "import-scenario fixtures" "\$SHARED/fixtures/engram absent"
	exit 0
fi
for t in "$SHARED"/fixtures/engram/*.toml; do
	n=$(basename "$t" .toml)
	if "$ENGRAVE" spec import-scenario "$t" -o "$TMPDIR/$n.yaml" 2>"$TMPDIR/$n.err"; then
		ok "$n imports"
	else
		fail "$n imports"; sed 's/^/# /' "$TMPDIR/$n.err"; continue
	fi
	expect_exit 0 "$n: output passes spec check" "$ENGRAVE" spec check "$TMPDIR/$n.yaml"
	grep -q "^warning: chaos.enabled: not supported, dropped" "$TMPDIR/$n.err" && ok "$n: chaos reported" ||
		fail "$n: chaos reported"
done
"$ENGRAVE" spec import-scenario --seed 0xDEADBEEF "$SHARED/fixtures/engram/m17_baseline.toml" 2>/dev/null \
	>"$TMPDIR/m17.yaml"
grep -q "^seed: 3735928559" "$TMPDIR/m17.yaml" && ok "--seed accepts hex" || fail "--seed accepts hex"
grep -q "count: 1000," "$TMPDIR/m17.yaml" && ok "num_nodes becomes synthetic count" || fail "num_nodes becomes synthetic count"
printf 'name = "x"\nrate = \n' >"$TMPDIR/bad.toml"
expect_exit 2 "malformed TOML exits 2" "$ENGRAVE" spec import-scenario "$TMPDIR/bad.toml"
grep -q "bad.toml:2:8: missing value" "$TMPDIR/last.out" && ok "TOML error has line:col" || fail "TOML error has line:col"
expect_exit 3 "missing scenario exits 3" "$ENGRAVE" spec import-scenario "$TMPDIR/none.toml"
