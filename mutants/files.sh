#!/usr/bin/env bash
# files.sh [--check] — how many planted bugs (mutants/*.patch) touch each file of alloc/ and
# launcher/; a file with none is listed with its reason from mutants/files_without_planted_bugs.txt.
# With --check: two PASS or FAIL lines, exit 1 on a FAIL: every_allocator_file_has_a_planted_bug_
# or_a_reason (a file has neither, or a reason is given for a file that has planted bugs or is
# gone) and every_planted_bug_applies_to_the_tree (each patch applies exactly, with no fuzz: a
# planted bug whose code moved must be re-pointed, not left for make mutants to report).
# PLANTED_BUGS (default mutants): the directory of patches (its tests give it made-up ones).
# HAKMEM_PLANTED_BUG (set by make mutants in its copy): the name of the patch applied there, where
# the others need not apply; the second check is then skipped, saying so.
set -u
cd "$(dirname "$0")/.." || exit 1
bugs=${PLANTED_BUGS:-mutants}
reasons=mutants/files_without_planted_bugs.txt
missing="" stale="" nfiles=0 nbugs=0
# Patches per file and reasons per file, each read once (a grep per file and patch took seconds).
declare -A touching reason_of
while read -r n f; do touching[$f]=$n; done < <(for p in "$bugs"/*.patch; do
    [ -e "$p" ] && grep -x '+++ b/.*' "$p" | sed 's|^+++ b/||' | sort -u; done | sort | uniq -c)
while IFS= read -r line; do
    f=${line%%: *}
    [ -z "${reason_of[$f]+set}" ] && reason_of[$f]=${line#*: }
done < <(grep -E '^(alloc|launcher)/[^:]*: ' "$reasons")
for f in alloc/*.[ch] launcher/*.c; do
    nfiles=$((nfiles + 1))
    n=${touching[$f]:-0}
    reason=${reason_of[$f]:-}
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
    rc=1
fi
[ "${1:-}" = --check ] || exit "${rc:-0}"
if [ -n "${HAKMEM_PLANTED_BUG:-}" ]; then
    # make mutants' own copy, with one planted bug applied: the others may overlap it.
    echo "PASS every_planted_bug_applies_to_the_tree (not checked: $HAKMEM_PLANTED_BUG is applied to this copy)"
    exit "${rc:-0}"
fi
stale_patches="" npatches=0
for p in "$bugs"/*.patch; do
    npatches=$((npatches + 1))
    patch -p1 --dry-run -s -f -F0 -i "$p" >/dev/null 2>&1 || stale_patches="$stale_patches $(basename "$p" .patch)"
done
if [ -z "$stale_patches" ]; then
    echo "PASS every_planted_bug_applies_to_the_tree ($npatches patches, no fuzz)"
else
    echo "FAIL every_planted_bug_applies_to_the_tree: no longer applies exactly:$stale_patches"
    rc=1
fi
exit "${rc:-0}"
