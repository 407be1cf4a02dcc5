# The pgvector driver against a real PostgreSQL + pgvector: PGlite's
# pglite-server (tools/pgvector, started here on a free port; one backend,
# so this checks correctness, not speed). Ingest through the staging table,
# read back by id, recall@10 of an exact scan (index: none) against engrave's
# own ground truth (exactly 1.0), an HNSW index built after the load and timed,
# kill -9 during ingest and resume, and the password rule of spec check.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/../.." && pwd)
server="$root/tools/pgvector/node_modules/.bin/pglite-server"
[ -x "$server" ] || { skip "pgvector driver" "pglite-server not installed (tools/install-deps.sh --pgvector)"; exit 0; }

# spec check refuses a password in the URL without showing it (no server needed)
cat >"$TMPDIR/pw.yaml" <<'YAML'
name: pw
target: {driver: pgvector, url: "postgres://postgres:hunter2@127.0.0.1:5432/postgres"}
YAML
"$ENGRAVE" spec check "$TMPDIR/pw.yaml" >"$TMPDIR/pw.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "holds a password" "$TMPDIR/pw.out" && grep -q "PGPASSWORD" "$TMPDIR/pw.out" &&
	! grep -q hunter2 "$TMPDIR/pw.out" && ok "spec check refuses a password in the URL (exit 2), without showing it" ||
	{ fail "spec check refuses a password in the URL" "exit $rc"; sed 's/^/# /' "$TMPDIR/pw.out"; }

port=$(free_port)
"$server" --host 127.0.0.1 --port "$port" -e @electric-sql/pglite-pgvector:vector --max-connections 8 \
	>"$TMPDIR/pglite.log" 2>&1 &
echo $! >"$TMPDIR/pglite.pid"
trap 'kill $(cat "$TMPDIR/pglite.pid") 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 600); do grep -q "listening" "$TMPDIR/pglite.log" && break; sleep 0.1; done
grep -q "listening" "$TMPDIR/pglite.log" || { fail "pglite-server starts" "$(tail -3 "$TMPDIR/pglite.log")"; exit 0; }
URL="postgres://postgres@127.0.0.1:$port/postgres"

spec() { # $1 file, $2 table, $3 count, $4 index type
	cat >"$1" <<YAML
name: pgv-$2
seed: 5
target:
  driver: pgvector
  url: "$URL"
  table: $2
  hnsw: {space: cosine, m: 8, ef_construction: 32, ef_search: 40}
  index: {type: $4}
steps:
  centroids: {from: random, k: 6, dim: 16}
  synthetic: {count: $3, std_dev: 0.4, normalize: true}
  queries: {count: 30, source: heldout}
  groundtruth: {k: 10}
  ingest: {batch_size: 250}
  loadtest:
    duration: 1s
    warmup: 200ms
    arrival: {pattern: constant, rate: 30}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 10, threshold: 0}
YAML
}
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
metrics() { E show --json "$1" >"$TMPDIR/show.json" 2>/dev/null; }

# exact scan: recall@10 against engrave's ground truth is exactly 1.0
spec "$TMPDIR/exact.yaml" exact 3000 none
E run --json --verify-all "$TMPDIR/exact.yaml" >"$TMPDIR/exact.json" 2>"$TMPDIR/exact.err"
rc=$?
[ $rc -eq 0 ] && ok "a run against pgvector with index none (exit 0)" ||
	{ fail "a run against pgvector" "exit $rc"; tail -5 "$TMPDIR/exact.err" | sed 's/^/# /'; exit 0; }
A=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/exact.json")
metrics "$A"
$py - "$TMPDIR/show.json" <<'PY' && ok "ingest stored 3000, count(*) and read back by id agree, none absent" || fail "ingest and verify"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
for k, v in {"ingest.stored": 3000, "ingest.count_after": 3000, "ingest.lost": 0, "ingest.rejected": 0,
             "ingest.sample_missing": 0, "ingest.sample_mismatched": 0, "ingest.absent_by_id": 0}.items():
    assert m.get(k) == v, (k, m.get(k))
