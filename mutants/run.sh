#!/usr/bin/env bash
# run.sh [NAME...] — make mutants: apply each planted bug (mutants/*.patch, or the named ones) to
# a scratch copy of the tree, run `make test` there, and stop it at its first failed check.
# Prints a table (mutant, verdict, first failing check, seconds to the kill) to stdout and to
# build/mutants/results.md; exits 1 if any mutant survived or did not build.
#
# A mutant is killed when make test prints its first FAIL line within MUTANT_TIMEOUT seconds
# (default 300: the goal is every kill within 5 minutes on a 2-core machine); it survived when
# make test passes or the time runs out. Before the clock starts the mutant must build warning-free
# (release with gcc and clang): a patch that breaks the build is reported, not counted as killed.
# The scratch copy gets the current build outputs, so only what the patch touches is rebuilt.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
# MUTANTS_OUT: where the table, logs and scratch copies go (make mutate: build/mutate).
out=${MUTANTS_OUT:-build/mutants}
work=$out/work
timeout=${MUTANT_TIMEOUT:-300}
mkdir -p "$out/logs"
if [ $# -gt 0 ]; then
    patches=()
    for n in "$@"; do # a planted bug's name, or the path of any patch (make mutate's)
        case "$n" in *.patch) [ -f "$n" ] && { patches+=("$n"); continue; } ;; esac
        patches+=("mutants/${n%.patch}.patch")
    done
