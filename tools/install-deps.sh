#!/usr/bin/env bash
# install-deps.sh — install what engrave needs to build and test, and nothing more.
#
# Idempotent: each Debian package is checked (pkg-config name or a file it
# ships) and only the missing ones go to one `apt-get install`. Chroma (npm) is
# installed from tools/chroma/package-lock.json only when node_modules is
# absent; PGlite with pgvector (npm) the same way from tools/pgvector/. Runs as
# root (CI, fresh machines) or through sudo when available.
#
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh --chroma   also the pinned Chroma server (npm ci)
#   tools/install-deps.sh --pgvector also the pinned PGlite + pgvector server
#                                    (npm ci: pglite-server, the pgvector tests)
#   tools/install-deps.sh --bench    also the peer benchmark tools
#   tools/install-deps.sh --chromium also headless Chromium and a font (the
#                                    report's browser test, make report-demo)
#   tools/install-deps.sh --fuzz     also clang and its libFuzzer/ASan runtime
#                                    (make fuzz, the fuzz regression test)
set -euo pipefail

want_chroma=0 want_pgvector=0 want_bench=0 want_chromium=0 want_fuzz=0
for a in "$@"; do
  case "$a" in
    --chroma) want_chroma=1 ;;
    --pgvector) want_pgvector=1 ;;
    --bench) want_bench=1; want_chroma=1 ;;
    --chromium) want_chromium=1 ;;
    --fuzz) want_fuzz=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$a'" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
missing=()

# need PKG CHECK: CHECK is "pc:NAME" (pkg-config) or "file:PATH" or "cmd:NAME"
# or "glob:PATTERN" (some file matches)
need() {
  local pkg=$1 check=$2
  case "$check" in
    glob:*) compgen -G "${check#glob:}" >/dev/null && return 0 ;;
    pc:*)   pkg-config --exists "${check#pc:}" 2>/dev/null && return 0 ;;
    file:*) [ -e "${check#file:}" ] && return 0 ;;
    cmd:*)  command -v "${check#cmd:}" >/dev/null 2>&1 && return 0 ;;
  esac
  missing+=("$pkg")
}

command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
need build-essential   cmd:gcc
need liblmdb-dev       pc:lmdb
need libcurl4-openssl-dev pc:libcurl
need libmsgpack-dev    pc:msgpack
need libopenblas-dev   pc:openblas
need libyaml-dev       pc:yaml-0.1
need libcriterion-dev  pc:criterion
need libssl-dev        pc:libcrypto
need libexpat1-dev     pc:expat
need libbz2-dev        file:/usr/include/bzlib.h
need zlib1g-dev        pc:zlib
need libjansson-dev    pc:jansson
need libhttp-parser-dev file:/usr/include/http_parser.h
need libmicrohttpd-dev pc:libmicrohttpd
need libpq-dev         pc:libpq
need bzip2             cmd:bzip2
need curl              cmd:curl
need python3           file:/usr/bin/python3
need python3-numpy     file:/usr/lib/python3/dist-packages/numpy  # tests read engrave's exports back with numpy (0300, 0850)
need nginx             file:/usr/sbin/nginx  # the remote-store tests (tests/cli/089x) serve the Bazel HTTP cache protocol with it
if [ $want_chroma = 1 ] || [ $want_pgvector = 1 ]; then
  need nodejs cmd:node
  need npm    cmd:npm
fi
if [ $want_chromium = 1 ]; then
  need chromium          file:/usr/bin/chromium
  need fonts-dejavu-core file:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fi
if [ $want_fuzz = 1 ]; then
  # Debian 12's clang is clang 14; libFuzzer and the sanitizer runtimes are
  # in libclang-rt-14-dev (a dependency of clang-14, checked on its own).
  need clang              cmd:clang
  need libclang-rt-14-dev 'glob:/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a'
fi
if [ $want_bench = 1 ]; then
  need wrk cmd:wrk
  need time            file:/usr/bin/time
  need python3-sklearn file:/usr/lib/python3/dist-packages/sklearn
  need python3-faiss   file:/usr/lib/python3/dist-packages/faiss
  need python3-httpx   file:/usr/lib/python3/dist-packages/httpx
fi

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all build dependencies present"
fi

if [ $want_chroma = 1 ]; then
  if [ ! -x "$here/chroma/node_modules/.bin/chroma" ]; then
    echo "install-deps: installing pinned Chroma (npm ci in tools/chroma)"
    (cd "$here/chroma" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if [ $want_pgvector = 1 ]; then
  if [ ! -x "$here/pgvector/node_modules/.bin/pglite-server" ]; then
    echo "install-deps: installing pinned PGlite + pgvector (npm ci in tools/pgvector)"
    (cd "$here/pgvector" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