assert m["ingest.sample_checked"] > 0, m
assert "ingest.index_build_s" not in m, "index none builds nothing"
PY
$py - "$TMPDIR/show.json" <<'PY' && ok "recall@10 of the exact scan is exactly 1.0, every request answered" || fail "exact recall"
import json, sys
d = json.load(open(sys.argv[1]))
m, env = d["metrics"], d["env"]
assert m["recall"] == 1.0 and m["recall_p05"] == 1.0, (m["recall"], m["recall_p05"])
assert m["recall_scored"] == m["recall_count"] > 0, m
assert m["error_rate"] == 0, m["error_rate"]
assert env["target.driver"] == "pgvector" and env["target.namespace"] == "exact", env
assert env["target.index"].startswith("none"), env["target.index"]
assert env["target.pgvector"] and env["target.version"], env
PY

# an HNSW index built after the load, timed; kill -9 during ingest, then resume
spec "$TMPDIR/kill.yaml" killed 20000 hnsw
"$ENGRAVE" --store "$TMPDIR/s" run "$TMPDIR/kill.yaml" >"$TMPDIR/kill1.out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "^ingest  *running" "$TMPDIR/kill1.out" && break; sleep 0.05; done
sleep 0.4 # a few batches in (20000 records take several seconds)
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
grep -q "^ingest  *running" "$TMPDIR/kill1.out" && ! grep -q "^ingest  *done" "$TMPDIR/kill1.out" &&
	ok "ingest was killed (-9) while it ran" || fail "ingest was killed while it ran" "$(tail -2 "$TMPDIR/kill1.out")"
E run --json --resume "$TMPDIR/kill.yaml" >"$TMPDIR/kill2.json" 2>"$TMPDIR/kill2.err"
rc=$?
[ $rc -eq 0 ] && ok "the killed run resumes (exit 0)" || { fail "resume after kill -9" "exit $rc"; tail -5 "$TMPDIR/kill2.err" | sed 's/^/# /'; exit 0; }
B=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/kill2.json")
metrics "$B"
$py - "$TMPDIR/show.json" <<'PY' && ok "after the resume the table holds exactly the 20000 records, the HNSW build is its own metric" || fail "resume"
import json, sys
d = json.load(open(sys.argv[1]))
m, env = d["metrics"], d["env"]
assert d["status"] == "done", d["status"]
assert m["ingest.count_after"] == 20000 and m["ingest.lost"] == 0, (m["ingest.count_after"], m["ingest.lost"])
assert m["ingest.stored"] + m["ingest.present"] <= 20000 and m["ingest.stored"] > 0, m
assert m["ingest.index_build_s"] > 0, m.get("ingest.index_build_s")
assert "USING hnsw (embedding vector_cosine_ops)" in env["target.index"], env["target.index"]
assert env["target.hnsw.ef_search"] == "40", env["target.hnsw.ef_search"]
assert m["recall"] > 0.5 and m["error_rate"] == 0, (m["recall"], m["error_rate"])
PY

# deletes: a small runbook (insert, delete, replace, search) on an exact scan:
# every search's recall against the truth over the ids live at its send time
# is exactly 1.0, and the table holds what was inserted minus what was deleted
cat >"$TMPDIR/rb.yaml" <<YAML
name: pgv-runbook
seed: 9
target: {driver: pgvector, url: "$URL", table: runbook, index: {type: none}}
steps:
  centroids: {from: random, k: 8, dim: 16}
  synthetic: {count: 2500}
  queries: {count: 40, source: heldout}
  runbook:
    batch_size: 200
    tracers: 2
    phases:
      - insert: {from: 0, to: 1500}
      - delete: {from: 0, to: 500}
      - replace: {from: 500, to: 700, with_from: 1500}
      - wait: {until: indexed}
      - search: {rate: 20, duration: 1s}
YAML
E run --json "$TMPDIR/rb.yaml" >"$TMPDIR/rb.json" 2>"$TMPDIR/rb.err"
rc=$?
[ $rc -eq 0 ] && ok "a runbook with deletes runs against pgvector (exit 0)" ||
	{ fail "a runbook against pgvector" "exit $rc"; tail -5 "$TMPDIR/rb.err" | sed 's/^/# /'; exit 0; }
