#!/usr/bin/env bash
# oss-fuzz-check.sh — make oss-fuzz-check: runs .clusterfuzzlite/build.sh the way the OSS-Fuzz /
# ClusterFuzzLite builder does, without Docker, then checks what it built the way the builder's
# own check does (base-runner's test_all.py, bad_build_check and run_fuzzer). Configurations:
#   libfuzzer_address, libfuzzer_undefined, libfuzzer_memory   clang, libFuzzer
#   afl_address                              afl-clang-fast, AFL++'s libAFLDriver (Debian's afl++)
#   libfuzzer_coverage                       build only (clang source coverage, for reports)
#
# Per configuration, the environment of base-builder's `compile`: base-clang's CC, CXX and CFLAGS
# (less the -Wno-error=<warning> flags this clang does not know), base-builder's
# SANITIZER_FLAGS_<sanitizer> and COVERAGE_FLAGS[_<sanitizer>], compile_libfuzzer's or
# compile_afl's LIB_FUZZING_ENGINE, CC/CXX and AFL_* settings; SRC a copy of the tree (what git
# tracks or does not ignore: the Docker build context) in build/oss-fuzz-check/src/hakmem with
# build.sh at $SRC/build.sh, where the Dockerfile puts it; OUT=build/oss-fuzz-check/out/<config>,
# WORK=build/oss-fuzz-check/work/<config>; `bash -eux $SRC/build.sh` run from $SRC/hakmem. Then:
#   oss_fuzz_build_<config>   build.sh succeeds; OUT holds fuzz_ops (x86-64), the seed corpus zip
#                             (one file per corpus program), fuzz_ops.dict and fuzz_ops.options
#   oss_fuzz_instr_<config>   bad_build_check's check_mixed_sanitizers: the calls into each
#                             sanitizer runtime (objdump) against its thresholds (ASan >= 1000,
#                             MSan >= 1000, UBSan >= 169, none of the others); for libFuzzer also
#                             check_engine and check_startup_crash: >= 100 instrumented edges and
#                             "Done 4 runs" from 4 runs with no corpus
#   oss_fuzz_run_<config>     libFuzzer: the target as run_fuzzer runs it (the unzipped seed
#                             corpus, FUZZER_ARGS, the .options flags, the dict, base-runner's
#                             ASAN/MSAN/UBSAN_OPTIONS) for OSS_FUZZ_RUN_SECONDS (5): exit 0.
#                             AFL++: every seed run by the binary itself, then afl-fuzz as
#                             run_fuzzer starts it for OSS_FUZZ_RUN_SECONDS: "All set and ready to
#                             roll", no crash, no startup failure
# The checks and runs use a copy of OUT elsewhere, as test_all.py does (paths into OUT break).
# Prints one PASS or FAIL line per check (naming the log on FAIL) and exits 1 if any failed.
# OSS_FUZZ_CONFIGS="..." picks configurations, OSS_FUZZ_JOBS how many run at once (1); each has a
# hard time limit (OSS_FUZZ_CONFIG_TIMEOUT, 240 s, with limits on the build and on each run inside
# it). Installs Debian's afl++ when
# afl-clang-fast is missing (as root). Logs and outputs: build/oss-fuzz-check/.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BASE=$ROOT/build/oss-fuzz-check
ALL_CONFIGS="libfuzzer_address libfuzzer_undefined libfuzzer_memory afl_address libfuzzer_coverage"
CONFIGS=${OSS_FUZZ_CONFIGS:-$ALL_CONFIGS}
RUN_SECONDS=${OSS_FUZZ_RUN_SECONDS:-5}
CONFIG_TIMEOUT=${OSS_FUZZ_CONFIG_TIMEOUT:-240} # build, checks and runs of one configuration
BUILD_TIMEOUT=${OSS_FUZZ_BUILD_TIMEOUT:-180}
RUN_TIMEOUT=${OSS_FUZZ_RUN_TIMEOUT:-60}         # one run of the target (or of afl-fuzz)
failed=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

