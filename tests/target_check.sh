#!/usr/bin/env bash
# target_check.sh — the suite turned on an allocator loaded at run time (build/target/replay,
# fuzz/target_loaded.c): glibc's malloc passes every corpus program with hakmem's own checks off
# and each one named; hakmem loaded the same way passes with every check on; the out-of-memory
# ops refuse a loaded target's allocations (by an address-space limit where the target has no
# injection of its own); an entry point a library does not define is not taken from its
# dependencies; a program stuck where no signal reaches it (its alarm held back, as ThreadSanitizer
# does in a loop that makes no call) is killed by the replay, which names its op. A target's entry
# point taken from the wrong place, a hakmem-only check left on for another allocator, a refusal
# that refuses nothing or a replay that waits forever fails here. What C leaves open is checked
# as glibc does it, unless strict C is asked for. The C reproducer of a program (opsc emit-c)
# fails under the allocator that failed and passes on glibc. The reference allocator passes
# clean, and one of its bugs is found and reproduced in C. The whole-program API checks pass on
# hakmem (and glibc's edges) and find an unchecked calloc product. One PASS or FAIL
# line per check; exits 1 on any FAIL.
set -u
cd "$(dirname "$0")/.." || exit 1
fail=0
pass() { echo "PASS $1"; }
failed() { echo "FAIL $1: $2"; fail=1; }
make --no-print-directory -s build/target/replay build/opsc build/targets/stuck_without_signals.so \
    build/targets/c_not_glibc.so build/refalloc/librefalloc.so \
    build/refalloc/librefalloc-class-edge-off-by-one.so \
    build/refalloc/librefalloc-calloc-no-overflow.so build/conformance/malloc_api \
    VARIANT=release build/release/libhakmem.so ||
    { echo "FAIL target_replay_builds: build/target/replay, a test allocator or libhakmem.so does not build"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
programs=$(ls corpus/ops/*.txt corpus/regress/*.txt | wc -l)
hakmem=$PWD/build/release/libhakmem.so

replay() { # library, output file, replay arguments...
    local lib=$1 out=$2
    shift 2
    HAKMEM_FUZZ_TARGET=$lib REPLAY_TIMEOUT=${REPLAY_TIMEOUT:-20} timeout "${LIMIT:-120}" \
        build/target/replay "$@" >"$out" 2>&1
}
verdict() { sed -n 's/^replay: //p' "$1" | tail -1; }
first_fail() { grep -m1 -B1 '^FAIL' "$1" | tr '\n' ' ' | cut -c1-300; }

name=loaded_glibc_passes_every_corpus_program_with_hakmems_own_checks_off_and_named
if ! replay libc.so.6 "$work/glibc" corpus/ops corpus/regress; then
    failed $name "$(verdict "$work/glibc"); $(first_fail "$work/glibc")"
elif [ "$(verdict "$work/glibc")" != "$programs passed, 0 failed" ]; then
    failed $name "replay says '$(verdict "$work/glibc")' for $programs programs"
else
    missing=""
    for off in "the exact heap check" "statistics and the live-bytes balance" \
        "foreign, interior and double frees" "thread flush and collect"; do
        grep -q "^  off: $off" "$work/glibc" || missing="$missing '$off'"
    done
    [ -z "$missing" ] && pass $name || failed $name "the report does not say these are off:$missing"
fi

name=loaded_hakmem_passes_every_corpus_program_with_every_check_on
if ! replay "$hakmem" "$work/hakmem" corpus/ops corpus/regress; then
    failed $name "$(verdict "$work/hakmem"); $(first_fail "$work/hakmem")"
elif [ "$(verdict "$work/hakmem")" != "$programs passed, 0 failed" ]; then
    failed $name "replay says '$(verdict "$work/hakmem")' for $programs programs"
elif grep -q '^  off:' "$work/hakmem"; then
    failed $name "checks are off for hakmem: $(grep '^  off:' "$work/hakmem" | tr '\n' ' ')"
elif ! grep -q 'double free detected' "$work/hakmem"; then
    failed $name "no double free reached hakmem (the misuse ops did not run)"
else
    pass $name
fi

name=out_of_memory_ops_refuse_a_loaded_targets_allocations_cleanly
why="" counts=""
for lib in libc.so.6 "$hakmem"; do
    short=$(basename "$lib")
    if ! replay "$lib" "$work/oom" --trace corpus/ops/out_of_memory.txt; then
        why="$why $short: $(first_fail "$work/oom");"
    elif ! grep -q '^ *refused: ' "$work/oom"; then
        why="$why $short: the oom ops refused no allocation;"
    else
        counts="$counts, $short $(grep -c '^ *refused: ' "$work/oom")"
    fi
done
[ -z "$why" ] && pass "$name (allocations refused:${counts#,})" || failed $name "${why%;}"

# A test allocator that never returns from malloc(4321) and takes no signal meanwhile.
stuck=$PWD/build/targets/stuck_without_signals.so
printf 'malloc slot=0 size=100\nmalloc slot=1 size=4321\nfree slot=0\n' >"$work/stuck.txt"
name=a_loaded_targets_entry_points_are_its_own_not_its_dependencies
start=$SECONDS
REPLAY_TIMEOUT=1 LIMIT=30 replay "$stuck" "$work/stuck" "$work/stuck.txt"
took=$((SECONDS - start))
if grep -q '^  off: usable-size checks' "$work/stuck"; then
    pass $name
else
    failed $name "a library with no malloc_usable_size of its own was given one (libc's?)"
fi
name=a_program_stuck_where_no_signal_reaches_it_is_killed_naming_its_op
line=$(grep -m1 "^FAIL $work/stuck.txt" "$work/stuck")
case "$line" in
*"killed at op 1 (malloc slot=1 size=4321"*)
    [ "$took" -le 10 ] && pass "$name (${took} s)" || failed $name "took $took s for a 1 s timeout" ;;
*) failed $name "replay said: ${line:-nothing} ($(tail -1 "$work/stuck"), $took s)" ;;
esac

# A test allocator that makes two choices C allows and glibc does not.
name=glibc_behaviour_is_checked_by_default_and_strict_c_accepts_what_c_allows
other=$PWD/build/targets/c_not_glibc.so
printf 'malloc slot=0 size=100\nrealloc slot=0 size=0\nfree slot=0\n' >"$work/realloc0.txt"
printf 'aligned slot=1 align=32 size=40\naligned slot=2 align=32 size=64\n' >"$work/aligned.txt"
why=""
for p in realloc0 aligned; do
    replay "$other" "$work/glibc-$p" "$work/$p.txt"
    HAKMEM_FUZZ_STRICT_C=1 replay "$other" "$work/strict-$p" "$work/$p.txt" ||
        why="$why strict C fails $p.txt ($(grep -m1 'check failed' "$work/strict-$p"));"
done
grep -q 'realloc(p, 0) returned' "$work/glibc-realloc0" ||
    why="$why realloc(p, 0) returning a block passed by default;"
grep -q 'aligned_alloc(32, 40) failed with EINVAL' "$work/glibc-aligned" ||
    why="$why aligned_alloc refusing a size not a multiple of the alignment passed by default;"
grep -q '^target: .*strict C' "$work/strict-aligned" || why="$why the report does not say strict C;"
[ -z "$why" ] && pass $name || failed $name "${why%;}"

# The C reproducer (opsc emit-c): it must fail where the program failed, under LD_PRELOAD of the
# allocator, and pass on glibc; and reproducers of corpus programs of every kind of op (threads,
# races, fork, refused memory, aligned blocks) pass on glibc.
name=a_c_reproducer_fails_under_the_allocator_that_failed_and_passes_on_glibc
repro() { # program, output binary
    build/opsc emit-c "$1" >"$2.c" && cc -std=gnu11 -O0 -fno-builtin -pthread "$2.c" -o "$2" -ldl 2>"$2.cc"
}
if ! repro "$work/realloc0.txt" "$work/r0"; then
    failed $name "the reproducer does not build: $(head -3 "$work/r0.cc")"
elif (LD_PRELOAD=$other timeout 30 "$work/r0" || exit 1) >"$work/r0.bad" 2>&1; then
    failed $name "it passed under c_not_glibc.so: $(tail -1 "$work/r0.bad")"
elif ! grep -q 'check failed at op 1 (realloc slot=0 size=0.*realloc(p, 0) returned' "$work/r0.bad"; then
    failed $name "it failed, but not at the realloc: $(tail -1 "$work/r0.bad")"
elif ! timeout 30 "$work/r0" >"$work/r0.good" 2>&1; then
    failed $name "it fails on glibc too: $(tail -1 "$work/r0.good")"
else
    pass $name
fi
name=c_reproducers_of_corpus_programs_pass_on_glibc
why="" n=0
for p in fork_stats_bulk out_of_memory race_thread_exit_against_remote_frees aligned; do
    n=$((n + 1))
    if ! repro corpus/ops/$p.txt "$work/$p"; then
        why="$why $p does not build ($(head -1 "$work/$p.cc"));"
    elif ! timeout 60 "$work/$p" >"$work/$p.out" 2>&1; then
        why="$why $p: $(grep -m1 'check failed' "$work/$p.out" || tail -1 "$work/$p.out");"
    fi
done
[ -z "$why" ] && pass "$name ($n programs)" || failed $name "${why%;}"

# The reference allocator (tests/refalloc/refalloc.c): clean, it passes every corpus program; with
# a class-edge bug (a request of exactly a class boundary gets the class below) the replay finds
# it, and the C reproducer of the first program that failed fails under it and passes on glibc.
name=the_reference_allocator_passes_every_corpus_program
ref=$PWD/build/refalloc/librefalloc.so
if replay "$ref" "$work/ref" corpus/ops corpus/regress &&
    [ "$(verdict "$work/ref")" = "$programs passed, 0 failed" ]; then
    pass $name
else
    failed $name "$(verdict "$work/ref"); $(first_fail "$work/ref")"
fi
name=a_reference_allocator_bug_is_found_and_its_c_reproducer_fails_only_under_it
bug=$PWD/build/refalloc/librefalloc-class-edge-off-by-one.so
replay "$bug" "$work/bug" corpus/ops corpus/regress
found=$(sed -n 's/^FAIL \([^:]*\): .*/\1/p' "$work/bug" | head -1)
if [ -z "$found" ]; then
    failed $name "the replay found nothing ($(verdict "$work/bug"))"
elif ! grep -q 'usable size [0-9]* < requested' "$work/bug"; then
    failed $name "$found failed, but not by the usable-size check: $(first_fail "$work/bug")"
elif ! repro "$found" "$work/bugrepro"; then
    failed $name "the reproducer of $found does not build: $(head -3 "$work/bugrepro.cc")"
elif (LD_PRELOAD=$bug timeout 30 "$work/bugrepro" || exit 1) >"$work/bugrepro.out" 2>&1; then
    failed $name "the reproducer of $found passed under the bug: $(tail -1 "$work/bugrepro.out")"
elif ! grep -q 'usable size [0-9]* < requested' "$work/bugrepro.out"; then
    failed $name "the reproducer failed otherwise: $(grep -m1 . "$work/bugrepro.out")"
elif ! (LD_PRELOAD=$ref timeout 30 "$work/bugrepro") >/dev/null 2>&1; then
    failed $name "the reproducer of $found fails on the clean reference allocator too"
else
    pass "$name ($(basename "$found"))"
fi

# The whole-program API checks (tests/conformance/malloc_api.c, at a tenth of their volume): they
# pass on hakmem preloaded (and glibc's edges), and find the reference allocator's unchecked calloc
# product, which no op program can reach (make check-allocator runs them whole).
name=the_api_conformance_program_passes_on_hakmem_and_glibcs_edges
why=""
for lib in "" "$hakmem"; do
    only=""
    [ -z "$lib" ] && only=edges
    if ! (CONFORMANCE_QUICK=1 CONFORMANCE_ONLY=$only LD_PRELOAD=$lib timeout 60 \
        build/conformance/malloc_api || exit 1) >"$work/conf" 2>&1; then
        why="$why ${lib:+$(basename "$lib")}${lib:-glibc}: $(grep -m1 '^FAIL' "$work/conf" || tail -1 "$work/conf");"
    fi
done
[ -z "$why" ] && pass $name || failed $name "${why%;}"
name=the_api_conformance_program_finds_an_unchecked_calloc_product
(CONFORMANCE_ONLY=sizes LD_PRELOAD=$PWD/build/refalloc/librefalloc-calloc-no-overflow.so \
    timeout 60 build/conformance/malloc_api || exit 1) >"$work/conf" 2>&1
if grep -q '^FAIL calloc_whose_product_overflows_fails_with_enomem' "$work/conf"; then
    pass $name
else
    failed $name "refalloc's calloc-no-overflow passed it: $(grep -m1 calloc "$work/conf")"
fi
exit $fail
