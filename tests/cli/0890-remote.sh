# The remote store over the Bazel HTTP cache protocol, against a real nginx
# (WebDAV PUT): push a run and its baseline from one store, pull them into a
# fresh one, replay and check --baseline there; a blob damaged on the server
# is refused; a 401 says which variables to set; remote add/list/remove.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
nginx_start || exit 0
trap 'nginx_stop' EXIT
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/../.." && pwd)
cp -r "$root/experiments/data" "$TMPDIR/data"
sed -e 's/duration: 5s/duration: 1s/' -e 's/warmup: [0-9a-z]*/warmup: 0s/' "$root/experiments/quickstart.yaml" >"$TMPDIR/q.yaml"
E1() { "$ENGRAVE" --store "$TMPDIR/s1" "$@"; }
E2() { "$ENGRAVE" --store "$TMPDIR/s2" "$@"; }
cd "$TMPDIR"

RID=$(E1 run --json q.yaml 2>run.err | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ -n "$RID" ] && ok "a run to share" || { fail "a run to share" "$(tail -3 run.err)"; exit 0; }
E1 baseline set qs "$RID" >/dev/null

# remote add / list / remove
check "remote add" E1 remote add origin "$NGINX_URL"
E1 remote list --json | U="$NGINX_URL" $py -c 'import json,sys,os; r=json.load(sys.stdin); assert r==[{"name":"origin","url":os.environ["U"]}], r' \
	&& ok "remote list names it" || fail "remote list names it"
expect_exit 2 "a URL with credentials is refused" E1 remote add bad "http://u:p@127.0.0.1:1/x"
grep -q "ENGRAVE_REMOTE_TOKEN" last.out && ok "... with a hint at the variables" || fail "... with a hint at the variables"

# push (through the configured origin), then a second push sends nothing new
E1 push --json baseline/qs >push1.json 2>push1.err && ok "push a baseline and its run" || fail "push a baseline and its run" "$(tail -3 push1.err)"
puts1=$(nginx_puts)
E1 push --json qs >push2.json 2>/dev/null
puts2=$(nginx_puts)
$py - push1.json push2.json "$puts1" "$puts2" <<'PY' && ok "push is idempotent: the second one PUTs no blob" || fail "push is idempotent: the second one PUTs no blob"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
p1, p2 = int(sys.argv[3]), int(sys.argv[4])
assert a["blobs_sent"] > 10 and a["blobs_sent"] == p1, (a, p1)
assert b["blobs_sent"] == 0 and p2 == p1, (b, p2)
assert a["items"][0] == {"kind": "ref", "name": "baseline/qs", "value": a["items"][0]["value"]}
PY
ls "$NGINX_ROOT/cache/cas" | grep -qE '^[0-9a-f]{64}$' && ls "$NGINX_ROOT/cache/ac" | grep -qE '^[0-9a-f]{64}$' \
	&& ok "files land under cas/<sha256> and ac/<sha256>" || fail "files land under cas/<sha256> and ac/<sha256>"

# pull into a fresh store, then replay and check --baseline there
E2 pull --remote "$NGINX_URL" qs >pull.out 2>pull.err && ok "pull a baseline into a fresh store" || fail "pull a baseline into a fresh store" "$(tail -3 pull.err)"
[ "$(E2 store refs 2>/dev/null | grep -c "baseline/qs.*$RID")" = 1 ] && ok "the ref is set locally" || fail "the ref is set locally"
E2 store verify >verify.out 2>&1 && ok "the pulled store verifies" || fail "the pulled store verifies" "$(tail -2 verify.out)"
cmp <(E1 show --json "$RID" 2>/dev/null) <(E2 show --json "$RID" 2>/dev/null) && ok "show gives the same run on both sides" || fail "show gives the same run on both sides"
E2 replay "$RID" >replay.out 2>&1 && grep -q "every regenerated artifact matches" replay.out \
	&& ok "replay there reproduces every artifact" || fail "replay there reproduces every artifact" "$(tail -3 replay.out)"
