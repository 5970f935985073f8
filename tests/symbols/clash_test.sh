#!/usr/bin/env bash
# clash_test.sh LIBDIR [INCLUDEDIR] — a program that defines every name of
# tests/symbols/da17d78_internal_names.txt (the ones hakmem's archive defined before its private
# namespace: options_init, check_fail, hk_-less heap and tier functions...) links statically
# against LIBDIR/libhakmem.a and against LIBDIR/libhakmem_core.a, and runs: its own functions are
# the ones called, and its allocations are hakmem's. One PASS or FAIL line per archive.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
libdir=$1
incdir=${2:-$here/alloc}
names=$(grep -v '^#' "$here/tests/symbols/da17d78_internal_names.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=$(printf '%s\n' $names | wc -l)
# Every name a function returning its position, called through a table, and the allocator used:
# through the malloc family (libhakmem.a) or the hak_* API (libhakmem_core.a).
gen() { # ALLOC FREE
    echo '#include <stdio.h>'
    echo '#include <stdlib.h>'
    echo '#include "hakmem.h"'
    i=0
    for s in $names; do i=$((i + 1)); echo "long $s(void) { return $i; }"; done
    echo "static long (*const table[])(void) = {"
    for s in $names; do echo "    $s,"; done
    echo "};"
    cat <<C
int main(void)
{
    long sum = 0;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        sum += table[k]();
    void *p[64];
    for (int k = 0; k < 64; k++)
        p[k] = $1((size_t)k * 40 + 1);
    struct hak_stats s;
    hak_stats(&s);
    for (int k = 0; k < 64; k++)
        $2(p[k]);
    long want = (long)$n * ($n + 1) / 2;
    if (sum != want || s.allocs < 64) {
        printf("sum %ld (want %ld), hakmem allocations %llu (want >= 64)\n", sum, want,
               (unsigned long long)s.allocs);
        return 1;
    }
    printf("%ld names of the program's own, 64 blocks from hakmem\n", (long)$n);
    return 0;
}
C
}
status=0
for archive in libhakmem.a libhakmem_core.a; do
    name=program_defining_former_internal_names_links_with_${archive%.a}
    if [ "$archive" = libhakmem.a ]; then gen malloc free; else gen hak_malloc hak_free; fi \
        >"$work/clash.c"
    if ! cc -std=gnu11 -O1 -I"$incdir" "$work/clash.c" "$libdir/$archive" -o "$work/clash" \
        -pthread -ldl -lm >"$work/link.log" 2>&1; then
        echo "FAIL $name: $libdir/$archive does not link: $(grep -m1 -E 'multiple definition|error' \
            "$work/link.log" | cut -c1-200)"
        status=1
        continue
    fi
    if out=$("$work/clash" 2>&1); then
        echo "PASS $name ($out)"
    else
        echo "FAIL $name: $out"
        status=1
    fi
done
exit $status
