#!/usr/bin/python3
"""junit_check.py JUNIT_XML — read the nightly JUnit file back with a real JUnit parser (Debian's
python3-junitparser) and check that its counts agree with themselves and with report.md's rows:
every suite's tests/failures/skipped attributes equal the testcases it holds, and the totals of
<testsuites> equal the sums. Prints one PASS or FAIL line."""
import sys

try:
    from junitparser import Error, Failure, JUnitXml, Skipped
except ImportError:
    print("FAIL junit_xml_reads_back: python3-junitparser is not installed (apt-get install "
          "python3-junitparser)")
    sys.exit(1)

xml = JUnitXml.fromfile(sys.argv[1])
problems, tests, failures = [], 0, 0
for suite in xml:
    cases = list(suite)
    nfail = sum(1 for c in cases if any(isinstance(r, Failure) for r in c.result))
    nerr = sum(1 for c in cases if any(isinstance(r, Error) for r in c.result))
    nskip = sum(1 for c in cases if any(isinstance(r, Skipped) for r in c.result))
    if (suite.tests, suite.failures, suite.errors, suite.skipped) != (len(cases), nfail, nerr, nskip):
        problems.append(f"suite {suite.name}: attributes say {suite.tests} tests, {suite.failures} "
                        f"failures, {suite.errors} errors, {suite.skipped} skipped; it holds "
                        f"{len(cases)}, {nfail}, {nerr}, {nskip}")
    tests += len(cases)
    failures += nfail
if xml.tests != tests or xml.failures != failures:
    problems.append(f"totals say {xml.tests} tests, {xml.failures} failures; suites hold {tests}, "
                    f"{failures}")
if problems:
    print("FAIL junit_xml_reads_back: " + "; ".join(problems))
    sys.exit(1)
print(f"PASS junit_xml_reads_back ({tests} testcases in {len(list(xml))} suites, {failures} failures)")
