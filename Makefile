# engrave — build, test and install.
#
#   make                  build build/engrave (and test servers in build/tools/)
#   make test [T=glob]    install missing deps, build, run every test (or a subset)
#   make test-asan        the same under AddressSanitizer + UBSan (build-asan/)
#   make quickstart       install, build, run experiments/quickstart.yaml, print the report
#                         and write its HTML report (.engrave-quickstart/report.html)
#   make report-demo      the quickstart, then its report's screenshot in docs/report-demo.png
#   make bench            run the peer benchmarks in tools/bench/ (slow; needs --bench deps)
#   make lint             house-style checks (tools/lint.sh)
#   make fuzz-corpus      build the libFuzzer harnesses (tests/fuzz/, clang) in build-fuzz/
#                         and generate their seed corpora in build-fuzz/corpus/
#   make fuzz             run every harness for FUZZ_SECONDS (60) each
#   make fuzz-long        the same for hours (FUZZ_SECONDS 3600), keeping corpus
#                         and crashes in FUZZ_DIR (~/.cache/engrave-fuzz)
#   make install PREFIX=/usr/local
#   make clean
#
# Sources are found by wildcard: every src/<layer>/*.c except src/cli/ goes
# into build/libengrave.a; src/cli/*.c links with it into build/engrave; each
# tests/unit/test_*.c becomes one Criterion binary; each tools/<name>/ with
# .c files becomes build/tools/<name> (test servers).

# Compile on every core unless told otherwise (make -jN, or -j1 to see one
# error at a time).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= gcc
SAN     ?=
PKGS     = lmdb libcurl msgpack openblas yaml-0.1 libcrypto expat zlib jansson libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
CRIT_FLAGS := $(shell pkg-config --cflags --libs criterion 2>/dev/null)

# FUZZ=1: the libFuzzer build (clang, ASan + UBSan + coverage for libFuzzer);
# `make fuzz-corpus` runs it in build-fuzz/.
ifneq ($(FUZZ),)
CC      := clang
SAN     := 1
endif
OPT      = -O2
SANFLAGS =
ifneq ($(SAN),)
SANFLAGS = -fsanitize=address,undefined
OPT      = -O1 $(SANFLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifneq ($(FUZZ),)
OPT     += -fsanitize=fuzzer-no-link
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wno-missing-field-initializers \
           -Iinclude -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lhttp_parser -lbz2 -lm -pthread

LIB_SRC   := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC   := $(sort $(wildcard src/cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TOOL_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard tools/*/*.c))))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_BIN  := $(TOOL_DIRS:tools/%=$(BUILD)/tools/%)

.PHONY: all deps test check test-asan quickstart report-demo bench lint install clean tests tools print-link \
	fuzz-build fuzz-bins fuzz-corpus fuzz fuzz-long
# Keep intermediate objects (test .o files): no trailing "rm ..." after the
# test summary line, and no rebuilds on the next make.
.SECONDARY:
.DEFAULT_GOAL := all

all: $(BUILD)/engrave tools

tools: $(TOOL_BIN)

tests: $(TEST_BIN) $(TOOL_BIN) $(BUILD)/engrave

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# clang refuses the portable (non-AVX) variants of the SIMD kernels, which
# pass 256-bit vectors between functions; the fuzz build (never timed, run
# on the machines that build it) compiles them for AVX.
ifneq ($(FUZZ),)
$(BUILD)/obj/src/data/vec.o $(BUILD)/obj/src/data/rng.o: CFLAGS += -mavx
endif

$(BUILD)/libengrave.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/engrave: $(CLI_OBJ) $(BUILD)/libengrave.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libengrave.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(BUILD)/libengrave.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libengrave.a $(LDLIBS) $(CRIT_FLAGS) $(MHD_LIBS)

# One explicit link rule per tools/<name>/ directory.
define tool_rule
$(BUILD)/tools/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c)) $(BUILD)/libengrave.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(BUILD)/libengrave.a $$(LDLIBS) $$(MHD_LIBS)
endef
$(foreach t,$(TOOL_DIRS:tools/%=%),$(eval $(call tool_rule,$(t))))

deps:
	@tools/install-deps.sh --chroma --pgvector --chromium --fuzz

# `make test` = install what is missing, then build and run in a fresh make
# (so pkg-config flags are read after the install).
test: deps
	@$(MAKE) --no-print-directory check

check: tests
	@BUILD=$(BUILD) T='$(T)' tests/run.sh

# A small free-quarantine keeps ASan's own memory out of the tests that bound
# peak RSS (the default quarantine alone holds 256 MB of freed chunks).
test-asan: deps
	@ASAN_OPTIONS=quarantine_size_mb=8:$(ASAN_OPTIONS) $(MAKE) --no-print-directory BUILD=build-asan SAN=1 check

quickstart: deps
	@$(MAKE) --no-print-directory all
	@rm -rf .engrave-quickstart
	$(BUILD)/engrave --store .engrave-quickstart run experiments/quickstart.yaml
	@$(BUILD)/engrave --store .engrave-quickstart report -o .engrave-quickstart/report.html \
		"$$($(BUILD)/engrave --store .engrave-quickstart runs | awk 'NR == 2 { print $$1 }')" >/dev/null
	@echo "report: $(CURDIR)/.engrave-quickstart/report.html"

# The quickstart's report as a picture for the README (headless Chromium;
# tools/install-deps.sh --chromium installs it).
report-demo: quickstart
	@test -x /usr/bin/chromium || { echo "report-demo: needs /usr/bin/chromium (tools/install-deps.sh --chromium)"; exit 1; }
	/usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir=.engrave-quickstart/chromium --window-size=1280,2400 \
		--screenshot=$(CURDIR)/docs/report-demo.png file://$(CURDIR)/.engrave-quickstart/report.html 2>/dev/null
	@echo "wrote docs/report-demo.png"

bench: all
	@tools/install-deps.sh --bench
	@for b in tools/bench/*.sh; do echo "== $$b"; bash $$b || exit 1; done

# The link line for programs built outside this Makefile against
# build/libengrave.a (tools/bench/*.sh compile small drivers with it).
print-link:
	@echo $(LDLIBS)

# ---- fuzzing (tests/fuzz/, docs/HACKING.md "Fuzzing a new parser") ----------
# Each tests/fuzz/fuzz_<name>.c is one libFuzzer harness, linked against
# build-fuzz/libengrave.a (src/ built by clang with ASan + UBSan); seeds.c
# writes the seed inputs that are made by engrave's own code.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_DIR     ?= $(HOME)/.cache/engrave-fuzz
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))

fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 BUILD=$(FUZZ_BUILD) fuzz-bins

fuzz-bins: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/%) $(BUILD)/fuzz-seeds $(BUILD)/tools/engram-server

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/fuzzlib.o $(BUILD)/libengrave.a
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/obj/tests/fuzz/fuzzlib.o $(BUILD)/libengrave.a $(LDLIBS)

$(BUILD)/fuzz-seeds: $(BUILD)/obj/tests/fuzz/seeds.o $(BUILD)/obj/tests/fuzz/fuzzlib.o $(BUILD)/libengrave.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-corpus: fuzz-build
	@tests/fuzz/run.sh corpus

fuzz: fuzz-corpus
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run.sh fuzz

fuzz-long: fuzz-corpus
	@FUZZ_SECONDS=$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),3600) \
		FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run.sh long

lint:
	@tools/lint.sh

install: $(BUILD)/engrave
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/engrave $(DESTDIR)$(PREFIX)/bin/engrave
	install -m 644 docs/engrave.1 $(DESTDIR)$(PREFIX)/share/man/man1/engrave.1

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