# ---- the builder's environment -------------------------------------------------------------------
# base-clang (infra/base-images/base-clang/Dockerfile): CC, CXX, CFLAGS, CXXFLAGS_EXTRA.
BUILDER_CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only \
-Wno-error=incompatible-function-pointer-types -Wno-error=int-conversion \
-Wno-error=deprecated-declarations -Wno-error=implicit-function-declaration \
-Wno-error=implicit-int -Wno-error=unknown-warning-option -Wno-error=vla-cxx-extension \
-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
CXXFLAGS_EXTRA="-stdlib=libc++"
# base-builder (infra/base-images/base-builder/Dockerfile); read by name in builder_env.
# shellcheck disable=SC2034
SANITIZER_FLAGS_address="-fsanitize=address -fsanitize-address-use-after-scope"
UB_CHECKS="array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size,return"
UB_CHECKS="$UB_CHECKS,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound"
UB_CHECKS="$UB_CHECKS,vptr"
# shellcheck disable=SC2034
SANITIZER_FLAGS_undefined="-fsanitize=$UB_CHECKS,unsigned-integer-overflow -fno-sanitize-recover=$UB_CHECKS"
# shellcheck disable=SC2034
SANITIZER_FLAGS_memory="-fsanitize=memory -fsanitize-memory-track-origins"
# shellcheck disable=SC2034
SANITIZER_FLAGS_coverage=""
COVERAGE_FLAGS="-fsanitize=fuzzer-no-link"
# shellcheck disable=SC2034
COVERAGE_FLAGS_coverage="-fprofile-instr-generate -fcoverage-mapping -pthread -Wl,--no-as-needed \
-Wl,-ldl -Wl,-lm -Wno-unused-command-line-argument"
# base-runner (infra/base-images/base-runner/Dockerfile): what ClusterFuzz runs targets with.
RUNNER_ASAN_OPTIONS="alloc_dealloc_mismatch=0:allocator_may_return_null=1:allocator_release_to_os_interval_ms=500:check_malloc_usable_size=0:detect_container_overflow=1:detect_odr_violation=0:detect_leaks=1:detect_stack_use_after_return=1:fast_unwind_on_fatal=0:handle_abort=1:handle_segv=1:handle_sigill=1:max_uar_stack_size_log=16:print_scariness=1:quarantine_size_mb=10:strict_memcmp=1:symbolize=1:use_sigaltstack=1:dedup_token_length=3"
RUNNER_MSAN_OPTIONS="print_stats=1:symbolize=1:dedup_token_length=3"
RUNNER_UBSAN_OPTIONS="print_stacktrace=1:print_summary=1:silence_unsigned_overflow=1:symbolize=1:dedup_token_length=3"
RUNNER_FUZZER_ARGS="-rss_limit_mb=2560 -timeout=25"

# The flags a given compiler rejects as unknown (this clang may be older than OSS-Fuzz's: its
# -Wno-error=<new warning> would only print a warning per file) are left out.
known_flags() {
    local cc=$1 out="" f
    shift
    for f in "$@"; do
        if echo 'int main(void){return 0;}' | "$cc" -Werror=unknown-warning-option "$f" -x c - \
            -o /dev/null >/dev/null 2>&1; then
            out="$out $f"
        fi
    done
    echo "${out# }"
}

ensure_afl() {
    command -v afl-clang-fast >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    echo "installing afl++ (Debian package)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++; } \
        >"$BASE/apt-afl.log" 2>&1
}
afl_driver() {
    local d
    for d in /usr/lib/afl/libAFLDriver.a /usr/local/lib/afl/libAFLDriver.a; do
        [ -f "$d" ] && { echo "$d"; return 0; }
    done
    dpkg -L afl++ 2>/dev/null | grep -m1 '/libAFLDriver\.a$'
}

# The source tree as the Docker build context has it (tracked and untracked-but-not-ignored
# files; build/ is ignored), build.sh where the Dockerfile copies it.
# A tree that is not the top of a git work tree (make mutants' scratch copies sit in build/ of
# this one) is copied whole, less build/ and .git.
copy_tree() {
    rm -rf "$BASE/src" && mkdir -p "$BASE/src/hakmem" || return 1
    if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$ROOT" ]; then
        git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
            [ -f "$f" ] && printf '%s\0' "$f"
        done | tar --null -T - -cf - | tar -xf - -C "$BASE/src/hakmem" || return 1
    else
        tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$BASE/src/hakmem" ||
            return 1
    fi
    [ -f "$BASE/src/hakmem/alloc/hakmem.h" ] || return 1
    cp .clusterfuzzlite/build.sh "$BASE/src/build.sh"
}

