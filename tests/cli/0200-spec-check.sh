# engrave spec check/show: tests/specs/good pass, tests/specs/bad fail with
# exit 2 and the message on their "# expect:" line; shipped experiments pass;
# show/--digest/--canonical agree; docs/spec.md is the generated reference.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)

for f in "$root"/experiments/*.yaml; do
	expect_exit 0 "shipped $(basename "$f") passes" "$ENGRAVE" spec check "$f"
done
for f in "$root"/tests/specs/good/*.yaml; do
	expect_exit 0 "good/$(basename "$f") passes" "$ENGRAVE" spec check "$f"
done
cd "$root/tests/specs"
for f in bad/*.yaml; do
	want=$(head -1 "$f" | sed 's/^# expect: //')
	"$ENGRAVE" spec check "$f" >"$TMPDIR/out" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$want" "$TMPDIR/out"; then
		ok "$f rejected: $want"
	else
		fail "$f" "exit $rc, wanted 2 and '$want'"; sed 's/^/# /' "$TMPDIR/out"
	fi
done
cd "$root"

# several files: every one is reported, the exit code is the first failure's
"$ENGRAVE" spec check experiments/quickstart.yaml tests/specs/bad/unknown-key.yaml tests/specs/good/minimal.yaml \
	>"$TMPDIR/out" 2>"$TMPDIR/err"
rc=$?
[ $rc -eq 2 ] && grep -q "quickstart.yaml: ok (digest [0-9a-f]\{64\})" "$TMPDIR/out" &&
	grep -q "minimal.yaml: ok" "$TMPDIR/out" && grep -q "did you mean 'std_dev'" "$TMPDIR/err" &&
	ok "check goes on through every file" || fail "check goes on through every file" "exit $rc"
expect_exit 3 "missing file exits 3" "$ENGRAVE" spec check "$TMPDIR/nope.yaml"
# a directory is a usage error naming the path (it was an I/O error, exit 4)
mkdir -p "$TMPDIR/specdir"
expect_exit 2 "a directory as the spec exits 2" "$ENGRAVE" spec check "$TMPDIR/specdir"
grep -q "spec '$TMPDIR/specdir' is a directory" "$TMPDIR/last.out" && ok "a directory as the spec is named" ||
	fail "a directory as the spec is named"
expect_exit 2 "run with a directory as the spec exits 2" "$ENGRAVE" --store "$TMPDIR/dirstore" run "$TMPDIR/specdir"
expect_exit 2 "no file is a usage error" "$ENGRAVE" spec check

# show: --digest equals check's digest; show's YAML reads back to the same digest
d=$("$ENGRAVE" spec show --digest experiments/m17_1m_hybrid.yaml)
"$ENGRAVE" spec check experiments/m17_1m_hybrid.yaml | grep -q "(digest $d)" && ok "show --digest = check digest" ||
	fail "show --digest = check digest"
mkdir -p "$TMPDIR/exp" && cp -r experiments/quickstart.yaml "$TMPDIR/exp/"
"$ENGRAVE" spec show experiments/quickstart.yaml >"$TMPDIR/exp/shown.yaml"
[ "$("$ENGRAVE" spec show --digest "$TMPDIR/exp/shown.yaml")" = "$("$ENGRAVE" spec show --digest experiments/quickstart.yaml)" ] &&
	ok "show output has the same digest" || fail "show output has the same digest"
c=$("$ENGRAVE" spec show --canonical experiments/quickstart.yaml | sha256sum | cut -c1-64)
[ "$c" = "$("$ENGRAVE" spec show --digest experiments/quickstart.yaml)" ] && ok "digest is sha256 of --canonical" ||
	fail "digest is sha256 of --canonical"
if "$ENGRAVE" spec show --json experiments/m17_baseline_1k.yaml | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["spec"]["seed"] == 3735928559, j["spec"]["seed"]
assert len(j["digest"]) == 64
' 2>"$TMPDIR/err"; then ok "show --json parses"; else fail "show --json parses"; sed 's/^/# /' "$TMPDIR/err"; fi
expect_exit 2 "show rejects two modes" "$ENGRAVE" spec show --json --digest experiments/quickstart.yaml

# the key reference
"$ENGRAVE" spec keys --markdown >"$TMPDIR/spec.md"
cmp -s "$TMPDIR/spec.md" docs/spec.md && ok "docs/spec.md is up to date" ||
	fail "docs/spec.md is up to date" "run: engrave spec keys --markdown > docs/spec.md"
"$ENGRAVE" spec keys | grep -q "steps.synthetic.std_dev" && ok "spec keys lists keys" || fail "spec keys lists keys"

expect_exit 2 "unknown subcommand" "$ENGRAVE" spec chek
grep -q "did you mean 'engrave spec check'" "$TMPDIR/last.out" && ok "subcommand suggestion" || fail "subcommand suggestion"
for s in check show keys import-scenario; do
	expect_exit 0 "spec $s --help" "$ENGRAVE" spec "$s" --help
done
