# The open-loop executor end to end through build/tools/bench-loadgen: its
# own server, a short constant-rate run (one record per scheduled request,
# no errors) with each HTTP transport, a dead port (every request an error,
# none skipped), usage.
. "$(dirname "$0")/lib.sh"
bin="$BUILD/tools/bench-loadgen"
if [ ! -x "$bin" ]; then
	skip "bench-loadgen runs" "$bin not built"
	exit 0
fi
expect_exit 2 "no mode exits 2" "$bin"
expect_exit 0 "--help exits 0" "$bin" run --help
grep -q '^usage: ' "$TMPDIR/last.out" && ok "usage line" || fail "usage line"

"$bin" serve --port-file "$TMPDIR/port" 2>"$TMPDIR/server.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$TMPDIR/port" ] && break; sleep 0.1; done
port=$(cat "$TMPDIR/port" 2>/dev/null)
[ -n "$port" ] && ok "server started" || { fail "server started"; exit 0; }

"$bin" run --url "http://127.0.0.1:$port/" --rate 400 --duration 1 >"$TMPDIR/run.out" 2>&1
line=$(grep '^target_rate=' "$TMPDIR/run.out")
case "$line" in *" sent=400 "*) ok "400/s for 1 s sends exactly 400" ;; *) fail "400/s for 1 s sends exactly 400" "$line" ;; esac
case "$line" in *" errors=0 "*" dropped=0 "*|*" dropped=0 errors=0 "*) ok "no errors, no drops" ;; *) fail "no errors, no drops" "$line" ;; esac

"$bin" run --url "http://127.0.0.1:$port/" --rate 400 --duration 1 --transport curl >"$TMPDIR/curl.out" 2>&1
line=$(grep '^target_rate=' "$TMPDIR/curl.out")
case "$line" in *" sent=400 "*" dropped=0 errors=0 "*) ok "--transport curl: 400 sent, no errors" ;; *) fail "--transport curl: 400 sent, no errors" "$line" ;; esac
expect_exit 2 "--transport bogus exits 2" "$bin" run --url "http://127.0.0.1:$port/" --rate 10 --transport bogus

dead=$(free_port)
"$bin" run --url "http://127.0.0.1:$dead/" --rate 100 --duration 0.5 >"$TMPDIR/dead.out" 2>&1
line=$(grep '^target_rate=' "$TMPDIR/dead.out")
case "$line" in *" errors=50 "*) ok "a dead port: every request is an error" ;; *) fail "a dead port: every request is an error" "$line" ;; esac
grep -q "connect: GET http://127.0.0.1:$dead/" "$TMPDIR/dead.out" && ok "the first connect error names the URL" ||
	{ fail "the first connect error names the URL"; sed 's/^/# /' "$TMPDIR/dead.out"; }
