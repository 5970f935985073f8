#!/usr/bin/env bash
# run_libfuzzer.sh BIN SECONDS JOBS — make fuzz: libFuzzer over the op interpreter, JOBS worker
# processes sharing one working corpus next to BIN (build/fuzz/corpus, or build/sched/corpus for
# the sched build; FUZZ_DIR instead, as make fuzz TARGET= sets it), seeded from corpus/ (compiled into build/fuzz/seeds). Each worker is one
# long-lived process (libFuzzer's -workers/-jobs), so nothing is restarted or re-run while it
# fuzzes; a worker that crashes is replaced by a new one. Prints progress every 10 s and a
# summary; exits 1 if anything crashed, naming the crash files and how to minimize them.
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
seconds=$2 jobs=$3
dir=$(dirname "$bin")
# make fuzz TARGET=...: one binary, a working directory per allocator under test.
[ -n "${FUZZ_DIR:-}" ] && mkdir -p "$FUZZ_DIR" && dir=$(cd "$FUZZ_DIR" && pwd)
variant=$(basename "$dir")
root=$(pwd)
seeds=$root/build/fuzz/seeds
logs=$dir/logs
mkdir -p "$dir/corpus" "$dir/crashes"
rm -rf "$logs" && mkdir -p "$logs"
log=$dir/fuzz.log
before=$(ls "$dir/crashes" | wc -l)
echo "libFuzzer ($variant build): $jobs worker(s) for ${seconds}s; seeds corpus/ops corpus/regress; working corpus $dir/corpus"
# Each worker writes fuzz-<job>.log in the current directory; 1000 jobs means "replace crashed
# workers for as long as the run lasts" (the deadline below ends it).
(cd "$logs" && exec perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' "$bin" -workers="$jobs" \
    -jobs=1000 -max_total_time="$seconds" -timeout=20 -artifact_prefix="$dir/crashes/" \
    -dict="$root/fuzz/ops.dict" -max_len=8192 -print_final_stats=1 -handle_usr1=1 "$dir/corpus" "$seeds") \
    >"$log" 2>&1 &
pid=$!
disown "$pid"
# The executions so far: every job's final count (or, while it runs, its last status line).
status() {
    local execs=0 cov=0 corp=0
    for f in "$logs"/fuzz-*.log; do
        [ -e "$f" ] || continue
        local line n
        line=$(grep -aE '^#[0-9]+' "$f" | tail -1)
        n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$f" | tail -1)
        [ -n "$n" ] || n=$(echo "$line" | sed -n 's/^#\([0-9]*\).*/\1/p')
        execs=$((execs + ${n:-0}))
        local c k
        c=$(echo "$line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
        k=$(echo "$line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
        [ "${c:-0}" -gt "$cov" ] && cov=$c
        [ "${k:-0}" -gt "$corp" ] && corp=$k
    done
    echo "$execs $cov $corp"
}
start=$SECONDS last=0
while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    elapsed=$((SECONDS - start))
    [ "$elapsed" -ge "$seconds" ] && break
    if [ $((elapsed - last)) -ge 10 ]; then
        read -r execs cov corp < <(status)
        echo "  ${elapsed}s: $execs executions, $((execs / (elapsed > 0 ? elapsed : 1))) exec/s, coverage $cov, corpus $corp"
        last=$elapsed
    fi
done
# Time is up: no new workers; the running ones stop at their next input and print their final
# statistics (SIGUSR1 is libFuzzer's graceful exit); whatever is left after 10 s is killed.
kill -KILL "$pid" 2>/dev/null
pkill -USR1 -s "$pid" -f "$(basename "$bin")" 2>/dev/null
for _ in $(seq 20); do
    pgrep -s "$pid" >/dev/null || break
    sleep 0.5
done
pkill -KILL -s "$pid" 2>/dev/null
read -r execs cov corp < <(status)
rate=$((execs / (seconds > 0 ? seconds : 1)))
after=$(ls "$dir/crashes" | wc -l)
new=$((after - before))
echo "summary: ${execs} executions, ${rate} exec/s, coverage ${cov} edges, corpus $(ls "$dir/corpus" | wc -l) inputs, crashes ${new}"
if [ "$new" -gt 0 ]; then
    echo "crash files:"
    ls -t "$dir/crashes" | head -n "$new" | sed "s|^|  $dir/crashes/|"
    first=$(ls -t "$dir/crashes" | head -1)
    echo "first report:"
    grep -ahm1 -B2 -A12 'check failed\|ERROR: AddressSanitizer\|ERROR: libFuzzer\|runtime error' \
        "$logs"/fuzz-*.log | head -20 | sed 's/^/  /'
    echo "minimize one into a regression test with:"
    echo "  make minimize CRASH=$dir/crashes/$first NAME=<what-broke>$([ "$variant" = sched ] && echo " VARIANT=sched")"
    echo "FAIL libfuzzer_run_finds_no_crash ($new crash file(s); logs: $logs/)"
    exit 1
fi
if [ "$execs" -eq 0 ]; then
    echo "FAIL libfuzzer_run_finds_no_crash (libFuzzer did not run; log: $log)"
    tail -20 "$log"
    exit 1
fi
echo "PASS libfuzzer_run_finds_no_crash (${execs} executions)"
