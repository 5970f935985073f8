#!/usr/bin/env bash
# quick_checks.sh — make test's short checks that need no suite: the layering, the shipped symbols,
# the workflows' lint, the docs, the planted bugs, make mutate's own tests, the protocol-pair
# judge, the op format's round trip and the race programs early. Each takes 1 to 11 s and most use
# one core: they run QUICK_JOBS (2) at a time, each output shown whole, in order, once all ended.
# One PASS or FAIL line per check (a check that fails without one gets a FAIL naming it); exits 1
# if any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
names=(layering symbols ci_lint docs planted_bugs mutate_check protocol_pairs_check ops_text
    races_early)
cmds=("make --no-print-directory layering-check"
    "make --no-print-directory symbols-check"
    "make --no-print-directory ci-lint"
    "tests/docs_check.sh"
    "mutants/files.sh --check"
    "python3 tests/mutate_check.py"
    "tests/protocol_pairs_check.sh"
    "tests/ops_text_check.sh"
    "make --no-print-directory replay-races-early")
# The longest first, so the pair that ends last is short.
order="5 8 0 1 2 3 4 6 7"
for i in "${!cmds[@]}"; do printf '%s\n' "${cmds[$i]}" >"$dir/$i.cmd"; done
for i in $order; do printf '%s\n' "$i"; done |
    xargs -P "${QUICK_JOBS:-2}" -I{} bash -c 'began=$SECONDS; eval "$(cat "$1/$2.cmd")" >"$1/$2.out" 2>&1
        echo "$? $((SECONDS - began))" >"$1/$2.rc"' _ "$dir" {}
status=0
for i in "${!names[@]}"; do
    echo "== ${cmds[$i]}"
    cat "$dir/$i.out" 2>/dev/null
    read -r rc secs <"$dir/$i.rc" 2>/dev/null || { rc=1 secs=?; }
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -q '^FAIL ' "$dir/$i.out" 2>/dev/null ||
            echo "FAIL quick_${names[$i]}: exited with status $rc before any check failed"
    fi
    echo "== ${names[$i]}: $secs s"
done
exit $status
