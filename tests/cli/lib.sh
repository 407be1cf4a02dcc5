# tests/cli/lib.sh — helpers for shell integration tests (sourced).
#
#   ok NAME / fail NAME [why] / skip NAME why   print TAP lines
#   check NAME CMD...                           ok if CMD exits 0
#   expect_exit CODE NAME CMD...                ok if CMD exits CODE
#   free_port                                   prints a free TCP port on 127.0.0.1
# Every script works in its own $TMPDIR and must clean up the servers it starts.
set -u
ok()   { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; }
skip() { echo "ok - $1 # SKIP $2"; }
check() { local n=$1; shift; if "$@" >"$TMPDIR/last.out" 2>&1; then ok "$n"; else fail "$n" "exit $?"; sed 's/^/# /' "$TMPDIR/last.out" | tail -20; fi; }
expect_exit() {
	local code=$1 n=$2; shift 2
	"$@" >"$TMPDIR/last.out" 2>&1; local rc=$?
	if [ $rc -eq "$code" ]; then ok "$n"; else fail "$n" "exit $rc, wanted $code"; sed 's/^/# /' "$TMPDIR/last.out" | tail -20; fi
}
free_port() { /usr/bin/python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])
PY
}
