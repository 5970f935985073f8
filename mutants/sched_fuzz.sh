#!/usr/bin/env bash
# sched_fuzz.sh [NAME...] — make mutants-sched: for every planted bug of the cross-thread protocol
# (the patches with an "Interleaving:" line, or the named ones), apply it to a scratch copy, run
# `make fuzz VARIANT=sched` there until its first crash that also fails when replayed alone (at
# most SCHED_FUZZ_SECONDS, default 300; crashes that need the state earlier inputs left in the
# fuzzing process are set aside and counted), then replay that crash file REPLAYS times (default
# 10) with the sched build's replay: a schedule that is part of the input must fail every time.
# Prints a table (mutant, seconds to that crash, replays that failed, the first failed check) to
# stdout and to
# build/mutants/sched.md; exits 1 if any was not found or did not replay.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=build/mutants
work=$out/sched-work
limit=${SCHED_FUZZ_SECONDS:-300}
replays=${REPLAYS:-10}
mkdir -p "$out/logs"
if [ $# -gt 0 ]; then
    patches=()
    for n in "$@"; do patches+=("mutants/${n%.patch}.patch"); done
else
    mapfile -t patches < <(grep -l '^Interleaving:' mutants/*.patch)
fi
make --no-print-directory -s build/opsc build/fuzz/seeds/.stamp >/dev/null || exit 1
results=$out/sched.md
{
    echo "| mutant | seconds to the first crash | replays that failed | first failed check |"
    echo "|---|---|---|---|"
} >"$results"
bad=0
printf '%-40s %8s %8s  %s\n' mutant seconds replays "first failed check"
for p in "${patches[@]}"; do
    name=$(basename "$p" .patch)
    log=$here/$out/logs/sched-$name.log
    rm -rf "$work" 2>/dev/null || { sleep 2; rm -rf "$work"; }
    mkdir -p "$work/build"
    git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$work"
    cp -a build/opsc build/fuzz "$work/build/" 2>/dev/null
    rm -rf "$work/build/fuzz/corpus" "$work/build/fuzz/crashes"
    [ -d build/sched ] && cp -a build/sched "$work/build/" && rm -rf "$work"/build/sched/{corpus,crashes,logs}
    if ! patch -d "$work" -p1 -s --no-backup-if-mismatch -i "$here/$p" >"$log" 2>&1 ||
        ! (cd "$work" && make --no-print-directory -s VARIANT=sched build/sched/fuzz_ops \
            build/sched/replay) >>"$log" 2>&1; then
        printf '%-40s %8s %8s  %s\n' "$name" - - "does not apply or build: $log"
        echo "| \`$name\` | - | - | does not apply or build |" >>"$results"
        bad=$((bad + 1))
        continue
    fi
    start=$(date +%s)
    (cd "$work" && exec perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' make --no-print-directory \
        fuzz VARIANT=sched FUZZ_SECONDS="$limit" JOBS=2) >>"$log" 2>&1 &
    pid=$!
    disown "$pid"
    # The first crash file that fails when replayed alone: a crash that needs the state earlier
    # inputs left in the fuzzing process is set aside (counted), and the search goes on.
    crash= stateful=0 tried=" "
    while kill -0 "$pid" 2>/dev/null; do
        for f in $(ls "$work"/build/sched/crashes/ 2>/dev/null); do
            case "$tried" in *" $f "*) continue ;; esac
            tried="$tried$f "
            sleep 1 # let the crash file be written whole
            if (cd "$work" && REPLAY_TIMEOUT=60 build/sched/replay "build/sched/crashes/$f" 2>&1) |
                grep -q '^FAIL '; then
                crash=$f
                break
            fi
            stateful=$((stateful + 1))
        done
        [ -n "$crash" ] && break
        [ $(($(date +%s) - start)) -ge $((limit + 30)) ] && break
        sleep 1
    done
    secs=$(($(date +%s) - start))
    # The libFuzzer workers run in a session of their own (run_libfuzzer.sh): stop them too, so
    # nothing else runs while the crash is replayed.
    pkill -KILL -s "$pid" 2>/dev/null
    pkill -KILL -f "$work/build/sched/fuzz_ops" 2>/dev/null
    while pgrep -s "$pid" >/dev/null || pgrep -f "$work/build/sched/fuzz_ops" >/dev/null; do
        sleep 0.2
    done
    if [ -z "$crash" ]; then
        printf '%-40s %8s %8s  %s\n' "$name" "none" - "no replayable crash within $limit s ($stateful that need earlier inputs)"
        echo "| \`$name\` | no replayable crash within $limit s ($stateful that need earlier inputs) | - | - |" >>"$results"
        bad=$((bad + 1))
        continue
    fi
    [ "$stateful" -eq 0 ] || echo "$name: $stateful crash file(s) set aside: they fail only after earlier inputs" >>"$log"
    mkdir -p "$out/sched-crashes" && cp "$work/build/sched/crashes/$crash" "$out/sched-crashes/$name"
    failed=0 check=
    for _ in $(seq "$replays"); do
        r=$(cd "$work" && REPLAY_TIMEOUT=60 build/sched/replay "build/sched/crashes/$crash" 2>&1)
        echo "$r" >>"$log"
        if echo "$r" | grep -q '^FAIL '; then
            failed=$((failed + 1))
            [ -n "$check" ] || check=$(echo "$r" | grep -m1 'check failed\|ERROR: AddressSanitizer\|runtime error' | cut -c1-140)
        fi
    done
    [ "$failed" -eq "$replays" ] || bad=$((bad + 1))
    printf '%-40s %8s %5s/%-2s  %s\n' "$name" "$secs" "$failed" "$replays" "${check:-(no message)}"
    echo "| \`$name\` | $secs | $failed of $replays | ${check//|/\\|} |" >>"$results"
done
sleep 1; rm -rf "$work" 2>/dev/null || true
echo
echo "crash files kept in $out/sched-crashes/; table: $results"
[ "$bad" -eq 0 ]