# Set the builder's variables for one configuration, in the current (sub)shell.
builder_env() {
    local engine=$1 sanitizer=$2
    export SRC=$BASE/src # OUT and WORK: set by the caller
    export SANITIZER=$sanitizer FUZZING_ENGINE=$engine ARCHITECTURE=x86_64 FUZZING_LANGUAGE=c
    export UBSAN_OPTIONS=silence_unsigned_overflow=1
    local san_var=SANITIZER_FLAGS_$sanitizer cov_var=COVERAGE_FLAGS_$sanitizer
    export SANITIZER_FLAGS=${!san_var}
    local cov=$COVERAGE_FLAGS
    [ -n "${!cov_var+x}" ] && cov=${!cov_var}
    export CC=clang CXX=clang++ CCC=clang++
    if [ "$engine" = libfuzzer ]; then
        export LIB_FUZZING_ENGINE=-fsanitize=fuzzer # compile_libfuzzer
    else
        # compile_afl: the driver library copied to the LIB_FUZZING_ENGINE path, afl-clang-fast,
        # no SanitizerCoverage flags (AFL++ instruments itself), its build-time settings. The
        # option roulette (CMPLOG, LAF, CTX, dictionary) is left at its defaults.
        cp "$(afl_driver)" "$WORK/libFuzzingEngine.a"
        export LIB_FUZZING_ENGINE=$WORK/libFuzzingEngine.a
        export CC=afl-clang-fast CXX=afl-clang-fast++
        export AFL_QUIET=1 AFL_IGNORE_UNKNOWN_ENVS=1 AFL_LLVM_MODE_WORKAROUND=0
        export AFL_ENABLE_DICTIONARY=0 AFL_ENABLE_CMPLOG=1 AFL_LAF_CHANCE=5
        export ASAN_OPTIONS="detect_leaks=0:symbolize=0:detect_odr_violation=0:abort_on_error=1"
        cov=
    fi
    local base=${OSS_FUZZ_KNOWN_CFLAGS:-}
    # shellcheck disable=SC2086
    [ -n "$base" ] || base=$(known_flags clang $BUILDER_CFLAGS)
    export CFLAGS="$base $SANITIZER_FLAGS $cov"
    export CXXFLAGS="$CFLAGS $CXXFLAGS_EXTRA"
    # build.sh links with $CXX $CXXFLAGS. OSS-Fuzz's engines link against libc++; Debian's
    # libFuzzer (libclang_rt.fuzzer) needs libstdc++, and libc++-dev may be missing: where a
    # minimal target does not link with -stdlib=libc++, CXXFLAGS goes without it (said in the log).
    local probe=$WORK/link-probe
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n == 0; }' \
        >"$probe.c"
    # shellcheck disable=SC2086
    if ! "$CXX" $CXXFLAGS -x c "$probe.c" -x none $LIB_FUZZING_ENGINE -o "$probe" \
        >"$probe.log" 2>&1; then
        export CXXFLAGS=$CFLAGS
        echo "NOTE: this $CXX cannot link the engine with $CXXFLAGS_EXTRA (see $probe.log):" \
            "CXXFLAGS=\$CFLAGS here; OSS-Fuzz's CXXFLAGS add $CXXFLAGS_EXTRA"
    fi
    rm -f "$probe" "$probe.c"
}

# ---- checks --------------------------------------------------------------------------------------
check_build() { # config log
    local c=$1 log=$2 want n
    if [ ! -x "$OUT/fuzz_ops" ]; then
        fail "oss_fuzz_build_$c" "no $OUT/fuzz_ops ($log)"; return 1
    fi
    if ! file "$OUT/fuzz_ops" | grep -q 'x86-64'; then
        fail "oss_fuzz_build_$c" "fuzz_ops is not an x86-64 executable"; return 1
    fi
    for f in fuzz_ops_seed_corpus.zip fuzz_ops.dict fuzz_ops.options; do
        [ -s "$OUT/$f" ] || { fail "oss_fuzz_build_$c" "no $OUT/$f"; return 1; }
    done
    want=$(find corpus/ops corpus/regress -maxdepth 1 -name '*.txt' | wc -l)
    n=$(unzip -Z1 "$OUT/fuzz_ops_seed_corpus.zip" 2>/dev/null | grep -vc '/$')
    if [ "$n" -ne "$want" ] || [ "$want" -eq 0 ]; then
        fail "oss_fuzz_build_$c" "seed corpus zip holds $n files, corpus/ has $want programs"
        return 1
    fi
    if ! cmp -s "$OUT/fuzz_ops.dict" fuzz/ops.dict; then
        fail "oss_fuzz_build_$c" "fuzz_ops.dict is not fuzz/ops.dict"; return 1
    fi
    if ! grep -q '^\[libfuzzer\]' "$OUT/fuzz_ops.options" ||
        ! grep -Eq '^dict *= *fuzz_ops\.dict$' "$OUT/fuzz_ops.options"; then
        fail "oss_fuzz_build_$c" "fuzz_ops.options has no [libfuzzer] dict = fuzz_ops.dict"
        return 1
    fi
    pass "oss_fuzz_build_$c ($n seeds, $(($(stat -c %s "$OUT/fuzz_ops") / 1024)) KiB)"
}

