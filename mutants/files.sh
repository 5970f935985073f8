#!/usr/bin/env bash
# files.sh [--check] — how many planted bugs (mutants/*.patch) touch each file of alloc/ and
# launcher/; a file with none is listed with its reason from mutants/files_without_planted_bugs.txt.
# With --check: one PASS or FAIL line (every_allocator_file_has_a_planted_bug_or_a_reason), exit 1
# when a file has neither, or a reason is given for a file that has planted bugs or is gone.
set -u
cd "$(dirname "$0")/.." || exit 1
reasons=mutants/files_without_planted_bugs.txt
missing="" stale="" nfiles=0 nbugs=0
for f in alloc/*.[ch] launcher/*.c; do
    nfiles=$((nfiles + 1))
    n=$(grep -l -x -F "+++ b/$f" mutants/*.patch 2>/dev/null | wc -l)
    reason=$(grep -F "$f: " "$reasons" | head -1 | sed "s|^$f: ||")
    if [ "$n" -gt 0 ]; then
        nbugs=$((nbugs + 1))
        [ -n "$reason" ] && stale="$stale $f"
        [ "${1:-}" = --check ] || printf '%3d  %s\n' "$n" "$f"
    elif [ -n "$reason" ]; then
        [ "${1:-}" = --check ] || printf '  -  %s: %s\n' "$f" "$reason"
    else
        missing="$missing $f"
        [ "${1:-}" = --check ] || printf '  -  %s: NO PLANTED BUG AND NO REASON\n' "$f"
    fi
done
for f in $(sed -n 's/^\(alloc\/[^:]*\|launcher\/[^:]*\): .*/\1/p' "$reasons"); do
    [ -e "$f" ] || stale="$stale $f(gone)"
done
if [ -z "$missing" ] && [ -z "$stale" ]; then
    echo "PASS every_allocator_file_has_a_planted_bug_or_a_reason ($nbugs of $nfiles files have planted bugs, the rest a reason)"
else
    echo "FAIL every_allocator_file_has_a_planted_bug_or_a_reason:${missing:+ no planted bug and no reason:$missing}${stale:+; a reason listed for a file with planted bugs (or gone):$stale}"
    exit 1
fi
