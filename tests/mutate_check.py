#!/usr/bin/env python3
"""mutate_check.py — make mutate's own promises, checked without running a mutant (make test).

The operators edit what they say and nothing else (never ->, shifts, strings or comments); the
screen rejects a mutant that does not build and one that compiles to the unmutated objects, and
accepts one that changes the code; one seed gives the same mutants every time, and each patch
applies to the tree; the score counts survivors and fails on one nobody judged equivalent; the
planted-bug check (mutants/files.sh --check) fails on a planted bug that applies only with fuzz;
launcher/, which the coverage build does not measure, gives candidates of every line.
One PASS or FAIL line per promise; exits 1 if any failed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "mutants"))
import mutate  # noqa: E402

failed = 0


def check(name, ok, detail):
    global failed
    print(("PASS " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))
    failed += 0 if ok else 1


def edits(line, next_line="\n"):
    return {(op, new.strip()) for op, new, _ in mutate.candidates_of_line("alloc/x.c", 1, line,
                                                                         next_line)}


def check_operators():
    got = edits("    if (n < 16 && s->count >= limit)\n", "        return NULL;\n")
    want = {("cmp_flip", "if (n >= 16 && s->count >= limit)"),
            ("cmp_off_by_one", "if (n <= 16 && s->count >= limit)"),
            ("cmp_flip", "if (n < 16 && s->count < limit)"),
            ("cmp_off_by_one", "if (n < 16 && s->count > limit)"),
            ("const_plus_one", "if (n < 17 && s->count >= limit)"),
            ("const_minus_one", "if (n < 15 && s->count >= limit)"),
            ("swap_logic", "if (n < 16 || s->count >= limit)"),
            ("early_return", "if (1)")}
    check("mutate_operators_make_each_edit_of_a_condition", got == want,
          f"missing {sorted(want - got)}, unexpected {sorted(got - want)}" if got != want else
          f"{len(got)} edits")
    untouched = edits('    x = a->b << 2 >> c + f("x < y && z"); /* a < b || c */\n')
    kept = ("->", "<<", ">>", '"x < y && z"', "/* a < b || c */")
    bad = [e for e in untouched if not e[0].startswith("drop") and
           not all(k in e[1] for k in kept)]
    check("mutate_operators_leave_members_shifts_strings_and_comments_alone", not bad,
          f"bad edits: {bad}" if bad else f"{len(untouched)} edits, none of those")
    got = edits("    __atomic_store_n(&q->head, NULL, __ATOMIC_RELEASE);\n")
    check("mutate_operators_weaken_an_order_and_drop_a_call",
          ("weaken_order", "__atomic_store_n(&q->head, NULL, __ATOMIC_RELAXED);") in got and
          ("drop_call", ";") in got, f"{sorted(got)}")
    got = edits("    struct slab *s = hk_slab_of(p);\n") | edits("    char name[64];\n")
    check("mutate_operators_never_drop_a_declaration", not any(op.startswith("drop") for op, _ in got),
          f"{sorted(got)}")


def lcov_of(path, out):
    with open(os.path.join(ROOT, path)) as f:
        n = len(f.readlines())
    lcov = os.path.join(out, "all.lcov")
    with open(lcov, "w") as f:
        f.write(f"SF:{os.path.join(ROOT, path)}\n" +
                "".join(f"DA:{i},1\n" for i in range(1, n + 1)) + "end_of_record\n")
    return lcov


PROBE = """/* probe.c: a function for make mutate's screen to compile, apart from alloc/ (whose code a
 * mutant under test may have changed). */
