# `run` shares pure steps through a remote: a first store computes them and
# writes them back; a fresh store on "another machine" fetches every pure
# step from the remote instead of computing it (state cached) and makes the
# same artifacts. A spec without `remote:` keeps its digest; one with it
# names the remote; a remote that is down only warns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
nginx_start || exit 0
trap 'nginx_stop' EXIT
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TMPDIR"
cp -r "$root/experiments/data" data
sed -e 's/duration: 5s/duration: 1s/' -e 's/warmup: [0-9a-z]*/warmup: 0s/' "$root/experiments/quickstart.yaml" >q.yaml
steps() { $py -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(s["name"]+"="+s["state"] for s in r["steps"]))'; }
outs() { "$ENGRAVE" --store "$1" show --json "$2" | $py -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(s["name"]+"="+",".join(s.get("outputs",s.get("out",[]))) for s in r["steps"] if s["name"] not in ("ingest","loadtest")))'; }

ENGRAVE_REMOTE="$NGINX_URL" "$ENGRAVE" --store s1 run --json q.yaml >r1.json 2>r1.err
s1=$(steps <r1.json)
case "$s1" in *corpus=ran*groundtruth=ran*) ok "first store computes the pure steps" ;; *) fail "first store computes the pure steps" "$s1 $(tail -3 r1.err)" ;; esac
[ "$(ls "$NGINX_ROOT/cache/ac" | wc -l)" -ge 6 ] && ok "... and writes their results to the remote" || fail "... and writes their results to the remote"

"$ENGRAVE" --store s2 run --json q.yaml --set "remote=$NGINX_URL" >r2.json 2>r2.err
s2=$(steps <r2.json)
case "$s2" in *corpus=cached*embed=cached*centroids=cached*synthetic=cached*queries=cached*groundtruth=cached*loadtest=ran*)
	ok "a fresh store fetches every pure step from the remote" ;;
*) fail "a fresh store fetches every pure step from the remote" "$s2 $(tail -3 r2.err)" ;; esac
grep -q "fetched from the remote" r2.err && ok "... and says so" || fail "... and says so"
id1=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' r1.json)
id2=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' r2.json)
[ -n "$(outs s1 "$id1")" ] && [ "$(outs s1 "$id1")" = "$(outs s2 "$id2")" ] && ok "the same artifacts on both" || fail "the same artifacts on both" "$(outs s1 "$id1") / $(outs s2 "$id2")"
"$ENGRAVE" --store s2 store verify >/dev/null 2>&1 && ok "the fetched results verify" || fail "the fetched results verify"

d0=$("$ENGRAVE" spec show --digest q.yaml 2>/dev/null)
printf 'remote: %s\n' "$NGINX_URL" | cat - q.yaml >qr.yaml
d1=$("$ENGRAVE" spec show --digest qr.yaml 2>/dev/null)
[ -n "$d0" ] && [ "$d0" != "$d1" ] && "$ENGRAVE" spec show --canonical qr.yaml 2>/dev/null | grep -q "remote" \
	&& ! "$ENGRAVE" spec show --canonical q.yaml 2>/dev/null | grep -q "remote" && ok "remote: is a spec key (absent: left out of the canonical form)" \
	|| fail "remote: is a spec key" "$d0 $d1"
expect_exit 2 "remote: must be a URL" "$ENGRAVE" spec check <(printf 'remote: nope\n'; cat q.yaml)

nginx_stop
ENGRAVE_REMOTE="$NGINX_URL" "$ENGRAVE" --store s3 run q.yaml >r3.out 2>r3.err
rc=$?
[ $rc = 0 ] && grep -q "warning.*remote" r3.err && ok "a remote that is down only warns" || fail "a remote that is down only warns" "exit $rc $(grep -i remote r3.err | head -3)"
exit 0
