#!/usr/bin/env bash
# make test: the release suite (with whole programs under LD_PRELOAD and the clang build check),
# the ASan, TSan and valgrind-variant suites, a replay of every corpus program (release, ASan,
# TSan, memcheck) and a short libFuzzer run; prints one "N passed, N failed" at the end.
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
run make --no-print-directory replay
run make --no-print-directory fuzz FUZZ_SECONDS="${TEST_FUZZ_SECONDS:-20}" JOBS=2
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
echo
echo "all of make test (release, asan, tsan and valgrind suites, replay, fuzz):"
grep '^FAIL ' "$log" | sort -u
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
