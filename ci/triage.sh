#!/usr/bin/env bash
# triage.sh OUT — every crash file a nightly job left in OUT/crashes/ (named JOB-ENGINE-NAME):
#   1. reproduced with the fuzz target of its build (asan jobs: build/fuzz/fuzz_ops, also for AFL++
#      finds, whose inputs have the same format; msan: build/msan/fuzz_ops); one that no longer
#      crashes in 3 tries is reported as flaky, not dropped;
#   2. minimized (libFuzzer's -minimize_crash) and decompiled into a text program;
#   3. given a signature: the first failed check of the interpreter ("check failed at op N (KIND
#      ...): what"), or the sanitizer's error kind and the top frames, with addresses and numbers
#      taken out; crashes with one signature are one finding;
#   4. written as a candidate regression test OUT/triage/<signature>.txt with its replay command, and
#      replayed once to show that it fails.
# A signature is known when corpus/regress/<signature>.txt exists or ci/known_signatures.txt lists
# it. Prints "FAIL new_crash_signature_<sig>: ..." for each new one (the night fails), "PASS
# ..." lines for known and flaky ones, and writes OUT/triage/triage.tsv (signature, verdict, count,
# candidate, replay command, first crash file).
set -u
out=$1
cd "$(dirname "$0")/.."
tri=$out/triage
mkdir -p "$tri"
table=$tri/triage.tsv
: >"$table"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:symbolize=1
export MSAN_OPTIONS=abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

signature() { # LOG: one line, [a-z0-9_], from the first evidence of what broke
    local line check san
    # Whichever comes first: a failed check of the interpreter, or a sanitizer's report (a fork
    # child's report comes before the parent's "fork child ended" check).
    check=$(grep -anm1 -E 'check failed at op [0-9]+ \(' "$1" | cut -d: -f1)
    san=$(grep -anm1 -E '(Address|Memory|UndefinedBehavior|Thread|Leak)Sanitizer: [a-zA-Z-]+|runtime error: ' "$1" | cut -d: -f1)
    if [ -n "$check" ] && { [ -z "$san" ] || [ "$check" -lt "$san" ]; }; then
        # "(KIND ...)" or "(in the fork child: KIND ...)": the same finding either way.
        line=$(grep -am1 -oE 'check failed at op [0-9]+ \((in the fork child: )?[a-z_]+[^)]*\): .*' \
            "$1" | sed -E 's/check failed at op [0-9]+ \((in the fork child: )?([a-z_]+)[^)]*\): /\2: /')
    fi
    if [ -z "${line:-}" ]; then
        line=$(grep -am1 -oE '(Address|Memory|UndefinedBehavior|Thread|Leak)Sanitizer: [a-zA-Z-]+' "$1")
        [ -n "$line" ] || line=$(grep -am1 -oE 'runtime error: .*' "$1")
        [ -n "$line" ] || line=$(grep -am1 -E '^hakmem' "$1")
        [ -n "$line" ] || line="unknown crash"
        # The top frames that name a function of ours.
        line="$line $(grep -aoE '#[0-9]+ 0x[0-9a-f]+ in [A-Za-z_][A-Za-z0-9_]*' "$1" |
            awk '{ print $4 }' | grep -vE '^(__|fuzzer|abort|raise|fail|LLVMFuzzer)' | head -3 |
            paste -sd' ')"
    fi
    echo "$line" | tr 'A-Z' 'a-z' | sed -E 's/0x[0-9a-f]+/x/g; s/[0-9]+/n/g; s/[^a-z]+/_/g;
        s/^_+//; s/_+$//' | cut -c1-72 | sed -E 's/_+$//'
}

known() {
    [ -f "corpus/regress/$1.txt" ] && return 0
    [ -f ci/known_signatures.txt ] && grep -qx "$1" ci/known_signatures.txt
}

n=0
declare -A seen
for f in "$out"/crashes/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f")
    job=${name%%-*}
    case $job in msan) bin=build/msan/fuzz_ops replay=build/msan/replay ;;
    *) bin=build/fuzz/fuzz_ops replay=build/asan/replay ;;
    esac
    log=$tri/$name.log
    crashed=0
    for try in 1 2 3; do
        if ! timeout -k 5 120 "$bin" -runs=3 -timeout=20 "$f" >"$log" 2>&1; then
            crashed=1
            break
        fi
    done
    if [ "$crashed" = 0 ]; then
        echo "PASS crash_triaged_$name (flaky: did not crash again in 3 runs; kept in crashes/)"
        printf 'flaky_%s\tflaky\t1\t\t%s %s\t%s\n' "$name" "$bin" "$f" "$f" >>"$table"
        continue
    fi
    sig=$(signature "$log")
    if [ -n "${seen[$sig]:-}" ]; then
        seen[$sig]=$((${seen[$sig]} + 1))
        continue
    fi
    seen[$sig]=1
    min=$tri/$sig.bin
    timeout -k 5 300 "$bin" -minimize_crash=1 -runs="${TRIAGE_MINIMIZE_RUNS:-20000}" -timeout=20 \
        -exact_artifact_path="$min" "$f" >"$tri/$sig.minimize.log" 2>&1
    [ -s "$min" ] || cp "$f" "$min"
    cand=$tri/$sig.txt
    {
        echo "# hakmem ops v3"
        echo "# regression candidate: $sig (from $name, job $job, minimized from $(stat -c %s "$f") to $(stat -c %s "$min") bytes)"
        echo "# replay: $replay $cand ; to keep it: cp $cand corpus/regress/"
        build/opsc decompile "$min" | sed 1d
    } >"$cand"
    if timeout -k 5 120 "$replay" "$cand" >"$tri/$sig.replay.log" 2>&1; then
        replays="the candidate does NOT fail on replay (see $tri/$sig.replay.log)"
    else
        replays="the candidate fails on replay"
    fi
    if known "$sig"; then
        verdict=known
        echo "PASS crash_triaged_$sig (known signature; $replays)"
    else
        verdict=new
        echo "FAIL new_crash_signature_$sig: from $name; $replays; candidate $cand"
    fi
    printf '%s\t%s\t%s\t%s\t%s %s\t%s\n' "$sig" "$verdict" 1 "$cand" "$replay" "$cand" "$f" >>"$table"
done
# Counts of duplicates.
for sig in "${!seen[@]}"; do
    awk -F'\t' -v s="$sig" -v c="${seen[$sig]}" 'BEGIN { OFS = "\t" } $1 == s { $3 = c } { print }' \
        "$table" >"$table.tmp" && mv "$table.tmp" "$table"
done
echo "triage: $n crash file(s), $(grep -c . "$table") finding(s)"
awk -F'\t' '$2 == "new" { bad = 1 } END { exit bad }' "$table"
