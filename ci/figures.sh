#!/usr/bin/env bash
# figures.sh LOG — the figures that matter in one step's log, as "key value; key value": fuzzing
# executions, exec/s and coverage; remote frees, drains and hand-overs; Larson ops/s; peak RSS.
# Reads the summary lines the suite's programs print; prints nothing when it finds none.
log=$1
{
    # make fuzz / make afl: "summary: N executions, R exec/s, coverage C edges ..."
    sed -n 's/^summary: \([0-9]*\) executions, \([0-9]*\) exec\/s.*coverage \([0-9]*\) edges.*/executions \1; exec\/s \2; coverage \3 edges/p' "$log" | tail -1
    sed -n 's/^summary: \([0-9]*\) executions, \([0-9]*\) exec\/s (all instances), \([0-9]*\) edges.*/executions \1; exec\/s \2; coverage \3 edges/p' "$log" | tail -1
    # stress programs: "(... N remote frees, M drains)"
    grep -aoE '[0-9]+ remote frees, [0-9]+ drains' "$log" |
        awk '{ r += $1; d += $4 } END { if (NR) printf "remote frees %d; drains %d\n", r, d }'
    # Larson: "handovers=H ops=N ops_per_sec=R peak_rss_kb=K"
    grep -aoE 'handovers=[0-9]+ ops=[0-9]+ ops_per_sec=[0-9]+ peak_rss_kb=[0-9]+' "$log" | tail -1 |
        sed -E 's/handovers=([0-9]+) ops=([0-9]+) ops_per_sec=([0-9]+) peak_rss_kb=([0-9]+)/handovers \1; ops\/s \3; peak RSS \4 KiB/'
    # replay: "replay: N passed, M failed"
    sed -n 's/^replay: \([0-9]*\) passed.*/programs \1/p' "$log" | tail -1
} | paste -sd';' | sed 's/;/; /g; s/;  */; /g'
