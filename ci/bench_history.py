#!/usr/bin/env python3
"""bench_history.py RESULTS_CSV HISTORY_CSV DATE — the nightly bench against earlier nights.

Appends tonight's rows of make bench (build/bench/results.csv) to the history CSV (date, bench,
param, threads, allocator, ops_per_sec, peak_rss_kb) and compares each hakmem row with the median
of the same row over the last 5 earlier nights. A row more than 10 % slower is flagged: one line
"SLOWER bench param threads: tonight X ops/s, median of N nights Y (-Z %)" (the report lists them;
a flag does not fail the night). Prints "PASS bench_history_recorded (...)" when the rows are
stored; exits 1 (with a FAIL line) only when the results cannot be read or the history written.
"""
import csv
import os
import statistics
import sys

FIELDS = ["date", "bench", "param", "threads", "allocator", "ops_per_sec", "peak_rss_kb"]
NIGHTS = 5
SLOWER = 0.10


def main():
    results, history, day = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        with open(results, newline="") as f:
            tonight = [{"date": day, "bench": r["bench"], "param": r["param"],
                        "threads": r["threads"], "allocator": r["allocator"],
                        "ops_per_sec": r["ops_per_sec_median"],
                        "peak_rss_kb": r["peak_rss_kb_median"]} for r in csv.DictReader(f)]
    except (OSError, KeyError) as e:
        print(f"FAIL bench_history_recorded: cannot read {results}: {e}")
        return 1
    past = []
    if os.path.exists(history):
        with open(history, newline="") as f:
            past = [r for r in csv.DictReader(f) if r.get("date") != day]
    flagged = 0
    for r in tonight:
        if r["allocator"] != "hakmem":
            continue
        key = (r["bench"], r["param"], r["threads"], r["allocator"])
        earlier = sorted({p["date"] for p in past
                          if (p["bench"], p["param"], p["threads"], p["allocator"]) == key})
        nights = earlier[-NIGHTS:]
        values = [float(p["ops_per_sec"]) for p in past if p["date"] in nights and
                  (p["bench"], p["param"], p["threads"], p["allocator"]) == key]
        if not values:
            continue
        median = statistics.median(values)
        now = float(r["ops_per_sec"])
        if median > 0 and now < median * (1 - SLOWER):
            flagged += 1
            print(f"SLOWER {r['bench']} {r['param']} threads={r['threads']}: tonight {now:.0f} "
                  f"ops/s, median of {len(values)} night(s) {median:.0f} "
                  f"({100 * (now / median - 1):+.1f} %)")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(history)), exist_ok=True)
        with open(history, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(past + tonight)
    except OSError as e:
        print(f"FAIL bench_history_recorded: cannot write {history}: {e}")
        return 1
    nights = len({p["date"] for p in past})
    print(f"PASS bench_history_recorded ({len(tonight)} rows; {nights} earlier night(s) in "
          f"{history}; {flagged} row(s) more than 10 % slower than their median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
