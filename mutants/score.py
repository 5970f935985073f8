#!/usr/bin/env python3
"""score.py OUT SEED — make mutate's verdict: the mutation score of the mutants in OUT/patches.

Reads the table mutants/run.sh wrote (OUT/results.md), prints the score (killed / (killed +
survived); a mutant that does not build with every compiler counts in neither), copies each
survivor's patch to OUT/survivors/, and appends one row to the score's history (MUTATE_HISTORY,
default OUT/history.csv: date, seed, mutants, killed, survived, broken, score).

A survivor is either a bug the suite cannot see or an equivalent mutant (one no program can tell
from the original). Those judged equivalent are listed in mutants/equivalent.txt by their Key
(each with the reason); exits 1 when any other mutant survived, or when the table is missing.
"""
import csv
import datetime
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def equivalent_keys():
    keys = {}
    with open(os.environ.get("MUTATE_EQUIVALENT", os.path.join(ROOT, "mutants/equivalent.txt"))) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, why = line.partition(" ")
                keys[key] = why.strip()
    return keys


def main():
    out, seed = sys.argv[1], sys.argv[2]
    table = os.path.join(out, "results.md")
    if not os.path.exists(table):
        print(f"FAIL mutate_score: no results table ({table}): the mutants did not run")
        return 1
    rows = []
    with open(table) as f:
        for line in f:
            m = re.match(r"\| `([^`]+)` \|.*\| (killed|SURVIVED|BROKEN) \| (.*) \| ([\d-]+) \|$",
                         line.strip())
            if m:
                rows.append(m.groups())
    killed = [r for r in rows if r[1] == "killed"]
    survived = [r for r in rows if r[1] == "SURVIVED"]
    broken = [r for r in rows if r[1] == "BROKEN"]
    judged = equivalent_keys()
    survivors = os.path.join(out, "survivors")
    shutil.rmtree(survivors, ignore_errors=True)
    os.makedirs(survivors)
    unjudged = []
    for name, _, check, _ in survived:
        patch = os.path.join(out, "patches", name + ".patch")
        shutil.copy(patch, survivors)
        with open(patch) as f:
            text = f.read()
        key = re.search(r"^Key: (\w+)", text, re.M)
        breaks = re.search(r"^Breaks: (.*)", text, re.M)
        note = judged.get(key.group(1)) if key else None
        if note is None:
            unjudged.append(name)
        print(f"  survivor {name}: {breaks.group(1) if breaks else '?'}")
        print(f"    key {key.group(1) if key else '?'}: " +
              (f"judged equivalent: {note}" if note is not None else f"NOT JUDGED ({check})"))
    scored = len(killed) + len(survived)
    score = len(killed) / scored if scored else 0.0
    history = os.environ.get("MUTATE_HISTORY", os.path.join(out, "history.csv"))
    new = not os.path.exists(history)
    with open(history, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["date", "seed", "mutants", "killed", "survived", "broken", "score"])
        w.writerow([datetime.date.today().isoformat(), seed, len(rows), len(killed),
                    len(survived), len(broken), f"{score:.3f}"])
    print(f"mutation score (seed {seed}): {len(killed)} of {scored} killed = {score:.1%}"
          f"; {len(broken)} did not build with every compiler; survivors: {survivors}/; "
          f"history: {history}")
    if unjudged:
        print(f"FAIL mutate_survivors_are_judged: {len(unjudged)} survivor(s) not in "
              f"mutants/equivalent.txt: {' '.join(unjudged)} (a real bug: a test that kills it, "
              f"and the patch into mutants/; an equivalent mutant: its key and why there)")
        return 1
    print(f"PASS mutate_survivors_are_judged ({len(survived)} survivor(s), each judged equivalent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
