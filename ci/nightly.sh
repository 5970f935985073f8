#!/usr/bin/env bash
# nightly.sh — make nightly [NIGHTLY_MINUTES=60] [NIGHTLY_JOBS=asan,tsan,msan,valgrind,hardened,release,mutate]
#                           [NIGHTLY_CORPUS=dir] [NIGHTLY_HISTORY=file.csv] [NIGHTLY_MUTATE_HISTORY=file.csv]
#
# The long sanitizer matrix on one machine. Every job gets an equal share of NIGHTLY_MINUTES (the
# time spent testing; building everything first is a step of its own) and a hard limit of its own
# (its share plus half, at least 2 minutes more): a step still running at the limit is killed with
# everything it started and reported as cut. Inside a step the suite's own watchdogs fail a run
# that stops making progress, with every thread's stack in the step's log.
#   asan      ASan+UBSan suite, long stress, Larson in check mode at 4 threads and 2 x nproc,
#             replay, libFuzzer and AFL++ on the working corpus
#   tsan      TSan suite, long stress, Larson at 4 threads
#   msan      MemorySanitizer suite, replay, libFuzzer
#   valgrind  the suite and the corpus replay under memcheck
#   release   a Larson soak in check mode and make bench, compared with the last 5 nights
#   mutate    make mutate: a sample of automatic mutants (one per 4 minutes of the share, seeded
#             with the date), its score added to NIGHTLY_MUTATE_HISTORY; a survivor not judged
#             equivalent (mutants/equivalent.txt) fails the night
# Before the jobs, after building: make oss-fuzz-check (the continuous-fuzzing build, every
# engine and sanitizer, each target run for 5 s).
# The libFuzzer corpus is carried between nights in NIGHTLY_CORPUS (inputs that add coverage are
# merged back into it); bench history is NIGHTLY_HISTORY. Every crash or failed check goes to
# ci/triage.sh (reproduce, minimize, signature, candidate regression test).
#
# Output: build/nightly/<UTC date>/ report.md (printed at the end), junit.xml, logs/, crashes/,
# triage/. Exits 1 if a check failed or a new crash signature was found, 2 on bad arguments.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
minutes=${NIGHTLY_MINUTES:-60}
jobs_arg=${NIGHTLY_JOBS:-asan,tsan,msan,valgrind,hardened,release,mutate}
all_jobs="asan tsan msan valgrind hardened release mutate"
day=$(date -u +%Y-%m-%d)
out=${NIGHTLY_OUT:-build/nightly/$day}
corpus=${NIGHTLY_CORPUS:-build/nightly/corpus}
history=${NIGHTLY_HISTORY:-build/nightly/history.csv}
mutate_history=${NIGHTLY_MUTATE_HISTORY:-build/nightly/mutate_history.csv}
nproc=$(nproc 2>/dev/null || echo 2)

case "$minutes" in '' | *[!0-9]*)
    echo "nightly: NIGHTLY_MINUTES must be a whole number of minutes, not '$minutes'" >&2
    exit 2 ;;
esac
jobs=()
bad=()
for j in ${jobs_arg//,/ }; do
    case " $all_jobs " in *" $j "*) jobs+=("$j") ;; *) bad+=("$j") ;; esac
done
rm -rf "$out"
mkdir -p "$out/logs" "$out/crashes" "$out/triage" "$corpus"
results=$out/results.tsv
: >"$results"
exec > >(tee "$out/nightly.log") 2>&1

# record JOB CHECK VERDICT SECONDS FIGURES MESSAGE LOG — one row of the report (and one JUnit case).
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(printf '%s' "$6" |
        tr '\t\n' '  ' | cut -c1-400)" "$7" >>"$results"
}
for j in "${bad[@]}"; do
    echo "nightly: unknown job '$j' (known: $all_jobs)"
    record "$j" job error 0 "" "unknown job name '$j'; known jobs: $all_jobs" ""
