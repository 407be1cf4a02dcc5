# A step whose spec-sized buffers do not fit the process (here: ulimit -v
# about 1 GB, far below the machine's RAM, so spec check lets the spec
# through) fails with "out of memory for ..." and exit 4, records the run as
# failed and resumes once memory is there; it used to abort with "BUG ...
# out of memory" (exit 134) and leave the run "running". Queries (count x
# dim), random centroids (k x dim) and the load test (rate x duration x k).
. "$(dirname "$0")/lib.sh"
case "$BUILD" in *asan*) skip "memory limits" "ulimit -v and ASan's shadow memory do not mix"; exit 0 ;; esac
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)
[ "${mem_kb:-0}" -ge 8000000 ] || { skip "memory limits" "needs 8 GB of RAM for spec check to pass"; exit 0; }
export ENGRAVE_STORE_MAPSIZE=67108864 # a small map: the store fits under the ulimit
S="$TMPDIR/s"

limited() { (ulimit -v 1000000 && exec "$ENGRAVE" --store "$S" "$@"); }
# (each case its own store: a store grown past the limit cannot be mapped under it)

cat >"$TMPDIR/q.yaml" <<'YAML'
name: mem-queries
steps:
  centroids: {k: 4, from: random, dim: 8}
  synthetic: {count: 100}
  queries: {count: 30000000, source: synthetic}
YAML
expect_exit 4 "queries too large for the process exit 4" limited run "$TMPDIR/q.yaml"
grep -q "error: out of memory for the query vectors" "$TMPDIR/last.out" && grep -q "hint: lower steps.queries.count" "$TMPDIR/last.out" &&
	ok "the queries step names what did not fit" || fail "the queries step names what did not fit"
"$ENGRAVE" --store "$S" runs >"$TMPDIR/runs" 2>&1
grep -q "mem-queries .* failed" "$TMPDIR/runs" && ok "the run is recorded as failed" || { fail "the run is recorded as failed"; sed 's/^/# /' "$TMPDIR/runs"; }
expect_exit 0 "the run resumes when memory is there" "$ENGRAVE" --store "$S" run --resume "$TMPDIR/q.yaml"

cat >"$TMPDIR/c.yaml" <<'YAML'
name: mem-centroids
steps:
  centroids: {k: 100000, from: random, dim: 4096}
YAML
S="$TMPDIR/s2"
expect_exit 4 "centroids k x dim too large for the process exit 4" limited run "$TMPDIR/c.yaml"
grep -q "error: out of memory for the centroids" "$TMPDIR/last.out" && ok "the centroids step names what did not fit" ||
	fail "the centroids step names what did not fit"

cat >"$TMPDIR/l.yaml" <<'YAML'
name: mem-loadtest
target: {driver: embedded}
steps:
  centroids: {k: 4, from: random, dim: 8}
  loadtest:
    duration: 20s
    arrival: {rate: 1000000}
    mix: {store: 1, recall: 0, search: 0}
YAML
S="$TMPDIR/s3"
expect_exit 4 "a load test too large for the process exits 4" limited run "$TMPDIR/l.yaml"
grep -q "error: out of memory for the recall hits of the load test" "$TMPDIR/last.out" &&
	grep -q "hint: shorten steps.loadtest.duration" "$TMPDIR/last.out" && ok "the load test names what did not fit" ||
	fail "the load test names what did not fit"
