#!/usr/bin/env python3
"""stats_table.py [--check FILE] — the statistics table of the docs, from HAK_STATS_FIELDS and
HAK_CLASS_STATS_FIELDS in alloc/hakmem.h (the one list of hakmem's statistics).

Without arguments: prints the Markdown table (field = JSON member, group, text label, what it
counts). With --check FILE: FILE must hold exactly that table between the lines
"<!-- statistics table: tests/stats_table.py -->" and "<!-- end of statistics table -->";
prints one PASS or FAIL line (docs_statistics_table_is_the_codes) and exits 1 on FAIL.
"""
import re
import sys

BEGIN = "<!-- statistics table: tests/stats_table.py -->"
END = "<!-- end of statistics table -->"


def rows(macro):
    text = open("alloc/hakmem.h").read().replace("\\\n", " ")
    m = re.search(r"#define " + macro + r"\(X\)(.*?)\n", text)
    return re.findall(r'X\((\w+),\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)"\)', m.group(1))


def table():
    out = ["| JSON member | text: group, label | what it counts |", "|---|---|---|"]
    for field, group, label, what in rows("HAK_STATS_FIELDS"):
        out.append(f"| `{field}` | {group}: {label} | {what} |")
    for field, group, label, what in rows("HAK_CLASS_STATS_FIELDS"):
        out.append(f"| `classes[].{field}` | class table: {label} | {what} |")
    return "\n".join(out)


def main():
    want = table()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        text = open(sys.argv[2]).read()
        if BEGIN not in text or END not in text:
            print(f"FAIL docs_statistics_table_is_the_codes: no table markers in {sys.argv[2]}")
            return 1
        got = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
        if got != want:
            print(f"FAIL docs_statistics_table_is_the_codes: {sys.argv[2]}'s table is not the one "
                  "HAK_STATS_FIELDS gives (python3 tests/stats_table.py prints it)")
            return 1
        n = want.count("\n") - 1
        print(f"PASS docs_statistics_table_is_the_codes ({n} rows, as alloc/hakmem.h lists them)")
        return 0
    print(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
