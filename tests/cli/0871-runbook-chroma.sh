# A streaming runbook against a real Chroma server (tools/chroma, started
# here): inserts, deletes through POST .../delete, a replace, searches beside
# writes; recall per search phase against the exact truth, and readiness
# ("searchable after" an insert, "gone after" a delete) measured on Chroma.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
chroma="$(cd "$(dirname "$0")/../.." && pwd)/tools/chroma/node_modules/.bin/chroma"
[ -x "$chroma" ] || { skip "runbook on chroma" "chroma not installed (tools/install-deps.sh --chroma)"; exit 0; }
port=$(free_port)
"$chroma" run --path "$TMPDIR/cdata" --host 127.0.0.1 --port "$port" >"$TMPDIR/chroma.log" 2>&1 &
cpid=$!
trap 'kill $cpid 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done
cat >"$TMPDIR/rb.yaml" <<YAML
name: rb-chroma
seed: 9
target: {driver: chroma, url: "http://127.0.0.1:$port", collection: runbook}
steps:
  centroids: {from: random, k: 16, dim: 32}
  synthetic: {count: 5000}
  queries: {count: 100, source: heldout}
  runbook:
    batch_size: 200
    tracers: 4
    phases:
      - insert: {from: 0, to: 3000, order: clustered}
      - search: {rate: 50, duration: 2s}
      - delete: {from: 0, to: 1000, rate: 1000}
      - search: {rate: 50, duration: 2s, concurrent: true}
      - replace: {from: 1000, to: 1500, with_from: 3000}
      - insert: {from: 4000, to: 5000, rate: 500}
      - wait: {until: indexed}
      - search: {rate: 50, duration: 2s}
YAML
"$ENGRAVE" --store "$TMPDIR/s" run --json "$TMPDIR/rb.yaml" >"$TMPDIR/rb.json" 2>"$TMPDIR/rb.err"
rc=$?
[ $rc -eq 0 ] && ok "the runbook runs against chroma (exit 0)" || { fail "the runbook runs" "exit $rc"; tail -5 "$TMPDIR/rb.err" | sed 's/^/# /'; }
$py - "$TMPDIR/rb.json" <<'PY' && ok "recall per search phase, readiness after inserts and deletes" || fail "chroma runbook metrics"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
for p in (1, 3, 7):
    assert m["runbook.%d.errors" % p] == 0, m
    assert 0.5 < m["runbook.%d.recall" % p] <= 1, (p, m)
    assert m["runbook.%d.p99_ms" % p] > 0, m
assert 0.5 < m["runbook.recall_avg"] <= 1, m
for k in ("searchable_p50_ms", "searchable_p99_ms", "gone_p50_ms", "gone_p99_ms"):
    assert m["runbook." + k] > 0, (k, m)
PY
n=$(curl -sf "http://127.0.0.1:$port/api/v2/tenants/default_tenant/databases/default_database/collections/runbook" |
	$py -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
count=$(curl -sf "http://127.0.0.1:$port/api/v2/tenants/default_tenant/databases/default_database/collections/$n/count")
[ "$count" = "3000" ] && ok "chroma holds 3000 ids after the deletes (4000 inserted, 1000 deleted)" || fail "count" "$count"
