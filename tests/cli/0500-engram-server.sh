# tools/engram-server, the Engram contract server: starts on a free port,
# answers the documented shapes and errors, enforces auth, stops on SIGTERM.
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
if [ ! -x "$srv" ]; then
	fail "engram-server built" "missing $srv (make tools)"
	exit 0
fi
command -v curl >/dev/null || { skip "engram-server" "curl not installed"; exit 0; }

start() { # args...: starts in background, sets pid and url
	rm -f "$TMPDIR/port"
	"$srv" --port 0 --port-file "$TMPDIR/port" "$@" >"$TMPDIR/srv.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
	url="http://127.0.0.1:$(cat "$TMPDIR/port" 2>/dev/null)"
}
stop() { kill -TERM "$pid" 2>/dev/null; wait "$pid"; }
code() { curl -s -o "$TMPDIR/body" -w '%{http_code}' "$@"; }

expect_exit 0 "--help exits 0" "$srv" --help
expect_exit 2 "unknown option exits 2" "$srv" --bogus

start --no-dedup
[ -s "$TMPDIR/port" ] && ok "listens on a free port and writes --port-file" || fail "port file written"
grep -q "HTTP API: $url" "$TMPDIR/srv.log" && ok "prints the HTTP API line" || fail "HTTP API line"
[ "$(code "$url/health")" = 200 ] && grep -q '"service":"engram"' "$TMPDIR/body" && ok "GET /health" || fail "GET /health"
emb=$(printf '0.5,%.0s' $(seq 767))0.5
[ "$(code -X POST -H 'Content-Type: application/json' -d "{\"id\":\"m1\",\"content\":\"hello world\",\"embedding\":[$emb]}" "$url/api/v1/memories/remember")" = 201 ] &&
	grep -q '"memory_id":"m1"' "$TMPDIR/body" && ok "remember with client id: 201" || fail "remember 201" "$(cat "$TMPDIR/body")"
[ "$(code -X POST -H 'Content-Type: application/json' -d '{"content":"x","embedding":[1,2,3]}' "$url/api/v1/memories/remember")" = 400 ] &&
	grep -q 'Embedding must be exactly 768 dimensions, got 3' "$TMPDIR/body" && ok "768-dim check: 400 INVALID_MEMORY_INPUT" || fail "768-dim check"
[ "$(code -X POST -d '{"content":"x"}' "$url/api/v1/memories/remember")" = 415 ] && ok "no JSON content type: plain-text 415" || fail "415"
[ "$(code "$url/api/v1/memories?limit=1")" = 200 ] && grep -q '"tier_counts":{"hot":1' "$TMPDIR/body" && ok "tier_counts.hot counts" || fail "tier_counts"
[ "$(code -H 'X-Memory-Space: BAD SPACE' "$url/api/v1/memories")" = 400 ] && ok "invalid space id: 400" || fail "invalid space"
[ "$(code "$url/api/v1/memories/recall?query=hello")" = 200 ] && grep -q '"id":"m1"' "$TMPDIR/body" && ok "text recall finds the memory" || fail "recall"
stop; rc=$?
[ $rc -eq 0 ] && ok "SIGTERM stops it with exit 0" || fail "SIGTERM exit" "rc $rc"

start --api-key k3y
[ "$(code "$url/health")" = 401 ] && grep -q '"code":"UNAUTHORIZED"' "$TMPDIR/body" && ok "auth: 401 without a key" || fail "auth 401"
[ "$(code -H 'Authorization: Bearer nope' "$url/health")" = 401 ] && ok "auth: 401 with a wrong key" || fail "auth wrong key"
[ "$(code -H 'Authorization: Bearer k3y' "$url/health")" = 200 ] && ok "auth: 200 with the key" || fail "auth right key"
stop
