# engrave export's formats for other tools, checked by reading them back:
# a small run against the Engram contract server (recall and store, with a
# warm-up), then its records as CSV/JSONL (line count = requests; p50/p99
# recomputed exactly), the .hgrm (HdrHistogram text: p50/p99/max, monotone),
# ground truth as JSONL and ivecs (numpy), queries as fvecs/npy/jsonl, the
# VectorDBBench result (its exact field names), digest and run-id prefixes,
# ambiguous prefixes (exit 2), unwritable types (exit 2) and unknown names (3).
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "export formats" "engram-server not built"; exit 0; }
$py -c 'import numpy' 2>/dev/null || { skip "export formats" "python3 numpy missing"; exit 0; }
"$srv" --port 0 --port-file "$TMPDIR/port" --no-dedup >/dev/null 2>&1 &
echo $! >"$TMPDIR/srv.pid"
trap 'kill $(cat "$TMPDIR/srv.pid") 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
cat >"$TMPDIR/spec.yaml" <<YAML
name: export-formats
seed: 5
target: {driver: engram, url: "http://127.0.0.1:$(cat "$TMPDIR/port")"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 300, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  groundtruth: {k: 5}
  ingest: {concurrency: 2, verify_sample: 10}
  loadtest:
    duration: 2s
    warmup: 500ms
    arrival: {pattern: constant, rate: 200}
    mix: {store: 0.3, recall: 0.7, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 20}
YAML
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
RUN=$(E run --json "$TMPDIR/spec.yaml" 2>"$TMPDIR/run.err" | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ -n "$RUN" ] && ok "a run to export" || { fail "a run to export"; tail -5 "$TMPDIR/run.err" | sed 's/^/# /'; exit 0; }
E show --json "$RUN" >"$TMPDIR/show.json"
out12() { $py - "$TMPDIR/show.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print([s for s in r["steps"] if s["name"] == sys.argv[2]][0]["outputs"][0][:12])
PY
}
LT=$(out12 loadtest); GT=$(out12 groundtruth); Q=$(out12 queries); ING=$(out12 ingest)
E show "$RUN" | grep -q "$LT" && ok "show prints the 12-digit digest used below" || fail "show prints the 12-digit digest used below"

# Records: by run-id prefix and by the loadtest artifact's 12-digit prefix.
check "records csv by run-id prefix" E export "${RUN:0:12}" --format csv -o "$TMPDIR/r.csv"
check "records jsonl by 12-digit artifact prefix" E export "$LT" -o "$TMPDIR/r.jsonl"
check "records csv by 6-digit artifact prefix" E export "${LT:0:6}" --format csv -o "$TMPDIR/r6.csv"
cmp -s "$TMPDIR/r.csv" "$TMPDIR/r6.csv" && ok "the run and its loadtest artifact give the same records" ||
	fail "the run and its loadtest artifact give the same records"
$py - "$TMPDIR" <<'PY' && ok "records: one line per request; latencies recompute p50/p99 exactly" || fail "records: one line per request; latencies recompute p50/p99 exactly"
import csv, json, math, sys
d = sys.argv[1]
m = json.load(open(d + "/show.json"))["metrics"]
rows = list(csv.DictReader(open(d + "/r.csv")))
js = [json.loads(l) for l in open(d + "/r.jsonl")]
assert len(rows) == len(js) == int(m["requests"]), (len(rows), len(js), m["requests"])
assert list(rows[0].keys()) == ["index", "repeat", "op", "intended_ns", "sent_ns", "done_ns", "latency_ns",
                                "service_ns", "status", "bytes_out", "bytes_in", "error", "warmup", "dropped"]
for r, j in zip(rows, js):
    assert int(r["latency_ns"]) == j["latency_ns"] == int(r["done_ns"]) - int(r["intended_ns"]), (r, j)
    assert (r["warmup"] == "1") == j["warmup"] and r["op"] == j["op"] and r["error"] == j["error"]
assert any(j["warmup"] for j in js) and any(not j["warmup"] for j in js)
lat = sorted(j["latency_ns"] for j in js if not j["warmup"] and not j["dropped"])
def rank(n, p): return min(max(math.ceil(p / 100 * n - 1e-6 * n), 1), n)
for p, key in ((50, "p50_ms"), (99, "p99_ms")):
    assert lat[rank(len(lat), p) - 1] / 1e6 == m[key], (p, lat[rank(len(lat), p) - 1], m[key])
assert lat[-1] / 1e6 == m["max_ms"]
PY

# .hgrm: HdrHistogram's layout, read back.
check "hgrm of the run" E export "$RUN" --format hgrm -o "$TMPDIR/r.hgrm"
check "hgrm of recalls only, service time" E export "$RUN" --format hgrm --op recall --service -o "$TMPDIR/rs.hgrm"
$py - "$TMPDIR" <<'PY' && ok "hgrm: header, monotone rows, p50/p99/max and count of the run" || fail "hgrm: header, monotone rows, p50/p99/max and count of the run"
import json, re, sys
d = sys.argv[1]
m = json.load(open(d + "/show.json"))["metrics"]
js = [json.loads(l) for l in open(d + "/r.jsonl")]
def parse(path):
    lines = open(path).read().split("\n")
    assert lines[0] == "       Value     Percentile TotalCount 1/(1-Percentile)" and lines[1] == "", lines[:2]
    rows = [l.split() for l in lines[2:] if l and not l.startswith("#")]
    foot = "\n".join(l for l in lines if l.startswith("#["))
    return [(float(a), float(b), int(c), e) for a, b, c, e in rows], foot
rows, foot = parse(d + "/r.hgrm")
timed = [j for j in js if not j["warmup"] and not j["dropped"]]
assert all(x[0] <= y[0] and x[1] <= y[1] and x[2] <= y[2] for x, y in zip(rows, rows[1:]))
assert rows[0][1] == 0.0 and rows[-1][1] == 1.0 and rows[-1][3] == "inf" and rows[-1][2] == len(timed)
assert abs(rows[-1][0] - m["max_ms"]) <= 0.0005, (rows[-1], m["max_ms"])
p50 = [r for r in rows if r[1] >= 0.5][0]
assert abs(p50[0] - m["p50_ms"]) <= 0.0005, (p50, m["p50_ms"])
lo = [r for r in rows if r[1] <= 0.99][-1][0]; hi = [r for r in rows if r[1] >= 0.99][0][0]
assert lo - 0.0005 <= m["p99_ms"] <= hi + 0.0005, (lo, hi, m["p99_ms"])
fm = re.search(r"#\[Max     = +([0-9.]+), Total count    = +([0-9]+)\]", foot)
assert fm and int(fm.group(2)) == len(timed) and abs(float(fm.group(1)) - m["max_ms"]) <= 0.0005, foot
assert re.search(r"#\[Mean    = +[0-9.]+, StdDeviation   = +[0-9.]+\]", foot) and "#[Buckets = " in foot, foot
rows, foot = parse(d + "/rs.hgrm")
rec = [j for j in timed if j["op"] == "recall"]
assert rows[-1][2] == len(rec) and abs(rows[-1][0] - max(j["service_ns"] for j in rec) / 1e6) <= 0.0005, rows[-1]
PY

# Ground truth as JSONL and ivecs; queries as fvecs, npy and jsonl.
check "groundtruth jsonl" E export "$GT" -o "$TMPDIR/gt.jsonl"
check "groundtruth ivecs" E export "$GT" -o "$TMPDIR/gt.ivecs"
check "queries fvecs" E export "$Q" -o "$TMPDIR/q.fvecs"
check "queries npy" E export "$Q" -o "$TMPDIR/q.npy"
check "queries jsonl" E export "$Q" -o "$TMPDIR/q.jsonl"
$py - "$TMPDIR" <<'PY' && ok "ivecs parsed with numpy equals the jsonl ids; queries agree across formats" || fail "ivecs parsed with numpy equals the jsonl ids; queries agree across formats"
import json, sys
import numpy as np
d = sys.argv[1]
gt = [json.loads(l) for l in open(d + "/gt.jsonl")]
a = np.fromfile(d + "/gt.ivecs", dtype="<i4")
rows, i = [], 0
while i < len(a):
    rows.append(a[i + 1:i + 1 + a[i]].tolist()); i += 1 + a[i]
assert len(gt) == len(rows) == 20, (len(gt), len(rows))
assert [g["query"] for g in gt] == list(range(20))
assert all(g["ids"] == r and len(g["scores"]) == len(r) > 0 for g, r in zip(gt, rows))
assert all(s1 >= s2 for g in gt for s1, s2 in zip(g["scores"], g["scores"][1:]))
f = np.fromfile(d + "/q.fvecs", dtype="<f4").reshape(20, 769)
assert (f[:, 0].view("<i4") == 768).all()
n = np.load(d + "/q.npy")
assert n.shape == (20, 768) and (n == f[:, 1:]).all()
q = [json.loads(l) for l in open(d + "/q.jsonl")]
assert len(q) == 20 and np.allclose(np.array([r["embedding"] for r in q], dtype="f4"), n, atol=0)
PY

# VectorDBBench TestResult: exactly the field names of its model. The lists
# mirror vectordb_bench/models.py (TestResult, CaseResult, TaskConfig,
# CaseConfig) and vectordb_bench/metric.py (Metric) of zilliztech/VectorDBBench
# at commit 4ea181055b11af7d75161179ef2feff9539c3b33.
check "vdbb of the run" E export "$RUN" --format vdbb -o "$TMPDIR/vdbb.json"
$py - "$TMPDIR" <<'PY' && ok "vdbb: the model's field names, engrave's qps/p99/recall/load time" || fail "vdbb: the model's field names, engrave's qps/p99/recall/load time"
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/show.json"))["metrics"]
steps = {s["name"]: s for s in json.load(open(d + "/show.json"))["steps"]}
v = json.load(open(d + "/vdbb.json"))
assert set(v) == {"run_id", "task_label", "results", "file_fmt", "timestamp"}, set(v)
assert len(v["results"]) == 1 and set(v["results"][0]) == {"metrics", "task_config", "label"}
metric = {"max_load_count", "insert_duration", "optimize_duration", "load_duration", "qps",
          "serial_latency_p99", "serial_latency_p95", "recall", "ndcg", "mrr", "conc_num_list",
          "conc_qps_list", "conc_latency_p99_list", "conc_latency_p95_list", "conc_latency_avg_list",
          "payload_profile", "payload_estimated_bytes_per_query", "inserted_count",
          "insert_rows_per_second", "insert_completion_seconds", "searchable_after_insert_seconds",
          "indexed_after_searchable_seconds", "additional_parameters", "st_ideal_insert_duration",
          "st_search_stage_list", "st_search_time_list", "st_max_qps_list_list", "st_recall_list",
          "st_ndcg_list", "st_serial_latency_p99_list", "st_serial_latency_p95_list",
          "st_conc_failed_rate_list", "st_conc_num_list_list", "st_conc_qps_list_list",
          "st_conc_latency_p99_list_list", "st_conc_latency_p95_list_list", "st_conc_latency_avg_list_list"}
r = v["results"][0]
assert set(r["metrics"]) == metric, set(r["metrics"]) ^ metric
tc = r["task_config"]
assert set(tc) == {"db", "db_config", "db_case_config", "case_config", "stages", "load_concurrency"}, set(tc)
assert set(tc["case_config"]) == {"case_id", "custom_case", "k", "concurrency_search_config"}
assert set(tc["case_config"]["concurrency_search_config"]) == {"num_concurrency", "concurrency_duration",
                                                                "concurrency_timeout", "serial_cooldown"}
assert {"db_label", "version", "note"} <= set(tc["db_config"]) and tc["db"] == "test"
assert v["run_id"] and v["task_label"] == "export-formats" and r["label"] == ":)"
x = r["metrics"]
assert x["qps"] > 0 and abs(x["serial_latency_p99"] - m["p99_ms"] / 1000) < 1e-12, (x["qps"], x["serial_latency_p99"])
assert abs(x["recall"] - m.get("recall", 0)) < 1e-12 and tc["case_config"]["k"] == 5
assert abs(x["load_duration"] - steps["ingest"]["elapsed_s"]) < 1e-6 and x["load_duration"] > 0
PY

# Names: unknown, ambiguous, too short; types export cannot write.
E run "$TMPDIR/spec.yaml" --set steps.loadtest.duration=1s --set steps.loadtest.warmup=0s >/dev/null 2>&1
expect_exit 2 "an ambiguous run-id prefix is a usage error" E export "${RUN:0:4}" --format csv
grep -q "is ambiguous" "$TMPDIR/last.out" && grep -c "^  run " "$TMPDIR/last.out" | grep -q '^2$' &&
	ok "the ambiguity lists the candidates" || fail "the ambiguity lists the candidates"
expect_exit 3 "an unknown digest prefix is missing" E export 0000000000ff --format csv
expect_exit 2 "a prefix under 6 hex digits is too short" E export abcde
expect_exit 2 "an ingest receipt is a type export cannot write" E export "$ING"
grep -q "has type 'ingest-receipt', which export cannot write" "$TMPDIR/last.out" && ok "the message names the type" ||
	fail "the message names the type"
expect_exit 2 "a loadtest artifact is not npy" E export "$LT" --format npy -o "$TMPDIR/x.npy"
grep -q "writes as csv, jsonl, hgrm, not npy" "$TMPDIR/last.out" && ok "the message names the formats it takes" ||
	fail "the message names the formats it takes"
expect_exit 2 "--op without hgrm is a usage error" E export "$RUN" --op recall