R2=$(E2 runs --json 2>/dev/null | $py -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin)][-1])')
E2 check "$R2" --baseline qs >check.out 2>&1
rc=$?
[ "$R2" != "$RID" ] && [ $rc -le 1 ] && grep -q "$RID\|baseline" check.out && ok "check --baseline there compares with the pulled baseline (exit $rc)" \
	|| fail "check --baseline there compares with the pulled baseline" "exit $rc $(tail -3 check.out)"
E2 pull --remote "$NGINX_URL" --json "$RID" >pull2.json 2>/dev/null
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["blobs_fetched"]==0, d' pull2.json && ok "a second pull fetches nothing" || fail "a second pull fetches nothing"
expect_exit 3 "pulling what the remote lacks is exit 3" E2 pull --remote "$NGINX_URL" no-such-ref

# a blob damaged on the server is refused, and nothing of its graph is stored
big=$(ls -S "$NGINX_ROOT/cache/cas" | head -1)
printf 'X' | dd of="$NGINX_ROOT/cache/cas/$big" bs=1 seek=100 conv=notrunc 2>/dev/null
"$ENGRAVE" --store "$TMPDIR/s3" pull --remote "$NGINX_URL" qs >bad.out 2>&1
rc=$?
[ $rc = 1 ] && grep -q "remote blob $big.*does not hash" bad.out && ok "a corrupted blob on the server is refused (exit 1)" \
	|| fail "a corrupted blob on the server is refused (exit 1)" "exit $rc $(tail -2 bad.out)"
[ -z "$("$ENGRAVE" --store "$TMPDIR/s3" runs --json 2>/dev/null | $py -c 'import json,sys; print(len(json.load(sys.stdin)) or "")' 2>/dev/null)" ] \
	&& ok "... and the run is not recorded" || fail "... and the run is not recorded"
"$ENGRAVE" --store "$TMPDIR/s3" store verify >/dev/null 2>&1 && ok "... and what was stored verifies" || fail "... and what was stored verifies"

# 401: a clear error, then basic credentials from the environment
E1 push --remote "$NGINX_AUTH_URL" qs >auth.out 2>&1
rc=$?
[ $rc = 4 ] && grep -q "401 Unauthorized" auth.out && grep -q "ENGRAVE_REMOTE_USER" auth.out \
	&& ok "401 gives a clear error naming the variables" || fail "401 gives a clear error naming the variables" "exit $rc $(cat auth.out)"
ENGRAVE_REMOTE_USER=engrave ENGRAVE_REMOTE_PASSWORD=wrong E1 push --remote "$NGINX_AUTH_URL" qs >auth2.out 2>&1
grep -q "were refused" auth2.out && ! grep -q "wrong" auth2.out && ok "wrong credentials: refused, never echoed" || fail "wrong credentials: refused, never echoed" "$(cat auth2.out)"
ENGRAVE_REMOTE_USER=engrave ENGRAVE_REMOTE_PASSWORD=s3cret E1 push --remote "$NGINX_AUTH_URL" qs >auth3.out 2>&1 \
	&& ok "basic auth from ENGRAVE_REMOTE_USER/PASSWORD" || fail "basic auth from ENGRAVE_REMOTE_USER/PASSWORD" "$(tail -3 auth3.out)"

# a server that does not take PUT (no WebDAV there): a hint at the nginx settings
E1 push --remote "${NGINX_URL%/cache}/plain" qs >put405.out 2>&1
rc=$?
[ $rc = 4 ] && grep -q "405" put405.out && grep -q "dav_methods PUT" put405.out && ok "a 405 on PUT names the server setting" \
	|| fail "a 405 on PUT names the server setting" "exit $rc $(cat put405.out)"

# refs: last writer wins, and push says what it replaced
"$ENGRAVE" --store "$TMPDIR/s4" store put --ref baseline/qs data/sample-wiki.xml >/dev/null 2>&1
"$ENGRAVE" --store "$TMPDIR/s4" push --remote "$NGINX_URL" baseline/qs >lww.out 2>&1
grep -q "was $RID (last writer wins" lww.out && ok "a ref push prints the value it replaced" || fail "a ref push prints the value it replaced" "$(cat lww.out)"
check "remote remove" E1 remote remove origin
expect_exit 2 "no remote configured is a usage error" E1 push qs
exit 0