$py - "$TMPDIR/rb.json" <<'PY' && ok "after deletes and a replace the exact scan's recall is 1.0 and the table holds 1000 rows" || fail "pgvector deletes"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["runbook.4.errors"] == 0 and m["runbook.4.recall"] == 1.0, {k: v for k, v in m.items() if k.startswith("runbook.")}
assert m["runbook.gone_p50_ms"] >= 0 and m["runbook.tracers_timed_out"] == 0, m
PY
"$ENGRAVE" --store "$TMPDIR/s" -q run --json "$TMPDIR/rb.yaml" >/dev/null 2>&1 # no-op rerun (cached) keeps the table
# count(*) of a table through the simple query protocol (no psql on the test machine)
cat >"$TMPDIR/pgcount.py" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
def msg(t, b): return t + struct.pack("!I", len(b) + 4) + b
params = b"user\0postgres\0database\0postgres\0\0"
s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
def read():
    h = b""
    while len(h) < 5: h += s.recv(5 - len(h))
    t, n = h[:1], struct.unpack("!I", h[1:])[0] - 4
    b = b""
    while len(b) < n: b += s.recv(n - len(b))
    return t, b
while read()[0] != b"Z": pass
s.sendall(msg(b"Q", ("SELECT count(*) FROM %s" % sys.argv[2]).encode() + b"\0"))
while True:
    t, b = read()
    if t == b"D":
        ln = struct.unpack("!I", b[2:6])[0]
        print(b[6:6 + ln].decode())
    if t == b"Z": break
PY
pg_count() { $py "$TMPDIR/pgcount.py" "$port" "$1" 2>/dev/null; }
n=$(pg_count runbook)
[ "$n" = "1000" ] && ok "pgvector holds 1000 rows after 1500 inserts and 500 deletes" || fail "pgvector row count" "$n"

# the load test through libpq's async API: non-blocking connections in
# pipeline mode in the engine's event loop. PGlite takes 8 connections and
# runs one statement at a time, so at 1000/s requests queue; more of them
# are in flight at once than there are connections (pipelined, never one
# blocking thread per request), stores and exact recalls are all answered
cat >"$TMPDIR/pipe.yaml" <<YAML
name: pgv-pipelined
seed: 5
target: {driver: pgvector, url: "$URL", table: pipelined, index: {type: none}}
steps:
  centroids: {from: random, k: 6, dim: 16}
  synthetic: {count: 3000, std_dev: 0.4, normalize: true}
  queries: {count: 30, source: heldout}
  groundtruth: {k: 10}
  ingest: {batch_size: 500}
  loadtest:
    duration: 1s
    warmup: 0s
    max_in_flight: 64
    arrival: {pattern: constant, rate: 1000}
    mix: {store: 0.1, recall: 0.9, search: 0}
    recall: {k: 10, threshold: 0}
YAML
E run --json "$TMPDIR/pipe.yaml" >"$TMPDIR/pipe.json" 2>"$TMPDIR/pipe.err"
rc=$?
[ $rc -eq 0 ] && ok "a pipelined load test against pgvector (exit 0)" ||
	{ fail "a pipelined load test" "exit $rc"; tail -5 "$TMPDIR/pipe.err" | sed 's/^/# /'; }
P=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/pipe.json")
E export "$P" --format jsonl >"$TMPDIR/pipe.jsonl" 2>/dev/null
stored=$(pg_count pipelined)
$py - "$TMPDIR/pipe.json" "$TMPDIR/pipe.jsonl" "$stored" <<'PY' && ok "pipelined: more requests in flight than connections, every store and recall answered, the table grew by the stores" || fail "pipelined load test"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
recs = [json.loads(l) for l in open(sys.argv[2])]
assert len(recs) == 1000 and m["error_rate"] == 0, (len(recs), m["error_rate"])
ev = sorted([(r["sent_ns"], 1) for r in recs] + [(r["done_ns"], -1) for r in recs])
c = peak = 0
for _, d in ev:
    c += d
    peak = max(peak, c)
assert peak > 8, "at most %d in flight at once: not pipelined" % peak
stores = [r for r in recs if r["op"] == "store"]
assert stores and all(r["status"] == 201 for r in stores), [r["status"] for r in stores][:5]
assert all(r["status"] == 200 and r["bytes_in"] > 0 for r in recs if r["op"] == "recall")
assert int(sys.argv[3]) == 3000 + len(stores), (sys.argv[3], len(stores))
assert m["recall_scored"] > 0 and m["recall"] >= 0.9, m["recall"]
print("# peak in flight %d, %d stores, recall %.4f, p50 %.1f ms" % (peak, len(stores), m["recall"], m["p50_ms"]))
PY

