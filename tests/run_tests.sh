#!/usr/bin/env bash
# Run test binaries and whole-process test scripts; every line starting with PASS or FAIL is a
# test case. Prints the failing cases again at the end and a final "N passed, N failed" line.
# usage: run_tests.sh BUILD_DIR test-binary... [-- script args...]
# VALGRIND_RUN, if set, is a command prefix for every test binary (make valgrind-test).
# TEST_JOBS=N runs up to N test binaries at once (default 1). Output stays in order: the oldest
# running binary's streams as it comes, the others' is held until their turn.
set -u
build=$1; shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
# verdict NAME OUT RC: a binary's output into the log, and a FAIL if it died without one.
verdict() {
    cat "$2" >>"$log"
    if [ "$3" -ne 0 ] && ! grep -q '^FAIL ' "$2"; then
        echo "FAIL $1: exited with status $3 without reporting a case" | tee -a "$log"
    fi
    rm -f "$2"
}
jobs=${TEST_JOBS:-1}
pids=() outs=()
# finish I: show binary I's output so far and follow it to its end (a case that hangs must not
# hide the verdicts before it), then take its verdict.
finish() {
    echo "== ${bins[$1]#$build/}"
    tail -n +1 -s 0.2 -f --pid="${pids[$1]}" "${outs[$1]}"
    wait "${pids[$1]}"
    verdict "${bins[$1]#$build/}" "${outs[$1]}" "$?"
}
for i in "${!bins[@]}"; do
    [ "$i" -ge "$jobs" ] && finish $((i - jobs))
    outs[i]=$(mktemp)
    ${VALGRIND_RUN:-} "${bins[$i]}" >"${outs[$i]}" 2>&1 &
    pids[i]=$!
done
for ((i = ${#bins[@]} > jobs ? ${#bins[@]} - jobs : 0; i < ${#bins[@]}; i++)); do
    finish "$i"
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
