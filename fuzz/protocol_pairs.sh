#!/usr/bin/env bash
# protocol_pairs.sh REQUIRED COUNTS... — the protocol's interleaving coverage against what it must
# reach: COUNTS are replay --pairs files ("pending done count" lines, summed over all of them),
# REQUIRED is fuzz/protocol_pairs.txt. One PASS or FAIL line (race_programs_reach_the_required_
# protocol_pairs): FAIL names each required pair no race program reached; goal pairs not reached
# are named either way. Exit 1 on FAIL.
set -u
required=$1
shift
cat "$@" 2>/dev/null | awk -v req="$required" '
    { n[$1 " " $2] += $3; all++ }
    END {
        while ((getline line < req) > 0) {
            split(line, f, " ")
            if (f[1] == "required") { nreq++; if (!((f[2] " " f[3]) in n)) missing = missing " " f[2] "/" f[3] }
            if (f[1] == "goal") { ngoal++; if (!((f[2] " " f[3]) in n)) notyet = notyet " " f[2] "/" f[3]; else goals++ }
        }
        reached = 0; for (k in n) reached++
        note = "goal pairs reached " goals + 0 " of " ngoal + 0 (notyet == "" ? "" : "; not yet:" notyet)
        if (nreq == 0) { print "FAIL race_programs_reach_the_required_protocol_pairs: no required pair in " req; exit 1 }
        if (missing != "") {
            print "FAIL race_programs_reach_the_required_protocol_pairs: not reached by any race program " \
                "under any schedule:" missing " (" reached " pairs reached in all; " note ")"
            exit 1
        }
        print "PASS race_programs_reach_the_required_protocol_pairs (" nreq " required pairs; " reached \
            " pairs reached in all; " note ")"
    }'
