#!/usr/bin/env bash
# protocol_pairs_check.sh — fuzz/protocol_pairs.sh, the judge of the race programs' interleaving
# coverage, on counts made up here: the counts of several replay processes are summed; a missing
# required pair fails and is named; a missing goal pair is named but does not fail; a never pair
# that any process reached fails and is named. One PASS or
# FAIL line per promise; exits 1 if any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
check() { # NAME OK DETAIL
    if [ "$2" = 1 ]; then echo "PASS $1 ($3)"; else echo "FAIL $1: $3"; failed=1; fi
}
printf 'required push take   why\nrequired arm push    why\ngoal push push       why\n' >"$work/req"
printf 'push take 3\n' >"$work/a"
printf 'arm push 1\nqueue_load push 9\n' >"$work/b"
out=$(fuzz/protocol_pairs.sh "$work/req" "$work/a" "$work/b")
rc=$?
check protocol_pairs_sums_the_counts_of_every_replay_process \
    "$([ $rc = 0 ] && [[ $out == PASS* ]] && [[ $out == *"3 pairs reached in all"* ]] && echo 1)" \
    "exit $rc: $out"
check protocol_pairs_names_goal_pairs_not_reached_without_failing \
    "$([ $rc = 0 ] && [[ $out == *"not yet: push/push"* ]] && echo 1)" "$out"
out=$(fuzz/protocol_pairs.sh "$work/req" "$work/b")
rc=$?
check protocol_pairs_fails_on_a_required_pair_no_race_reached \
    "$([ $rc = 1 ] && [[ $out == FAIL*"push/take"* ]] && [[ $out != *"arm/push ("* ]] && echo 1)" \
    "exit $rc: $out"
printf 'take push 5\n' >"$work/c"
out=$(fuzz/protocol_pairs.sh "$work/req" "$work/c" "$work/b")
rc=$?
check protocol_pairs_tells_a_pair_from_its_reverse \
    "$([ $rc = 1 ] && [[ $out == *"push/take"* ]] && echo 1)" "exit $rc: $out"
printf 'required push take   why\nnever notify_done take  why\n                     more why\n' >"$work/never"
printf 'push take 2\n' >"$work/d"
printf 'notify_done take 1\n' >"$work/e"
out=$(fuzz/protocol_pairs.sh "$work/never" "$work/d")
rc=$?
check protocol_pairs_passes_while_no_never_pair_is_reached \
    "$([ $rc = 0 ] && [[ $out == PASS*"1 never pairs"* ]] && echo 1)" "exit $rc: $out"
out=$(fuzz/protocol_pairs.sh "$work/never" "$work/d" "$work/e")
rc=$?
check protocol_pairs_fails_on_a_never_pair_any_race_reached \
    "$([ $rc = 1 ] && [[ $out == FAIL*"rules them out: notify_done/take (1 times)"* ]] && echo 1)" \
    "exit $rc: $out"
exit $failed
