#!/usr/bin/env bash
# run_afl.sh BIN SECONDS JOBS — make afl: AFL++ persistent mode, one main and JOBS-1 secondary
# instances syncing through build/afl/out, seeded from corpus/. Prints a summary from each
# instance's fuzzer_stats; exits 1 if anything crashed.
set -u
bin=$1 seconds=$2 jobs=$3
dir=build/afl
rm -rf "$dir/out"
mkdir -p "$dir/out"
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_SKIP_CRASHES=1 AFL_QUIET=1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0:allocator_may_return_null=1
echo "AFL++: 1 main + $((jobs - 1)) secondary instance(s) for ${seconds}s; seeds $dir/seeds; output $dir/out"
pids=()
afl-fuzz -i "$dir/seeds" -o "$dir/out" -M main -V "$seconds" -m none -t 20000 -x fuzz/ops.dict \
    -- "$bin" >"$dir/main.log" 2>&1 &
pids+=($!)
for k in $(seq 2 "$jobs"); do
    afl-fuzz -i "$dir/seeds" -o "$dir/out" -S "secondary$k" -V "$seconds" -m none -t 20000 \
        -- "$bin" >"$dir/secondary$k.log" 2>&1 &
    pids+=($!)
done
start=$SECONDS
while kill -0 "${pids[0]}" 2>/dev/null; do
    sleep 10
    if [ -f "$dir/out/main/fuzzer_stats" ]; then
        awk -F' *: *' -v t=$((SECONDS - start)) '/^execs_done/ {e=$2} /^execs_per_sec/ {r=$2}
            /^edges_found/ {c=$2} /^saved_crashes/ {k=$2}
            END {printf "  %ds: main: %s execs, %s exec/s, %s edges, %s crashes\n", t, e, r, c, k}' \
            "$dir/out/main/fuzzer_stats"
    fi
done
for p in "${pids[@]}"; do wait "$p"; done
execs=0 rate=0 crashes=0 edges=0 found=0
for s in "$dir"/out/*/fuzzer_stats; do
    [ -f "$s" ] || continue
    found=1
    e=$(awk -F' *: *' '/^execs_done/ {print $2}' "$s")
    r=$(awk -F' *: *' '/^execs_per_sec/ {print int($2)}' "$s")
    c=$(awk -F' *: *' '/^saved_crashes/ {print $2}' "$s")
    g=$(awk -F' *: *' '/^edges_found/ {print $2}' "$s")
    execs=$((execs + e)) rate=$((rate + r)) crashes=$((crashes + c))
    [ "$g" -gt "$edges" ] && edges=$g
done
if [ "$found" -eq 0 ]; then
    echo "FAIL afl_run_finds_no_crash (AFL++ did not start; see $dir/main.log)"
    tail -20 "$dir/main.log"
    exit 1
fi
echo "summary: $execs executions, $rate exec/s (all instances), $edges edges, crashes $crashes"
if [ "$crashes" -gt 0 ]; then
    echo "crash files:"
    ls "$dir"/out/*/crashes/id:* | sed 's/^/  /'
    echo "minimize one with: make minimize CRASH=<file> NAME=<what-broke>"
    echo "FAIL afl_run_finds_no_crash ($crashes crash(es))"
    exit 1
fi
echo "PASS afl_run_finds_no_crash ($execs executions)"
