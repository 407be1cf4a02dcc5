# faultd, the fault-injecting test server: port file, keep-alive, 200/201,
# --fail-503-every with Retry-After, --reset-every, --delay-us and the stall
# window, the /_faultd/config and /_faultd/stats control endpoints, and a
# clean exit on SIGTERM (held requests are answered first).
. "$(dirname "$0")/lib.sh"
FAULTD="$BUILD/tools/faultd"
if [ ! -x "$FAULTD" ] || ! command -v curl >/dev/null; then
	skip "faultd" "needs $BUILD/tools/faultd and curl"
	exit 0
fi
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

start() { # args: faultd options; sets $pid and $P
	rm -f "$TMPDIR/port"
	"$FAULTD" --port 0 --port-file "$TMPDIR/port" --quiet "$@" 2>"$TMPDIR/faultd.err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
	P=$(cat "$TMPDIR/port" 2>/dev/null)
}
stop() { kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=; return $rc; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

start --fail-503-every 3
[ -n "$P" ] && ok "port file written" || { fail "port file written"; exit 0; }
[ "$(code "http://127.0.0.1:$P/anything")" = 200 ] && ok "GET -> 200" || fail "GET -> 200"
[ "$(code -X POST -d '{}' "http://127.0.0.1:$P/x")" = 201 ] && ok "POST -> 201" || fail "POST -> 201"
curl -s -D "$TMPDIR/h" -o /dev/null "http://127.0.0.1:$P/third"
grep -q '^HTTP/1.1 503' "$TMPDIR/h" && grep -qi '^Retry-After: 1' "$TMPDIR/h" \
	&& ok "every 3rd request is 503 with Retry-After" || fail "every 3rd request is 503 with Retry-After"
curl -sv "http://127.0.0.1:$P/a" "http://127.0.0.1:$P/b" 2>"$TMPDIR/v" >/dev/null
grep -q "Re-using existing connection" "$TMPDIR/v" && ! grep -qi "^< Connection: close" "$TMPDIR/v" \
	&& ok "keep-alive (no Connection: close)" || fail "keep-alive (no Connection: close)"
stats=$(curl -s "http://127.0.0.1:$P/_faultd/stats")
echo "$stats" | grep -q '"requests":5' && echo "$stats" | grep -q '"503":1' \
	&& ok "stats count requests and statuses" || fail "stats count requests and statuses" "$stats"

curl -s -X POST -d '{"fail_503_every":0,"reset_every":2,"status":418}' "http://127.0.0.1:$P/_faultd/config" >"$TMPDIR/cfg"
grep -q '"reset_every":2' "$TMPDIR/cfg" && ok "config endpoint applies changes" || fail "config endpoint applies changes"
curl -s -o /dev/null "http://127.0.0.1:$P/r1"; c1=$?      # request 6: reset
c2=$(code "http://127.0.0.1:$P/r2")                         # request 7: 418
[ "$c1" = 52 ] && ok "reset closes without a response" || fail "reset closes without a response" "curl exit $c1"
[ "$c2" = 418 ] && ok "--status overrides" || fail "--status overrides" "$c2"
stop && ok "SIGTERM exits 0" || fail "SIGTERM exits 0"

start --delay-us 100000 --stall-at-ms 300 --stall-ms 700
t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/")
awk -v t="$t" 'BEGIN{exit !(t >= 0.09)}' && ok "delay holds the response" || fail "delay holds the response" "$t"
sleep 0.3
t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/")
# arrived ~0.4 s after the first request, inside [0.3, 1.0): held until 1.0 s
awk -v t="$t" 'BEGIN{exit !(t >= 0.4)}' && ok "stall window holds requests until its end" \
	|| fail "stall window holds requests until its end" "$t"
curl -s -X POST -d '{"delay_us":10000000,"stall_ms":0}' "http://127.0.0.1:$P/_faultd/config" >/dev/null
curl -s -o "$TMPDIR/held.out" -w '%{http_code}' "http://127.0.0.1:$P/held" >"$TMPDIR/held.code" &
cpid=$!
sleep 0.3
stop && ok "SIGTERM with a held request exits 0" || fail "SIGTERM with a held request exits 0"
wait $cpid
[ "$(cat "$TMPDIR/held.code")" = 200 ] && ok "held request answered at shutdown" \
	|| fail "held request answered at shutdown" "$(cat "$TMPDIR/held.code")"
expect_exit 2 "bad option exits 2" "$FAULTD" --port 0 --bogus
