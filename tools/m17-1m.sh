#!/usr/bin/env bash
# tools/m17-1m.sh — the 1M node validation plan end to end against real Chroma.
#
#   tools/m17-1m.sh [--store DIR] [--chroma-data DIR] [--port N] [--keep-chroma]
#
# 1. The corpus: experiments/data/simplewiki-latest-pages-articles.xml.bz2
#    when it is there; otherwise a dump generated from the real pages at
#    hand (experiments/data/sample-wiki.xml and, when present,
#    ../shared/fixtures/wiki/enwiki-table-markup.xml.bz2), each repeated
#    with a fresh id and title until there are 56,000 pages (about 94% pass the corpus filters), written to
#    experiments/data/m17-generated-wiki.xml (not committed), and the run's
#    description says so.
# 2. Chroma (tools/chroma, pinned) on 127.0.0.1:PORT with its data in
#    --chroma-data (default $ENGRAVE_M17_CHROMA or /tmp/engrave-m17-chroma),
#    started here and restarted between the phases of the ef_search sweep.
# 3. A rate ramp at 1M (RAMP_RATES, default [10,20,40,80,160], 20 s phases,
#    p99 SLO RAMP_SLO_MS, default 1000): the first run of the spec, so it
#    also builds every artifact and ingests the 1,000,000 vectors.
# 4. The 1K baseline: experiments/m17_baseline_1k.yaml on the same Chroma
#    (its own collection) at the ramp's rate with the 1M run's mix (the
#    plan's 1000 ops/s of single-record writes is more than Chroma takes
#    at any size; its own absolute checks are Engram's at 1000 ops/s, so
#    they are dropped), named m17-1k with `engrave baseline set` unless
#    the store has it already.
# 5. The measured run: experiments/m17_1m_chroma.yaml at the ramp's highest
#    rate within the SLO (at least the lowest rate); `engrave check` against
#    m17-1k; an entry appended to PERFORMANCE_LOG.md (`engrave log --append`).
# 6. The ef_search sweep (EF_VALUES, default [32,100,400]) at that rate,
#    Chroma restarted before each phase so it loads the index with the new
#    value (nothing is re-ingested).
# 7. A table of what was measured (each phase's time, ingest rate,
#    p50/p99/p999, throughput, recall@10, errors, peak RSS), also written
#    to $OUT/m17-1m-summary.md (OUT defaults to the store's path + "-m17":
#    each engrave run's JSON and stderr are kept there too).
#
# Every engrave step is cached or journaled: after a crash or kill -9,
# running this script again resumes where it stopped (the runs are resumed
# with --resume; Chroma keeps its data directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
STORE=${ENGRAVE_STORE:-$root/.engrave}
CHROMA_DATA=${ENGRAVE_M17_CHROMA:-/tmp/engrave-m17-chroma}
PORT=${CHROMA_PORT:-8000}
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--store) STORE=$2; shift 2 ;;
	--chroma-data) CHROMA_DATA=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--keep-chroma) KEEP=1; shift ;;
	-h | --help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "m17-1m.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
