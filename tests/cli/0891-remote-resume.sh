# A push killed with SIGKILL half-way resumes: run again, it PUTs only the
# blobs the remote still lacks (counted in nginx's access log), and the
# object pulled back elsewhere is byte-identical. The remote answers 20
# requests a second (limit_req), so the 24-chunk object takes over a second.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
nginx_start || exit 0
trap 'nginx_stop' EXIT
cd "$TMPDIR"
E1() { "$ENGRAVE" --store "$TMPDIR/s1" "$@"; }
head -c $((95 * 1024 * 1024)) /dev/urandom >big.bin # 24 chunks of 4 MiB + a manifest
D=$(E1 store put --ref big big.bin 2>/dev/null)
[ ${#D} = 64 ] && ok "a 95 MiB object (24 chunks)" || { fail "a 95 MiB object" "$D"; exit 0; }
total=25

"$ENGRAVE" --store "$TMPDIR/s1" push --remote "$NGINX_SLOW_URL" -j 1 big >push1.out 2>&1 &
pid=$!
for _ in $(seq 200); do [ "$(nginx_puts /slow)" -ge 5 ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
sleep 1 # the request nginx was serving when the client died completes (or not) now
first=$(nginx_puts /slow)
[ "$first" -ge 5 ] && [ "$first" -lt $total ] && ok "push killed with SIGKILL after $first of $total PUTs" \
	|| fail "push killed half-way" "$first PUTs of $total"
have=$(ls "$NGINX_ROOT/slow/cas" 2>/dev/null | wc -l)
E1 push --remote "$NGINX_SLOW_URL" --json big >push2.json 2>push2.err || fail "the resumed push" "$(tail -3 push2.err)"
second=$(( $(nginx_puts /slow) - first ))
sent=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blobs_sent"])' push2.json)
[ "$second" = $((total - have)) ] && [ "$sent" = "$second" ] && ok "the resumed push PUTs only the $second missing blobs" \
	|| fail "the resumed push PUTs only the missing blobs" "PUTs $second, sent $sent, the remote had $have of $total"
[ "$(ls "$NGINX_ROOT/slow/cas" | wc -l)" = $total ] && ok "every blob is on the remote once" || fail "every blob is on the remote once"
"$ENGRAVE" --store "$TMPDIR/s2" pull --remote "$NGINX_SLOW_URL" -j 4 big >/dev/null 2>pull.err || fail "pull back" "$(tail -3 pull.err)"
"$ENGRAVE" --store "$TMPDIR/s2" store cat "$D" 2>/dev/null | cmp -s - big.bin && ok "the object pulled back is byte-identical" \
	|| fail "the object pulled back is byte-identical"
exit 0
