# A run against a real Chroma server (tools/chroma, started here) stores
# what Chroma says about itself: its version and the collection's HNSW
# configuration as the server holds it (configuration_json), not as the spec
# asked. Describing never fails a run: with the collection gone at the end,
# the run is still done and records why the description is missing.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
chroma="$(cd "$(dirname "$0")/../.." && pwd)/tools/chroma/node_modules/.bin/chroma"
[ -x "$chroma" ] || { skip "chroma environment" "chroma not installed (tools/install-deps.sh --chroma)"; exit 0; }
port=$(free_port)
"$chroma" run --path "$TMPDIR/cdata" --host 127.0.0.1 --port "$port" >"$TMPDIR/chroma.log" 2>&1 &
echo $! >"$TMPDIR/chroma.pid"
trap 'kill $(cat "$TMPDIR/chroma.pid") 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v2/heartbeat" >/dev/null && break; sleep 0.1; done

spec() { # $1 file, $2 collection
	cat >"$1" <<YAML
name: env-chroma
seed: 3
target:
  driver: chroma
  url: "http://127.0.0.1:$port"
  collection: $2
  hnsw: {space: l2, m: 12, ef_construction: 123, ef_search: 77}
steps:
  centroids: {from: random, k: 4, dim: 16}
  synthetic: {count: 200, std_dev: 0.5, normalize: true}
  queries: {count: 20, source: synthetic}
  ingest: {concurrency: 2, batch_size: 100}
  loadtest:
    duration: 1s
    warmup: 200ms
    arrival: {pattern: constant, rate: 40}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 5, threshold: 0}
YAML
}
spec "$TMPDIR/c.yaml" envchroma
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
E run --json "$TMPDIR/c.yaml" >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 0 ] && ok "a run against chroma (exit 0)" || { fail "a run against chroma" "exit $rc"; tail -5 "$TMPDIR/run.err" | sed 's/^/# /'; exit 0; }
A=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json")
want_version=$(curl -sf "http://127.0.0.1:$port/api/v2/version" | tr -d '"')
E show --json "$A" >"$TMPDIR/show.json" 2>/dev/null
$py - "$TMPDIR/show.json" "$want_version" <<'PY' && ok "the server's version and the collection's HNSW configuration are stored" || fail "chroma's description"
import json, sys
env = json.load(open(sys.argv[1]))["env"]
want = {"target.driver": "chroma", "target.namespace": "envchroma", "target.dim": 16,
        "target.version": sys.argv[2], "target.collection.dimension": 16,
        "target.hnsw.space": "l2", "target.hnsw.max_neighbors": 12,
        "target.hnsw.ef_construction": 123, "target.hnsw.ef_search": 77}
for k, v in want.items():
    assert env.get(k) == v, (k, env.get(k), sorted(env))
assert isinstance(env.get("target.hnsw.resize_factor"), float), env  # the server's own defaults too
assert "target.describe" not in env, env
assert env["cpu.cores"] >= 1 and env["mem.total_mb"] > 0, env
PY

# another collection with another ef_search: diff names what differs
spec "$TMPDIR/c2.yaml" envchroma2
sed -i 's/ef_search: 77/ef_search: 50/' "$TMPDIR/c2.yaml"
E run --json "$TMPDIR/c2.yaml" >"$TMPDIR/run2.json" 2>>"$TMPDIR/run.err"
B=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run2.json" 2>/dev/null)
E diff --json "$A" "$B" >"$TMPDIR/diff.json" 2>/dev/null
E diff "$A" "$B" >"$TMPDIR/diff.txt" 2>/dev/null
$py - "$TMPDIR/diff.json" <<'PY' && ok "diff --json lists the target settings that differ" || fail "diff lists the changed settings"
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d["env_different"]) == ["target.hnsw.ef_search", "target.namespace"], d["env_different"]
rows = {r["key"]: r for r in d["env"]}
assert rows["target.hnsw.ef_search"]["a"] == "77" and rows["target.hnsw.ef_search"]["b"] == "50", rows
assert rows["target.hnsw.space"]["same"] and rows["target.version"]["same"], rows
PY
grep -Eq "^ +target\.hnsw\.ef_search +DIFFERENT +77 -> 50$" "$TMPDIR/diff.txt" && grep -q "environment: 2 keys DIFFERENT" "$TMPDIR/diff.txt" &&
	ok "diff says so in text" || { fail "diff says so in text"; sed -n '/environment/,/metrics/p' "$TMPDIR/diff.txt" | sed 's/^/# /'; }

# describing fails at the end (the hook renames the collection during the
# run: the run keeps using its id, the description looks it up by name):
# the run is still done and records why
cat >"$TMPDIR/rename.sh" <<SH
#!/bin/sh
B="http://127.0.0.1:$port/api/v2/tenants/default_tenant/databases/default_database/collections"
id=\$(curl -sf "\$B/envdrop" | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])') || exit 0
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"new_name":"envdrop-renamed"}' "\$B/\$id" >/dev/null
SH
chmod +x "$TMPDIR/rename.sh"
spec "$TMPDIR/d.yaml" envdrop
sed -i 's/    recall: {k: 5, threshold: 0}/    recall: {k: 5, threshold: 0}\n    ef_search: [40]/' "$TMPDIR/d.yaml"
E run --json --between-phases "$TMPDIR/rename.sh" "$TMPDIR/d.yaml" >"$TMPDIR/drop.json" 2>"$TMPDIR/drop.err"
rc=$?
$py - "$TMPDIR/drop.json" <<'PY' && [ $rc -eq 0 ] && ok "a description that fails is recorded as unavailable; the run is done (exit 0)" || { fail "a failing description" "exit $rc"; tail -5 "$TMPDIR/drop.err" | sed 's/^/# /'; }
import json, sys
d = json.load(open(sys.argv[1]))
env = d["env"]
assert d["status"] == "done", d["status"]
assert env["target.describe"].startswith("unavailable: "), env
assert "404" in env["target.describe"], env["target.describe"]
assert env["target.version"] and env["target.driver"] == "chroma", env
PY
