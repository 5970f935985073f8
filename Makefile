# hakmem — one entry point for the allocator, its variants, and the suite around it: tests,
# fuzzing, stress, Larson, benchmarks, planted bugs, CI. Outputs go to build/<variant>/.
#
#   make                    release library: build/release/libhakmem.{so,a}, libhakmem_core.a
#   make test               build and run the tests; ends with "N passed, N failed"
#   make VARIANT=<v> test   the same in one variant (see VARIANTS)
#   make variants           build every variant;  make variants-test  run their tests and checks
#   make valgrind-test      the tests under memcheck;  make coverage  line/branch coverage of alloc/
#   make hooks-check        callgrind: release fast paths are identical with the tracking hooks removed
#   make hardened-test      the hardened build's suite and corpus replay (docs/hardened.md)
#   make fuzz | afl | replay | larson | stress | bench | mutants | nightly   see their sections
#   make layering-check | symbols-check | oss-fuzz-check | ci-lint           checks make test runs

VARIANTS := release hardened debug asan tsan msan valgrind fuzz sched afl cov
# (and oss-fuzz: .clusterfuzzlite/build.sh's, in the continuous-fuzzing builder's environment)
VARIANT ?= release
BUILD := build/$(VARIANT)
NPROC := $(shell nproc 2>/dev/null || echo 2)

WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=gnu11 $(WARN) -pthread -fPIC -fvisibility=hidden -g
SAN_UB := -fsanitize=undefined -fno-sanitize-recover=undefined

# Per variant: compiler, flags, and whether the malloc family is interposed (sanitizer runtimes own
# malloc, so their builds exercise hakmem through the hak_* API only).
ifeq ($(VARIANT),release)
  CC := gcc
  # Functions start on a cache line: where malloc and free begin inside a line otherwise moves
  # with unrelated code, and the fixed-size loops measured that (free at a line's middle: 0.96).
  OPT := -O2 -DNDEBUG -fno-semantic-interposition -DHAK_TAILCALL_CALLER -falign-functions=64
  INTERPOSE := yes
else ifeq ($(VARIANT),hardened)
  # Release code behind alloc/hardened.c's checks (canaries, zero-on-free, quarantine, guard
  # pages, encoded free-list links): for programs that face attackers.
  CC := gcc
  OPT := -O2 -DNDEBUG -fno-semantic-interposition -DHAK_HARDENED
  INTERPOSE := yes
else ifeq ($(VARIANT),debug)
  CC := gcc
  OPT := -O0 -DHAK_DEBUG
  INTERPOSE := yes
else ifeq ($(VARIANT),asan)
  CC := clang
  # The checking builds also check hakmem's internal assertions (HAK_DEBUG), which release and the
  # timed builds compile out.
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address $(SAN_UB) -DHAK_TRACK_ASAN -DHAK_DEBUG
  SANLD := -fsanitize=address $(SAN_UB)
  INTERPOSE := no
else ifeq ($(VARIANT),tsan)
  CC := clang
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=thread -DHAK_DEBUG
  SANLD := -fsanitize=thread
  INTERPOSE := no
  # Whole programs (Larson, the stress programs) join their workers before they exit (a stress
  # program's watchdog thread, which only reads progress counters, excepted). TSan's one-second
  # sleep at exit, for races with threads still running, is left out there: it was 9 of the
  # 28 s that make test's TSan stress and Larson runs took.
  PROGRAM_ENV := TSAN_OPTIONS="atexit_sleep_ms=0 $$TSAN_OPTIONS"
else ifeq ($(VARIANT),msan)
  # MemorySanitizer: uninitialized reads, in hakmem's own metadata and in what it hands out.
  CC := clang
  # Coverage-instrumented like the fuzz build, so the same variant serves make fuzz VARIANT=msan.
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=memory -fsanitize-memory-track-origins \
         -DHAK_TRACK_MSAN -fsanitize=fuzzer-no-link \
         -fsanitize-coverage-ignorelist=fuzz/coverage_ignore.txt
  SANLD := -fsanitize=memory
  INTERPOSE := no
else ifeq ($(VARIANT),valgrind)
  CC := gcc
  OPT := -O1 -DHAK_TRACK_VALGRIND
  INTERPOSE := yes
else ifeq ($(VARIANT),fuzz)
  CC := clang
  # Edges, not comparison operands: the op format reaches tier edges by its sizes (and 25 % more
  # executions a second).
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address -fno-sanitize-coverage=trace-cmp \
         $(SAN_UB) -DHAK_TRACK_ASAN \
         -DHAK_DEBUG -fsanitize-coverage-ignorelist=fuzz/coverage_ignore.txt
  SANLD := -fsanitize=address $(SAN_UB)
  INTERPOSE := no
else ifeq ($(VARIANT),sched)
  # The fuzz build plus scheduling points: race ops interleave threads deterministically.
  CC := clang
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address -fno-sanitize-coverage=trace-cmp \
         $(SAN_UB) -DHAK_TRACK_ASAN -DHAK_SCHED -DHAK_DEBUG -fsanitize-coverage-ignorelist=fuzz/coverage_ignore.txt
  SANLD := -fsanitize=address $(SAN_UB)
  INTERPOSE := no
else ifeq ($(VARIANT),afl)
  CC := afl-clang-fast
  OPT := -O1 -fno-omit-frame-pointer -DHAK_TRACK_ASAN
  SANLD := -fsanitize=address
  INTERPOSE := no
  export AFL_USE_ASAN := 1
  export AFL_QUIET := 1
