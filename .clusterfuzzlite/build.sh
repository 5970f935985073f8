#!/bin/bash -eu
# build.sh — ClusterFuzzLite / OSS-Fuzz build of hakmem's op-sequence fuzzer: $OUT/fuzz_ops (the
# interpreter of fuzz/ over the hak_* API, driven by fuzz/driver_libfuzzer.c), its seed corpus
# $OUT/fuzz_ops_seed_corpus.zip (corpus/ops and corpus/regress, compiled), $OUT/fuzz_ops.dict and
# $OUT/fuzz_ops.options.
#
# Runs inside the builder image (.clusterfuzzlite/Dockerfile, or an OSS-Fuzz project directory
# whose Dockerfile copies this file to $SRC/build.sh), from $SRC/hakmem, with the variables the
# builder's `compile` sets: CC, CXX, CFLAGS, CXXFLAGS (optimization, sanitizer and coverage flags
# already in), LIB_FUZZING_ENGINE (-fsanitize=fuzzer for libFuzzer, a driver library such as
# AFL++'s libAFLDriver.a otherwise), OUT, WORK, SANITIZER (address, undefined, memory, coverage),
# FUZZING_ENGINE and ARCHITECTURE. `make oss-fuzz-check` (ci/oss-fuzz-check.sh) runs it outside
# Docker in an emulation of that environment.
#
# The library and the interpreter are compiled by the Makefile's oss-fuzz variant (make is in
# the builder image): its source list is the one every build of hakmem uses, and its flags are
# hakmem's without -Werror, followed by the builder's (which decide optimization, sanitizers and
# coverage). What the Makefile's fuzz build does is kept: hakmem's own sanitizer hooks
# (alloc/track.h) for ASan and MSan, the heap check in the interpreter, and the coverage ignore
# list (fuzz/coverage_ignore.txt, plus the interpreter itself: the fuzzer's signal is the
# allocator's code).

# The source tree: the current directory (the Dockerfiles' WORKDIR), else $SRC/hakmem.
if [ ! -f alloc/hakmem.h ]; then
    cd "${SRC:-/src}/hakmem"
fi
ROOT=$(pwd)

: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=$CFLAGS}"
: "${SANITIZER:=address}" "${FUZZING_ENGINE:=libfuzzer}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}" "${OUT:?OUT must name the output directory}"
mkdir -p "$OUT" "${WORK:-${TMPDIR:-/tmp}}"
OUT=$(cd "$OUT" && pwd)
BUILD_DIR=$(mktemp -d "${WORK:-${TMPDIR:-/tmp}}/hakmem-build.XXXXXX")
trap 'rm -rf "$BUILD_DIR"' EXIT

# Coverage ignore list: what the Makefile's fuzz build leaves out of SanitizerCoverage, and the
# interpreter (not instrumented there either: decoding ops is not the allocator's behaviour). The
# driver stays instrumented: an input that is not a program (the empty one, with no corpus, as the
# builder's bad-build check runs the target) must still reach a counter, or libFuzzer stops with
# "no interesting inputs were found". libFuzzer builds take the list as a clang flag; AFL++
# (afl-clang-fast) reads the same format from AFL_LLVM_DENYLIST.
IGNORE_FLAGS=
{
    cat fuzz/coverage_ignore.txt
    # The patterns match the path as compiled (fuzz/x.c) for clang and AFL++ alike.
    echo "# The op interpreter (the Makefile's INTERP_SRCS)."
    echo "src:*/interpreter.c"
    echo "src:*/ops_format.c"
    echo "src:*/race_sched.c"
    echo "src:*/target_linked.c"
} >"$BUILD_DIR/coverage_ignore.txt"
case " $CFLAGS " in
    *fuzzer-no-link* | *-fsanitize-coverage=*)
        IGNORE_FLAGS="-fsanitize-coverage-ignorelist=$BUILD_DIR/coverage_ignore.txt" ;;
esac
if [ "$FUZZING_ENGINE" = afl ]; then
    export AFL_LLVM_DENYLIST="$BUILD_DIR/coverage_ignore.txt"
fi

# The library and the interpreter with the libFuzzer entry point, compiled by the Makefile's
# oss-fuzz variant: the same source list as every other build of hakmem (the Makefile's
# CORE_SRCS), hakmem's flags first and the builder's CC and CFLAGS after them (its -O, -g and
# sanitizer choices win), hakmem's own sanitizer hooks (alloc/track.h) for ASan and MSan, the
# heap check in the interpreter. The malloc family stays the sanitizer runtime's: the fuzzer
# drives hakmem through the hak_* API.
export CC CFLAGS SANITIZER
make -j"$(nproc 2>/dev/null || echo 2)" --no-print-directory VARIANT=oss-fuzz BUILD="$BUILD_DIR" \
    OSS_FUZZ_IGNORE_FLAGS="$IGNORE_FLAGS" oss-fuzz-objs
read -r -a link_inputs <"$BUILD_DIR/link-inputs"

# Linked by the C++ driver, as OSS-Fuzz links every target: the engine's runtime may be C++
# (libFuzzer's is; so is Centipede's) and must get the builder's C++ standard library
# (CXXFLAGS: -stdlib=libc++).
# shellcheck disable=SC2086
$CXX $CXXFLAGS "${link_inputs[@]}" $LIB_FUZZING_ENGINE -lpthread -ldl -lm -o "$OUT/fuzz_ops"

# Seed corpus: every text program compiled by opsc, built with the host compiler (CC and CFLAGS
# carry sanitizer and fuzzer flags meant for the target, not for a build tool). Names as in
# build/fuzz/seeds: <corpus>-<program>.
HOST_CC=${HOST_CC:-$(command -v cc || command -v gcc || command -v clang)}
"$HOST_CC" -std=gnu11 -O2 fuzz/opsc.c fuzz/ops_format.c -o "$BUILD_DIR/opsc"
mkdir -p "$BUILD_DIR/seeds"
nseeds=0
for txt in corpus/ops/*.txt corpus/regress/*.txt; do
    [ -f "$txt" ] || continue
    "$BUILD_DIR/opsc" compile "$txt" \
        "$BUILD_DIR/seeds/$(basename "$(dirname "$txt")")-$(basename "$txt" .txt)"
    nseeds=$((nseeds + 1))
done
if [ "$nseeds" -eq 0 ]; then
    echo "build.sh: no seed programs in corpus/ops or corpus/regress" >&2
    exit 1
fi
rm -f "$OUT/fuzz_ops_seed_corpus.zip"
if command -v zip >/dev/null 2>&1; then
    (cd "$BUILD_DIR/seeds" && zip -q -X "$OUT/fuzz_ops_seed_corpus.zip" ./*)
else
    python3 - "$BUILD_DIR/seeds" "$OUT/fuzz_ops_seed_corpus.zip" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        z.write(os.path.join(src, name), name)
EOF
fi

# Dictionary and options. The options file is ClusterFuzz's: one section per tool; [libfuzzer]
# keys become -key=value flags (dict is a path relative to $OUT). The values are make fuzz's:
# programs up to 8 KiB, and 20 s before an input counts as a hang (the fork and bulk ops are slow
# under the sanitizers).
cp fuzz/ops.dict "$OUT/fuzz_ops.dict"
cat >"$OUT/fuzz_ops.options" <<'EOF'
[libfuzzer]
dict = fuzz_ops.dict
max_len = 8192
timeout = 20
EOF

echo "build.sh: $OUT/fuzz_ops ($FUZZING_ENGINE, $SANITIZER) from $ROOT; $nseeds seed programs"