RAMP_RATES=${RAMP_RATES:-[10,20,40,80,160]}
RAMP_SLO_MS=${RAMP_SLO_MS:-1000}
EF_VALUES=${EF_VALUES:-[32,100,400]}
BUILD=${BUILD:-build}
E="$root/$BUILD/engrave"
chroma="$root/tools/chroma/node_modules/.bin/chroma"
SPEC=experiments/m17_1m_chroma.yaml
BASE=experiments/m17_baseline_1k.yaml
url="http://127.0.0.1:$PORT"
[ -x "$E" ] || make -s all
[ -x "$chroma" ] || tools/install-deps.sh --chroma
OUT=${OUT:-$STORE-m17}  # this script's own files: each run's JSON and stderr, the summary
mkdir -p "$OUT" "$CHROMA_DATA"
log() { printf '[m17-1m %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
eng() { "$E" --store "$STORE" "$@"; }
metric() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["metrics"].get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# ---- 1. the corpus -----------------------------------------------------------
sets=()
if [ -s experiments/data/simplewiki-latest-pages-articles.xml.bz2 ]; then
	sets+=(--set steps.corpus.path=data/simplewiki-latest-pages-articles.xml.bz2
		--set "description='1M validation on Chroma, 50K Simple English Wikipedia articles + 950K synthetic'")
	log "corpus: the Simple English Wikipedia dump"
else
	gen=experiments/data/m17-generated-wiki.xml
	if [ ! -s "$gen" ]; then
		log "corpus: no simplewiki dump here; generating $gen from the real pages at hand"
		/usr/bin/python3 - experiments/data/sample-wiki.xml "$root/../shared/fixtures/wiki/enwiki-table-markup.xml.bz2" "$gen" <<'PY'
import bz2, os, re, sys
src, fixture, out = sys.argv[1], sys.argv[2], sys.argv[3]
xml = open(src, encoding="utf-8").read()
head = xml[:xml.index("<page>")]
pages = re.findall(r"  <page>.*?</page>\n", xml, re.S)
if os.path.exists(fixture):
    fx = bz2.open(fixture, "rt", encoding="utf-8").read()
    pages += [p + "\n" for p in re.findall(r"<page>.*?</page>", fx, re.S)]
pages = [p for p in pages if "<redirect" not in p and "<ns>0</ns>" in p]
want, n = 56000, 0
tmp = out + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(head)
    while n < want:
        for p in pages:
            if n >= want:
                break
            rnd = n // len(pages)
            p2 = re.sub(r"<title>(.*?)</title>", lambda m: "<title>%s (%d)</title>" % (m.group(1), rnd), p, count=1)
            p2 = re.sub(r"<id>\d+</id>", "<id>%d</id>" % (n + 1), p2, count=1)
            f.write(p2 if p2.startswith("  ") else "  " + p2)
            n += 1
    f.write("</mediawiki>\n")
os.rename(tmp, out)
print("%d pages from %d real ones" % (n, len(pages)))
PY
	fi
	sets+=(--set "description='1M validation on Chroma: 50K articles generated from real wiki pages (no simplewiki dump here) + 950K synthetic'")
fi

# ---- 2. Chroma -------------------------------------------------------------------
pidfile="$CHROMA_DATA.pid"
start_chroma() {
	if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
	fi
	"$chroma" run --path "$CHROMA_DATA" --host 127.0.0.1 --port "$PORT" >>"$CHROMA_DATA.log" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 600); do curl -sf "$url/api/v2/heartbeat" >/dev/null && return 0; sleep 0.5; done
	echo "m17-1m.sh: Chroma did not start on $url (see $CHROMA_DATA.log)" >&2
	exit 4
}
stop_chroma() { [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; }
[ $KEEP = 1 ] || trap stop_chroma EXIT
if ! curl -sf "$url/api/v2/heartbeat" >/dev/null; then
	log "starting Chroma on $url (data: $CHROMA_DATA)"
	start_chroma
fi
# the hook the sweep runs before each phase
hook="$CHROMA_DATA.restart.sh"
cat >"$hook" <<SH
#!/bin/sh
# restart Chroma so it loads the index with the ef_search engrave just set
pid=\$(cat "$pidfile" 2>/dev/null)
[ -n "\$pid" ] && kill "\$pid" 2>/dev/null
while [ -n "\$pid" ] && kill -0 "\$pid" 2>/dev/null; do sleep 0.2; done
"$chroma" run --path "$CHROMA_DATA" --host 127.0.0.1 --port $PORT >>"$CHROMA_DATA.log" 2>&1 &
echo \$! >"$pidfile"
SH
chmod +x "$hook"
tgt=(--set target.url="$url")

# run_or_resume NAME SPEC ARGS...: the newest unfinished run of SPEC resumes; JSON in $STORE/NAME.json
# A step whose run finished ("done") in an earlier invocation is not run again.
run_or_resume() {
	local name=$1 spec=$2 rc=0
	shift 2
	if [ -s "$OUT/$name.json" ] && [ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("status"))' "$OUT/$name.json" 2>/dev/null)" = done ]; then
		log "$name: done earlier ($OUT/$name.json)"
		return 0
	fi
	local t0=$SECONDS
	eng run --json "$spec" "$@" --resume >"$OUT/$name.json" 2>"$OUT/$name.err" || rc=$?
	if [ $rc -eq 3 ] && grep -q "no unfinished run" "$OUT/$name.err"; then
		rc=0
		eng run --json "$spec" "$@" >"$OUT/$name.json" 2>"$OUT/$name.err" || rc=$?
	fi
	log "$name: exit $rc in $((SECONDS - t0)) s"
	return $rc
}

# ---- 3. the ramp (and, the first time, every artifact and the 1M ingest) ----------------
log "ramp: rates $RAMP_RATES, p99 SLO $RAMP_SLO_MS ms"
run_or_resume ramp "$SPEC" "${sets[@]}" "${tgt[@]}" --set "steps.loadtest.rates=$RAMP_RATES" \
	--set steps.loadtest.slo_p99_ms="$RAMP_SLO_MS" --set steps.loadtest.duration=20s --set steps.loadtest.warmup=5s \
	--set 'checks={}' ||
	{ tail -5 "$OUT/ramp.err"; exit 4; }
rate=$(metric "$OUT/ramp.json" max_rate_under_slo)
lowest=$(/usr/bin/python3 -c 'import json,sys; print(min(json.loads(sys.argv[1])))' "$RAMP_RATES")
if [ -z "$rate" ] || [ "$(/usr/bin/python3 -c "print(int(float('$rate') <= 0))")" = 1 ]; then
	log "ramp: no rate within the SLO; measuring at the lowest, $lowest/s"
	rate=$lowest
fi
rate=$(/usr/bin/python3 -c "print('%g' % float('$rate'))")
log "ramp: Chroma holds $rate ops/s at 1M within p99 $RAMP_SLO_MS ms"

# ---- 4. the 1K baseline, at the rate and mix the 1M run will use ----------------------------
if ! eng baseline list 2>/dev/null | grep -q '^m17-1k\b'; then
	log "baseline: $BASE on Chroma (collection m17-1k) at $rate ops/s, the 1M run's mix"
	run_or_resume baseline-1k "$BASE" "${tgt[@]}" --set target.driver=chroma --set target.collection=m17-1k \
		--set steps.loadtest.arrival.rate="$rate" --set 'steps.loadtest.mix={store: 0.5, recall: 0.5, search: 0}' \
		--set 'checks={}' ||
		{ tail -5 "$OUT/baseline-1k.err"; exit 4; }
	eng baseline set m17-1k "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT/baseline-1k.json")"