# bad_build_check's check_mixed_sanitizers (calls into each sanitizer runtime, by objdump) and,
# for libFuzzer, check_engine and check_startup_crash (4 runs with no corpus, >= 100 edges).
check_instr() { # config engine sanitizer
    local c=$1 engine=$2 san=$3 dis asan msan ubsan dfsan why=""
    dis=$WORK/objdump.txt
    objdump -d --no-show-raw-insn "$OUT/fuzz_ops" >"$dis" 2>/dev/null
    local call='call[q]?[[:space:]]+[0-9a-f]+[[:space:]]+<'
    asan=$(grep -Ec "${call}__asan" "$dis")
    msan=$(grep -Ec "${call}__msan" "$dis")
    ubsan=$(grep -Ec "${call}__ubsan" "$dis")
    dfsan=$(grep -Ec "${call}__dfsan" "$dis")
    rm -f "$dis"
    case $san in
        address) [ "$asan" -ge 1000 ] || why="$why only $asan ASan calls;"
                 [ "$msan" -le 3 ] || why="$why $msan MSan calls;"
                 [ "$ubsan" -le 200 ] || why="$why $ubsan UBSan calls;" ;;
        memory) [ "$msan" -ge 1000 ] || why="$why only $msan MSan calls;"
                [ "$asan" -eq 0 ] || why="$why $asan ASan calls;"
                [ "$ubsan" -le 200 ] || why="$why $ubsan UBSan calls;" ;;
        undefined) [ "$ubsan" -ge 169 ] || why="$why only $ubsan UBSan calls;"
                   [ "$asan" -eq 0 ] || why="$why $asan ASan calls;"
                   [ "$msan" -le 3 ] || why="$why $msan MSan calls;" ;;
    esac
    [ "$dfsan" -eq 0 ] || why="$why $dfsan DFSan calls;"
    local edges=""
    if [ "$engine" = libfuzzer ]; then
        local log=$WORK/startup.log
        (cd "$OUT" && ASAN_OPTIONS=$RUNNER_ASAN_OPTIONS MSAN_OPTIONS=$RUNNER_MSAN_OPTIONS \
            UBSAN_OPTIONS=$RUNNER_UBSAN_OPTIONS timeout --foreground -k 5 "$RUN_TIMEOUT" ./fuzz_ops \
            -seed=1337 -runs=4 </dev/null) >"$log" 2>&1
        edges=$(grep -Po 'INFO: Loaded [[:digit:]]+ module.*\(.*(counters|guards)\):[[:space:]]+\K[[:digit:]]+' \
            "$log" | head -1)
        grep -q 'no interesting inputs were found' "$log" && why="$why no coverage instrumentation;"
        [ "${edges:-0}" -ge 100 ] || why="$why ${edges:-0} instrumented edges;"
        grep -q 'Done 4 runs' "$log" || why="$why no 'Done 4 runs' (startup crash? $log);"
        edges=", $edges edges"
    fi
    if [ -n "$why" ]; then
        fail "oss_fuzz_instr_$c" "${why% ;}"
        return 1
    fi
    pass "oss_fuzz_instr_$c (calls: asan $asan, msan $msan, ubsan $ubsan$edges)"
}

