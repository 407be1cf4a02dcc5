# Bearer tokens and auth failures (issue 11, items 12 and 13):
#  - a server that echoes the Authorization header into its 401 body
#    (engram-server --echo-auth) cannot put the token into the run record,
#    the store's bytes or stderr;
#  - a 401 during ingest (the key revoked after 20 stores) is a runtime
#    failure, exit 4, with a hint naming the variable, not "rejected" (exit 1);
#  - a wrong token's hint says the server refused the token in $NAME; an
#    empty variable is "empty", not "not set";
#  - user:password@ in target.url or steps.embed.url is refused by spec check
#    without showing the password.
. "$(dirname "$0")/lib.sh"
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "auth and secrets" "engram-server not built"; exit 0; }
py=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
KEY=Kq7-GoodKey-3141592653
S="$TMPDIR/s"

"$srv" --port 0 --port-file "$TMPDIR/port" --api-key "$KEY" --echo-auth --revoke-after 20 --no-dedup \
	>"$TMPDIR/srv.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$TMPDIR/port")"
cat >"$TMPDIR/a.yaml" <<YAML
name: auth-secrets
seed: 3
target: {driver: engram, url: "$url", auth: {bearer_env: ENGRAVE_TEST_TOKEN}}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 50}
  ingest: {batch_size: 1, concurrency: 2, retries: 1}
YAML

# --- the key is revoked during ingest; the server echoes it in the 401 ----
ENGRAVE_TEST_TOKEN=$KEY "$ENGRAVE" --store "$S" run --json "$TMPDIR/a.yaml" >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 4 ] && ok "a 401 during ingest exits 4" || { fail "a 401 during ingest exits 4" "exit $rc"; tail -3 "$TMPDIR/run.err" | sed 's/^/# /'; }
grep -q "401 UNAUTHORIZED: API key has been revoked" "$TMPDIR/run.err" && ok "the 401 is reported" ||
	fail "the 401 is reported"
grep -q 'hint: the server refused the token in \$ENGRAVE_TEST_TOKEN' "$TMPDIR/run.err" &&
	ok "the hint names the variable holding the refused token" || fail "the hint names the variable holding the refused token"
grep -q "rejected" "$TMPDIR/run.err" && fail "auth failure is not 'rejected records'" || ok "auth failure is not 'rejected records'"
grep -qF "$KEY" "$TMPDIR/run.err" "$TMPDIR/run.json" && fail "no token on stderr or in --json" ||
	ok "no token on stderr or in --json"
grep -qF "Bearer ***" "$TMPDIR/run.err" && ok "the echoed header is shown redacted" || fail "the echoed header is shown redacted"
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json" 2>/dev/null)
"$ENGRAVE" --store "$S" show "$id" --json >"$TMPDIR/show.json" 2>&1
[ -s "$TMPDIR/show.json" ] && ! grep -qF "$KEY" "$TMPDIR/show.json" && ok "show --json holds no token" ||
	fail "show --json holds no token"
grep -aqF "$KEY" "$S/data.mdb" && fail "the store's bytes hold no token" || ok "the store's bytes hold no token"
# nothing was receipted as rejected: the 30 refused records are sent again on --resume
ENGRAVE_TEST_TOKEN=$KEY "$ENGRAVE" --store "$S" run --resume "$TMPDIR/a.yaml" >/dev/null 2>"$TMPDIR/resume.err"
grep -q "resuming: 20 records already have a receipt" "$TMPDIR/resume.err" && ok "resume sends the refused records again" ||
	{ fail "resume sends the refused records again"; grep -i "resum\|ingest" "$TMPDIR/resume.err" | head -5 | sed 's/^/# /'; }
grep -aqF "$KEY" "$S/data.mdb" && fail "still no token in the store after resume" || ok "still no token in the store after resume"

# --- a wrong token: refused at the health check ----------------------------
ENGRAVE_TEST_TOKEN=Wr0ng-token-271828 "$ENGRAVE" --store "$TMPDIR/s2" run "$TMPDIR/a.yaml" >"$TMPDIR/w.out" 2>&1
rc=$?
[ $rc -eq 4 ] && ok "a wrong token exits 4" || fail "a wrong token exits 4" "exit $rc"
grep -q 'refused the token in \$ENGRAVE_TEST_TOKEN' "$TMPDIR/w.out" && ! grep -q "set target.auth.bearer_env" "$TMPDIR/w.out" &&
	ok "a wrong token's hint does not ask to set bearer_env" || { fail "a wrong token's hint does not ask to set bearer_env"; grep hint "$TMPDIR/w.out" | sed 's/^/# /'; }
grep -q "Wr0ng-token-271828" "$TMPDIR/w.out" "$TMPDIR/s2/data.mdb" && fail "the wrong token is not shown or stored" ||
	ok "the wrong token is not shown or stored"

# --- an empty variable ----------------------------------------------------
ENGRAVE_TEST_TOKEN= "$ENGRAVE" --store "$TMPDIR/s3" run "$TMPDIR/a.yaml" >"$TMPDIR/e.out" 2>&1
grep -q "environment variable ENGRAVE_TEST_TOKEN is empty" "$TMPDIR/e.out" && ok "an empty variable is said to be empty" ||
	fail "an empty variable is said to be empty"

# --- user:password@ in a URL ------------------------------------------------
sed "s#http://#http://admin:Pw-9f8e7d@#" "$TMPDIR/a.yaml" >"$TMPDIR/ui.yaml"
expect_exit 2 "spec check refuses userinfo in target.url" "$ENGRAVE" spec check "$TMPDIR/ui.yaml"
grep -q "ui.yaml:3:[0-9]*: target.url: .*holds a user name or password" "$TMPDIR/last.out" && grep -q "bearer_env" "$TMPDIR/last.out" &&
	ok "the refusal names file:line and points at auth.bearer_env" || { fail "the refusal names file:line and points at auth.bearer_env"; sed 's/^/# /' "$TMPDIR/last.out"; }
grep -q "Pw-9f8e7d" "$TMPDIR/last.out" && fail "the password is not shown" || ok "the password is not shown"
expect_exit 2 "run refuses userinfo before storing anything" "$ENGRAVE" --store "$TMPDIR/s4" run "$TMPDIR/ui.yaml"
[ ! -e "$TMPDIR/s4/data.mdb" ] || ! grep -aq "Pw-9f8e7d" "$TMPDIR/s4/data.mdb" && ok "no password in the store" ||
	fail "no password in the store"
cat >"$TMPDIR/emb.yaml" <<'YAML'
name: embed-userinfo
steps:
  corpus: {source: sample}
  embed: {embedder: http, url: "https://me:Pw-9f8e7d@embed.example/v1/embeddings", model: m}
YAML
expect_exit 2 "spec check refuses userinfo in steps.embed.url" "$ENGRAVE" spec check "$TMPDIR/emb.yaml"
grep -q "steps.embed.url: 'https://\*\*\*@embed.example/v1/embeddings' holds" "$TMPDIR/last.out" &&
	ok "embed.url refusal shows the URL redacted" || { fail "embed.url refusal shows the URL redacted"; sed 's/^/# /' "$TMPDIR/last.out"; }
