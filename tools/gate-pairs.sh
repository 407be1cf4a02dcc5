#!/usr/bin/env bash
# tools/gate-pairs.sh — does the regression gate cry wolf, and does it catch
# a real regression?
#
#   tools/gate-pairs.sh [--pairs N] [--repeat R] [--duration S] [--rate R]
#                       [--inject PCT] [--keep DIR]
#
# Starts two Engram contract servers (build/tools/engram-server) on
# 127.0.0.1: a normal one and one whose recalls answer --delay-us later,
# the delay being PCT % (default 10) of the first baseline run's recall p50.
# Then, N times (default 20): run the gate spec against the normal server
# (A), again (B, the same build), and against the slow server (C); `engrave
# check B` and `engrave check C` against baseline A. Prints every verdict
# and, at the end:
#   false regressions (same build):   k of N   (goal: at most 1)
#   injected +10% flagged:            m of N   (goal: at least 19)
# `check --strict-noise`: a regression seen while the machine was busy or
# changed speed (noise.*) is "no verdict" (exit 3), counted apart.
# The gate spec is the README's CI-gating spec: loadtest.repeat R (default
# 5), p50/p99 +5%, throughput -5%. Not part of `make test`: it runs for
# about N x 3 runs x (R x (duration + warm-up)) seconds; run it on a quiet
# machine (the load average is printed with each pair).
# Exit 0 when both goals hold, 1 otherwise, 2 on a usage or setup error.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
ENGRAVE=$BUILD/engrave
SRV=$BUILD/tools/engram-server
pairs=20 repeat=5 duration=2 rate=500 inject=10 keep=
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) pairs=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--inject) inject=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "gate-pairs: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[ -x "$ENGRAVE" ] && [ -x "$SRV" ] || { echo "gate-pairs: build first (make)" >&2; exit 2; }
work=${keep:-$(mktemp -d)}
mkdir -p "$work"
store=$work/store
cleanup() { # start_server runs in $(...): its pids are kept in files, not in a variable
	for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	[ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

start_server() { # $1 name, $2.. extra options; prints the port
	rm -f "$work/$1.port"
	"$SRV" --port 0 --port-file "$work/$1.port" --no-dedup --threads 2 "${@:2}" >"$work/$1.log" 2>&1 &
	echo $! >"$work/$1.pid"
	for _ in $(seq 200); do [ -s "$work/$1.port" ] && break; sleep 0.05; done
	[ -s "$work/$1.port" ] || { echo "gate-pairs: $1 server did not start" >&2; exit 2; }
	cat "$work/$1.port"
}

write_spec() { # $1 file, $2 port
	local rep="repeat: $repeat"
	[ "$repeat" = 1 ] && rep="# one measured phase"
	cat >"$1" <<YAML
name: gate
description: the CI gate of tools/gate-pairs.sh (the README's CI-gating spec)
seed: 7
target: {driver: engram, url: "http://127.0.0.1:$2"}
steps:
  centroids: {from: random, k: 8, dim: 768}
  synthetic: {count: 1000, std_dev: 0.1, normalize: true}
  queries: {count: 200, source: synthetic}
  ingest: {concurrency: 4, batch_size: 100, verify_sample: 20}
  loadtest:
    $rep
    duration: ${duration}s
    warmup: 1s
    arrival: {pattern: constant, rate: $rate}
    mix: {store: 0, recall: 1, search: 0}
    recall: {k: 10, threshold: 0.5, queries: 200}
checks:
  error_rate: "== 0"
  baseline: {ref: gate, p50_ms: "+5%", p99_ms: "+5%", throughput: "-5%"}
YAML
}

run_id() { # $1 spec -> the run id on stdout
	"$ENGRAVE" --store "$store" run --json "$1" 2>>"$work/runs.err" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

metric() { # $1 run, $2 metric
	"$ENGRAVE" --store "$store" show --json "$1" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"].get(sys.argv[1], "nan"))' "$2"
}

judge() { # $1 run -> "rc summary"
	local out rc
	out=$("$ENGRAVE" --store "$store" check --strict-noise --json "$1" 2>&1)
	rc=$?
	printf '%s %s\n' "$rc" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
try:
    c = json.load(sys.stdin)
except Exception:
    print("(no json)"); sys.exit()
parts = []
for r in c["rows"]:
    if r["kind"] == "baseline":
        parts.append("%s %+.1f%% %s" % (r["metric"], r["change_pct"] if r["change_pct"] is not None else float("nan"), r["verdict"]))
print(c["verdict"] + ": " + ", ".join(parts))')"
}

normal=$(start_server normal)
write_spec "$work/normal.yaml" "$normal"
echo "gate-pairs: $pairs pairs, repeat $repeat x ${duration}s at $rate/s, inject +$inject%; work dir $work"
# a first run loads the normal server and measures the delay to inject
first=$(run_id "$work/normal.yaml") || { echo "gate-pairs: the first run failed (see $work/runs.err)" >&2; exit 2; }
p50=$(metric "$first" recall_p50_ms)
delay_us=$(/usr/bin/python3 -c "import sys; print(max(1, round(float(sys.argv[1]) * 1000 * float(sys.argv[2]) / 100)))" "$p50" "$inject")
slow=$(start_server slow --delay-us "$delay_us")
write_spec "$work/slow.yaml" "$slow"
run_id "$work/slow.yaml" >/dev/null || { echo "gate-pairs: the slow server's first run failed" >&2; exit 2; }
echo "baseline recall p50 $p50 ms: the slow server adds $delay_us us to every recall"

false_reg=0 caught=0 noverdict_b=0 noverdict_c=0
for i in $(seq "$pairs"); do
	a=$(run_id "$work/normal.yaml") && b=$(run_id "$work/normal.yaml") && c=$(run_id "$work/slow.yaml") ||
		{ echo "gate-pairs: pair $i: a run failed (see $work/runs.err)" >&2; exit 2; }
	"$ENGRAVE" --store "$store" baseline set gate "$a" >/dev/null
	read -r rb sb <<<"$(judge "$b")"
	read -r rc sc <<<"$(judge "$c")"
	[ "$rb" = 1 ] && false_reg=$((false_reg + 1))
	[ "$rc" = 1 ] && caught=$((caught + 1))
	[ "$rb" = 3 ] && noverdict_b=$((noverdict_b + 1))
	[ "$rc" = 3 ] && noverdict_c=$((noverdict_c + 1))
	printf 'pair %2d (load %s)\n  same build: exit %s  %s\n  +%s%%:       exit %s  %s\n' "$i" \
		"$(cut -d' ' -f1 /proc/loadavg)" "$rb" "$sb" "$inject" "$rc" "$sc"
done
echo
echo "false regressions (same build):   $false_reg of $pairs   (goal: at most $((pairs / 20)))"
echo "injected +$inject% flagged:            $caught of $pairs   (goal: at least $((pairs - pairs / 20)))"
echo "no verdict (busy machine or its speed changed): $noverdict_b same-build, $noverdict_c injected"
[ "$false_reg" -le $((pairs / 20)) ] && [ "$caught" -ge $((pairs - pairs / 20)) ]
