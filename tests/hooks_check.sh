#!/usr/bin/env bash
# hooks_check.sh LIB_WITH_HOOKS LIB_WITHOUT_HOOKS: run the fixed-size benchmark under callgrind
# with each library (LD_PRELOAD) and compare the instructions executed; they must be equal,
# showing that the tracking hooks of alloc/track.h compile to nothing in release.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -std=gnu11 -Wall -Wextra -Werror "$here/bench/fixed_size.c" -o "$work/fixed_size" || exit 1
count() {
    LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$work/fixed_size" size=64 steps=200000 >/dev/null 2>&1 || return 1
    awk '/^summary:/ { print $2 }' "$work/cg.out"
}
with=$(count "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")")
without=$(count "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
echo "callgrind, fixed_size size=64 steps=200000: $with instructions with the hooks, $without without"
if [ -n "$with" ] && [ "$with" = "$without" ]; then
    echo "PASS tracking_hooks_compile_to_nothing_in_release"
else
    echo "FAIL tracking_hooks_compile_to_nothing_in_release: counts differ"
    exit 1
fi