fi

# ---- 5. the measured run ----------------------------------------------------------------
run_or_resume measured "$SPEC" "${sets[@]}" "${tgt[@]}" --set steps.loadtest.arrival.rate="$rate" ||
	{ tail -5 "$OUT/measured.err"; exit 4; }
run_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT/measured.json")
check_rc=0
eng check "$run_id" >"$OUT/check.out" 2>&1 || check_rc=$?
log "check against m17-1k: exit $check_rc"
eng log --append PERFORMANCE_LOG.md "$run_id" >/dev/null 2>&1 || log "log: could not append (see 'engrave log --help')"

# ---- 6. the ef_search sweep -----------------------------------------------------------------
run_or_resume sweep "$SPEC" "${sets[@]}" "${tgt[@]}" --set steps.loadtest.arrival.rate="$rate" \
	--set "steps.loadtest.ef_search=$EF_VALUES" --between-phases "$hook" || { tail -5 "$OUT/sweep.err"; exit 4; }

# ---- 7. the table -----------------------------------------------------------------------------
/usr/bin/python3 - "$OUT" "$rate" "$check_rc" <<'PY' | tee "$OUT/m17-1m-summary.md"
import json, sys
st, rate, check_rc = sys.argv[1], sys.argv[2], sys.argv[3]
def load(n):
    try:
        return json.load(open("%s/%s.json" % (st, n)))
    except Exception:
        return None
ramp, meas, sweep = load("ramp"), load("measured"), load("sweep")
print("| Phase | Time | Figures |")
print("|---|---|---|")
for s in (ramp or {}).get("steps", []):
    if s["name"] in ("loadtest",):
        continue
    print("| %s | %.1f s | %s |" % (s["name"], s.get("elapsed_s", 0), s.get("message", "").replace("|", "/")))
m = (ramp or {}).get("metrics", {})
if "ingest.records_per_s" in m:
    print("| ingest rate | | %.0f records/s, %d stored, %d failed, %d retries, window %g..%g |" % (
        m["ingest.records_per_s"], m.get("ingest.stored", 0), m.get("ingest.failed", 0), m.get("ingest.retries", 0),
        m.get("ingest.window_min", 0), m.get("ingest.window_max", 0)))
mm = (meas or {}).get("metrics", {})
if mm:
    print("| load test at %s/s | 60 s | p50 %.1f ms, p99 %.1f ms, p999 %.1f ms, throughput %.1f/s, errors %.4f, recall@10 %s |" % (
        rate, mm.get("p50_ms", 0), mm.get("p99_ms", 0), mm.get("p999_ms", 0), mm.get("throughput", 0),
        mm.get("error_rate", 0), ("%.3f" % mm["recall"]) if "recall" in mm else "n/a"))
sm = (sweep or {}).get("metrics", {})
efs = sorted({float(k.split("=")[1].split(".")[0]) for k in sm if k.startswith("sweep.ef_search=")})
for ef in efs:
    p = "sweep.ef_search=%g." % ef
    print("| ef_search %g | 60 s | p99 %.1f ms, throughput %.1f/s, recall@10 %s |" % (
        ef, sm.get(p + "p99_ms", 0), sm.get(p + "throughput", 0),
        ("%.3f" % sm[p + "recall"]) if p + "recall" in sm else "n/a"))
for name, r in (("ramp (with every artifact and the ingest)", ramp), ("measured run", meas), ("ef_search sweep", sweep)):
    rss = {k.split(".", 1)[1]: v for k, v in (r or {}).get("metrics", {}).items() if k.startswith("rss_peak_mb.")}
    if rss:
        top = max(rss, key=rss.get)
        print("| engrave peak RSS, %s | | %.0f MB (after %s) |" % (name, rss[top], top))
print()
print("check against m17-1k: exit %s" % check_rc)
PY
