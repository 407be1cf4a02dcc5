# Repeated load tests (steps.loadtest.repeat) and the noise floor recorded
# with every run: three repeats of one schedule in one records part (repeat
# 0, 1, 2 at offset 60, the same requests at the same offsets, time order
# over the whole array, warm-up flagged in each), the pooled metrics with
# `repeats` and noise.*, and digests of specs without the key unchanged.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
spec() { # $1 file, $2 extra loadtest line
	cat >"$1" <<YAML
name: repeat-embedded
seed: 11
target: {driver: embedded}
steps:
  centroids: {from: random, k: 4, dim: 32}
  synthetic: {count: 400, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  groundtruth: {k: 5}
  ingest: {batch_size: 200}
  loadtest:
    duration: 500ms
    warmup: 100ms
    arrival: {pattern: constant, rate: 200}
    mix: {store: 0.3, recall: 0.7, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 20}
$2
YAML
}
spec "$TMPDIR/r3.yaml" "    repeat: 3"
spec "$TMPDIR/r1.yaml" "    repeat: 1"
spec "$TMPDIR/r0.yaml" ""

d0=$("$ENGRAVE" spec show --digest "$TMPDIR/r0.yaml")
d1=$("$ENGRAVE" spec show --digest "$TMPDIR/r1.yaml")
d3=$("$ENGRAVE" spec show --digest "$TMPDIR/r3.yaml")
[ -n "$d0" ] && [ "$d0" = "$d1" ] && ok "repeat: 1 keeps the digest of a spec without it" ||
	fail "repeat: 1 keeps the digest" "$d0 vs $d1"
[ "$d3" != "$d0" ] && ok "repeat: 3 changes the digest" || fail "repeat: 3 changes the digest"
"$ENGRAVE" spec check "$TMPDIR/r3.yaml" | grep -q "loadtest repeated 3 times" && ok "spec check shows the repeat" ||
	fail "spec check shows the repeat"
E plan "$TMPDIR/r3.yaml" | grep -q "^  loadtest .*repeated 3 times" && ok "plan shows the repeat" ||
	fail "plan shows the repeat" "$(E plan "$TMPDIR/r3.yaml")"
"$ENGRAVE" spec show "$TMPDIR/r3.yaml" | grep -q "^    repeat: 3$" && ok "spec show has the key" ||
	fail "spec show has the key"
! "$ENGRAVE" spec show "$TMPDIR/r1.yaml" | grep -q "repeat:" && ok "the canonical form leaves repeat: 1 out" ||
	fail "the canonical form leaves repeat: 1 out"

printf 'name: x\ntarget: {driver: embedded}\nsteps:\n  loadtest:\n    rates: [10, 20]\n    repeat: 2\n' >"$TMPDIR/sw.yaml"
expect_exit 2 "a sweep with repeat > 1 is a spec error" "$ENGRAVE" spec check "$TMPDIR/sw.yaml"
grep -q "sw.yaml:6:13: steps.loadtest.repeat: a sweep (rates)" "$TMPDIR/last.out" &&
	ok "the error names file:line:col and the key" || fail "the error names file:line:col and the key"

E run --json "$TMPDIR/r3.yaml" >"$TMPDIR/run.json" 2>"$TMPDIR/run.err"
rc=$?
[ $rc -eq 0 ] && ok "a repeated run completes" || { fail "a repeated run completes" "exit $rc"; tail -5 "$TMPDIR/run.err" | sed 's/^/# /'; }
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/run.json" 2>/dev/null)
E show --json "$id" >"$TMPDIR/show.json" 2>/dev/null
$py - "$TMPDIR/show.json" <<'PY' && ok "metrics: repeats 3, pooled over the repeats, noise.* recorded" || fail "metrics of a repeated run"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["repeats"] == 3, m
# 600 ms of schedule at 200/s: 120 requests per repeat, 100 of them measured
assert m["requests"] == 360 and m["measured_requests"] == 300, m
assert abs(m["throughput"] - 200) / 200 < 0.05, m["throughput"]
assert m["recall_scored"] > 0 and m["recall"] == 1, m  # exact index: every repeat scores 1
for k in ("load1_before", "load1_after", "ncpu", "steal_pct", "other_cpu_pct", "mem_available_mb"):
    assert "noise." + k in m, k
assert m["noise.ncpu"] >= 1 and 0 <= m["noise.other_cpu_pct"] <= 100 and 0 <= m["noise.steal_pct"] <= 100, m
assert m["noise.mem_available_mb"] > 0
PY

# the loadtest artifact and its parts, read back with store cat
$py - "$ENGRAVE" "$TMPDIR/s" "$TMPDIR/show.json" <<'PY' && ok "records: repeats 0,1,2 with the same schedule, in time order, warm-up flagged in each" || fail "records of a repeated run"
import json, struct, subprocess, sys
engrave, store, show = sys.argv[1:4]
def cat(d, raw=False):
    return subprocess.run([engrave, "--store", store, "store", "cat"] + (["--raw"] if raw else []) + [d],
                          capture_output=True, check=True).stdout
steps = json.load(open(show))["steps"]
art = cat([s for s in steps if s["name"] == "loadtest"][0]["outputs"][0], True)
def part(name):  # msgpack: fixstr name, [bin32 digest, size]
    key = bytes([0xA0 | len(name)]) + name.encode() + b"\x92\xc4\x20"
    i = art.index(key) + len(key)
    return art[i:i + 32].hex()
assert b"\xa7repeats\x03" in art, "int field repeats = 3"
rb = cat(part("records"))
recs = [struct.unpack_from("<QQQQIIHBBBBHQII", rb, o) for o in range(0, len(rb), 64)]
t0 = [struct.unpack_from("<Q", cat(part("repeat_t0")), 8 * k)[0] for k in range(3)]
assert t0[0] == 0 and t0[0] < t0[1] < t0[2], t0
per = [[r for r in recs if r[14] == k] for k in range(3)]
assert [len(p) for p in per] == [120, 120, 120], [len(p) for p in per]
assert [r[14] for r in recs] == sorted(r[14] for r in recs), "repeat order"
sched = [[(r[0], r[7], r[1] - t0[k]) for r in per[k]] for k in range(3)]
assert sched[0] == sched[1] == sched[2], "the same requests at the same offsets"
assert all(a[1] <= b[1] for a, b in zip(recs, recs[1:])), "intended increases over the whole array"
assert all(max(r[3] for r in per[k - 1]) <= t0[k] for k in (1, 2)), "a repeat starts after the previous one drained"
for k in range(3):
    warm = [r for r in per[k] if r[8] & 1]
    assert len(warm) == 20 and all(r[1] - t0[k] < 100_000_000 for r in warm), (k, len(warm))
PY

# engrave run --repeat N: the stored spec and its digest say repeat: N
spec "$TMPDIR/r2.yaml" "    repeat: 2"
E run --json --repeat 2 "$TMPDIR/r0.yaml" >"$TMPDIR/cli.json" 2>"$TMPDIR/cli.err"
$py - "$TMPDIR/cli.json" "$("$ENGRAVE" spec show --digest "$TMPDIR/r2.yaml")" <<'PY' && ok "run --repeat 2 records the spec with repeat: 2" || { fail "run --repeat 2"; tail -3 "$TMPDIR/cli.err" | sed 's/^/# /'; }
import json, sys
j = json.load(open(sys.argv[1]))
assert j["spec_digest"] == sys.argv[2], (j["spec_digest"], sys.argv[2])
assert j["metrics"]["repeats"] == 2 and j["metrics"]["requests"] == 240, j["metrics"]
PY
cid=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMPDIR/cli.json" 2>/dev/null)
E show "$cid" 2>/dev/null | grep -q "^    repeat: 2$" && ok "show prints the stored spec with the repeat" ||
	fail "show prints the stored spec with the repeat"
expect_exit 2 "run --repeat 0 is refused" E run --repeat 0 "$TMPDIR/r0.yaml"
expect_exit 2 "run --repeat with a sweep is refused" E run --repeat 2 "$TMPDIR/sw.yaml"
grep -q "repeat = 2 is not supported" "$TMPDIR/last.out" && ok "and says why" || fail "and says why"