# steps.loadtest.connections sets how many libpq connections the load test
# opens (pglite-server logs each client): 4 asked opens two more than 2 asked
conns_delta() { # $1 connections; prints the clients the run connected
	sed -e "s/^    max_in_flight: 64/    max_in_flight: 16\n    connections: $1/; s/rate: 1000/rate: 50/; s/name: pgv-pipelined/name: pgv-conn$1/" \
		"$TMPDIR/pipe.yaml" >"$TMPDIR/conn$1.yaml"
	local before after
	before=$(grep -c "Client connected" "$TMPDIR/pglite.log")
	E run "$TMPDIR/conn$1.yaml" >/dev/null 2>"$TMPDIR/conn$1.err" || echo "run-failed"
	after=$(grep -c "Client connected" "$TMPDIR/pglite.log")
	echo $((after - before))
}
c2=$(conns_delta 2)
c4=$(conns_delta 4)
[ -n "$c2" ] && [ -n "$c4" ] && [ "$c2" -ge 2 ] 2>/dev/null && [ $((c4 - c2)) -eq 2 ] &&
	ok "loadtest.connections: 2 and 4 open $c2 and $c4 connections in all (the load test's plus the driver's own)" ||
	{ fail "loadtest.connections" "2 -> '$c2', 4 -> '$c4'"; tail -3 "$TMPDIR/conn4.err" | sed 's/^/# /'; }

# the server dies during the load test: the run ends on time, every
# scheduled request has a record, those after the kill are connection
# failures with the driver's words, none hangs to a timeout
cat >"$TMPDIR/die.yaml" <<YAML
name: pgv-dies
seed: 5
target: {driver: pgvector, url: "$URL", table: exact, index: {type: none}}
steps:
  centroids: {from: random, k: 6, dim: 16}
  synthetic: {count: 3000, std_dev: 0.4, normalize: true}
  queries: {count: 30, source: heldout}
  groundtruth: {k: 10}
  ingest: {batch_size: 250}
  loadtest:
    duration: 3s
    warmup: 0s
    max_in_flight: 8
    arrival: {pattern: constant, rate: 100}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 10, threshold: 0}
YAML
start=$(date +%s)
E run --json "$TMPDIR/die.yaml" >"$TMPDIR/die.json" 2>"$TMPDIR/die.err" &
rpid=$!
for _ in $(seq 300); do grep -q "^loadtest: .*done" "$TMPDIR/die.err" && break; sleep 0.05; done
kill -9 "$(cat "$TMPDIR/pglite.pid")" 2>/dev/null
wait $rpid
rc=$?
took=$(( $(date +%s) - start ))
P=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/die.json" 2>/dev/null)
E export "$P" --format jsonl >"$TMPDIR/die.jsonl" 2>/dev/null
$py - "$TMPDIR/die.jsonl" "$rc" "$took" <<'PY' && ok "the server killed mid-load-test: the run ends in ${took}s, later requests are connection failures" || { fail "server killed during the load test" "exit $rc after ${took}s"; tail -5 "$TMPDIR/die.err" | sed 's/^/# /'; }
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sys.argv[2] == "0" and int(sys.argv[3]) < 20, sys.argv[2:]
assert len(recs) == 300, len(recs)
ok = [r for r in recs if r["error"] == "none"]
bad = [r for r in recs if r["error"] != "none"]
assert ok and bad, (len(ok), len(bad))
assert all(r["error"] in ("connect", "transport", "timeout") for r in bad), {r["error"] for r in bad}
last_ok = max(r["intended_ns"] for r in ok)
assert all(r["error"] != "none" for r in recs if r["intended_ns"] > last_ok + 1e9)
assert max(r["latency_ns"] for r in bad) < 5e9, "a failure waited for a timeout"
PY
grep -q "pgvector exact" "$TMPDIR/die.err" && ok "the load test's errors name the table and what failed" || fail "error message" "$(grep -i error "$TMPDIR/die.err" | head -3)"
