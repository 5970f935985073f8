#!/usr/bin/env bash
# Run test binaries and whole-process test scripts; every line starting with PASS or FAIL is a
# test case. Prints the failing cases again at the end and a final "N passed, N failed" line.
# usage: run_tests.sh BUILD_DIR test-binary... [-- script args...]
# VALGRIND_RUN, if set, is a command prefix for every test binary (make valgrind-test).
set -u
build=$1; shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
# Output streams as it comes (a case that hangs must not hide the verdicts before it).
for b in "${bins[@]}"; do
    echo "== ${b#$build/}"
    out=$(mktemp)
    ${VALGRIND_RUN:-} "$b" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    cat "$out" >>"$log"
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL ${b#$build/}: exited with status $rc without reporting a case" | tee -a "$log"
    fi
    rm -f "$out"
done
if [ $# -gt 0 ]; then
    echo "== $1"
    "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ] && ! grep -q "^FAIL " "$log"; then
        echo "FAIL $1: exited with status $rc" | tee -a "$log"
    fi
fi
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
if [ "$failed" -gt 0 ]; then
    echo; echo "failures:"; grep '^FAIL ' "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
