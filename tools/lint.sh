#!/usr/bin/env bash
# lint.sh — house-style checks that the compiler does not make (make lint).
#
#  1. every .c under src/ and tools/ opens with a comment explaining its design;
#  2. no printf/puts to stdout and no exit() in library layers (only src/cli/);
#  3. each library is used from its one module: LMDB in src/store, libyaml in
#     src/spec, libcurl in src/net, OpenBLAS in src/data/vec.c, expat in
#     src/data/wiki.c, msgpack in src/store, libcrypto in src/util/hash.c,
#     libhttp-parser in src/net/wire.c;
#  4. the layers of DESIGN.md section 2 only include headers of layers above,
#     and a header that lives next to its sources (src/<layer>/<name>.h,
#     included as "<layer>/<name>.h" or "<name>.h") only inside its layer;
#  5. specs are loaded through target_spec_load_* (resolved against the driver
#     table) everywhere but src/spec and src/targets.
# Prints each problem as file:line: message and exits 1 if any.
set -u
cd "$(dirname "$0")/.."
bad=0
say() { echo "$1"; bad=1; }

for f in $(git ls-files 'src/*.c' 'tools/*.c' 2>/dev/null || find src tools -name '*.c'); do
	first=$(grep -v '^\s*$' "$f" | head -1)
	case "$first" in "/*"*) ;; *) say "$f:1: file does not open with a design comment" ;; esac
done

for f in $(find src -name '*.c' -not -path 'src/cli/*'); do
	grep -nE '(^|[^a-z_])(printf|puts)\s*\(|fprintf\s*\(\s*stdout|[^_a-z]exit\s*\(' "$f" |
		grep -v '^\s*[0-9]*:\s*\*' | grep -vE 'snprintf|vsnprintf|//|/\*' |
		while IFS= read -r l; do echo "$f:${l%%:*}: stdout output or exit() in a library layer"; done
done | { out=$(cat); [ -n "$out" ] && { echo "$out"; exit 1; }; exit 0; } || bad=1

check_lib() { # header-regex allowed-path-regex name
	local hits
	hits=$(grep -rlE "#include\s*<($1)" src | grep -vE "$2" || true)
	for h in $hits; do say "$h: uses $3 outside its module"; done
}
check_lib 'lmdb\.h' '^src/store/' LMDB
check_lib 'yaml\.h' '^src/spec/' libyaml
check_lib 'curl/' '^src/net/' libcurl
check_lib 'cblas\.h|openblas' '^src/data/vec\.c' OpenBLAS
check_lib 'expat\.h' '^src/data/wiki\.c' expat
check_lib 'msgpack\.h' '^src/store/' msgpack
check_lib 'openssl/' '^src/util/hash\.c' libcrypto
check_lib 'http_parser\.h' '^src/net/wire\.c' libhttp-parser

grep -rnE '(^|[^a-z_])spec_load_(file|string)\s*\(' src | grep -vE '^src/(spec|targets)/' | cut -d: -f1,2 |
	sed 's/$/: spec_load_* outside src\/spec: load with target_spec_load_* (the driver rules)/' |
	{ out=$(cat); [ -n "$out" ] && { echo "$out"; exit 1; }; exit 0; } || bad=1

order="util store spec data net targets steps analysis cli"
rank() { local i=0; for l in $order; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i+1)); done; echo 99; }
layer_of() { # the layer of a file: src/<layer>/... (.c or a layer's own .h), or include/engrave/<mod>.h -> where <mod>.c lives
	case "$1" in
	src/*) echo "$1" | cut -d/ -f2 ;;
	include/engrave/*)
		m=$(basename "$1" .h)
		if [ -d "src/$m" ]; then echo "$m"; else
			c=$(ls src/*/"$m".c 2>/dev/null | grep -v '^src/cli/' | head -1)
			[ -n "$c" ] && echo "$c" | cut -d/ -f2 || echo util
		fi ;;
	esac
}
for f in $(find src include -name '*.c' -o -name '*.h' | grep -v '^src/cli/'); do
	layer=$(layer_of "$f"); lr=$(rank "$layer")
	grep -oE '#include\s*"engrave/[a-z_0-9]+\.h"' "$f" | sed -E 's/.*engrave\/([a-z_0-9]+)\.h.*/\1/' | while read -r mod; do
		if [ -d "src/$mod" ]; then ml=$mod   # a header named after its layer (store.h, spec.h)
		else
			src=$(ls src/*/"$mod".c 2>/dev/null | grep -v '^src/cli/' | head -1)
			[ -z "$src" ] && continue
			ml=$(echo "$src" | cut -d/ -f2)
		fi
		mr=$(rank "$ml")
		[ "$mr" -gt "$lr" ] && echo "$f: layer '$layer' includes '$mod.h' from lower layer '$ml'"
	done
	# "<layer>/<name>.h" is src/<layer>/<name>.h: private to that layer
	grep -oE '#include\s*"[a-z]+/[a-z_0-9]+\.h"' "$f" | sed -E 's/.*"([a-z]+)\/([a-z_0-9]+\.h)".*/\1 \2/' |
		while read -r hl h; do
			[ "$hl" = engrave ] && continue
			[ "$(rank "$hl")" = 99 ] && continue
			[ "$hl" != "$layer" ] && echo "$f: layer '$layer' includes '$hl/$h', a header private to layer '$hl'"
		done
done | { out=$(cat); [ -n "$out" ] && { echo "$out"; exit 1; }; exit 0; } || bad=1

[ $bad = 0 ] && echo "lint: clean"
exit $bad
