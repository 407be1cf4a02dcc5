# Every command answers --help with exit 0 and a usage line; unknown
# commands and options exit 2 with a suggestion.
. "$(dirname "$0")/lib.sh"
cmds=$("$ENGRAVE" help | awk '/^commands:/{f=1;next} /^$/{f=0} f{print $1}')
[ -n "$cmds" ] && ok "help lists commands" || fail "help lists commands"
for c in $cmds; do
	if "$ENGRAVE" "$c" --help >"$TMPDIR/h" 2>&1 && grep -q '^usage: ' "$TMPDIR/h"; then
		ok "$c --help"
	else
		fail "$c --help"
	fi
done
expect_exit 0 "--version" "$ENGRAVE" --version
expect_exit 2 "unknown command exits 2" "$ENGRAVE" stroe
grep -q "did you mean 'engrave store'" "$TMPDIR/last.out" && ok "unknown command suggests" || fail "unknown command suggests"
expect_exit 2 "no command exits 2" "$ENGRAVE"
