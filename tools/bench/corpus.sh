#!/usr/bin/env bash
# tools/bench/corpus.sh — MediaWiki reader throughput on a ~600 MB dump.
#
# Builds a synthetic dump in $BENCH_DIR (default /tmp/engrave-bench-corpus) by
# repeating the pages of experiments/data/sample-wiki.xml with fresh ids and
# titles (generated here, never committed), then runs build/tools/bench-corpus
# over it (plain XML, and bzip2 when BENCH_BZ2=1) and prints MB/s, articles/s
# and peak RSS. Goal: >= 20 MB/s of XML with memory independent of dump size.
#
#   BUILD=build-x MB=600 tools/bench/corpus.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
MB=${MB:-600}
dir=${BENCH_DIR:-/tmp/engrave-bench-corpus}
mkdir -p "$dir"
dump="$dir/dump-${MB}mb.xml"
tool="$BUILD/tools/bench-corpus"

if ! make --no-print-directory BUILD="$BUILD" "$tool" >/dev/null 2>&1; then
	# Fallback while the Makefile's tool rule cannot build this tool.
	make --no-print-directory BUILD="$BUILD" "$BUILD/libengrave.a" >/dev/null
	mkdir -p "$BUILD/tools"
	cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$tool" tools/bench-corpus/main.c "$BUILD/libengrave.a" \
		$(make -s --no-print-directory -C "$root" print-link)
fi

if [ ! -s "$dump" ]; then
	echo "generating $dump (~$MB MB) ..."
	/usr/bin/python3 - "$root/experiments/data/sample-wiki.xml" "$dump" "$MB" <<'PY'
import re, sys
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
xml = open(src, encoding="utf-8").read()
head = xml[:xml.index("<page>")]
pages = re.findall(r"  <page>.*?</page>\n", xml, re.S)
target = mb * 1000 * 1000
n, size, rnd = 0, 0, 0
with open(out, "w", encoding="utf-8") as f:
    f.write(head)
    while size < target:
        rnd += 1
        for p in pages:
            n += 1
            q = re.sub(r"<title>(.*?)</title>", lambda m: "<title>%s %d</title>" % (m.group(1), rnd), p, count=1)
            q = re.sub(r"<id>\d+</id>", "<id>%d</id>" % n, q, count=1)
            f.write(q)
            size += len(q.encode())
    f.write("</mediawiki>\n")
print("pages:", n)
PY
fi

size=$(stat -c %s "$dump")
echo "dump: $dump ($((size / 1000000)) MB)"
echo "== plain XML, reader only"
"$tool" "$dump" --min-chars 50
echo "== plain XML, reader + hashing embedder (article_embed_input, 500 chars)"
"$tool" "$dump" --min-chars 50 --embed
if [ "${BENCH_BZ2:-0}" = 1 ]; then
	[ -s "$dump.bz2" ] || bzip2 -k -1 "$dump"
	echo "== bzip2 (-1) compressed"
	"$tool" "$dump.bz2" --min-chars 50
fi
