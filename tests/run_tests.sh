#!/usr/bin/env bash
# Run test binaries and whole-process test scripts; every line starting with PASS or FAIL is a
# test case. Prints the failing cases again at the end and a final "N passed, N failed" line.
# usage: run_tests.sh BUILD_DIR test-binary... [-- script args...]
# A test-binary argument with a space in it is a command line instead, run by the shell as it is
# (make test's quick checks are commands with arguments).
# VALGRIND_RUN, if set, is a command prefix for every test binary (make valgrind-test).
# TEST_JOBS=N runs up to N jobs at once (default 1): the script and each binary are one, and a
# job starts as soon as any running one ends (so one long binary never idles the other cores).
# Output stays in start order: the oldest unfinished job's streams as it comes (a case that hangs
# must not hide the verdicts before it), the others' is held until their turn, except that their
# FAIL lines are announced at once as "early NAME: FAIL ...". Each job ends with
# "== NAME: SECONDS s".
set -u
build=$1; shift
log=$(mktemp)
spool=$(mktemp -d)
trap 'rm -rf "$log" "$spool"' EXIT
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
# The script (whole programs under LD_PRELOAD, the longest job where there is one) starts first.
cmds=() names=()
if [ $# -gt 0 ]; then
    cmds+=("$(printf '%q ' "$@")")
    names+=("$1")
fi
for b in "${bins[@]}"; do
    case "$b" in
    *" "*) cmds+=("$b") ;;
    *) cmds+=("${VALGRIND_RUN:+$VALGRIND_RUN }$(printf '%q' "$b")") ;;
    esac
    names+=("${b#$build/}")
done
n=${#cmds[@]}
jobs=${TEST_JOBS:-1}
# LeakSanitizer's scan at every process exit sees only the C library's heap, which hakmem never
# uses (its blocks and metadata are its own mappings): in the ASan suite it found nothing and was
# a third of the suite's CPU time (each forked case and spawned misuse case pays it at exit).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

# verdict I RC: job I's output into the log, and a FAIL if it died without one.
verdict() {
    cat "$spool/$1.out" >>"$log"
    # An output without a final newline would glue the next line (this job's or the next one's
    # FAIL) onto its last, where the count does not see it.
    [ -z "$(tail -c 1 "$spool/$1.out")" ] || echo >>"$log"
    if [ "$2" -ne 0 ] && ! grep -q '^FAIL ' "$spool/$1.out"; then
        echo "FAIL ${names[$1]}: exited with status $2 without reporting a case" | tee -a "$log"
    fi
}
# A job's exit status lands in its .rc file: the loop below polls for it, so that it can start
# the next job and show the oldest job's output in the same pass.
start() {
    : >"$spool/$1.out"
    (
        began=$EPOCHREALTIME
        eval "${cmds[$1]}" >"$spool/$1.out" 2>&1
        rc=$?
        ms=$(((${EPOCHREALTIME//[.,]/} - ${began//[.,]/}) / 1000)) # the radix is the locale's
        echo "$rc $((ms / 1000)).$((ms % 1000 / 100))" >"$spool/$1.rc.tmp"
        mv "$spool/$1.rc.tmp" "$spool/$1.rc"
    ) &
}
# new_lines I [ENDED]: the complete lines job I wrote since the last call, into the array `got`,
# read through a descriptor kept open per job (the shell's own read: a process or two per job
# and pass cost a suite seconds here); with ENDED=1 its unterminated last line too.
new_lines() {
    got=()
    [ -n "${fd[$1]:-}" ] || exec {fd[$1]}<"$spool/$1.out"
    local line
    while IFS= read -r -u "${fd[$1]}" line; do
        got+=("${rest[$1]:-}$line")
        rest[$1]=
    done
    rest[$1]=${rest[$1]:-}$line
    if [ "${2:-0}" -eq 1 ]; then
        [ -z "${rest[$1]}" ] || got+=("${rest[$1]}")
        exec {fd[$1]}<&-
    fi
}
started=0 running=0 shown=0 headed=-1
fd=() rest=() held=()
while [ "$shown" -lt "$n" ]; do
    while [ "$running" -lt "$jobs" ] && [ "$started" -lt "$n" ]; do
        start "$started"
        started=$((started + 1)) running=$((running + 1))
    done
    if [ "$headed" -ne "$shown" ]; then
        echo "== ${names[$shown]}"
        printf '%s' "${held[shown]:-}"
        headed=$shown
    fi
    ended=0
    [ -e "$spool/$shown.rc" ] && ended=1 # read before the output, so none is left unshown
    new_lines "$shown" "$ended"
    [ ${#got[@]} -eq 0 ] || printf '%s\n' "${got[@]}"
    if [ "$ended" -eq 1 ]; then
        read -r rc took <"$spool/$shown.rc"
        verdict "$shown" "$rc"
        echo "== ${names[$shown]}: $took s"
        shown=$((shown + 1))
    fi
    # The jobs behind it keep their lines for their turn, but a FAIL among them is announced at
    # once, as "early NAME: FAIL ..." (not counted: it is counted in its turn). A hung case in a
    # job behind a long one must not wait for that one to be seen.
    for ((i = shown + 1; i < started; i++)); do
        new_lines "$i"
        for line in "${got[@]}"; do
            held[i]+=$line$'\n'
            [[ $line == "FAIL "* ]] && echo "early ${names[i]}: $line"
        done
    done
    # Slots freed by any job that ended, shown or not.
    running=0
    for ((i = shown; i < started; i++)); do
        [ -e "$spool/$i.rc" ] || running=$((running + 1))
    done
    [ "$ended" -eq 1 ] || sleep 0.2
done
wait
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
if [ "$failed" -gt 0 ]; then
    echo; echo "failures:"; grep '^FAIL ' "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
