#!/usr/bin/env bash
# make test: the release suite (with whole programs under LD_PRELOAD and the clang build check),
# the lint of the CI workflows (yamllint, actionlint), make install into a temporary DESTDIR used
# as a user would (pkg-config, the launcher, JSON statistics), the hardened build's suite and replay,
# the ASan, TSan and valgrind-variant suites, short stress runs and Larson in check mode (release,
# ASan, TSan), a replay of every corpus program (release, ASan, TSan, sched with many schedules,
# memcheck), a short libFuzzer run, and the continuous-fuzzing build of every engine and sanitizer
# with a short run of each (make oss-fuzz-check); prints one "N passed, N failed" at the end.
#
# Every step runs in a session of its own under a time limit: a step that overruns it (its own
# watchdogs should have failed it first) is killed with everything it started and reported as a
# FAIL naming the step, so make test itself always ends.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
status=0

# run LIMIT NAME CMD...: one step, output shown live and kept for the final count.
run() {
    local limit=$1 name=$2
    shift 2
    echo "=== $*"
    local out=$work/step.out
    : >"$out"
    perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' "$@" >"$out" 2>&1 &
    local pid=$! start=$SECONDS
    tail -n +1 -f --pid="$pid" "$out" &
    local tailer=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            pkill -KILL -s "$pid" 2>/dev/null
            echo "FAIL step_$name: did not finish within its $limit s limit (killed with" \
                "everything it started)" >>"$out"
            break
        fi
        sleep 0.2
    done
    wait "$pid"
    local rc=$?
    wait "$tailer" 2>/dev/null
    # A step that fails before any check can (a build error) still counts as a failure.
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL step_$name: exited with status $rc before any check failed (a build error?" \
            "its output is above)" | tee -a "$out"
    fi
    echo "=== $name: $((SECONDS - start)) s"
    cat "$out" >>"$log"
    [ "$rc" -eq 0 ] || status=1
}

run 600 build make --no-print-directory test-build
run 180 compilers_check make --no-print-directory compilers-check
# The checks that need no suite, two at a time (tests/quick_checks.sh): the layering of alloc/, the
# shipped archives' symbols, the workflows' lint, the docs, every planted bug present and applying,
# make mutate's generator, screen and score (without running a mutant), the protocol-pair judge on
# made-up counts, every corpus program round-tripping through the binary op format, and the race
# programs under ThreadSanitizer and a few schedules (a memory order weakened in the protocol, or
# a scheduler that interleaves nothing, dies here rather than after the suites).
run 240 quick_checks tests/quick_checks.sh
# A suite's test binaries run one per core (most run one thread, or wait on a child process).
jobs=${TEST_JOBS:-$(nproc)}
TEST_JOBS=$jobs run 240 release_suite make --no-print-directory VARIANT=release check
TEST_SECONDS=${TEST_SECONDS_SANITIZED:-3} TEST_CHURN_THREADS=${TEST_CHURN_THREADS_SANITIZED:-2000} \
    TEST_JOBS=$jobs run 120 hardened make --no-print-directory hardened-test
run 120 install_check make --no-print-directory install-check
# Every corpus program (release, ASan, TSan, a memcheck sample) and the race programs under many
# schedules with the protocol pairs they reach, early: a bug only an interleaving shows must die
# within 5 minutes of make test's start.
run 300 replay make --no-print-directory replay
# Sanitizers slow the timed tests down; their job there is races and memory errors, not volume.
export TEST_SECONDS=${TEST_SECONDS_SANITIZED:-3}
# Thread churn: the release suite's 10,000 threads are for bounded memory; 2,000 give ASan and TSan
# every exit, orphaning and adoption path many times over.
export TEST_CHURN_THREADS=${TEST_CHURN_THREADS_SANITIZED:-2000}
# The ASan, TSan and valgrind-variant suites share one pool of jobs, their longest binaries first:
# three suites one after another left a core idle at the end of each. TSan leaves out the misuse
# catalogue and the checker's damage reports, which run their threads one after another (create,
# join, go on), so TSan has nothing to see there (they were 28 of its 65 CPU seconds here), and
# the watchdog's timing test, whose waits are the same code in every checking build (ASan runs it);
# the valgrind variant leaves out the watchdog test too. The nightly runs every suite whole.
long_first() { # binaries of the LONG_TESTS first, in the Makefile's order, then the rest
    local long=" misuse_policies fork_safety thread_churn cross_thread_frees heap_check_reports "
    local b
    for b in "$@"; do case "$long" in *" ${b##*/} "*) echo "$b" ;; esac; done
    for b in "$@"; do case "$long" in *" ${b##*/} "*) ;; *) echo "$b" ;; esac; done
}
sanitizer_bins=$(long_first $(make --no-print-directory -s VARIANT=asan test-bins) \
    $(make --no-print-directory -s VARIANT=tsan test-bins \
        TEST_SKIP="misuse_policies heap_check_reports wait_watchdog") \
    $(make --no-print-directory -s VARIANT=valgrind test-bins TEST_SKIP=wait_watchdog))
# shellcheck disable=SC2086 # a list of paths without spaces
TEST_JOBS=$jobs run 360 sanitizer_suites tests/run_tests.sh build $sanitizer_bins
# .clusterfuzzlite/build.sh in the emulated OSS-Fuzz builder, every engine and sanitizer (two at a
# time), each target checked and run for a few seconds: its flags see what no variant here does.
# After the suites, whose checks name the mechanism a bug breaks (its failures name a build), and
# early enough that a bug only its builds see dies within 5 minutes.
# The coverage build (for reports, not fuzzing) is the nightly's: here it ran alone at the end.
run 240 oss_fuzz env OSS_FUZZ_JOBS=2 OSS_FUZZ_RUN_SECONDS="${TEST_OSS_FUZZ_SECONDS:-2}" \
    OSS_FUZZ_CONFIGS="libfuzzer_address libfuzzer_undefined libfuzzer_memory afl_address" \
    make --no-print-directory oss-fuzz-check
larson() { # VARIANT: a short Larson run in check mode must end with its checked line
    local out
    out=$(make --no-print-directory larson VARIANT="$1" THREADS=4 SECONDS=2 CHECK=1 2>&1)
    echo "$out" | tail -1
    if echo "$out" | tail -1 | grep -q ' check=passed'; then
        echo "PASS larson_check_mode_$1"
    else
        echo "$out" | grep -v '^  CC' | tail -30
        echo "FAIL larson_check_mode_$1"
        return 1
    fi
}
# Stress volume is the release run's; the sanitizer runs are for what their tools see. The stress
# programs run for a time, not a count: two at a time they end in half the time (17 s -> 10 s in
# release), each with both cores shared.
for v in release asan tsan; do
    TEST_JOBS=2 run 150 "stress_$v" make --no-print-directory stress VARIANT=$v \
        STRESS_SECONDS="${TEST_STRESS_SECONDS:-$([ $v = release ] && echo 2 || echo 1)}"
    run 150 "larson_$v" bash -c "$(declare -f larson); larson $v"
done
run 150 fuzz make --no-print-directory fuzz FUZZ_SECONDS="${TEST_FUZZ_SECONDS:-8}" JOBS=2
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
echo
echo "all of make test (release, asan, tsan and valgrind suites, stress, larson, replay, fuzz," \
    "oss-fuzz builds):"
grep '^FAIL ' "$log" | sort -u
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
