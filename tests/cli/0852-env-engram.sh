# Every run stores its environment: a run against the Engram contract server
# records the machine (cores, memory, kernel, governor, compiler), the load
# before and after, steal, and the target's own description; show, runs
# --json and diff print it; a run recorded without these keys (as before
# they existed) still shows and diffs, its missing keys named as such.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
srv="$BUILD/tools/engram-server"
[ -x "$srv" ] || { skip "run environment" "engram-server not built"; exit 0; }
"$srv" --port 0 --port-file "$TMPDIR/port" --no-dedup >/dev/null 2>&1 &
echo $! >"$TMPDIR/srv.pid"
trap 'kill $(cat "$TMPDIR/srv.pid") 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMPDIR/port" ] && break; sleep 0.05; done
cat >"$TMPDIR/env.yaml" <<YAML
name: env
seed: 3
target: {driver: engram, url: "http://127.0.0.1:$(cat "$TMPDIR/port")"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 100, std_dev: 0.1, normalize: true}
  queries: {count: 10, source: synthetic}
  ingest: {concurrency: 2, verify_sample: 10}
  loadtest:
    duration: 1s
    warmup: 200ms
    arrival: {pattern: constant, rate: 50}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 10}
YAML
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
E run --json "$TMPDIR/env.yaml" >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 0 ] && ok "a run against engram-server (exit 0)" || { fail "a run against engram-server" "exit $rc"; tail -5 "$TMPDIR/run.err" | sed 's/^/# /'; exit 0; }
A=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json")

E show --json "$A" >"$TMPDIR/show.json" 2>/dev/null
$py - "$TMPDIR/show.json" <<'PY' && ok "show --json: the machine's keys with sane values" || fail "show --json: the machine's keys"
import json, sys
env = json.load(open(sys.argv[1]))["env"]
for k in ("host", "kernel", "cpu", "engrave_version", "target_version"):
    assert isinstance(env[k], str), (k, env)
assert isinstance(env["cpu.cores"], int) and env["cpu.cores"] >= 1, env
assert isinstance(env["mem.total_mb"], int) and env["mem.total_mb"] > 0, env
assert env["mem.available_mb"] == "unknown" or 0 < env["mem.available_mb"] <= env["mem.total_mb"], env
assert env["cpu.model"], env
assert env["cpu.governor"], env          # "unknown" on a VM without cpufreq
assert env["kernel.release"] and env["kernel.version"], env
assert env["virt.hypervisor"] in ("yes", "no", "unknown"), env
assert env["compiler"].startswith(("gcc ", "clang ")), env
for k in ("load.before", "load.after"):
    v = env[k].split()
    assert len(v) == 3 and all(float(x) >= 0 for x in v), (k, env[k])
assert env["steal_pct"] == "unknown" or 0 <= env["steal_pct"] <= 100, env
keys = list(env)
assert keys.index("load.before") < keys.index("load.after"), keys
PY
$py - "$TMPDIR/show.json" <<'PY' && ok "show --json: the target describes itself (target.*)" || fail "the target's description"
import json, sys
env = json.load(open(sys.argv[1]))["env"]
want = {"target.driver": "engram", "target.namespace": "default", "target.dim": 768,
        "target.version": "0.1.0", "target.service": "engram", "target.health": "healthy"}
for k, v in want.items():
    assert env.get(k) == v, (k, env.get(k), env)
assert "target.describe" not in env, env
PY
E show "$A" >"$TMPDIR/show.txt" 2>/dev/null
grep -Eq "^ +cpu\.cores +[0-9]+$" "$TMPDIR/show.txt" && grep -Eq "^ +target\.health +healthy$" "$TMPDIR/show.txt" &&
	ok "show prints the keys as rows" || { fail "show prints the keys as rows"; sed -n '/env:/,/artifacts/p' "$TMPDIR/show.txt" | sed 's/^/# /'; }
E runs --json >"$TMPDIR/runs.json" 2>/dev/null
$py - "$TMPDIR/runs.json" "$A" <<'PY' && ok "runs --json carries each run's env" || fail "runs --json carries each run's env"
import json, sys
r = [x for x in json.load(open(sys.argv[1])) if x["id"] == sys.argv[2]][0]
assert r["env"]["cpu.cores"] >= 1 and r["env"]["target.driver"] == "engram", r
PY

# a run recorded without the keys (synthrun writes the record's old fields only)
"$BUILD/tools/synthrun" --store "$TMPDIR/s" --spec "$TMPDIR/env.yaml" --id 20200101T000000Z-000001 --p99 5 --no-records >/dev/null 2>&1
E show --json 20200101T000000Z-000001 >"$TMPDIR/old.json" 2>"$TMPDIR/old.err"
rc=$?
$py - "$TMPDIR/old.json" <<'PY' && [ $rc -eq 0 ] && ok "a record without the env keys still shows (its fixed fields only)" || { fail "an old record shows" "exit $rc"; sed 's/^/# /' "$TMPDIR/old.err"; }
import json, sys
env = json.load(open(sys.argv[1]))["env"]
assert set(env) == {"host", "kernel", "cpu", "engrave_version", "target_version"}, env
PY
E diff --json 20200101T000000Z-000001 "$A" >"$TMPDIR/diff-old.json" 2>/dev/null
$py - "$TMPDIR/diff-old.json" <<'PY' && ok "diff against it: its missing keys are null, never 'same'" || fail "diff against an old record"
import json, sys
d = json.load(open(sys.argv[1]))
rows = {r["key"]: r for r in d["env"]}
assert rows["cpu.cores"]["a"] is None and rows["cpu.cores"]["same"] is False, rows["cpu.cores"]
fixed = {"host", "kernel", "cpu", "engrave_version", "target_version"}
assert set(d["env_different"]) <= fixed, d["env_different"]  # only what both runs hold
assert ("host" in d["env_different"]) == (rows["host"]["a"] != rows["host"]["b"]), rows["host"]
PY
E diff 20200101T000000Z-000001 "$A" >"$TMPDIR/diff-old.txt" 2>/dev/null
grep -q "recorded by one run only: .*cpu.cores" "$TMPDIR/diff-old.txt" && ok "diff names the keys one run lacks" ||
	{ fail "diff names the keys one run lacks"; sed -n '/environment/,/metrics/p' "$TMPDIR/diff-old.txt" | sed 's/^/# /'; }

# a second run on the same machine: machine keys the same, conditions apart
E run --json "$TMPDIR/env.yaml" >"$TMPDIR/run2.json" 2>>"$TMPDIR/run.err"
B=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run2.json" 2>/dev/null)
E diff --json "$A" "$B" >"$TMPDIR/diff.json" 2>/dev/null
$py - "$TMPDIR/diff.json" <<'PY' && ok "diff of two runs here: no machine key differs; load is a condition" || fail "diff of two runs here"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["env_different"] == [], d["env_different"]
rows = {r["key"]: r for r in d["env"]}
assert rows["cpu.cores"]["same"] and rows["target.version"]["same"], rows
assert rows["load.before"]["condition"] is True and rows["cpu.model"]["condition"] is False, rows
PY
