#!/usr/bin/env python3
"""report.py OUT MINUTES — the nightly report from OUT/results.tsv (written by ci/nightly.sh).

results.tsv rows: job, check, verdict, seconds, figures, message, log. Steps are checks without a
"/" (their verdict is pass, fail or cut; "job" rows say a job was run, skipped or unknown); checks
printed by a step are "step/name". Writes:
  OUT/report.md  one table: job, verdict, duration, figures (executions, exec/s, coverage, remote
                 frees, drains, hand-overs, ops/s, peak RSS), then the failures, the bench rows
                 slower than their history, and the crash triage;
  OUT/junit.xml  one <testsuite> per job, one <testcase> per check (failure / skipped elements),
                 in the JUnit XML shape that CI UIs read (testsuites > testsuite > testcase).
Exits 1 if any check failed or was cut, or a new crash signature was found; 0 otherwise.
"""
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET


def read_rows(out):
    rows = []
    with open(os.path.join(out, "results.tsv"), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            parts += [""] * (7 - len(parts))
            job, check, verdict, seconds, figures, message, log = parts[:7]
            rows.append(dict(job=job, check=check, verdict=verdict, seconds=seconds,
                             figures=figures, message=message, log=log))
    return rows


def tail(path, n=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def job_verdict(rows):
    """A job is red if any of its steps or checks failed or was cut; grey if it did not run."""
    verdicts = {r["verdict"] for r in rows}
    if "error" in verdicts:
        return "error"
    if "skip" in verdicts and not any(r["check"] != "job" for r in rows):
        return "not run"
    if verdicts & {"fail", "cut"}:
        return "FAIL"
    return "pass"


def main():
    out, minutes = sys.argv[1], sys.argv[2]
    rows = read_rows(out)
    by_job = collections.OrderedDict()
    for r in rows:
        by_job.setdefault(r["job"], []).append(r)

    triage = []
    tpath = os.path.join(out, "triage", "triage.tsv")
    if os.path.exists(tpath):
        with open(tpath, encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 6:
                    triage.append(dict(sig=p[0], verdict=p[1], count=p[2], candidate=p[3],
                                       replay=p[4], first=p[5]))
    slower = []
    for r in rows:
        if r["job"] == "release" and r["check"] == "bench_history" and r["log"]:
            slower = [l for l in tail(r["log"], 1000).splitlines() if l.startswith("SLOWER ")]

    md = [f"# hakmem nightly — {os.path.basename(os.path.normpath(out))}", "",
          f"{minutes} min of testing budget; jobs: {', '.join(j for j in by_job if j not in ('build', 'triage'))}.",
          "", "| job | verdict | duration | checks | figures |", "|---|---|---|---|---|"]
    failed_any = False
    for job, jrows in by_job.items():
        steps = [r for r in jrows if "/" not in r["check"] and r["check"] != "job"]
        checks = [r for r in jrows if "/" in r["check"]]
        verdict = job_verdict(jrows)
        failed_any |= verdict in ("FAIL", "error")
        dur = sum(int(r["seconds"] or 0) for r in steps)
        npass = sum(1 for r in checks + steps if r["verdict"] == "pass")
        nfail = sum(1 for r in checks + steps if r["verdict"] in ("fail", "cut"))
        figures = "<br>".join(f"{r['check']}: {r['figures']}" for r in steps if r["figures"])
        note = "; ".join(r["message"] for r in jrows if r["check"] == "job" and r["message"])
        md.append(f"| {job} | {verdict}{' — ' + note if note else ''} | {dur} s | "
                  f"{npass} passed, {nfail} failed | {figures} |")
    problems = [r for r in rows if r["verdict"] in ("fail", "cut", "error")]
    if problems:
        md += ["", "## Failures", ""]
        for r in problems:
            md.append(f"- **{r['job']} / {r['check']}** ({r['verdict']}): {r['message']}"
                      + (f" — log `{r['log']}`" if r["log"] else ""))
    if slower:
        md += ["", "## Bench rows more than 10 % slower than the median of the last 5 nights", ""]
        md += [f"- {l[len('SLOWER '):]}" for l in slower]
    if triage:
        md += ["", "## Crash triage", "", "| signature | verdict | crashes | candidate | replay |",
               "|---|---|---|---|---|"]
        for t in triage:
            md.append(f"| `{t['sig']}` | {t['verdict']} | {t['count']} | `{t['candidate']}` | "
                      f"`{t['replay']}` |")
        failed_any |= any(t["verdict"] == "new" for t in triage)
    md += ["", "Logs: `" + os.path.join(out, "logs") + "`; JUnit: `" +
           os.path.join(out, "junit.xml") + "`.", ""]
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))

    suites = ET.Element("testsuites", name="hakmem nightly")
    totals = collections.Counter()
    for job, jrows in by_job.items():
        cases = [r for r in jrows if r["check"] != "job" or r["verdict"] in ("skip", "error")]
        suite = ET.SubElement(suites, "testsuite", name=job)
        counts = collections.Counter()
        for r in cases:
            name = r["check"] if r["check"] != "job" else "job_runs"
            classname = f"nightly.{job}" + ("." + name.split("/")[0] if "/" in name else "")
            case = ET.SubElement(suite, "testcase", classname=classname,
                                 name=name.split("/", 1)[-1], time=str(float(r["seconds"] or 0)))
            counts["tests"] += 1
            if r["verdict"] in ("fail", "cut"):
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=r["message"][:300] or r["verdict"],
                                   type=r["verdict"])
                el.text = tail(r["log"]) if r["log"] and "/" not in r["check"] else r["message"]
            elif r["verdict"] == "error":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=r["message"][:300], type="error")
            elif r["verdict"] == "skip":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=r["message"][:300])
        for t in triage if job == "triage" else []:
            case = ET.SubElement(suite, "testcase", classname="nightly.triage",
                                 name=f"crash_signature_{t['sig']}", time="0.0")
            counts["tests"] += 1
            if t["verdict"] == "new":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=f"new crash signature {t['sig']}",
                                   type="new_crash")
                el.text = f"candidate {t['candidate']}\nreplay: {t['replay']}\nfrom {t['first']}"
        time = sum(float(r["seconds"] or 0) for r in jrows if "/" not in r["check"])
        for k in ("tests", "failures", "errors", "skipped"):
            suite.set(k, str(counts[k]))
            totals[k] += counts[k]
        suite.set("time", f"{time:.1f}")
        totals["time"] += time
    for k in ("tests", "failures", "errors", "skipped"):
        suites.set(k, str(totals[k]))
    suites.set("time", f"{totals['time']:.1f}")
    ET.indent(suites)
    ET.ElementTree(suites).write(os.path.join(out, "junit.xml"), encoding="utf-8",
                                 xml_declaration=True)
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
