#!/usr/bin/env bash
# quick_checks.sh — make test's short checks that need no suite: the layering, the shipped symbols,
# the workflows' lint, the docs, the planted bugs, make mutate's own tests, the protocol-pair
# judge, the op format's round trip, the race programs early, the corpus on loaded allocators
# (glibc, hakmem) and the sources' format. Each takes 1 to 11 s and most use one core:
# tests/run_tests.sh runs them QUICK_JOBS (2) at a time, the longest first, with its ordered
# output, early FAIL announcements and a FAIL for a check that ends without a verdict.
cd "$(dirname "$0")/.." || exit 1
TEST_JOBS=${QUICK_JOBS:-2} exec tests/run_tests.sh build \
    "python3 tests/mutate_check.py" \
    "make --no-print-directory replay-races-early" \
    "make --no-print-directory layering-check" \
    "make --no-print-directory symbols-check" \
    "make --no-print-directory ci-lint" \
    "tests/docs_check.sh" \
    "mutants/files.sh --check" \
    "tests/protocol_pairs_check.sh" \
    "tests/ops_text_check.sh" \
    "tests/target_check.sh" \
    "make --no-print-directory format-check"
