#!/usr/bin/env bash
# hooks_check.sh LIB_WITH_HOOKS LIB_WITHOUT_HOOKS: run the fixed-size benchmark under callgrind
# with each library (LD_PRELOAD) and compare the instructions executed in the bodies of malloc
# and free themselves (the inlined fast paths; slow paths are separate functions whose register
# allocation may differ). They must be equal: the tracking hooks of alloc/track.h and the
# scheduling points compile to nothing in release.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -std=gnu11 -Wall -Wextra -Werror "$here/bench/fixed_size.c" -o "$work/fixed_size" || exit 1
count() { # prints: fast-path instructions, all instructions inside malloc and free
    LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        --collect-atstart=no --toggle-collect=malloc --toggle-collect=free \
        "$work/fixed_size" size=64 steps=200000 >/dev/null 2>&1 || return 1
    callgrind_annotate --inclusive=no --threshold=100 "$work/cg.out" 2>/dev/null | tr -d , |
        awk '/:(malloc|free)( |$)/ { fast += $1 } /PROGRAM TOTALS/ { all = $1 }
             END { print fast + 0, all + 0 }'
}
read -r with with_all < <(count "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")")
read -r without without_all < <(count "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
echo "callgrind, fixed_size size=64 steps=200000: malloc and free bodies $with instructions with" \
    "the hooks, $without without (everything inside them: $with_all and $without_all)"
if [ -n "$with" ] && [ "$with" != 0 ] && [ "$with" = "$without" ]; then
    echo "PASS tracking_hooks_compile_to_nothing_in_release"
else
    echo "FAIL tracking_hooks_compile_to_nothing_in_release: counts differ"
    exit 1
fi