else ifeq ($(VARIANT),oss-fuzz)
  # .clusterfuzzlite/build.sh's build, inside the OSS-Fuzz / ClusterFuzzLite builder: its CC and
  # CFLAGS (optimization, sanitizer and coverage flags already in) come from its environment and
  # go after hakmem's, so its choices win; hakmem's sanitizer hooks follow its SANITIZER. No
  # -Werror: a warning that the builder's newer clang adds must not stop continuous fuzzing.
  ifeq ($(origin CC),default)
    $(error VARIANT=oss-fuzz is built by .clusterfuzzlite/build.sh, with the builder's CC and CFLAGS)
  endif
  BASE_CFLAGS := $(filter-out -Werror,$(BASE_CFLAGS))
  OPT := $(CFLAGS) $(if $(filter address,$(SANITIZER)),-DHAK_TRACK_ASAN) \
         $(if $(filter memory,$(SANITIZER)),-DHAK_TRACK_MSAN) $(OSS_FUZZ_IGNORE_FLAGS)
  INTERPOSE := no
else ifeq ($(VARIANT),cov)
  CC := clang
  OPT := -O0 -fprofile-instr-generate -fcoverage-mapping -DHAK_COVERAGE
  SANLD := -fprofile-instr-generate
  INTERPOSE := yes
  export LLVM_PROFILE_FILE := $(abspath build/cov)/profiles/%p.profraw
else
  $(error unknown VARIANT '$(VARIANT)'; known: $(VARIANTS))
endif

CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS_ALL := -pthread $(SANLD) -ldl -lm

# The one list of the library's sources per variant: every build of the library (each variant,
# the clang check, .clusterfuzzlite/build.sh through VARIANT=oss-fuzz) takes it from here.
# alloc/hardened.c (the public entry points) and free_link.c are the hardened build's only.
CORE_SRCS := $(filter-out alloc/interpose.c $(if $(filter hardened,$(VARIANT)),,alloc/hardened.c alloc/free_link.c),\
    $(sort $(wildcard alloc/*.c)))
HEADERS := $(wildcard alloc/*.h)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
INTERPOSE_OBJ := $(BUILD)/obj/alloc/interpose.o

# The shipped archives, and the internal ones in-tree programs that look inside the allocator
# (unit tests, the test harness) link.
CORE_LIB := $(BUILD)/libhakmem_core.a
FULL_LIB := $(BUILD)/libhakmem.a
INTERNAL_CORE_LIB := $(BUILD)/internal/libhakmem_core.a
INTERNAL_FULL_LIB := $(BUILD)/internal/libhakmem.a
ifeq ($(INTERPOSE),yes)
  LIBS := $(BUILD)/libhakmem.so $(FULL_LIB) $(CORE_LIB) $(INTERNAL_FULL_LIB) $(INTERNAL_CORE_LIB)
else
  LIBS := $(CORE_LIB) $(INTERNAL_CORE_LIB)
endif

.PHONY: all lib tests check test clean format format-check compilers-check variants \
        variants-test valgrind-test coverage hooks-check ensure-afl hardened-test
.DEFAULT_GOAL := all

all: lib

lib: $(LIBS)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $<  [$(VARIANT)]"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

# libhakmem_core.a: the hak_* API only (libc's malloc stays). libhakmem.a / .so: plus the malloc
# family. A shipped archive is one object, linked from every module's (ld -r) with the hidden
# symbols made local: its only global symbols are the public API, so no name a program defines
# can clash with an internal one (the shared library hides them by visibility). The internal
# archives keep every module's object as it is.
SHIP_ARCHIVE = @echo "  AR $@"; rm -rf $@ $@.d && mkdir -p $@.d && \
    ld -r -o $@.d/hakmem.o $(filter %.o,$^) && \
    objcopy --localize-hidden $@.d/hakmem.o && ar rcs $@ $@.d/hakmem.o && rm -rf $@.d
# (They are rebuilt when the Makefile changes: their recipe is not a plain ar.)
$(CORE_LIB): $(CORE_OBJS) Makefile
	$(SHIP_ARCHIVE)
$(FULL_LIB): $(CORE_OBJS) $(INTERPOSE_OBJ) Makefile
	$(SHIP_ARCHIVE)

$(INTERNAL_CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^
$(INTERNAL_FULL_LIB): $(CORE_OBJS) $(INTERPOSE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^

# The version is written once, in alloc/hakmem.h; the soname carries its major number (and the
# hardened build's its own name: it installs next to release as libhakmem-hardened).
SONAME_BASE := $(if $(filter hardened,$(VARIANT)),libhakmem-hardened,libhakmem)
VERSION_PART = $(shell sed -n 's/^\#define HAKMEM_VERSION_$(1) //p' alloc/hakmem.h)
HAK_MAJOR := $(call VERSION_PART,MAJOR)
HAK_MINOR := $(call VERSION_PART,MINOR)
HAK_VERSION := $(HAK_MAJOR).$(HAK_MINOR).$(call VERSION_PART,PATCH)

$(BUILD)/libhakmem.so: $(CORE_OBJS) $(INTERPOSE_OBJ)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,$(SONAME_BASE).so.$(HAK_MAJOR) -Wl,-z,now $^ -o $@ \
	    $(LDFLAGS_ALL)

# bin/hakmem: runs a program with libhakmem preloaded; its flags come from alloc/option_table.h.
$(BUILD)/hakmem: launcher/hakmem.c alloc/option_table.h alloc/hakmem.h
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -Ialloc $< -o $@

# ---- install ------------------------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the release build, as the allocators people already
# use ship it. make uninstall removes exactly what install added (directories install created,
# the prefix itself included, as listed in share/hakmem/created-dirs), leaving it as it was.
PREFIX ?= /usr/local
INSTALL_ROOT = $(DESTDIR)$(PREFIX)
INSTALL_DIRS := lib lib/pkgconfig include bin share share/hakmem
INSTALLED_FILES := lib/libhakmem.so.$(HAK_MAJOR).$(HAK_MINOR) lib/libhakmem.so.$(HAK_MAJOR) \
    lib/libhakmem.so lib/libhakmem.a lib/libhakmem_core.a include/hakmem.h \
    lib/libhakmem-hardened.so.$(HAK_MAJOR).$(HAK_MINOR) lib/libhakmem-hardened.so.$(HAK_MAJOR) \
    lib/libhakmem-hardened.so lib/libhakmem-hardened.a lib/pkgconfig/hakmem-hardened.pc \
    lib/pkgconfig/hakmem.pc lib/pkgconfig/hakmem-core.pc bin/hakmem share/hakmem/created-dirs

define PC_FILE
prefix=$(PREFIX)
libdir=$${prefix}/lib
includedir=$${prefix}/include

Name: $(1)
Description: $(2)
Version: $(HAK_VERSION)
Cflags: -I$${includedir}
Libs: -L$${libdir} $(3)
endef
export PC_HAKMEM = $(call PC_FILE,hakmem,hakmem: a fast multithreaded malloc (replaces the malloc family),-lhakmem)
export PC_CORE = $(call PC_FILE,hakmem-core,hakmem API only (hak_malloc and friends; libc malloc stays),-lhakmem_core -pthread -ldl -lm)
export PC_HARDENED = $(call PC_FILE,hakmem-hardened,hakmem hardened build: canaries / quarantine / guard pages (replaces the malloc family),-lhakmem-hardened)

.PHONY: install uninstall install-check
install:
	@$(MAKE) --no-print-directory VARIANT=release lib build/release/hakmem
	@$(MAKE) --no-print-directory VARIANT=hardened lib
	@created=""; [ -d "$(INSTALL_ROOT)" ] || created=.; \
	    for d in $(INSTALL_DIRS); do [ -d "$(INSTALL_ROOT)/$$d" ] || created="$$created $$d"; \
	    mkdir -p "$(INSTALL_ROOT)/$$d"; done; \
	    [ -s "$(INSTALL_ROOT)/share/hakmem/created-dirs" ] || \
	        printf '%s\n' $$created >"$(INSTALL_ROOT)/share/hakmem/created-dirs"
	@install -m 755 build/release/libhakmem.so "$(INSTALL_ROOT)/lib/libhakmem.so.$(HAK_MAJOR).$(HAK_MINOR)"
	@ln -sf libhakmem.so.$(HAK_MAJOR).$(HAK_MINOR) "$(INSTALL_ROOT)/lib/libhakmem.so.$(HAK_MAJOR)"
	@ln -sf libhakmem.so.$(HAK_MAJOR) "$(INSTALL_ROOT)/lib/libhakmem.so"
	@install -m 644 build/release/libhakmem.a build/release/libhakmem_core.a "$(INSTALL_ROOT)/lib/"
	@install -m 755 build/hardened/libhakmem.so \
	    "$(INSTALL_ROOT)/lib/libhakmem-hardened.so.$(HAK_MAJOR).$(HAK_MINOR)"
	@ln -sf libhakmem-hardened.so.$(HAK_MAJOR).$(HAK_MINOR) "$(INSTALL_ROOT)/lib/libhakmem-hardened.so.$(HAK_MAJOR)"
	@ln -sf libhakmem-hardened.so.$(HAK_MAJOR) "$(INSTALL_ROOT)/lib/libhakmem-hardened.so"
	@install -m 644 build/hardened/libhakmem.a "$(INSTALL_ROOT)/lib/libhakmem-hardened.a"
	@printf '%s\n' "$$PC_HARDENED" >"$(INSTALL_ROOT)/lib/pkgconfig/hakmem-hardened.pc"
	@install -m 644 alloc/hakmem.h "$(INSTALL_ROOT)/include/hakmem.h"
	@printf '%s\n' "$$PC_HAKMEM" >"$(INSTALL_ROOT)/lib/pkgconfig/hakmem.pc"
	@printf '%s\n' "$$PC_CORE" >"$(INSTALL_ROOT)/lib/pkgconfig/hakmem-core.pc"
	@install -m 755 build/release/hakmem "$(INSTALL_ROOT)/bin/hakmem"
	@echo "installed hakmem $(HAK_VERSION) into $(INSTALL_ROOT)"

uninstall:
	@dirs=$$(cat "$(INSTALL_ROOT)/share/hakmem/created-dirs" 2>/dev/null); \
	    for f in $(INSTALLED_FILES); do rm -f "$(INSTALL_ROOT)/$$f"; done; \
	    for d in $$(printf '%s\n' $$dirs | sort -r); do p="$(INSTALL_ROOT)"; [ "$$d" = . ] || p="$$p/$$d"; \
	        rmdir "$$p" 2>/dev/null || true; done; \
	    echo "removed hakmem from $(INSTALL_ROOT)"

# Installs into a temporary DESTDIR and uses it as a user would (tests/install_check.sh).
install-check:
	@tests/install_check.sh

# ---- tests --------------------------------------------------------------------------------------
# tests/unit: one module at a time (internal headers allowed); tests/integration: whole-API
# behaviour. Every test links the hak_* API only (libhakmem_core.a) and so runs in every variant,
# except *_interposed tests, which link the malloc family too and run where it is interposed.
# tests/variants/<variant>_*.c: checks that a variant's tool sees hakmem memory.

ALL_TEST_SRCS := $(sort $(wildcard tests/unit/*.c tests/integration/*.c))
ifeq ($(VARIANT),hardened)
  # Unit tests and drain_order look inside the allocator's own layout and reuse order, which the
  # hardened layer changes on purpose; tests/hardened checks what it promises instead.
  TEST_SRCS := $(filter-out tests/integration/drain_order.c,$(wildcard tests/integration/*.c)) \
               $(sort $(wildcard tests/hardened/*.c))
else ifeq ($(INTERPOSE),yes)
  TEST_SRCS := $(ALL_TEST_SRCS)
else
  TEST_SRCS := $(filter-out %_interposed.c,$(ALL_TEST_SRCS))
endif
TEST_SRCS += $(sort $(wildcard tests/variants/$(VARIANT)_*.c))
# The longest binaries (measured in each variant) start first: run_tests.sh fills a core as soon
# as one frees, so a suite no longer ends on one long binary running alone.
LONG_TESTS := misuse_policies fork_safety thread_churn cross_thread_frees heap_check_reports
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_BINS := $(foreach t,$(LONG_TESTS),$(filter %/$(t),$(TEST_BINS))) \
             $(filter-out $(addprefix %/,$(LONG_TESTS)),$(TEST_BINS))
# make check TEST_SKIP="name ...": leaves those test binaries out of this run (make test's TSan
# suite leaves out the ones whose threads never run at once, where TSan has nothing to see).
TEST_BINS := $(filter-out $(addprefix %/,$(TEST_SKIP)),$(TEST_BINS))
HARNESS := tests/harness/test_main.c
HARNESS_HEADERS := tests/harness/test.h tests/harness/slab_of.h
TEST_CFLAGS := $(CFLAGS_ALL) -Ialloc -Itests/harness

# The harness is compiled once per variant (twice: the interposed tests' copy), not into every
# test binary: 0.25 s a compile, 26 tests, five variants. It includes the library's headers:
# rebuilt when they change.
$(BUILD)/harness/test_main.o: $(HARNESS) $(HARNESS_HEADERS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) -c $< -o $@
$(BUILD)/harness/test_main_interposed.o: $(HARNESS) $(HARNESS_HEADERS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) -DTEST_INTERPOSED -c $< -o $@

$(BUILD)/tests/%_interposed: tests/%_interposed.c $(BUILD)/harness/test_main_interposed.o \
    $(HARNESS_HEADERS) $(INTERNAL_FULL_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) -DTEST_INTERPOSED $< $(BUILD)/harness/test_main_interposed.o \
	    -Wl,--whole-archive $(INTERNAL_FULL_LIB) -Wl,--no-whole-archive -o $@ $(LDFLAGS_ALL)

# A test is compiled (against the library's headers) apart from its link (against the library):
# a change to a source of alloc/ relinks the tests and recompiles none (make mutants pays that
# for every planted bug, in every variant).
.PRECIOUS: $(BUILD)/tests/%.o
$(BUILD)/tests/%.o: tests/%.c $(HARNESS_HEADERS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) -c $< -o $@
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/harness/test_main.o $(INTERNAL_CORE_LIB)
	@echo "  LD $@"
	@$(CC) $(TEST_CFLAGS) $< $(BUILD)/harness/test_main.o $(INTERNAL_CORE_LIB) -o $@ \
	    $(LDFLAGS_ALL)

# Helper programs run by the tests: misuse_case and guard_case link the hak_* API (any variant);
# the rest exercise interposition (LD_PRELOAD, static linking, C++).
PROGRAMS := $(BUILD)/tests/programs/misuse_case $(BUILD)/tests/programs/guard_case \
            $(BUILD)/tests/programs/aligned_case $(BUILD)/tests/programs/options_case \
            $(BUILD)/tests/programs/key_case
ifeq ($(VARIANT),valgrind)
  PROGRAMS += $(BUILD)/tests/programs/memcheck_case
endif
ifeq ($(VARIANT),hardened)
  PROGRAMS += $(BUILD)/tests/programs/hardened_case $(BUILD)/tests/programs/allocation_forms_cxx
endif
ifeq ($(INTERPOSE),yes)
  PROGRAMS += $(BUILD)/tests/programs/first_alloc_in_thread_static \
              $(BUILD)/tests/programs/first_alloc_dlsym $(BUILD)/tests/programs/map_threads_cxx
endif

$(BUILD)/tests/programs/%: tests/programs/%.c $(INTERNAL_CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) -Ialloc $< $(INTERNAL_CORE_LIB) -o $@ $(LDFLAGS_ALL)
$(BUILD)/tests/programs/first_alloc_dlsym: tests/programs/first_alloc_dlsym.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 $< -o $@ -ldl
$(BUILD)/tests/programs/%_static: tests/programs/%.c $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) -Ialloc $< $(BUILD)/libhakmem.a -o $@ $(LDFLAGS_ALL)
$(BUILD)/tests/programs/%_cxx: tests/programs/%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX $@"
	@g++ -std=gnu++17 $(WARN) -O2 -pthread $< -o $@

ifeq ($(VARIANT),release)
  WHOLE_PROGRAM_TESTS := tests/preload/run.sh $(BUILD)
endif

tests: lib $(TEST_BINS) $(PROGRAMS)

# `make check`: build and run this variant's tests. `make test` in release runs the release
# suite, the ASan, TSan and valgrind-variant suites (shorter timed tests there) and the compiler
# check, and ends with one total; in other variants it is `make check`.
check: tests
	@tests/run_tests.sh $(BUILD) $(TEST_BINS) -- $(WHOLE_PROGRAM_TESTS)

# The test binaries make check runs in this variant (TEST_SKIP applied), longest first.
.PHONY: test-bins
test-bins:
	@echo $(TEST_BINS)

ifeq ($(VARIANT),release)
test:
	@tests/test_all.sh
else
test: check
endif

# The hardened build: its suite (the misuse catalogue in every tier, the whole-API tests) and a
# replay of every corpus program through its checks.
hardened-test:
	@$(MAKE) --no-print-directory VARIANT=hardened check
	@$(MAKE) --no-print-directory -s VARIANT=hardened build/hardened/replay
	@echo "== replay (hardened)"
	@build/hardened/replay corpus/ops corpus/regress

compilers-check:
	@if $(MAKE) --no-print-directory -s lib BUILD=build/release-clang CC=clang \
	    OPT="-O2 -DNDEBUG" >/dev/null; then echo "PASS library_builds_warning_free_with_clang"; \
	    else echo "FAIL library_builds_warning_free_with_clang"; exit 1; fi

# Everything make test runs, built first with every core (the runs themselves are sequential):
# one sub-make per part under one job server, so that no part's last compiles and links leave a
# core idle while the next part waits.
TEST_BUILD_PARTS := release asan tsan valgrind hardened sched fuzz clang target
.PHONY: test-build $(addprefix test-build-,$(TEST_BUILD_PARTS))
test-build: build/fuzz/seeds/.stamp
	@$(MAKE) --no-print-directory -j$(NPROC) $(addprefix test-build-,$(TEST_BUILD_PARTS))
test-build-release test-build-asan test-build-tsan:
	@$(MAKE) --no-print-directory VARIANT=$(@:test-build-%=%) tests \
	    build/$(@:test-build-%=%)/replay build/$(@:test-build-%=%)/larson stress-bins
test-build-valgrind test-build-hardened:
	@$(MAKE) --no-print-directory VARIANT=$(@:test-build-%=%) tests build/$(@:test-build-%=%)/replay
test-build-sched:
	@$(MAKE) --no-print-directory VARIANT=sched build/sched/replay
test-build-fuzz:
	@$(MAKE) --no-print-directory VARIANT=fuzz build/fuzz/fuzz_ops
test-build-target:
	@$(MAKE) --no-print-directory build/target/replay build/opsc build/refalloc/librefalloc.so \
	    build/refalloc/librefalloc-class-edge-off-by-one.so \
	    build/refalloc/librefalloc-calloc-no-overflow.so build/conformance/malloc_api \
	    $(patsubst tests/targets/%.c,build/targets/%.so,$(wildcard tests/targets/*.c))
test-build-clang:
	@$(MAKE) --no-print-directory -s lib BUILD=build/release-clang CC=clang OPT="-O2 -DNDEBUG" \
	    >/dev/null

# ---- variants -----------------------------------------------------------------------------------

ensure-afl:
	@command -v afl-clang-fast >/dev/null 2>&1 || { \
	    echo "installing afl++ (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++) \
	        >/dev/null || { echo "could not install afl++"; exit 1; }; }

variants: ensure-afl
	@for v in $(VARIANTS); do $(MAKE) --no-print-directory VARIANT=$$v tests || exit 1; done

variants-test: ensure-afl
	@fail=0; for v in $(VARIANTS); do echo "=== $$v"; \
	    $(MAKE) --no-print-directory VARIANT=$$v check || fail=1; done; \
	    $(MAKE) --no-print-directory valgrind-test || fail=1; \
	    $(MAKE) --no-print-directory hooks-check || fail=1; exit $$fail

# Every test under memcheck (the valgrind variant's client requests make hakmem blocks visible);
# any memcheck error or definite leak fails the run.
VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
            --soname-synonyms=somalloc=nouserintercepts \
            --show-leak-kinds=definite
# fork_safety is left out: a child of a multithreaded fork legitimately loses the blocks other
# threads held in registers at the fork, which memcheck rightly calls definitely lost.
VALGRIND_TESTS := $(filter-out tests/integration/fork_safety.c,$(ALL_TEST_SRCS))
valgrind-test:
	@$(MAKE) --no-print-directory VARIANT=valgrind tests
	@TEST_SECONDS=2 TEST_CHURN_THREADS=400 VALGRIND_RUN="$(VALGRIND)" \
	    tests/run_tests.sh build/valgrind $(patsubst tests/%.c,build/valgrind/tests/%,\
	    $(VALGRIND_TESTS))

# Coverage of alloc/ by the test suite, the stress programs, a Larson run in check mode and a
# replay of every corpus program (COVERAGE_TESTS=0: the corpus replay alone).
COV_DIR := build/cov
COVERAGE_TESTS ?= 1
COV_STRESS = $(patsubst stress/%.c,$(COV_DIR)/stress/%,$(STRESS_SRCS))
coverage:
	@$(MAKE) --no-print-directory VARIANT=cov tests build/cov/replay stress-bins build/cov/larson
	@rm -rf $(COV_DIR)/profiles && mkdir -p $(COV_DIR)/profiles
	@if [ "$(COVERAGE_TESTS)" = 1 ]; then export LLVM_PROFILE_FILE=$(abspath $(COV_DIR))/profiles/%p.profraw; \
	    TEST_SECONDS=2 TEST_CHURN_THREADS=1000 tests/run_tests.sh $(COV_DIR) \
	    $(patsubst tests/%.c,$(COV_DIR)/tests/%,$(ALL_TEST_SRCS)) >/dev/null || true; \
	    STRESS_SECONDS=1 tests/run_tests.sh $(COV_DIR) $(COV_STRESS) >/dev/null || true; \
	    $(COV_DIR)/larson threads=2 seconds=1 check=1 >/dev/null || true; fi
	@LLVM_PROFILE_FILE=$(abspath $(COV_DIR))/profiles/%p.profraw $(COV_DIR)/replay corpus/ops \
	    corpus/regress >/dev/null 2>&1 || true
	@llvm-profdata merge -sparse $(COV_DIR)/profiles/*.profraw -o $(COV_DIR)/hakmem.profdata
	@set -e; bins="$(COV_DIR)/replay $(patsubst tests/%.c,$(COV_DIR)/tests/%,$(ALL_TEST_SRCS)) \
	    $(COV_DIR)/tests/programs/misuse_case $(COV_DIR)/tests/programs/guard_case \
	    $(if $(filter 1,$(COVERAGE_TESTS)),$(COV_STRESS) $(COV_DIR)/larson)"; \
	    first=$${bins%% *}; objs=$$(for t in $${bins#* }; do echo "-object $$t"; done); \
	    llvm-cov report $$first $$objs -instr-profile=$(COV_DIR)/hakmem.profdata \
	        -show-branch-summary alloc/*.c alloc/*.h >$(COV_DIR)/report.txt; \
	    llvm-cov show $$first $$objs -instr-profile=$(COV_DIR)/hakmem.profdata -format=html \
	        -show-branches=count -output-dir=$(COV_DIR)/html alloc/*.c alloc/*.h >/dev/null; \
	    llvm-cov export $$first $$objs -instr-profile=$(COV_DIR)/hakmem.profdata -format=lcov \
	        alloc/*.c alloc/*.h >$(COV_DIR)/hakmem.lcov; \
	    cat alloc/*.[ch] | sha1sum >$(COV_DIR)/hakmem.lcov.sources; \
	    tail -1 $(COV_DIR)/report.txt | awk '{ printf "coverage of alloc/: lines %s, branches %s, functions %s, regions %s\n", $$10, $$13, $$7, $$4 }'; \
	    echo "per-file table: $(COV_DIR)/report.txt; HTML: $(COV_DIR)/html/index.html; lcov: $(COV_DIR)/hakmem.lcov"

# The release fast paths must not change when the tracking hooks are removed altogether.
hooks-check: lib
	@$(MAKE) --no-print-directory -s lib BUILD=build/release-nohooks \
	    EXTRA_CFLAGS=-DHAK_NO_TRACK_HOOKS >/dev/null
	@tests/hooks_check.sh build/release/libhakmem.so build/release-nohooks/libhakmem.so

# ---- Larson and stress ----------------------------------------------------------------------------
# make larson THREADS=4 [SECONDS=5] [CHECK=0|1] [ALLOC=hakmem|system|mimalloc|jemalloc|tcmalloc]
#             [VARIANT=release|asan|tsan] [ROUNDS=N]
# make stress [STRESS_SECONDS=N] [VARIANT=...]

THREADS ?= 4
SECONDS ?= 5
CHECK ?= 1
ALLOC ?= hakmem
# Sanitizer builds run ~100x slower: fewer rounds per thread so threads still hand over and die.
ifeq ($(INTERPOSE),yes)
ROUNDS ?= 100
else
ROUNDS ?= 2
endif

ifeq ($(INTERPOSE),yes)
$(BUILD)/larson: larson/larson.c bench/peak_rss.h
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -g -pthread -Ibench $< -o $@ -ldl
else
$(BUILD)/larson: larson/larson.c bench/peak_rss.h $(BUILD)/libhakmem_core.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) -DLARSON_HAK_API -Ialloc -Ibench $< $(BUILD)/libhakmem_core.a -o $@ $(LDFLAGS_ALL)
endif

.PHONY: larson stress
larson: lib $(BUILD)/larson
	@$(PROGRAM_ENV) larson/run.sh $(BUILD)/larson $(ALLOC) $(THREADS) $(SECONDS) $(CHECK) $(ROUNDS)

STRESS_SRCS := $(sort $(wildcard stress/*.c))
STRESS_BINS := $(patsubst stress/%.c,$(BUILD)/stress/%,$(STRESS_SRCS))
STRESS_HDRS := $(wildcard stress/*.h)

# Stress programs call the hak_* API (libc's malloc stays libc's: foreign_free needs it), except
# alignment_sweep, which in variants with interposition also sweeps the libc aligned APIs.
$(BUILD)/stress/%: stress/%.c $(STRESS_HDRS) $(BUILD)/libhakmem_core.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) -Ialloc $< $(BUILD)/libhakmem_core.a -o $@ $(LDFLAGS_ALL)
ifeq ($(INTERPOSE),yes)
$(BUILD)/stress/alignment_sweep: stress/alignment_sweep.c $(STRESS_HDRS) $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) -DSTRESS_INTERPOSED -Ialloc $< -Wl,--whole-archive $(BUILD)/libhakmem.a \
	    -Wl,--no-whole-archive -o $@ $(LDFLAGS_ALL)
endif

.PHONY: stress-bins
stress-bins: $(STRESS_BINS)

stress: $(STRESS_BINS)
	@echo "stress programs, $(VARIANT), $${STRESS_SECONDS:-5} s each"
	@$(PROGRAM_ENV) tests/run_tests.sh $(BUILD) $(STRESS_BINS)

# ---- benchmarks --------------------------------------------------------------------------------
# make bench [BENCH_QUICK=1] [REPS=N] [BENCH_THREADS="1 2 4 8 16"]: every bench for hakmem, glibc
# and Debian's mimalloc, jemalloc and tcmalloc (LD_PRELOAD on one binary), interleaved; medians,
# peak RSS, build/bench/results.{csv,md} and gnuplot charts.

BENCH_PROGS := fixed_size random_mixed xthread m2m realloc_grow large huge_churn thread_churn \
               alloc_heavy
BENCH_BINS := $(BENCH_PROGS:%=build/bench/bin/%) build/bench/bin/larson
BENCH_PKGS := /usr/lib/x86_64-linux-gnu/libmimalloc.so.2:libmimalloc2.0 \
              /usr/lib/x86_64-linux-gnu/libjemalloc.so.2:libjemalloc2 \
              /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4:libtcmalloc-minimal4 \
              /usr/bin/gnuplot:gnuplot-nox

build/bench/bin/%: bench/%.c bench/bench_common.h bench/peak_rss.h
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@gcc -std=gnu11 $(WARN) -O2 -pthread $< -o $@
build/bench/bin/larson: larson/larson.c bench/peak_rss.h
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@gcc -std=gnu11 $(WARN) -O2 -pthread -Ibench $< -o $@ -ldl

.PHONY: bench bench-deps
bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do [ -e "$${p%%:*}" ] || missing="$$missing $${p#*:}"; done; \
	    if [ -n "$$missing" ]; then echo "installing$$missing (Debian packages)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	        >/dev/null || { echo "could not install$$missing"; exit 1; }; fi

bench: bench-deps
	@$(MAKE) --no-print-directory VARIANT=release lib $(BENCH_BINS)
	@$(MAKE) --no-print-directory VARIANT=hardened lib
	@python3 bench/run.py

# ---- fuzzing -------------------------------------------------------------------------------------
# One op-sequence interpreter (fuzz/interpreter.c) with three drivers: libFuzzer (build/fuzz/
# fuzz_ops), AFL++ persistent mode (build/afl/afl_ops) and replay (build/<variant>/replay). Seeds
# are the text programs in corpus/ops and corpus/regress, compiled into build/fuzz/seeds.

FUZZ_SECONDS ?= 300
JOBS ?= $(NPROC)
INTERP_SRCS := fuzz/interpreter.c fuzz/ops_format.c fuzz/race_sched.c fuzz/target_linked.c
INTERP_HDRS := fuzz/interpreter.h fuzz/ops_format.h fuzz/race_sched.h fuzz/target.h
# The interpreter of the sched build drives the scheduler: it needs the same define.
INTERP_DEFS := -DHAK_FUZZ_HEAP_CHECK $(if $(filter sched,$(VARIANT)),-DHAK_SCHED)
CORPUS_TEXT := $(sort $(wildcard corpus/ops/*.txt corpus/regress/*.txt))

$(BUILD)/replay: fuzz/replay.c $(INTERP_SRCS) $(INTERP_HDRS) $(BUILD)/libhakmem_core.a
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) $(INTERP_DEFS) -Ialloc -Ifuzz fuzz/replay.c $(INTERP_SRCS) \
	    $(BUILD)/libhakmem_core.a -o $@ $(LDFLAGS_ALL)

build/opsc: fuzz/opsc.c fuzz/ops_format.c fuzz/ops_format.h
	@mkdir -p build
	@echo "  CC $@"
	@gcc -std=gnu11 $(WARN) -O2 fuzz/opsc.c fuzz/ops_format.c -o $@

# Binary seeds for the fuzzers, compiled from the text corpora.
build/fuzz/seeds/.stamp: build/opsc $(CORPUS_TEXT)
	@rm -rf build/fuzz/seeds && mkdir -p build/fuzz/seeds
	@for f in $(CORPUS_TEXT); do \
	    build/opsc compile $$f build/fuzz/seeds/$$(basename $$(dirname $$f))-$$(basename $$f .txt) \
	    || exit 1; done
	@touch $@

ifneq ($(filter fuzz sched msan,$(VARIANT)),)
# The interpreter itself is not coverage-instrumented: libFuzzer's signal is the allocator's code.
FUZZ_SANITIZE := $(if $(filter msan,$(VARIANT)),-fsanitize=memory \
                 -fsanitize-memory-track-origins,-fsanitize=address $(SAN_UB))
$(BUILD)/fuzz_ops: fuzz/driver_libfuzzer.c $(INTERP_SRCS) $(INTERP_HDRS) $(BUILD)/libhakmem_core.a
	@echo "  CC $@"
	@mkdir -p $(BUILD)/obj/fuzz
	@for f in $(INTERP_SRCS); do clang $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer \
	    $(FUZZ_SANITIZE) $(INTERP_DEFS) -Ialloc -Ifuzz -c $$f \
	    -o $(BUILD)/obj/$${f%.c}.o || exit 1; done
	@clang $(BASE_CFLAGS) -O1 -fsanitize=fuzzer $(FUZZ_SANITIZE) -Ialloc -Ifuzz $< \
	    $(patsubst %.c,$(BUILD)/obj/%.o,$(INTERP_SRCS)) $(BUILD)/libhakmem_core.a -o $@ \
	    $(LDFLAGS_ALL)
endif
ifeq ($(VARIANT),oss-fuzz)
# The objects .clusterfuzzlite/build.sh links with the engine ($LIB_FUZZING_ENGINE, by its $CXX):
# the library and the interpreter with the libFuzzer entry point (AFL++'s driver library calls
# it too). The interpreter stays out of the coverage signal by the ignore list build.sh passes.
OSS_FUZZ_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(INTERP_SRCS) fuzz/driver_libfuzzer.c)
$(OSS_FUZZ_OBJS): CFLAGS_ALL += $(INTERP_DEFS) -Ialloc -Ifuzz
$(OSS_FUZZ_OBJS): $(INTERP_HDRS)
.PHONY: oss-fuzz-objs
oss-fuzz-objs: $(INTERNAL_CORE_LIB) $(OSS_FUZZ_OBJS)
	@echo $(abspath $(OSS_FUZZ_OBJS) $(INTERNAL_CORE_LIB)) >$(BUILD)/link-inputs
endif
ifeq ($(VARIANT),afl)
$(BUILD)/afl_ops: fuzz/driver_afl.c $(INTERP_SRCS) $(INTERP_HDRS) $(BUILD)/libhakmem_core.a
	@echo "  CC $@"
	@$(CC) $(CFLAGS_ALL) $(INTERP_DEFS) -Ialloc -Ifuzz $< $(INTERP_SRCS) \
	    $(BUILD)/libhakmem_core.a -o $@ $(LDFLAGS_ALL)
endif

# make fuzz|replay TARGET=NAME: the same interpreter with no hakmem linked in, testing the
# allocator fuzz/target_lib.sh names (glibc, mimalloc, jemalloc, tcmalloc, scudo, hakmem,
# hakmem-hardened, or a library's path), loaded at run time (fuzz/target_loaded.c). Built without
# ASan, whose runtime would reserve the address space the out-of-memory ops limit; the
# interpreter itself is what libFuzzer's coverage sees.
# STRICT_C=1: hold the target to what C allows, not to glibc's documented choices.
ifdef STRICT_C
export HAKMEM_FUZZ_STRICT_C := $(STRICT_C)
endif
TARGET_INTERP_SRCS := $(filter-out fuzz/target_linked.c,$(INTERP_SRCS)) fuzz/target_loaded.c
TARGET_CFLAGS := $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer $(SAN_UB) -Ialloc -Ifuzz
build/target/fuzz_ops: fuzz/driver_libfuzzer.c $(TARGET_INTERP_SRCS) $(INTERP_HDRS)
	@mkdir -p build/target
	@echo "  CC $@"
	@clang $(TARGET_CFLAGS) -fsanitize=fuzzer $< $(TARGET_INTERP_SRCS) -o $@ -ldl
build/target/replay: fuzz/replay.c $(TARGET_INTERP_SRCS) $(INTERP_HDRS)
	@mkdir -p build/target
	@echo "  CC $@"
	@clang $(TARGET_CFLAGS) $< $(TARGET_INTERP_SRCS) -o $@ -ldl
# The reference allocator the suite is proven on (tests/refalloc/refalloc.c): clean, and with one
# of its switchable bugs each (build/refalloc/librefalloc-<bug>.so: the REFALLOC_BUG_ name in
# lower case, words joined by "-").
build/refalloc/librefalloc.so: tests/refalloc/refalloc.c
	@mkdir -p build/refalloc
	@echo "  CC $@"
	@clang $(BASE_CFLAGS) -O1 -shared $< -o $@
build/refalloc/librefalloc-%.so: tests/refalloc/refalloc.c
	@mkdir -p build/refalloc
	@echo "  CC $@"
	@clang $(BASE_CFLAGS) -O1 -shared -DREFALLOC_BUG_$(shell echo '$*' | tr a-z- A-Z_) $< -o $@
# What any malloc promises, as a whole program (tests/conformance/malloc_api.c): run plain for
# glibc or under LD_PRELOAD of another allocator. -fno-builtin: the compiler must not assume what
# malloc does (that it leaves errno alone, or that a block it returned is unused).
build/conformance/malloc_api: tests/conformance/malloc_api.c
	@mkdir -p build/conformance
	@echo "  CC $@"
	@clang -std=gnu11 $(WARN) -O1 -g -fno-builtin -pthread $< -o $@ -ldl
# Allocators the suite's own checks load (tests/targets/: one behaviour each, entry points with
# default visibility).
build/targets/%.so: tests/targets/%.c
	@mkdir -p build/targets
	@echo "  CC $@"
	@clang $(BASE_CFLAGS) -O1 -shared $< -o $@

.PHONY: fuzz afl replay minimize corpus-merge
# make fuzz VARIANT=sched: the same harness in the sched build, where race ops interleave the
# allocator's atomic steps deterministically (the schedule is part of the input). VARIANT=msan:
# under MemorySanitizer (uninitialized reads in hakmem's metadata or of what it hands out).
FUZZ_VARIANT := $(if $(filter sched msan,$(VARIANT)),$(VARIANT),fuzz)
ifdef TARGET
fuzz: build/fuzz/seeds/.stamp build/target/fuzz_ops
	@lib=$$(fuzz/target_lib.sh '$(TARGET)') && \
	    FUZZ_DIR=build/target/$$(fuzz/target_lib.sh --name '$(TARGET)') HAKMEM_FUZZ_TARGET=$$lib \
	    fuzz/run_libfuzzer.sh build/target/fuzz_ops $(FUZZ_SECONDS) $(JOBS)
else
fuzz: build/fuzz/seeds/.stamp
	@$(MAKE) --no-print-directory VARIANT=$(FUZZ_VARIANT) build/$(FUZZ_VARIANT)/fuzz_ops
	@fuzz/run_libfuzzer.sh build/$(FUZZ_VARIANT)/fuzz_ops $(FUZZ_SECONDS) $(JOBS)
endif

afl: ensure-afl build/fuzz/seeds/.stamp
	@$(MAKE) --no-print-directory VARIANT=afl build/afl/afl_ops
	@rm -rf build/afl/seeds && mkdir -p build/afl && cp -r build/fuzz/seeds build/afl/seeds \
	    && rm -f build/afl/seeds/.stamp
	@fuzz/run_afl.sh build/afl/afl_ops $(FUZZ_SECONDS) $(JOBS)

# Every corpus program in release, ASan, TSan, the sched build (programs with races under
# REPLAY_SCHEDULES schedules each) and (a sample, under memcheck) the valgrind build; the sched
# replay's interleaving coverage must reach the protocol pairs fuzz/protocol_pairs.txt requires.
REPLAY_VALGRIND_SAMPLE ?= 4
REPLAY_SCHEDULES ?= 128
REPLAY_SCHED ?= 1
# The sched replay (each program with races under every schedule, one thread at a time) is the
# slow one: it runs as two processes over alternate programs. The other replays run beside
# them, one after another, and so does the memcheck sample; each part's output is shown when
# all have ended.
REPLAY_FILES = $(filter-out %/README.md,$(sort $(wildcard corpus/ops/* corpus/regress/*)))
ifdef TARGET
replay: build/target/replay
	@lib=$$(fuzz/target_lib.sh '$(TARGET)') && HAKMEM_FUZZ_TARGET=$$lib build/target/replay \
	    $(if $(SCHEDULES),--schedules $(SCHEDULES)) $(or $(REPLAY_PATHS),corpus/ops corpus/regress)
else
replay:
	@for v in release asan tsan $(if $(filter 1,$(REPLAY_SCHED)),sched) valgrind; do \
	    $(MAKE) --no-print-directory -s VARIANT=$$v build/$$v/replay || exit 1; done; \
	    tmp=$$(mktemp -d); \
	    (rc=0; for v in release asan tsan; do echo "== replay ($$v)"; \
	        build/$$v/replay corpus/ops corpus/regress || rc=1; done; exit $$rc) >$$tmp/p 2>&1 & \
	    p=$$!; s=; \
	    if [ "$(REPLAY_SCHED)" = 1 ]; then \
	        $(MAKE) --no-print-directory -s replay-sched >$$tmp/s 2>&1 & s=$$!; fi; \
	    $(MAKE) --no-print-directory -s replay-memcheck >$$tmp/m 2>&1 & m=$$!; \
	    fail=0; for j in $$p $$s $$m; do wait $$j || fail=1; done; \
	    cat $$tmp/p $$([ -n "$$s" ] && echo $$tmp/s) $$tmp/m; rm -rf $$tmp; exit $$fail
endif

# The sched part of make replay alone: race programs under REPLAY_SCHEDULES schedules each, in two
# processes over alternate programs, and the protocol pairs they reach (fuzz/protocol_pairs.txt).
# make replay runs it beside its other parts (REPLAY_SCHED=0 leaves it out).
replay-sched:
	@$(MAKE) --no-print-directory -s VARIANT=sched build/sched/replay
	@tmp=$$(mktemp -d); set -- $(REPLAY_FILES); odd=; even=; i=0; \
	    for f; do if [ $$((i % 2)) = 0 ]; then even="$$even $$f"; else odd="$$odd $$f"; fi; \
	        i=$$((i + 1)); done; \
	    build/sched/replay --schedules $(REPLAY_SCHEDULES) --pairs $$tmp/pa $$even >$$tmp/a 2>&1 & a=$$!; \
	    build/sched/replay --schedules $(REPLAY_SCHEDULES) --pairs $$tmp/pb $$odd >$$tmp/b 2>&1 & b=$$!; \
	    fail=0; for j in $$a $$b; do wait $$j || fail=1; done; \
	    echo "== replay (sched, --schedules $(REPLAY_SCHEDULES), two processes)"; cat $$tmp/a $$tmp/b; \
	    fuzz/protocol_pairs.sh fuzz/protocol_pairs.txt $$tmp/pa $$tmp/pb || fail=1; \
	    rm -rf $$tmp; exit $$fail

# The race programs early in make test, in seconds (make replay runs them again, whole): on real
# threads under ThreadSanitizer, where a weakened memory order of the cross-thread protocol
# shows, and in the sched build under REPLAY_EARLY_SCHEDULES schedules each, where a scheduler
# that no longer interleaves anything (its hook or a point gone) stops the race programs. A
# program stuck for REPLAY_EARLY_TIMEOUT seconds (10: each takes under one) is reported naming
# its op, well inside the step's limit.
REPLAY_EARLY_SCHEDULES ?= 4
REPLAY_EARLY_TIMEOUT ?= 10
RACE_FILES = $(foreach f,$(REPLAY_FILES),$(if $(findstring /race_,$(f)),$(f)))
.PHONY: replay-races-early
replay-races-early:
	@$(MAKE) --no-print-directory -s VARIANT=tsan build/tsan/replay
	@$(MAKE) --no-print-directory -s VARIANT=sched build/sched/replay
	@echo "== race programs (tsan, real threads)"
	@export REPLAY_TIMEOUT=$(REPLAY_EARLY_TIMEOUT); rc=0; build/tsan/replay $(RACE_FILES) || rc=1; \
	    echo "== race programs (sched, --schedules $(REPLAY_EARLY_SCHEDULES))"; \
	    build/sched/replay --schedules $(REPLAY_EARLY_SCHEDULES) $(RACE_FILES) || rc=1; exit $$rc

# The corpus under memcheck (every REPLAY_VALGRIND_SAMPLE-th program; 1: all of them).
.PHONY: replay-memcheck
replay-memcheck:
	@$(MAKE) --no-print-directory -s VARIANT=valgrind build/valgrind/replay
	@echo "== replay (valgrind, every $(REPLAY_VALGRIND_SAMPLE)th program, under memcheck)"
	@$(VALGRIND) build/valgrind/replay --sample $(REPLAY_VALGRIND_SAMPLE) corpus/ops corpus/regress

# make minimize CRASH=<file> NAME=<what-broke>: the smallest program that still crashes, in the
# text form, as corpus/regress/NAME.txt (replayed by make replay from then on).
minimize: build/opsc
	@test -n "$(CRASH)" -a -n "$(NAME)" || { echo "usage: make minimize CRASH=<file> NAME=<what-broke> [VARIANT=sched]"; exit 2; }
	@$(MAKE) --no-print-directory VARIANT=$(FUZZ_VARIANT) build/$(FUZZ_VARIANT)/fuzz_ops
	@mkdir -p build/fuzz/minimized
	@ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 build/$(FUZZ_VARIANT)/fuzz_ops -minimize_crash=1 \
	    -runs=$${MINIMIZE_RUNS:-30000} -timeout=20 \
	    -exact_artifact_path=build/fuzz/minimized/$(NAME) $(CRASH) >build/fuzz/minimize.log 2>&1; \
	    test -s build/fuzz/minimized/$(NAME) || { echo "minimization failed: build/fuzz/minimize.log"; exit 1; }
	@{ echo "# hakmem ops v3"; echo "# regression: $(NAME) (minimized from $(notdir $(CRASH)))"; \
	    build/opsc decompile build/fuzz/minimized/$(NAME) | sed 1d; } >corpus/regress/$(NAME).txt
	@echo "corpus/regress/$(NAME).txt ($$(grep -vc '^#' corpus/regress/$(NAME).txt) ops, from \
	    $$(stat -c %s $(CRASH)) bytes):"; cat corpus/regress/$(NAME).txt

# Fold inputs from the working corpus that add coverage into corpus/ops, as text programs.
corpus-merge: build/fuzz/seeds/.stamp
	@$(MAKE) --no-print-directory VARIANT=fuzz build/fuzz/fuzz_ops
	@rm -rf build/fuzz/merge && cp -r build/fuzz/seeds build/fuzz/merge && rm -f build/fuzz/merge/.stamp
	@ls build/fuzz/merge | sort >build/fuzz/merge.before
	@mkdir -p build/fuzz/crashes && ASAN_OPTIONS=detect_leaks=0 build/fuzz/fuzz_ops -merge=1 -timeout=20 \
	    -use_counters=0 -artifact_prefix=build/fuzz/crashes/ build/fuzz/merge \
	    build/fuzz/corpus >build/fuzz/merge.log 2>&1 || { tail build/fuzz/merge.log; exit 1; }
	@n=0; for f in $$(ls build/fuzz/merge | sort | comm -13 build/fuzz/merge.before -); do \
	    build/opsc decompile build/fuzz/merge/$$f >corpus/ops/merged-$$f.txt && n=$$((n + 1)); \
	    done; echo "corpus-merge: $$n new program(s) in corpus/ops"

# ---- continuous integration ---------------------------------------------------------------------
# make nightly [NIGHTLY_MINUTES=60] [NIGHTLY_JOBS=asan,tsan,msan,valgrind,hardened,release,mutate]: the long
# sanitizer matrix with crash triage; build/nightly/<UTC date>/report.md and junit.xml.
# make ci-lint: yamllint and actionlint on the workflows (make test runs it).
# make oss-fuzz-check: .clusterfuzzlite/build.sh in an emulation of the OSS-Fuzz builder.
.PHONY: nightly ci-lint oss-fuzz-check
nightly:
	@ci/install-deps.sh nightly
	@ci/nightly.sh
ci-lint:
	@ci/lint.sh
oss-fuzz-check:
	@ci/oss-fuzz-check.sh

# make symbols-check: the shipped archives' global symbols are exactly the public API, every
# other symbol carries the private prefix hk_ and is declared in its own file's header, and a
# program defining the names hakmem's archive used to define links against the archives.
.PHONY: symbols-check
symbols-check:
	@for v in release hardened; do $(MAKE) --no-print-directory -s VARIANT=$$v lib || exit 1; done
	@status=0; python3 tests/symbols/check.py || status=1; \
	    tests/symbols/clash_test.sh build/release || status=1; exit $$status

# make layering-check: no cycle between alloc/ files, in the file graph the objects' symbols give
# (release, hardened, and the sched build with its scheduling points); prints the layers.
.PHONY: layering-check
layering-check:
	@for v in release hardened sched; do $(MAKE) --no-print-directory -s VARIANT=$$v lib || exit 1; done
	@python3 tests/layering_check.py build/release/obj/alloc build/hardened/obj/alloc \
	    build/sched/obj/alloc

# ---- planted bugs -------------------------------------------------------------------------------
# make mutants [MUTANTS="name ..."] [MUTANT_TIMEOUT=300]: every mutants/*.patch applied to a scratch
# copy, make test run until its first FAIL; a table of kills and survivors (exit 1 if any survived).
# make mutants-sched [MUTANTS="name ..."]: the protocol mutants (an "Interleaving:" line) under
# make fuzz VARIANT=sched until its first crash, which must then replay every time.
.PHONY: mutants mutants-sched mutate print-compile replay-sched
mutants:
	@mutants/run.sh $(MUTANTS)
# make mutate [SEED=1] [N=10]: N mutants nobody hand-picked (mutants/mutate.py: operators on the
# lines of alloc/ make coverage saw executed, and on launcher/), each against make test like a
# planted bug; the mutation score, and each survivor as a patch in build/mutate/survivors/. Exit 1
# when a survivor is not judged equivalent in mutants/equivalent.txt. The same SEED on the same
# tree: the same mutants.
SEED ?= 1
N ?= 10
mutate:
	@test -s build/cov/hakmem.lcov && cat alloc/*.[ch] | sha1sum | cmp -s - build/cov/hakmem.lcov.sources || \
	    { echo "make mutate: coverage of alloc/ first (make coverage)"; $(MAKE) --no-print-directory coverage; }
	@python3 mutants/mutate.py --seed $(SEED) --n $(N) --out build/mutate
	@MUTANTS_OUT=build/mutate mutants/run.sh build/mutate/patches/*.patch; \
	    python3 mutants/score.py build/mutate $(SEED)
# The compiler and flags of a variant's library objects (mutants/mutate.py compiles with them).
print-compile:
	@echo '$(CC) $(CFLAGS_ALL)'
mutants-sched:
	@mutants/sched_fuzz.sh $(MUTANTS)

FORMATTED := alloc/*.[ch] tests/*/*.[ch] tests/programs/*.cc bench/*.[ch] fuzz/*.[ch] larson/*.c \
             stress/*.[ch] launcher/*.c
format:
	clang-format -i $(FORMATTED)

format-check:
	@if clang-format --dry-run --Werror $(FORMATTED); then \
	    echo "PASS sources_follow_the_committed_clang_format"; \
	else echo "FAIL sources_follow_the_committed_clang_format (make format fixes them)"; exit 1; fi

clean:
	rm -rf build
