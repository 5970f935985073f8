#!/usr/bin/env bash
# run_libfuzzer.sh BIN SECONDS JOBS — make fuzz: libFuzzer in fork mode over the op interpreter,
# seeded from corpus/ (compiled into build/fuzz/seeds), growing the working corpus next to BIN
# (build/fuzz/corpus, or build/sched/corpus for the sched build). Prints progress and a summary;
# exits 1 if anything crashed, naming the crash files and how to minimize them.
set -u
bin=$1 seconds=$2 jobs=$3
dir=$(dirname "$bin")
variant=$(basename "$dir")
seeds=build/fuzz/seeds
mkdir -p "$dir/corpus" "$dir/crashes"
log=$dir/fuzz.log
before=$(ls "$dir/crashes" | wc -l)
echo "libFuzzer ($variant build): $jobs worker(s) for ${seconds}s; seeds corpus/ops corpus/regress; working corpus $dir/corpus"
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:allocator_may_return_null=1} \
    "$bin" -fork="$jobs" -ignore_crashes=1 -max_total_time="$seconds" -timeout=20 \
    -artifact_prefix="$dir/crashes/" -dict=fuzz/ops.dict -max_len=8192 \
    "$dir/corpus" "$seeds" >"$log" 2>&1 &
pid=$!
# Progress: libFuzzer's status lines, at most one every 10 seconds.
last=0
while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    now=$SECONDS
    if [ $((now - last)) -ge 10 ]; then
        line=$(grep -E '^#[0-9]+' "$log" | tail -1)
        [ -n "$line" ] && echo "  ${line}"
        last=$now
    fi
done
wait "$pid"
rc=$?
final=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(echo "$final" | sed -n 's/^#\([0-9]*\):.*/\1/p')
cov=$(echo "$final" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$final" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
rate=$((${execs:-0} / (seconds > 0 ? seconds : 1)))
corp=$(echo "$final" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
after=$(ls "$dir/crashes" | wc -l)
new=$((after - before))
echo "summary: ${execs:-0} executions, ${rate:-0} exec/s, coverage ${cov:-0} edges / ${ft:-0} features, corpus ${corp:-0} inputs, crashes ${new}"
if [ "$new" -gt 0 ]; then
    echo "crash files:"
    ls -t "$dir/crashes" | head -n "$new" | sed "s|^|  $dir/crashes/|"
    first=$(ls -t "$dir/crashes" | head -1)
    echo "minimize one into a regression test with:"
    echo "  make minimize CRASH=$dir/crashes/$first NAME=<what-broke>$([ "$variant" = sched ] && echo " VARIANT=sched")"
    echo "FAIL libfuzzer_run_finds_no_crash ($new crash file(s); log: $log)"
    exit 1
fi
if [ -z "$execs" ]; then
    echo "FAIL libfuzzer_run_finds_no_crash (libFuzzer did not run; exit $rc; log: $log)"
    tail -20 "$log"
    exit 1
fi
echo "PASS libfuzzer_run_finds_no_crash (${execs} executions)"
