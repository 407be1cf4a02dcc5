# `engrave report` in a real browser: a run against the Engram contract
# server (every 7th store answers 503, so there are retries and errors) and
# a baseline run; the report opens in headless Chromium, whose screenshot
# must be a non-blank PNG and whose DOM must hold every section with data:
# each plot an SVG line with points, each table rows. Also: same run, same
# bytes; --history; usage errors.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
srv="$BUILD/tools/engram-server"
chromium=/usr/bin/chromium
[ -x "$srv" ] || { skip "report in a browser" "engram-server not built"; exit 0; }
start() { # $1 name: a server whose every 7th store answers 503
	"$srv" --port 0 --port-file "$TMPDIR/$1.port" --no-dedup --fail-503-every 7 --retry-after 0 >/dev/null 2>&1 &
	echo $! >"$TMPDIR/$1.pid"
	for _ in $(seq 100); do [ -s "$TMPDIR/$1.port" ] && break; sleep 0.05; done
}
start a
start b # a fresh target for the second run, so its ingest sends (and retries) too
trap 'kill $(cat "$TMPDIR"/*.pid) 2>/dev/null; wait 2>/dev/null' EXIT
cat >"$TMPDIR/r.yaml" <<YAML
name: report-browser
seed: 5
target: {driver: engram, url: "http://127.0.0.1:$(cat "$TMPDIR/a.port")"}
steps:
  centroids: {from: random, k: 4, dim: 768}
  synthetic: {count: 3000, std_dev: 0.1, normalize: true}
  queries: {count: 20, source: synthetic}
  groundtruth: {k: 5}
  ingest: {concurrency: 2, batch_size: 25, verify_sample: 10}
  loadtest:
    duration: 3s
    warmup: 500ms
    arrival: {pattern: constant, rate: 150}
    mix: {store: 0.3, recall: 0.7, search: 0}
    recall: {k: 5, threshold: 0.1, queries: 20}
checks:
  error_rate: "< 0.5"
  baseline: {ref: rb, p99_ms: "+50%", throughput: "-5%"}
