#!/usr/bin/env bash
# ops_text_check.sh — the op format's promise that text -> binary -> text is the identity on
# canonical text, held against every program of corpus/ (which make replay and the fuzzers' seeds
# read as text): each compiles (build/opsc) and decompiles to itself, comments and annotations
# aside. A field the decoder drops or the encoder forgets (a race task's flag, an operand's range)
# changes some program's text. One PASS or FAIL line; exits 1 on FAIL.
set -u
cd "$(dirname "$0")/.." || exit 1
make --no-print-directory -s build/opsc || { echo "FAIL corpus_programs_round_trip_through_the_binary_format: build/opsc does not build"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip() { sed -e 's/ *#.*$//' -e '/^$/d' "$1"; }
n=0 bad=""
for f in corpus/ops/*.txt corpus/regress/*.txt; do
    n=$((n + 1))
    if ! build/opsc compile "$f" "$work/p.bin" >"$work/err" 2>&1; then
        bad="$bad $f (does not compile: $(head -1 "$work/err"))"
        continue
    fi
    build/opsc decompile "$work/p.bin" >"$work/back.txt"
    if ! cmp -s <(strip "$f") <(strip "$work/back.txt"); then
        bad="$bad $f (line $(diff <(strip "$f") <(strip "$work/back.txt") | sed -n '1s/[^0-9].*//p'): $(diff <(strip "$f") <(strip "$work/back.txt") | sed -n 's/^> //p' | head -1))"
    fi
done
if [ -z "$bad" ]; then
    echo "PASS corpus_programs_round_trip_through_the_binary_format ($n programs)"
else
    echo "FAIL corpus_programs_round_trip_through_the_binary_format:$bad"
    exit 1
fi
