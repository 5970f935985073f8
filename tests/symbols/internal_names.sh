#!/usr/bin/env bash
# internal_names.sh ARCHIVE — the global symbols ARCHIVE defines that are not hakmem's public API
# (the functions of alloc/hakmem.h, the malloc family the README lists after "Interposed:", C++'s
# operators new and delete), one per line, sorted. Run from the repository root. With the archive
# of da17d78 it printed tests/symbols/da17d78_internal_names.txt:
#   git worktree add /tmp/hakmem-da17d78 da17d78 && make -C /tmp/hakmem-da17d78 lib &&
#   tests/symbols/internal_names.sh /tmp/hakmem-da17d78/build/release/libhakmem.a
set -euo pipefail
archive=$1
public=$(sed 's|/\*.*\*/||' alloc/hakmem.h | grep -oE '\bhak_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
family=$(tr '\n' ' ' <README.md | grep -oE 'Interposed: `[^`]*`' | sed 's/^Interposed: `//; s/`$//' |
    tr ' ' '\n' | grep -v '^$' | sort -u)
[ -n "$family" ] || { echo "internal_names.sh: no 'Interposed: \`...\`' list in README.md" >&2; exit 1; }
nm -g --defined-only "$archive" | awk 'NF == 3 { print $3 }' | sort -u |
    grep -vxF -f <(printf '%s\n' $public $family) | grep -vE '^_Z(nw|na|dl|da)' || true