YAML
E() { "$ENGRAVE" --store "$TMPDIR/s" "$@"; }
rid() { E run --json "$@" 2>>"$TMPDIR/run.err" | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
A=$(rid "$TMPDIR/r.yaml")
E baseline set rb "$A" >/dev/null 2>&1
B=$(rid "$TMPDIR/r.yaml" --set steps.loadtest.arrival.rate=180 --set "target.url=http://127.0.0.1:$(cat "$TMPDIR/b.port")")
[ -n "$A" ] && [ -n "$B" ] && ok "a baseline run and a run" || { fail "two runs"; tail -5 "$TMPDIR/run.err"; exit 0; }

check "report writes one file" E report "$B" -o "$TMPDIR/r.html"
E report "${B:0:19}" -o "$TMPDIR/again.html" >/dev/null 2>&1
cmp -s "$TMPDIR/r.html" "$TMPDIR/again.html" && ok "same run, same bytes (by id prefix)" || fail "same run, same bytes"
grep -q "baseline rb: $A" "$TMPDIR/r.html" && ok "the spec's checks.baseline ref is the default baseline" ||
	fail "default baseline"
! grep -qiE '<script|<link|<img|<iframe|@import|(src|href)="?[a-z]+:|url\(' "$TMPDIR/r.html" && ok "no script, nothing fetched" ||
	fail "self-contained"
E report "$B" --baseline "$A" --json -o "$TMPDIR/j.html" >"$TMPDIR/j.json" 2>&1
$py -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["run"]==sys.argv[2] and len(j["sections"])==10 and "runbook" in j["sections"] and j["baselines"]==["run "+sys.argv[3]], j' \
	"$TMPDIR/j.json" "$B" "$A" && ok "--json names the run, sections and baselines" || fail "--json" "$(cat "$TMPDIR/j.json")"
expect_exit 2 "no RUN is a usage error" E report
expect_exit 3 "an unknown run is missing data" E report nosuchrun -o "$TMPDIR/x.html"
expect_exit 3 "an unknown baseline is missing data" E report "$B" --baseline nosuch -o "$TMPDIR/x.html"
check "history report" E report --history report-browser -o "$TMPDIR/h.html"
grep -q '<section id="history">' "$TMPDIR/h.html" && [ "$(grep -c '<polyline' "$TMPDIR/h.html")" -ge 3 ] &&
	ok "history has a trend per default metric" || fail "history plots"

# the page itself, as a browser sees it
$py - "$TMPDIR/r.html" <<'PY' && ok "every section has data in the HTML" || fail "sections in the HTML"
import re, sys
html = open(sys.argv[1]).read()
for sec in ["spec", "environment", "steps", "ingest", "latency", "timeline", "recall", "errors", "verdicts"]:
    m = re.search(r'<section id="%s">(.*?)</section>' % sec, html, re.S)
    assert m, "no section " + sec
    assert '<p class="none">' not in m.group(1) or sec == "verdicts", sec + " says it has no data: " + m.group(1)[:300]
PY
if [ ! -x "$chromium" ]; then
	skip "report renders in Chromium" "no $chromium (tools/install-deps.sh --chromium installs it)"
	exit 0
fi
browse() { timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$TMPDIR/chrome" "$@" 2>>"$TMPDIR/chrome.err"; }
browse --screenshot="$TMPDIR/shot.png" --window-size=1280,4000 "file://$TMPDIR/r.html" >/dev/null
browse --dump-dom "file://$TMPDIR/r.html" >"$TMPDIR/dom.html"
$py - "$TMPDIR/shot.png" <<'PY' && ok "the screenshot is a non-blank PNG" || fail "screenshot" "$(tail -3 "$TMPDIR/chrome.err")"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h, depth, ctype = struct.unpack(">IIBB", b[16:26])
assert w >= 1000 and h >= 1000, (w, h)
raw, i = b"", 8
while i < len(b):
    n, t = struct.unpack(">I4s", b[i:i + 8])
    if t == b"IDAT":
        raw += b[i + 8:i + 8 + n]
    i += 12 + n
px = zlib.decompress(raw)
# many distinct byte values = text, lines and colours, not a blank page
assert len(set(px[::7])) > 20, "blank"
PY
$py - "$TMPDIR/dom.html" 2>"$TMPDIR/dom.err" <<'PY' && ok "the browser's DOM has every section with plots and table rows" || fail "DOM" "$(tail -2 "$TMPDIR/dom.err"; grep -v dbus "$TMPDIR/chrome.err" | tail -3)"
import re, sys
dom = open(sys.argv[1]).read()
need_plot = {"ingest", "latency", "timeline"}
for sec in ["spec", "environment", "steps", "ingest", "latency", "timeline", "recall", "errors", "verdicts"]:
    m = re.search(r'<section id="%s">(.*?)</section>' % sec, dom, re.S)
    assert m, "no section " + sec
    body = m.group(1)
    assert re.search(r"<tr>\s*<td", body) or re.search(r'<tr class="\w+">\s*<td', body), sec + ": no table row"
    if sec in need_plot:
        pts = re.findall(r'<polyline[^>]*points="([^"]+)"', body)
        # the ingest's window series has a sample at its start, one a second
        # and one at its end: a sub-second ingest draws a 2-point line
        least = 2 if sec == "ingest" else 3
        assert pts and max(len(p.split()) for p in pts) >= least, sec + ": no line with points"
errors = re.search(r'<section id="errors">(.*?)</section>', dom, re.S).group(1)
assert "503" in errors and "store" in errors, "errors: no 503 store group"
assert "(no message recorded)" not in errors, "errors: the 503's message was not recorded"
verd = re.search(r'<section id="verdicts">(.*?)</section>', dom, re.S).group(1)
assert "p99_ms" in verd and "throughput" in verd, "verdicts: no baseline rows"
PY
