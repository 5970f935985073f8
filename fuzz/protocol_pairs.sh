#!/usr/bin/env bash
# protocol_pairs.sh REQUIRED COUNTS... — the protocol's interleaving coverage against what it must
# and must not reach: COUNTS are replay --pairs files ("pending done count" lines, summed over all
# of them), REQUIRED is fuzz/protocol_pairs.txt. One PASS or FAIL line (race_programs_reach_the_
# required_protocol_pairs): FAIL names each required pair no race program reached and each never
# pair one did; goal pairs not reached are named either way. Exit 1 on FAIL.
set -u
required=$1
shift
cat "$@" 2>/dev/null | awk -v req="$required" '
    { n[$1 " " $2] += $3; all++ }
    END {
        while ((getline line < req) > 0) {
            split(line, f, " ")
            k = f[2] " " f[3]
            if (f[1] == "required") { nreq++; if (!(k in n)) missing = missing " " f[2] "/" f[3] }
            if (f[1] == "goal") { ngoal++; if (!(k in n)) notyet = notyet " " f[2] "/" f[3]; else goals++ }
            if (f[1] == "never") { nnever++; if (k in n) forbidden = forbidden " " f[2] "/" f[3] " (" n[k] " times)" }
        }
        reached = 0; for (k in n) reached++
        note = (ngoal == 0 ? "no goal pairs" : "goal pairs reached " goals + 0 " of " ngoal (notyet == "" ? "" : "; not yet:" notyet))
        note = note "; " nnever + 0 " never pairs"
        if (nreq == 0) { print "FAIL race_programs_reach_the_required_protocol_pairs: no required pair in " req; exit 1 }
        if (missing != "" || forbidden != "") {
            print "FAIL race_programs_reach_the_required_protocol_pairs:" \
                (missing == "" ? "" : " not reached by any race program under any schedule:" missing) \
                (forbidden == "" ? "" : (missing == "" ? "" : ";") " reached, though the protocol rules them out:" forbidden) \
                " (" reached " pairs reached in all; " note ")"
            exit 1
        }
        print "PASS race_programs_reach_the_required_protocol_pairs (" nreq " required pairs; " reached \
            " pairs reached in all; " note ")"
    }'
