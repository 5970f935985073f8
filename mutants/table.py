#!/usr/bin/env python3
"""table.py RESULTS.md... — the planted-bug table of docs/testing.md, rebuilt from measurements.

One row per mutants/*.patch: its name, its Breaks line, and the first failing check and seconds
of its latest kill in the given make mutants tables (later files win), or, for a patch none of
them measured, the figures the docs table had, marked "(earlier run)", or "not measured yet".
Rewrites the table in docs/testing.md in place; prints how many rows came from where.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs/testing.md")
HEADER = "| mutant | what it breaks | first failing check | seconds |"
ROW = re.compile(r"^\| `([^`]+)` \| (.*) \| (.*) \| ([^|]*) \|$")


def measured(paths):
    got = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                m = re.match(r"^\| `([^`]+)` \| .* \| (killed|SURVIVED|BROKEN) \| (.*) \| ([\d-]+) \|$",
                             line.strip())
                if m:
                    name, verdict, check, secs = m.groups()
                    check = re.sub(r"^([A-Za-z0-9_]+)[:( ].*", r"\1", check)
                    if verdict == "killed":
                        got[name] = (f"`{check}`", secs)
                    else:
                        got[name] = (f"**{verdict}**: {check}", secs)
    return got


def main():
    with open(DOC) as f:
        doc = f.read().split("\n")
    start = doc.index(HEADER)
    end = start + 2
    earlier = {}
    while end < len(doc) and doc[end].startswith("| `"):
        m = ROW.match(doc[end])
        if m:
            check = m.group(3).replace(" (earlier run)", "")
            earlier[m.group(1)] = (check, m.group(4).strip())
        end += 1
    now = measured(sys.argv[1:])
    rows, counts = [], {"measured": 0, "earlier": 0, "not yet": 0}
    for patch in sorted(glob.glob(os.path.join(ROOT, "mutants/*.patch"))):
        name = os.path.basename(patch)[:-len(".patch")]
        with open(patch) as f:
            breaks = next((l[len("Breaks: "):].strip() for l in f if l.startswith("Breaks: ")), "?")
        breaks = breaks.replace("|", "\\|")
        if name in now:
            check, secs = now[name]
            counts["measured"] += 1
        elif name in earlier and not re.search(r"not measured|not yet run", earlier[name][0]):
            check, secs = earlier[name][0] + " (earlier run)", earlier[name][1]
            counts["earlier"] += 1
        else:
            check, secs = "not measured yet", ""
            counts["not yet"] += 1
        rows.append(f"| `{name}` | {breaks} | {check} | {secs} |")
    doc[start + 2:end] = rows
    with open(DOC, "w") as f:
        f.write("\n".join(doc))
    print(f"docs/testing.md: {len(rows)} planted bugs: {counts['measured']} from this run, "
          f"{counts['earlier']} from an earlier run, {counts['not yet']} not measured yet")


if __name__ == "__main__":
    main()
