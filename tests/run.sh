#!/usr/bin/env bash
# tests/run.sh — run every test and print one summary line.
#
# Runs each Criterion binary in $BUILD/tests/ (TAP output) and each
# tests/cli/NNNN-*.sh script (which prints TAP lines "ok - name",
# "not ok - name", "ok - name # SKIP why"), with T=glob selecting a subset
# by file name. Prints failures in full, then "N passed, N failed, N skipped"
# and exits non-zero on any failure. Scripts get $ENGRAVE (the binary),
# $BUILD, $SHARED (../shared, may be absent) and a private $TMPDIR.
set -u
BUILD=${BUILD:-build}
T=${T:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export ENGRAVE="$root/$BUILD/engrave" BUILD="$root/$BUILD"
export SHARED=${SHARED:-$(cd "$root/.." && pwd)/shared}
export ENGRAVE_PROGRESS=0
pass=0 fail=0 skip=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() { # $1 = TAP file, $2 = label, $3 = seconds it took; updates counters, prints failures
	local f=$1 label=$2 secs=${3:-0} p s x
	p=$(grep -E '^ok ' "$f" | grep -vc '# SKIP')
	s=$(grep -E '^ok ' "$f" | grep -c '# SKIP')
	x=$(grep -cE '^not ok' "$f")
	pass=$((pass + p)); skip=$((skip + s)); fail=$((fail + x))
	printf '%-34s %4d passed %4d failed %4d skipped %5ds\n' "$label" "$p" "$x" "$s" "$secs"
	grep -E '^not ok' "$f" | sed 's/^/    /'
	return 0
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *.d|*.o) continue ;; esac
	[ -n "$T" ] && [[ "$name" != *$T* ]] && continue
	tap="$work/$name.tap" log="$work/$name.log"
	t0=$SECONDS
	TMPDIR=$(mktemp -d "$work/tmp.XXXX") timeout 900 "$t" --tap="$tap" >"$log" 2>&1
	rc=$?
	[ -f "$tap" ] || : >"$tap"
	count "$tap" "$name" $((SECONDS - t0))
	if [ $rc -ne 0 ]; then
		if ! grep -qE '^not ok' "$tap"; then
			fail=$((fail + 1)); echo "    not ok - $name exited $rc with no failing test"
		fi
		grep -E '^\[(FAIL|----)\]' "$log" | head -40 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    /'
	fi
done

for s in tests/cli/[0-9]*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .sh)
	[ -n "$T" ] && [[ "$name" != *$T* ]] && continue
	out="$work/$name.out"
	t0=$SECONDS
	TMPDIR=$(mktemp -d "$work/tmp.XXXX") timeout 900 bash "$s" >"$out" 2>&1
	rc=$?
	count "$out" "$name" $((SECONDS - t0))
	if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$out"; then
		fail=$((fail + 1)); echo "    not ok - $name exited $rc"; tail -15 "$out" | sed 's/^/    /'
	elif grep -qE '^not ok' "$out"; then
		grep -vE '^(ok|not ok)' "$out" | tail -25 | sed 's/^/    /'
	fi
done

echo "# $SECONDS s in all"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ $((pass + skip)) -gt 0 ]
