#!/usr/bin/env bash
# dead-exports.sh — exported symbols that nothing else links against.
#
# Lists each symbol defined (T/D/B/R) by an object of src/ in $BUILD/obj
# (default build/obj) that no other object references: not another source
# file, not a tool, not a test. Each is a candidate for `static` (used only in its own
# file) or for removal (not used at all; check with grep). Build first with
# `make all tests` so the test and tool objects are there.
set -u
cd "$(dirname "$0")/.."
obj=${BUILD:-build}/obj
[ -d "$obj" ] || { echo "dead-exports: no $obj; run 'make all tests' first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$obj" -name '*.o' | sort | while read -r o; do
	nm "$o" | awk -v o="${o#"$obj"/}" '$2 ~ /^[TDBR]$/ { print $3, o } $1 == "U" { print $2, o > "/dev/stderr" }'
done >"$tmp/defs" 2>"$tmp/uses"
sort -o "$tmp/defs" "$tmp/defs"
sort -o "$tmp/uses" "$tmp/uses"
# a definition is dead when every use of the symbol is in its own object
awk 'NR == FNR { if (!(($1, $2) in self)) users[$1]++; self[$1, $2] = 1; next }
     $1 != "main" && !($1 in users) { print $1, $2; next }
     $1 != "main" && users[$1] == 1 && (($1, $2) in self) { print $1, $2 }' "$tmp/uses" "$tmp/defs" |
	grep ' src/' | sort -k2