else
    patches=(mutants/*.patch)
fi

# A snapshot of the tree as it is now (tracked and untracked files, and the build outputs make
# test reuses), taken once: edits made while the mutants run do not leak into them. Working
# corpora and crash files stay behind, so every mutant's fuzz run starts as on a clean clone.
base=$out/base
snapshot() {
    rm -rf "$base"
    mkdir -p "$base/build"
    git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$base"
    for d in build/*; do
        case "$d" in build/mutants | build/mutate | build/bench | build/cov | build/afl | build/nightly | \
            build/oss-fuzz-check) continue ;; esac
        [ "$d" = "${out%/}" ] && continue # MUTANTS_OUT elsewhere under build/: not into itself
        cp -a "$d" "$base/build/"
    done
    rm -rf "$base"/build/*/corpus "$base"/build/*/crashes "$base"/build/*/minimized
}
# Whatever still runs in the scratch copy (a step that left its session, after a time-out) is
# killed first: it could write into the next mutant's copy while it is made.
clear_work() {
    local pid cwd
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
        case "$cwd" in "$here/$work" | "$here/$work"/*) kill -KILL "$pid" 2>/dev/null ;; esac
    done
    rm -rf "$work"
}
prepare() {
    clear_work
    cp -a "$base" "$work" && [ -f "$work/Makefile" ] ||
        { echo "mutants: could not copy the tree to $work"; exit 1; }
}

# A FAIL line, or the runner's early announcement of one from a job whose output is still held.
failed_re='^(FAIL |early [^ ]+: FAIL )'
# Whole programs under LD_PRELOAD (tests/preload/run.sh) show that something broke, not what:
# their FAILs count as kills, but make test goes on for up to WHOLE_PROGRAM_GRACE seconds (120,
# within the time-out) after the first one, and a check that names the mechanism failing in that
# time is reported, with its own time to the kill.
whole_programs=$({ grep -oE 'same_output [A-Za-z0-9_]+' tests/preload/run.sh | awk '{ print $2 }'
    grep -oE 'FAIL [a-z0-9_]+:' tests/preload/run.sh | sed 's/^FAIL //; s/:$//'; } | sort -u |
    paste -sd '|')
first_fail() {
    local fails
    fails=$(grep -E "$failed_re" "$1" | sed -E 's/^(early [^ ]+: )?FAIL //')
    { echo "$fails" | grep -v -E "^($whole_programs)[:( ]" || echo "$fails"; } | head -1 |
        cut -c1-150
}

# The unmutated tree's outputs must exist (that they pass is make test's business: run it first):
# built once here, every variant, so a mutant rebuilds only what its patch touches.
make --no-print-directory -s test-build >/dev/null || { echo "the tree itself does not build"; exit 1; }
snapshot

if [ $# -eq 0 ]; then
    echo "planted bugs per file of alloc/ and launcher/:"
    mutants/files.sh
    echo
fi
results=$out/results.md
{
    echo "| mutant | what it breaks | verdict | first failing check | seconds |"
    echo "|---|---|---|---|---|"
} >"$results"
survivors=0
printf '%-40s %-9s %7s  %s\n' mutant verdict seconds "first failing check"
for p in "${patches[@]}"; do
    name=$(basename "$p" .patch)
    what=$(sed -n 's/^Breaks: //p' "$p" | head -1)
    log=$here/$out/logs/$name.log
    prepare
    verdict= check= secs=
    # patch(1), not git apply: the scratch copy sits inside this repository, where git apply
    # would silently skip every path outside the scratch directory.
    if ! patch -d "$work" -p1 -s --no-backup-if-mismatch -i "$(realpath "$p")" >"$log" 2>&1; then
        verdict=BROKEN check="patch does not apply: $(head -1 "$log")"
    elif ! (cd "$work" && make --no-print-directory -s lib && make --no-print-directory -s \
        compilers-check) >"$log" 2>&1; then
        verdict=BROKEN check="mutant does not build warning-free: $(grep -m1 -i 'error' "$log")"
    else
        start=$(date +%s.%N)
        # A session of its own, so everything make test starts (test cases put themselves in
        # process groups of their own) can be killed at once.
        (cd "$work" && HAKMEM_PLANTED_BUG=$name exec perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' \
            make --no-print-directory test) >"$log" 2>&1 &
        pid=$!
        disown "$pid" # polled and killed below; no job-control chatter when it dies
        killed_at= named_at=
        while kill -0 "$pid" 2>/dev/null; do
            if [ -z "$killed_at" ] && grep -q -E "$failed_re" "$log"; then
                killed_at=$(date +%s.%N)
            fi
            if [ -n "$killed_at" ]; then
                # Stop at a mechanism's check, or once the grace after a whole program's is over.
                if grep -E "$failed_re" "$log" | sed -E 's/^(early [^ ]+: )?FAIL //' |
                    grep -q -v -E "^($whole_programs)[:( ]"; then
                    named_at=$(date +%s.%N)
                    break
                fi
                [ "$(echo "$(date +%s.%N) - $killed_at > ${WHOLE_PROGRAM_GRACE:-120}" | bc)" = 1 ] &&
                    break
            fi
            if [ "$(echo "$(date +%s.%N) - $start > $timeout" | bc)" = 1 ]; then
                break
            fi
            sleep 0.5
        done
        secs=$(echo "${named_at:-${killed_at:-$(date +%s.%N)}} - $start" | bc | xargs printf '%.0f')
        pkill -KILL -s "$pid" 2>/dev/null
        if grep -q '^FAIL step_build' "$log"; then
            # Some variant's compiler rejects the mutant: a broken patch, not a kill.
            verdict=BROKEN check="mutant does not build in every variant: $(grep -m1 -i 'error' "$log")"
        elif grep -q -E "$failed_re" "$log"; then
            verdict=killed check=$(first_fail "$log")
        elif [ "$secs" -ge "$timeout" ]; then
            verdict=SURVIVED check="no check failed within ${timeout} s"
        else
            verdict=SURVIVED check="make test passed"
        fi
    fi
    [ "$verdict" = killed ] || survivors=$((survivors + 1))
    printf '%-40s %-9s %7s  %s\n' "$name" "$verdict" "${secs:--}" "$check"
    echo "| \`$name\` | $what | $verdict | ${check//|/\\|} | ${secs:--} |" >>"$results"
done
rm -rf "$work" "$base"
total=${#patches[@]}
echo
echo "mutants: $((total - survivors)) of $total killed by make test (table: $results, logs: $out/logs/)"
[ "$survivors" -eq 0 ]
