#!/usr/bin/env bash
# make test: the release suite (with whole programs under LD_PRELOAD and the clang build check),
# then the ASan, TSan and valgrind-variant suites; prints one "N passed, N failed" at the end.
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
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
echo
echo "all variants (release, asan, tsan, valgrind):"
grep '^FAIL ' "$log" | sort -u
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
