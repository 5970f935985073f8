#!/usr/bin/env bash
# make test: the release suite (with whole programs under LD_PRELOAD and the clang build check),
# the ASan, TSan and valgrind-variant suites, short stress runs and Larson in check mode (release,
# ASan, TSan), a replay of every corpus program (release, ASan, TSan, memcheck) and a short
# libFuzzer run; prints one "N passed, N failed" at the end.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run() {
    echo "=== $*"
    "$@" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
run make --no-print-directory compilers-check
run make --no-print-directory VARIANT=release check
# Sanitizers slow the timed tests down; their job there is races and memory errors, not volume.
export TEST_SECONDS=${TEST_SECONDS_SANITIZED:-3}
run make --no-print-directory VARIANT=asan check
run make --no-print-directory VARIANT=tsan check
run make --no-print-directory VARIANT=valgrind check
larson() { # VARIANT: a short Larson run in check mode must end with its checked line
    local out
    out=$(make --no-print-directory larson VARIANT="$1" THREADS=4 SECONDS=3 CHECK=1 2>&1)
    echo "$out" | tail -1
    if echo "$out" | tail -1 | grep -q 'check=passed'; then
        echo "PASS larson_check_mode_$1" | tee -a "$log"
    else
        echo "FAIL larson_check_mode_$1" | tee -a "$log"
        status=1
    fi
}
for v in release asan tsan; do
    run make --no-print-directory stress VARIANT=$v STRESS_SECONDS="${TEST_STRESS_SECONDS:-2}"
    larson $v
done
run make --no-print-directory replay
run make --no-print-directory fuzz FUZZ_SECONDS="${TEST_FUZZ_SECONDS:-20}" JOBS=2
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
echo
echo "all of make test (release, asan, tsan and valgrind suites, stress, larson, replay, fuzz):"
grep '^FAIL ' "$log" | sort -u
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