# run_fuzzer for libFuzzer: cd $OUT; the seed corpus unzipped into a corpus directory; FUZZER_ARGS,
# the .options [libfuzzer] flags and -dict; the runner's sanitizer options.
run_libfuzzer() { # config
    local c=$1 corpus=$WORK/corpus log=$WORK/run.log opts rc execs nseeds
    rm -rf "$corpus" && mkdir -p "$corpus"
    unzip -q -o -d "$corpus" "$OUT/fuzz_ops_seed_corpus.zip"
    nseeds=$(find "$corpus" -type f | wc -l)
    opts=$(awk '/^\[/ { s = ($0 == "[libfuzzer]"); next }
                s && /=/ { k = $0; sub(/ *=.*/, "", k); v = $0; sub(/^[^=]*= */, "", v);
                           printf " -%s=%s", k, v }' "$OUT/fuzz_ops.options")
    # shellcheck disable=SC2086
    (cd "$OUT" && ASAN_OPTIONS=$RUNNER_ASAN_OPTIONS MSAN_OPTIONS=$RUNNER_MSAN_OPTIONS \
        UBSAN_OPTIONS=$RUNNER_UBSAN_OPTIONS timeout --foreground -k 5 "$RUN_TIMEOUT" ./fuzz_ops \
        $RUNNER_FUZZER_ARGS -max_total_time="$RUN_SECONDS" -print_final_stats=1 \
        -artifact_prefix="$WORK/" "$corpus" $opts </dev/null) >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    if [ "$rc" -ne 0 ]; then
        local what
        what=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|hakmem ops: check failed|.*runtime error)' \
            "$log")
        [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && what="no exit within ${RUN_TIMEOUT}s"
        fail "oss_fuzz_run_$c" "exit $rc: ${what:-see log} ($log)"
        return 1
    fi
    if ! grep -q 'INITED' "$log"; then
        fail "oss_fuzz_run_$c" "the seed corpus was not run ($log)"; return 1
    fi
    pass "oss_fuzz_run_$c (${execs:-?} executions in ${RUN_SECONDS}s from $nseeds seeds)"
}

# AFL++: each seed through the driver (it runs files named on its command line), then afl-fuzz as
# run_fuzzer starts it (its AFL_* settings, -m none -t 5000+, the dict), for RUN_SECONDS.
run_afl() { # config
    local c=$1 corpus=$WORK/corpus log=$WORK/run.log f bad="" nseeds
    rm -rf "$corpus" "$WORK/afl-out" && mkdir -p "$corpus"
    unzip -q -o -d "$corpus" "$OUT/fuzz_ops_seed_corpus.zip"
    nseeds=$(find "$corpus" -type f | wc -l)
    local aflasan="$RUNNER_ASAN_OPTIONS:abort_on_error=1:symbolize=0:detect_odr_violation=0:"
    : >"$log"
    for f in "$corpus"/*; do
        echo "== $f" >>"$log"
        # In a subshell, so that the shell's "Aborted" notice goes to the log too.
        if ! (ASAN_OPTIONS=$RUNNER_ASAN_OPTIONS timeout --foreground -k 5 25 "$OUT/fuzz_ops" "$f" \
            </dev/null) >>"$log" 2>&1; then
            bad="$bad $(basename "$f")"
        fi
    done
    if [ -n "$bad" ]; then
        fail "oss_fuzz_run_$c" "seeds crash when run directly:$bad ($log)"; return 1
    fi
    echo input >"$corpus/input" # run_fuzzer: AFL expects at least one file
    (cd "$OUT" && env ASAN_OPTIONS="$aflasan" \
        MSAN_OPTIONS="$RUNNER_MSAN_OPTIONS:exit_code=86:symbolize=0" \
        UBSAN_OPTIONS="$RUNNER_UBSAN_OPTIONS:symbolize=0" \
        AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_TRY_AFFINITY=1 \
        AFL_NO_AFFINITY=1 AFL_FAST_CAL=1 AFL_CMPLOG_ONLY_NEW=1 AFL_FORKSRV_INIT_TMOUT=30000 \
        AFL_IGNORE_PROBLEMS=1 AFL_IGNORE_UNKNOWN_ENVS=1 AFL_NO_UI=1 \
        timeout --foreground -k 5 "$RUN_TIMEOUT" afl-fuzz -m none -t 5000+ -V "$RUN_SECONDS" \
        -i "$corpus" -o "$WORK/afl-out" -x fuzz_ops.dict -- ./fuzz_ops </dev/null) >>"$log" 2>&1
    local rc=$? stats execs crashes
    stats=$(find "$WORK/afl-out" -name fuzzer_stats | head -1)
    execs=$([ -n "$stats" ] && awk -F' *: *' '/^execs_done/ {print $2}' "$stats")
    crashes=$([ -n "$stats" ] &&
        awk -F' *: *' '/^(saved_crashes|unique_crashes)/ {print $2}' "$stats")
    if ! grep -q 'All set and ready to roll' "$log"; then
        fail "oss_fuzz_run_$c" "afl-fuzz did not start fuzzing (exit $rc, $log)"; return 1
    fi
    if grep -Eq 'target binary (crashed|terminated)' "$log"; then
        fail "oss_fuzz_run_$c" "the target crashed at startup ($log)"; return 1
    fi
    if [ "$rc" -ne 0 ] || [ "${crashes:-0}" -ne 0 ]; then
        fail "oss_fuzz_run_$c" "afl-fuzz exit $rc, ${crashes:-0} crashes ($log)"; return 1
    fi
    pass "oss_fuzz_run_$c (${execs:-?} executions in ${RUN_SECONDS}s, $nseeds seeds run directly)"
}

# ---- main ----------------------------------------------------------------------------------------
# One configuration: build, check, run (the script runs itself with --one under a hard time limit).
one_config() { # config
    local c=$1 engine=${1%%_*} san=${1#*_} log ok=0
    export OUT=$BASE/out/$c WORK=$BASE/work/$c
    rm -rf "$OUT" "$WORK" && mkdir -p "$OUT" "$WORK"
    log=$BASE/build-$c.log
    # The build in a shell of its own: the builder's variables are not the runner's.
    if ! (
        builder_env "$engine" "$san"
        echo "CC=$CC"; echo "CXX=$CXX"; echo "CFLAGS=$CFLAGS"; echo "CXXFLAGS=$CXXFLAGS"
        echo "LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE"
        echo "SANITIZER=$SANITIZER FUZZING_ENGINE=$FUZZING_ENGINE ARCHITECTURE=$ARCHITECTURE"
        cd "$SRC/hakmem" && timeout --foreground -k 10 "$BUILD_TIMEOUT" bash -eux "$SRC/build.sh"
    ) >"$log" 2>&1; then
        fail "oss_fuzz_build_$c" \
            "build.sh failed: $(grep -m1 -E 'error:|Error [0-9]' "$log" | cut -c1-200) ($log)"
        return 1
    fi
    check_build "$c" "$log" || return 1
    [ "$san" = coverage ] && return 0 # a coverage build is for reports, not for fuzzing
    # test_all.py runs the checks on a copy of OUT elsewhere (/tmp/not-out), which catches paths
    # into OUT built into the target or its options.
    cp -a "$OUT" "$WORK/not-out" && export OUT=$WORK/not-out
    check_instr "$c" "$engine" "$san" || ok=1
    if [ "$engine" = libfuzzer ]; then
        run_libfuzzer "$c" || ok=1
    else
        run_afl "$c" || ok=1
    fi
    return $ok
}

if [ "${1:-}" = --one ]; then
    one_config "$2"
    exit $?
fi

mkdir -p "$BASE"
if ! copy_tree; then
    fail oss_fuzz_source_copy "could not copy the tree into $BASE/src"
    exit 1
fi
# The same for every configuration: probed once.
# shellcheck disable=SC2086
OSS_FUZZ_KNOWN_CFLAGS=$(known_flags clang $BUILDER_CFLAGS)
export OSS_FUZZ_KNOWN_CFLAGS
# One configuration under its hard time limit; its lines go to $BASE/result-<config>.
run_config() { # config
    local c=$1 start=$SECONDS rc
    # The inner limits (build, each run) use --foreground, so that they stay in this limit's
    # process group: when it expires, everything of the configuration goes.
    timeout -k 10 "$CONFIG_TIMEOUT" "$ROOT/ci/oss-fuzz-check.sh" --one "$c"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "oss_fuzz_$c" \
            "not done within ${CONFIG_TIMEOUT}s (logs: $BASE/build-$c.log, $BASE/work/$c/)"
    fi
    echo "  ($c: $((SECONDS - start)) s)"
    return "$rc"
}
afl_ready=
for c in $CONFIGS; do
    case " $ALL_CONFIGS " in
        *" $c "*) ;;
        *) fail "oss_fuzz_build_$c" "unknown configuration (known: $ALL_CONFIGS)"; continue ;;
    esac
    if [ "${c%%_*}" = afl ]; then
        [ -n "$afl_ready" ] || { ensure_afl && [ -n "$(afl_driver)" ] && afl_ready=yes; } || {
            fail "oss_fuzz_build_$c" "no afl-clang-fast or libAFLDriver.a (apt-get install afl++)"
            continue
        }
    fi
    valid="${valid:-} $c"
done
# OSS_FUZZ_JOBS configurations at a time (each one's build uses every core through make -j; its
# runs are one process each); their lines are printed in the order of CONFIGS.
jobs=${OSS_FUZZ_JOBS:-1}
pids=()
names=()
for c in ${valid:-}; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_config "$c" >"$BASE/result-$c" 2>&1 &
    pids+=("$!")
    names+=("$c")
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed=1
    cat "$BASE/result-${names[$i]}"
done
exit $failed
