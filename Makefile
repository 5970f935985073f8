# hakmem — one entry point for the allocator, its tests, and (as they land) the fuzzing, stress,
# Larson and benchmark suites. Outputs go to build/<variant>/.
#
#   make                  release library: build/release/libhakmem.{so,a}
#   make test             build and run every test; ends with "N passed, N failed"
#   make VARIANT=<v> ...  choose the build variant (release)

VARIANT ?= release
BUILD := build/$(VARIANT)
NPROC := $(shell nproc 2>/dev/null || echo 2)

CORE_SRCS := $(filter-out alloc/interpose.c,$(sort $(wildcard alloc/*.c)))
HEADERS := $(wildcard alloc/*.h)

WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=gnu11 $(WARN) -pthread -fPIC -fvisibility=hidden -g

ifeq ($(VARIANT),release)
  CC := gcc
  OPT := -O2 -DNDEBUG -fno-semantic-interposition
else
  $(error unknown VARIANT '$(VARIANT)'; known: release)
endif

CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(EXTRA_CFLAGS)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
INTERPOSE_OBJ := $(BUILD)/obj/alloc/interpose.o

.PHONY: all lib test fuzz clean format format-check compilers-check
.DEFAULT_GOAL := all

all: lib

lib: $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a $(BUILD)/libhakmem_core.a

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

# libhakmem_core.a: the hak_* API only (for programs that keep libc's malloc, and for harnesses
# built with sanitizers). libhakmem.a / .so: the API plus the malloc family.
$(BUILD)/libhakmem_core.a: $(CORE_OBJS)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/libhakmem.a: $(CORE_OBJS) $(INTERPOSE_OBJ)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/libhakmem.so: $(CORE_OBJS) $(INTERPOSE_OBJ)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libhakmem.so -Wl,-z,now $^ -o $@

# ---- tests -------------------------------------------------------------------------------------
# tests/unit: one module at a time (may use internal headers); tests/integration: the public API
# and whole-process behaviour. Each test binary links the whole library (malloc included) unless
# its name ends in _core, which keeps libc's malloc so foreign pointers can be made.

TEST_SRCS := $(sort $(wildcard tests/unit/*.c tests/integration/*.c))
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_LIB_SRCS := tests/harness/test_main.c
TEST_CFLAGS := $(CFLAGS_ALL) -Ialloc -Itests/harness

$(BUILD)/tests/%_core: tests/%_core.c $(TEST_LIB_SRCS) tests/harness/test.h $(BUILD)/libhakmem_core.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) $< $(TEST_LIB_SRCS) $(BUILD)/libhakmem_core.a -o $@ -lm

$(BUILD)/tests/%: tests/%.c $(TEST_LIB_SRCS) tests/harness/test.h $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(TEST_CFLAGS) $< $(TEST_LIB_SRCS) -Wl,--whole-archive $(BUILD)/libhakmem.a \
	    -Wl,--no-whole-archive -o $@ -lm

# Helper programs for the whole-process tests (LD_PRELOAD, static linking, C++).
$(BUILD)/tests/programs/%: tests/programs/%.c $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -pthread -Ialloc $< -o $@ -ldl
$(BUILD)/tests/programs/%_static: tests/programs/%.c $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -pthread -Ialloc $< $(BUILD)/libhakmem.a -o $@ -ldl
$(BUILD)/tests/programs/%_core: tests/programs/%.c $(BUILD)/libhakmem_core.a
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -g -pthread -Ialloc $< $(BUILD)/libhakmem_core.a -o $@ -ldl
$(BUILD)/tests/programs/%_cxx: tests/programs/%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX $@"
	@g++ -std=gnu++17 $(WARN) -O2 -pthread $< -o $@

PROGRAMS := $(BUILD)/tests/programs/first_alloc_in_thread_static \
            $(BUILD)/tests/programs/first_alloc_dlsym $(BUILD)/tests/programs/map_threads_cxx \
            $(BUILD)/tests/programs/misuse_case_core $(BUILD)/tests/programs/guard_case_core

test: lib $(TEST_BINS) $(PROGRAMS) compilers-check
	@tests/run_tests.sh $(BUILD) $(TEST_BINS) -- tests/preload/run.sh $(BUILD)

# Every file must build warning-free with both gcc and clang.
compilers-check:
	@$(MAKE) --no-print-directory -s lib BUILD=build/release-clang CC=clang \
	    OPT="-O2 -DNDEBUG" >/dev/null && echo "clang build: ok"

fuzz:
	@echo "make fuzz: the op-sequence fuzzing harness is coming (issue 5)"; exit 2

format:
	clang-format -i alloc/*.[ch] tests/*/*.[ch] tests/programs/*.cc

format-check:
	@clang-format --dry-run --Werror alloc/*.[ch] tests/*/*.[ch] tests/programs/*.cc

clean:
	rm -rf build