unsigned probe_step(unsigned cls)
{
    unsigned k = cls - 8; /* 0.. */
    return (128u << (k / 4)) / 4 * (k % 4 + 1);
}
"""


def check_screen(work):
    root = os.path.join(work, "probe")
    os.makedirs(os.path.join(root, "alloc"))
    with open(os.path.join(root, "alloc", "probe.c"), "w") as f:
        f.write(PROBE)
    screen = mutate.Screen(work, root)
    path = "alloc/probe.c"

    def verdict(old, new):
        assert old in PROBE, old
        return screen.verdict(path, PROBE.replace(old, new), ["release"])
    same = verdict("/* 0.. */", "/* the class's step */")
    check("mutate_rejects_a_mutant_that_compiles_to_the_same_objects",
          same == "compiles to the same objects", f"verdict: {same}")
    changed = verdict(") / 4 *", ") / 3 *")
    check("mutate_accepts_a_mutant_that_changes_the_code", changed is None, f"verdict: {changed}")
    broken = verdict("cls - 8;", "cls - 8")
    check("mutate_rejects_a_mutant_that_does_not_build",
          broken is not None and broken.startswith("does not build"), f"verdict: {broken}")
    warned = verdict("unsigned k = cls - 8;", "unsigned k = cls - 8, unused = 0;")
    check("mutate_rejects_a_mutant_with_a_warning",
          warned is not None and warned.startswith("does not build"), f"verdict: {warned}")
    shutil.rmtree(screen.dir, ignore_errors=True)


def generate(seed, out, lcov):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "mutants/mutate.py"), "--seed",
                        str(seed), "--n", "3", "--out", out, "--lcov", lcov, "--files",
                        "alloc/size_class.c"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stdout + r.stderr
    with open(os.path.join(out, "generated.tsv")) as f:
        rows = [line.split("\t") for line in f if not line.startswith("#")]
    return rows, r.stdout


def check_seeds(work):
    lcov = lcov_of("alloc/size_class.c", work)
    a, why = generate(7, os.path.join(work, "a"), lcov)
    b, _ = generate(7, os.path.join(work, "b"), lcov)
    c, _ = generate(8, os.path.join(work, "c"), lcov)
    if a is None:
        check("mutate_one_seed_gives_the_same_mutants", False, f"mutate.py failed: {why[-300:]}")
        return
    keys = [r[1] for r in a]
    check("mutate_one_seed_gives_the_same_mutants", keys == [r[1] for r in b] and len(keys) == 3,
          f"seed 7: {keys} and {[r[1] for r in b]}")
    check("mutate_another_seed_gives_other_mutants", c is not None and keys != [r[1] for r in c],
          f"seed 8: {[r[1] for r in c] if c else None}")
    bad = []
    for name in (r[0] for r in a):
        p = os.path.join(work, "a", "patches", name + ".patch")
        r = subprocess.run(["patch", "-p1", "--dry-run", "-s", "-d", ROOT, "-i", p],
                           capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(name)
    check("mutate_patches_apply_to_the_tree", not bad, f"do not apply: {bad}" if bad else
          f"{len(keys)} patches")


def check_launcher(work):
    """launcher/ has no coverage data: its lines are candidates anyway, and its mutants screened."""
    out = os.path.join(work, "launcher")
    empty = os.path.join(work, "empty.lcov")
    open(empty, "w").close()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "mutants/mutate.py"), "--seed", "3",
                        "--n", "2", "--out", out, "--lcov", empty], capture_output=True, text=True)
    rows = []
    if r.returncode == 0:
        with open(os.path.join(out, "generated.tsv")) as f:
            rows = [line.split("\t") for line in f if not line.startswith("#")]
    check("mutate_takes_launcher_lines_without_coverage_data",
          len(rows) == 2 and all(row[2].startswith("launcher/") for row in rows),
          f"exit {r.returncode}: {[row[2] + ':' + row[3] for row in rows] or r.stderr[-200:]}")


def check_score(work):
    out = os.path.join(work, "score")
    os.makedirs(os.path.join(out, "patches"))
    rows = [("m_killed", "killed", "some_check: exit status 1", "40"),
            ("m_equivalent", "SURVIVED", "make test passed", "300"),
            ("m_real", "SURVIVED", "make test passed", "300"),
            ("m_broken", "BROKEN", "mutant does not build warning-free: error", "-")]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("| mutant | what it breaks | verdict | first failing check | seconds |\n|---|---|---|---|---|\n")
        for name, verdict, checked, secs in rows:
            f.write(f"| `{name}` | x | {verdict} | {checked} | {secs} |\n")
            with open(os.path.join(out, "patches", name + ".patch"), "w") as p:
                p.write(f"Breaks: x\nMechanism: alloc/x.c\nKey: key{name}\n\n")
    equivalent = os.path.join(work, "equivalent.txt")

    def score(listed):
        with open(equivalent, "w") as f:
            f.write("# judged\n" + "".join(f"key{n} why\n" for n in listed))
        env = dict(os.environ, MUTATE_EQUIVALENT=equivalent,
                   MUTATE_HISTORY=os.path.join(out, "history.csv"))
        return subprocess.run([sys.executable, os.path.join(ROOT, "mutants/score.py"), out, "7"],
                              capture_output=True, text=True, env=env)
    r = score(["m_equivalent"])
    check("mutate_score_counts_killed_of_killed_and_survived",
          "1 of 3 killed = 33.3%" in r.stdout and "1 did not build" in r.stdout,
          r.stdout.strip().splitlines()[-2] if r.stdout.strip() else r.stderr[-200:])
    check("mutate_fails_on_a_survivor_nobody_judged",
          r.returncode == 1 and "m_real" in r.stdout and
          os.path.exists(os.path.join(out, "survivors", "m_real.patch")),
          f"exit {r.returncode}")
    r = score(["m_equivalent", "m_real"])
    with open(os.path.join(out, "history.csv")) as f:
        history = f.read().splitlines()
    check("mutate_passes_when_every_survivor_is_judged_and_keeps_history",
          r.returncode == 0 and len(history) == 3 and history[-1].endswith(",7,4,1,2,1,0.333"),
          f"exit {r.returncode}, history {history[-1:]}")


def check_planted_bugs_apply(work):
    """A planted bug whose context moved (one line of it changed) fails files.sh --check by name."""
    bugs = os.path.join(work, "planted")
    os.makedirs(bugs)
    with open(os.path.join(ROOT, "alloc/remote_queue.h")) as f:
        lines = f.readlines()
    at = next(i for i, l in enumerate(lines) if "remote_queue_disarm" in l and "{" not in l) + 1

    def write(name, context_edit):
        ctx = lines[at - 3:at + 4]
        old = [" " + l for l in ctx]
        new = list(old)
        new[3] = "-" + ctx[3] + "+" + ctx[3].rstrip("\n") + " /* planted */\n"
        if context_edit:
            old[0] = " " + ctx[0].rstrip("\n") + " /* moved */\n"
        body = "".join(old[:3] + [new[3]] + old[4:])
        with open(os.path.join(bugs, name + ".patch"), "w") as f:
            f.write("Breaks: nothing\nMechanism: none\n\n--- a/alloc/remote_queue.h\n"
                    f"+++ b/alloc/remote_queue.h\n@@ -{at - 2},7 +{at - 2},7 @@\n" + body)

    # Under make mutants a planted bug is applied to this copy: the check is for the made-up ones.
    env = {k: v for k, v in os.environ.items() if k != "HAKMEM_PLANTED_BUG"}
    env["PLANTED_BUGS"] = bugs
    write("exact", False)
    r = subprocess.run(["mutants/files.sh", "--check"], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    exact_ok = "PASS every_planted_bug_applies_to_the_tree (1 patches" in r.stdout
    write("moved", True)
    r = subprocess.run(["mutants/files.sh", "--check"], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    line = next((l for l in r.stdout.splitlines() if "every_planted_bug_applies" in l), "")
    check("planted_bug_check_names_a_patch_that_applies_only_with_fuzz",
          exact_ok and r.returncode == 1 and line.startswith("FAIL") and line.endswith(" moved"),
          f"exact patch passed: {exact_ok}; exit {r.returncode}: {line}")


def main():
    work = tempfile.mkdtemp(prefix="mutate_check.")
    try:
        check_operators()
        check_screen(work)
        check_seeds(work)
        check_score(work)
        check_planted_bugs_apply(work)
        check_launcher(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