done
[ ${#jobs[@]} -gt 0 ] || { echo "nightly: no job to run"; exit 2; }

share=$((minutes * 60 / ${#jobs[@]}))
echo "nightly $day: jobs ${jobs[*]}; ${minutes} min of testing, $share s per job; output $out"

# step JOB NAME TARGET_SECONDS CMD... — run CMD in a session of its own until the job's deadline;
# every PASS/FAIL line it prints becomes a check of its own.
job_deadline=0
step() {
    local job=$1 name=$2
    shift 2
    local log=$out/logs/$job/$name.log
    mkdir -p "$out/logs/$job"
    local left=$((job_deadline - SECONDS))
    if [ "$left" -lt 5 ]; then
        record "$job" "$name" cut 0 "" "not started: the job's hard limit was reached before it" ""
        echo "  $job/$name: not started (job limit reached)"
        return 1
    fi
    local start=$SECONDS
    perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "cannot run $ARGV[0]: $!\n"' "$@" >"$log" 2>&1 &
    local pid=$! cut=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - start)) -ge "$left" ]; then
            pkill -KILL -s "$pid" 2>/dev/null
            # Fuzzer workers run in sessions of their own (run_libfuzzer.sh, run_afl.sh).
            pkill -KILL -f "$root/build/[a-z]*/(fuzz_ops|afl_ops)" 2>/dev/null
            pkill -KILL -f "afl-fuzz .*$root/build/afl" 2>/dev/null
            cut=1
            break
        fi
        sleep 1
    done
    wait "$pid"
    local rc=$? secs=$((SECONDS - start))
    # The checks it printed: "PASS name (...)" / "FAIL name: why".
    grep -aE '^(PASS|FAIL) ' "$log" | awk '!seen[$0]++' | while IFS= read -r line; do
        local verdict=pass check rest
        [ "${line%% *}" = FAIL ] && verdict=fail
        rest=${line#* }
        check=${rest%%[ :]*}
        record "$job" "$name/$check" "$verdict" "" "" "$rest" "$log"
    done
    local figures
    figures=$(ci/figures.sh "$log")
    if [ "$cut" = 1 ]; then
        record "$job" "$name" cut "$secs" "$figures" \
            "cut by the job's hard limit after $secs s (last lines: $(tail -3 "$log" | tr '\n' ' '))" "$log"
        echo "  $job/$name: CUT after $secs s"
    elif [ "$rc" -ne 0 ]; then
        # The command reproduces it (stress programs and Larson are seeded deterministically;
        # Larson's seed is in its first line).
        record "$job" "$name" fail "$secs" "$figures" \
            "exit status $rc; $(grep -am1 '^FAIL ' "$log" || tail -2 "$log" | tr '\n' ' '); \
$(grep -aom1 'seed=[0-9]*' "$log")$(grep -aqm1 'seed=' "$log" && echo ' ')command: $*" "$log"
        echo "  $job/$name: FAIL (status $rc, $secs s)"
    else
        record "$job" "$name" pass "$secs" "$figures" "" "$log"
        echo "  $job/$name: ok ($secs s${figures:+; $figures})"
    fi
    return "$rc"
}

# Seconds for a step: a fraction (percent) of the job's share, at least a floor.
part() { local s=$((share * $1 / 100)); [ "$s" -lt "$2" ] && s=$2; echo "$s"; }

# Crash files of a fuzz run go to triage; the corpus gains what added coverage.
collect_crashes() { # VARIANT_DIR JOB ENGINE
    local n=0
    for f in "$1"/crashes/*; do
        [ -f "$f" ] || continue
        cp "$f" "$out/crashes/$2-$3-$(basename "$f")"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] && echo "  $2: $n crash file(s) from $3"
    return 0
}

# Minimum shares: below them a job cannot do its suite, and is reported as not run.
min_share() { case $1 in mutate) echo 600 ;; valgrind) echo 120 ;; asan | tsan) echo 90 ;; *) echo 60 ;; esac; }

# ---- build -------------------------------------------------------------------------------------
build_targets() {
    make --no-print-directory -s test-build || return 1
    for j in "${jobs[@]}"; do
        case $j in
        msan) make --no-print-directory -s -j"$nproc" VARIANT=msan tests build/msan/replay \
            build/msan/fuzz_ops || return 1 ;;
        hardened) make --no-print-directory -s -j"$nproc" VARIANT=hardened build/hardened/larson \
            stress-bins || return 1 ;;
        asan) make --no-print-directory -s ensure-afl && make --no-print-directory -s -j"$nproc" \
            VARIANT=afl build/afl/afl_ops || return 1 ;;
        release) make --no-print-directory -s bench-deps && make --no-print-directory -s -j"$nproc" \
            VARIANT=release lib build/bench/bin/fixed_size build/bench/bin/random_mixed \
            build/bench/bin/xthread build/bench/bin/realloc_grow build/bench/bin/large \
            build/bench/bin/larson || return 1 ;;
        esac
    done
    echo "built: every variant make test uses, and what jobs ${jobs[*]} need"
}
job_deadline=$((SECONDS + 1800))
if ! step build all bash -c "$(declare -f build_targets); jobs=(${jobs[*]}); nproc=$nproc; \
    build_targets"; then
    echo "nightly: the build failed; nothing else can run"
fi
build_ok=$(awk -F'\t' '$1 == "build" && $2 == "all" { print $3 }' "$results")
# The continuous-fuzzing build, whole: every engine and sanitizer of .clusterfuzzlite/build.sh in
# the emulated OSS-Fuzz builder, each target checked and run as ClusterFuzz runs it (make test
# runs the same with shorter runs).
job_deadline=$((SECONDS + 900))
step build oss_fuzz_check make --no-print-directory oss-fuzz-check

# ---- jobs --------------------------------------------------------------------------------------
job_asan() {
    step asan suite env TEST_SECONDS=$(part 2 3) make --no-print-directory VARIANT=asan check
    step asan stress env STRESS_SECONDS=$(($(part 20 16) / 8)) \
        make --no-print-directory VARIANT=asan stress
    step asan larson_4_threads make --no-print-directory larson VARIANT=asan THREADS=4 \
        SECONDS=$(part 5 3) CHECK=1
    step asan larson_2x_nproc_threads make --no-print-directory larson VARIANT=asan \
        THREADS=$((2 * nproc)) SECONDS=$(part 5 3) CHECK=1
    step asan replay build/asan/replay corpus/ops corpus/regress
    rm -rf build/fuzz/corpus build/fuzz/crashes && mkdir -p build/fuzz/corpus "$corpus/libfuzzer"
    cp -r "$corpus/libfuzzer/." build/fuzz/corpus/ 2>/dev/null
    step asan libfuzzer make --no-print-directory fuzz FUZZ_SECONDS=$(part 25 15) JOBS="$nproc"
    collect_crashes build/fuzz asan libfuzzer
    step asan corpus_merge env ASAN_OPTIONS=detect_leaks=0 build/fuzz/fuzz_ops -merge=1 -timeout=20 \
        -artifact_prefix=build/fuzz/crashes/ "$corpus/libfuzzer" build/fuzz/corpus
    rm -rf build/afl/out
    step asan afl make --no-print-directory afl FUZZ_SECONDS=$(part 20 15) JOBS=1
    for f in build/afl/out/*/crashes/id:*; do
        [ -f "$f" ] && cp "$f" "$out/crashes/asan-afl-$(basename "$(dirname "$(dirname "$f")")")-${f##*/id:}"
    done
    return 0
}
job_tsan() {
    step tsan suite env TEST_SECONDS=$(part 3 3) make --no-print-directory VARIANT=tsan check
    step tsan stress env STRESS_SECONDS=$(($(part 40 16) / 8)) \
        make --no-print-directory VARIANT=tsan stress
    step tsan larson_4_threads make --no-print-directory larson VARIANT=tsan THREADS=4 \
        SECONDS=$(part 15 3) CHECK=1
    return 0
}
job_msan() {
    step msan suite env TEST_SECONDS=$(part 2 2) make --no-print-directory VARIANT=msan check
    step msan replay build/msan/replay corpus/ops corpus/regress
    rm -rf build/msan/corpus build/msan/crashes && mkdir -p build/msan/corpus "$corpus/msan"
    cp -r "$corpus/msan/." build/msan/corpus/ 2>/dev/null
    step msan libfuzzer make --no-print-directory fuzz VARIANT=msan FUZZ_SECONDS=$(part 40 15) \
        JOBS="$nproc"
    collect_crashes build/msan msan libfuzzer
    step msan corpus_merge build/msan/fuzz_ops -merge=1 -timeout=20 \
        -artifact_prefix=build/msan/crashes/ "$corpus/msan" build/msan/corpus
    return 0
}
job_valgrind() {
    step valgrind suite make --no-print-directory valgrind-test
    step valgrind replay make --no-print-directory VARIANT=valgrind replay-memcheck
    return 0
}
job_hardened() {
    step hardened suite make --no-print-directory VARIANT=hardened check
    step hardened stress env STRESS_SECONDS=$(($(part 40 16) / 8)) \
        make --no-print-directory VARIANT=hardened stress
    step hardened larson_2x_nproc_threads make --no-print-directory larson VARIANT=hardened \
        THREADS=$((2 * nproc)) SECONDS=$(part 15 3) CHECK=1
    step hardened replay build/hardened/replay corpus/ops corpus/regress
    step hardened whole_programs tests/preload/run.sh build/hardened
    return 0
}
job_release() {
    step release larson_soak make --no-print-directory larson VARIANT=release \
        THREADS=$((2 * nproc)) SECONDS=$(part 25 5) CHECK=1
    step release bench env BENCH_QUICK=1 REPS=3 BENCH_ALLOCATORS=hakmem,glibc \
        make --no-print-directory bench
    step release bench_history python3 ci/bench_history.py build/bench/results.csv "$history" "$day"
    return 0
}
job_mutate() {
    # A mutant costs a make test run to its first failure (2-5 minutes on 2 cores); the coverage
    # build that picks the executed lines comes first.
    local n=$(((share - 180) / 240))
    [ "$n" -ge 1 ] || n=1
    step mutate sample env MUTATE_HISTORY="$(realpath -m "$mutate_history")" \
        make --no-print-directory mutate SEED="${day//-/}" N="$n"
    mkdir -p "$out/mutate"
    cp -r build/mutate/survivors build/mutate/generated.tsv build/mutate/results.md "$out/mutate/" \
        2>/dev/null
    return 0
}

for j in "${jobs[@]}"; do
    if [ "$build_ok" != pass ]; then
        record "$j" job skip 0 "" "not run: the build step failed (logs/build/all.log)" ""
        continue
    fi
    need=$(min_share "$j")
    if [ "$share" -lt "$need" ]; then
        echo "== $j: not run: its share of the budget ($share s) is below its minimum ($need s)"
        record "$j" job skip 0 "" "not run: budget too small ($share s of NIGHTLY_MINUTES=$minutes; \
$j needs at least $need s)" ""
        continue
    fi
    limit=$((share + share / 2))
    [ "$limit" -lt $((share + 120)) ] && limit=$((share + 120))
    echo "== $j (share $share s, hard limit $limit s)"
    start=$SECONDS
    job_deadline=$((SECONDS + limit))
    "job_$j"
    record "$j" job done $((SECONDS - start)) "" "" ""
done

# ---- triage and report ------------------------------------------------------------------------
job_deadline=$((SECONDS + 900))
step triage crashes ci/triage.sh "$out"
python3 ci/report.py "$out" "$minutes"
status=$?
/usr/bin/python3 ci/junit_check.py "$out/junit.xml" || status=1
echo
cat "$out/report.md"
exit "$status"
