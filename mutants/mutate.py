#!/usr/bin/env python3
"""mutate.py — mutants nobody hand-picked: the generator behind make mutate.

usage: mutate.py --seed S --n N --out DIR [--lcov FILE] [--files GLOB...]

Every candidate is one edit of one line of alloc/ that the coverage build saw executed (the lcov
export of make coverage), or of any code line of launcher/ (a program of its own that the coverage
build does not measure; make test's install check runs every flag it has), made by an operator:
  cmp_flip        a comparison flipped (== and !=, < and >=, > and <=)
  cmp_off_by_one  a comparison made off by one (< and <=, > and >=)
  const_plus_one  an integer constant made one bigger
  const_minus_one an integer constant made one smaller
  drop_call       a call statement dropped
  drop_statement  an assignment, increment or decrement statement dropped
  weaken_order    an atomic's memory order weakened to relaxed
  swap_logic      && and || swapped
  early_return    the condition in front of a return made always true
The candidates are shuffled with the seed and taken in that order: a candidate that does not
compile warning-free, or whose release objects (for weaken_order: its TSan objects too, where the
order is what the code is compiled to check) are byte for byte those of the unmutated tree, is
rejected and the next one tried, until N are accepted. Each accepted mutant is written to
DIR/patches/NAME.patch in the form of mutants/ (Breaks, Mechanism, Key, then a unified diff), and
DIR/generated.tsv lists them with the rejections counted. The same seed and tree give the same
mutants.

It must never touch the working tree: every edit is made in DIR/screen, a copy of alloc/ and
launcher/.
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMPARE_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
OFF_BY_ONE = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
# A comparison operator: not part of <<, >>, ->, <<=, >>= (shifts and member access).
CMP_RE = re.compile(r"(?<![<>=!\-])(==|!=|<=|>=|<|>)(?![<>=])")
INT_RE = re.compile(r"(?<![\w.])(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)(?![\w.])")
ORDER_RE = re.compile(r"__ATOMIC_(SEQ_CST|ACQ_REL|ACQUIRE|RELEASE)|memory_order_(seq_cst|acq_rel|acquire|release)")
LOGIC_RE = re.compile(r"&&|\|\|")
CALL_STMT_RE = re.compile(r"^\s*(?:\(void\)\s*)?[A-Za-z_]\w*(?:(?:->|\.)\w+)*\s*\(.*\)\s*;\s*$")
ASSIGN_STMT_RE = re.compile(
    r"^\s*(?:\+\+|--)?[A-Za-z_*(][\w\[\]\->.*() ]*?(?:\+\+|--|[-+*/|&^]?=(?!=)|<<=|>>=).*;\s*$")
CONTROL = ("return", "if", "for", "while", "switch", "case", "goto", "break", "continue", "do",
           "else")
# A declaration: a type (one or more words, maybe a pointer) then the declared name.
DECL_RE = re.compile(r"^\s*(?:(?:static|const|volatile|extern|struct|union|enum|unsigned|signed|"
                     r"_Atomic)\s+)*[A-Za-z_]\w*\s+\**\s*[A-Za-z_]\w*\s*(?:=|;|\[|,)")


def code_part(line):
    """The line without a trailing // comment or the text of string literals (as blanks)."""
    out, i, quote = [], 0, None
    while i < len(line):
        c = line[i]
        if quote:
            out.append(c if c == quote else " ")
            if c == "\\":
                out.append(" ")
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            out.append(c)
        elif line.startswith("//", i) or line.startswith("/*", i):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def is_code_line(line):
    s = line.strip()
    return bool(s) and not s.startswith(("#", "*", "/*", "//"))


def candidates_of_line(path, lineno, line, next_line):
    """(operator, new_line, what) for every edit the operators make of one line."""
    code = code_part(line)
    if not is_code_line(line):
        return []
    out = []
    first = re.match(r"\s*([A-Za-z_]\w*)", code)
    declaration = bool(DECL_RE.match(code)) and not (first and first.group(1) in CONTROL)
    for m in CMP_RE.finditer(code):
        op = m.group(1)
        # A < or > that is a template-like use never occurs in C; one inside #include was skipped.
        for kind, table in (("cmp_flip", COMPARE_FLIP), ("cmp_off_by_one", OFF_BY_ONE)):
            if op in table:
                new = line[:m.start()] + table[op] + line[m.end():]
                out.append((kind, new, f"{op} -> {table[op]}"))
    for m in INT_RE.finditer(code):
        text, suffix = m.group(1), m.group(2)
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
        # Array sizes and bit-field widths in declarations change the layout, not the logic.
        if re.search(r"\[\s*$", code[:m.start()]) and declaration:
            continue
        for kind, v in (("const_plus_one", value + 1), ("const_minus_one", value - 1)):
            if v < 0:
                continue
            rep = (hex(v) if text.lower().startswith("0x") else str(v)) + suffix
            new = line[:m.start()] + rep + line[m.end():]
            out.append((kind, new, f"{text}{suffix} -> {rep}"))
    for m in ORDER_RE.finditer(code):
        rep = "__ATOMIC_RELAXED" if m.group(0).startswith("__") else "memory_order_relaxed"
        out.append(("weaken_order", line[:m.start()] + rep + line[m.end():],
                    f"{m.group(0)} -> {rep}"))
    for m in LOGIC_RE.finditer(code):
        rep = "||" if m.group(0) == "&&" else "&&"
        out.append(("swap_logic", line[:m.start()] + rep + line[m.end():],
                    f"{m.group(0)} -> {rep}"))
    stripped = code.strip()
    first_word = re.match(r"[A-Za-z_]\w*", stripped)
    indent = line[:len(line) - len(line.lstrip())]
    if first_word and first_word.group(0) not in CONTROL and not declaration and \
            stripped.count("(") == stripped.count(")"):
        if CALL_STMT_RE.match(code):
            out.append(("drop_call", indent + ";\n", f"`{stripped}` dropped"))
        elif ASSIGN_STMT_RE.match(code):
            out.append(("drop_statement", indent + ";\n", f"`{stripped}` dropped"))
    elif re.match(r"(\+\+|--)[A-Za-z_]", stripped) and stripped.endswith(";"):
        out.append(("drop_statement", indent + ";\n", f"`{stripped}` dropped"))
    m = re.match(r"(\s*(?:else\s+)?if\s*)\((.*)\)(\s*(?:return\b.*)?)$", line.rstrip("\n"))
    if m and (m.group(3).strip().startswith("return") or
              (not m.group(3).strip() and next_line.strip().startswith("return"))):
        cond = code_part(m.group(2))
        if cond.count("(") == cond.count(")") and cond.strip() not in ("1", "0"):
            out.append(("early_return", m.group(1) + "(1)" + m.group(3) + "\n",
                        f"if ({m.group(2).strip()}) -> if (1) in front of a return"))
    return out


def covered_lines(lcov):
    """{file (relative to the repository): set of executed line numbers}"""
    covered, current = {}, None
    with open(lcov) as f:
        for line in f:
            if line.startswith("SF:"):
                p = os.path.relpath(line[3:].strip(), ROOT)
                current = covered.setdefault(p, set())
            elif line.startswith("DA:") and current is not None:
                n, count = line[3:].split(",")[:2]
                if int(count) > 0:
                    current.add(int(n))
    return covered


def run(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), capture_output=True,
                          text=True, **kw)


class Screen:
    """A copy of the tracked files where a candidate is compiled and compared with the original."""

    def __init__(self, out, root=ROOT):
        self.dir = os.path.abspath(os.path.join(out, "screen"))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        # alloc/ is all a library object is compiled from, and with it launcher/ the launcher's
        # (the tree may be a scratch copy inside another checkout, where git would list nothing).
        for d in ("alloc", "launcher"):
            if os.path.isdir(os.path.join(root, d)):
                shutil.copytree(os.path.join(root, d), os.path.join(self.dir, d),
                                ignore=shutil.ignore_patterns("*.o", "*.d"))
        self.compile = {}
        for variant in ("release", "tsan"):
            r = run(["make", "--no-print-directory", "-s", "VARIANT=" + variant, "print-compile"],
                    ROOT)
            if r.returncode != 0:
                sys.exit("mutate: make print-compile failed: " + r.stderr)
            self.compile[variant] = r.stdout.strip()
        self.sources = sorted("alloc/" + f for f in os.listdir(os.path.join(self.dir, "alloc"))
                              if f.endswith(".c") and f not in ("hardened.c", "free_link.c"))
        self.deps = None  # the headers each source includes, found when a header is mutated
        self.baseline = {}

    def affected(self, path):
        """The sources (paths in the screen) whose objects a change of path can change."""
        if path.endswith(".c"):
            return [path]
        name = os.path.basename(path)
        if self.deps is None:
            self.deps = {}
            for c in self.sources:
                r = run(f"{self.compile['release']} -MM {c}", self.dir)
                self.deps[c] = set(os.path.basename(d)
                                   for d in r.stdout.replace("\\\n", " ").split()[1:])
        return [c for c in self.sources if name in self.deps[c]]

    def object_of(self, variant, c, tag):
        """Compile source c (alloc/ or launcher/, with alloc/'s headers) as it is in the screen;
        the object's code and data (no debug info)."""
        obj = os.path.join(self.dir, f"{tag}-{variant}-{c.replace('/', '-')}.o")
        r = run(f"{self.compile[variant]} -Ialloc -c {c} -o {obj}", self.dir)
        if r.returncode != 0:
            errors = [l for l in r.stderr.splitlines() if "error" in l] or r.stderr.splitlines()
            return None, (errors or ["?"])[0]
        stripped = obj + ".s"
        run(["objcopy", "--strip-debug", obj, stripped], self.dir)
        with open(stripped, "rb") as f:
            data = f.read()
        os.unlink(obj)
        os.unlink(stripped)
        return hashlib.sha1(data).hexdigest(), None

    def verdict(self, path, new_text, variants):
        """None when the mutant builds and changes some object; else the reason to reject it."""
        targets = [(v, c) for v in variants for c in self.affected(path)]
        for key in targets:
            if key not in self.baseline:
                self.baseline[key], err = self.object_of(key[0], key[1], "base")
                if self.baseline[key] is None:
                    sys.exit(f"mutate: the unmutated {key[1]} does not build: {err}")
        target = os.path.join(self.dir, path)
        with open(target) as f:
            old_text = f.read()
        with open(target, "w") as f:
            f.write(new_text)
        try:
            changed = False
            for key in targets:
                digest, err = self.object_of(key[0], key[1], "mutant")
                if digest is None:
                    return "does not build warning-free (" + err[:120] + ")"
                changed |= digest != self.baseline[key]
            return None if changed else "compiles to the same objects"
        finally:
            with open(target, "w") as f:
                f.write(old_text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lcov", default=os.path.join(ROOT, "build/cov/hakmem.lcov"))
    ap.add_argument("--files", nargs="*", default=None)
    a = ap.parse_args()
    covered = covered_lines(a.lcov)
    # The launcher has no coverage data: every line of it is a candidate (is_code_line and the
    # operators skip comments, blank lines and declarations).
    launcher = sorted(os.path.join("launcher", f) for f in os.listdir(os.path.join(ROOT, "launcher"))
                      if f.endswith(".c"))
    for path in launcher:
        with open(os.path.join(ROOT, path)) as f:
            covered.setdefault(path, set(range(1, len(f.readlines()) + 1)))
    files = a.files or sorted(p for p in covered if p.startswith(("alloc/", "launcher/")) and
                              os.path.basename(p) not in ("hardened.c", "free_link.c"))
    cands = []
    for path in files:
        with open(os.path.join(ROOT, path)) as f:
            lines = f.readlines()
        for n in sorted(covered.get(path, ())):
            if n > len(lines):
                continue
            nxt = lines[n] if n < len(lines) else ""
            for op, new, what in candidates_of_line(path, n, lines[n - 1], nxt):
                cands.append((path, n, op, new, what))
    if not cands:
        sys.exit("mutate: no candidate (is the lcov export empty? " + a.lcov + ")")
    rng = random.Random(a.seed)
    order = list(range(len(cands)))
    rng.shuffle(order)
    patches = os.path.join(a.out, "patches")
    shutil.rmtree(patches, ignore_errors=True)
    os.makedirs(patches)
    screen = Screen(a.out)
    accepted, rejected = [], {}
    for i in order:
        if len(accepted) >= a.n:
            break
        path, n, op, new, what = cands[i]
        with open(os.path.join(ROOT, path)) as f:
            lines = f.readlines()
        old_line = lines[n - 1]
        lines[n - 1] = new
        new_text = "".join(lines)
        variants = ["release", "tsan"] if op == "weaken_order" else ["release"]
        why = screen.verdict(path, new_text, variants)
        if why is not None:
            kind = why.split(" (")[0]
            rejected[kind] = rejected.get(kind, 0) + 1
            continue
        key = hashlib.sha1(f"{path}|{op}|{old_line.strip()}|{new.strip()}".encode()).hexdigest()[:12]
        stem = os.path.splitext(os.path.basename(path))[0]
        name = f"auto_{stem}_{n}_{op}_{key[:6]}"
        orig = os.path.join(screen.dir, path)
        mutated = os.path.join(a.out, "mutated.tmp")
        with open(mutated, "w") as f:
            f.write(new_text)
        diff = run(["diff", "-u", "--label", "a/" + path, "--label", "b/" + path, orig, mutated],
                   ROOT).stdout
        os.unlink(mutated)
        with open(os.path.join(patches, name + ".patch"), "w") as f:
            f.write(f"Breaks: automatic mutant ({op}) at {path}:{n}: {what}\n")
            f.write(f"Mechanism: {path}\nKey: {key}\n\n{diff}")
        accepted.append((name, key, path, n, op, what))
    with open(os.path.join(a.out, "generated.tsv"), "w") as f:
        f.write(f"# seed {a.seed}: {len(accepted)} accepted of {len(cands)} candidates on executed "
                f"lines (launcher/: every line); rejected: " +
                (", ".join(f"{v} {k}" for k, v in sorted(rejected.items())) or "none") + "\n")
        for row in accepted:
            f.write("\t".join(map(str, row)) + "\n")
    shutil.rmtree(screen.dir, ignore_errors=True)
    print(f"mutate: seed {a.seed}: {len(accepted)} mutants from {len(cands)} candidates on "
          f"executed lines of {len(files)} files (launcher/: every line); rejected: " +
          (", ".join(f"{v} that {k}" for k, v in sorted(rejected.items())) or "none"))
    if len(accepted) < a.n:
        print(f"mutate: only {len(accepted)} of the {a.n} asked for")
    return 0


if __name__ == "__main__":
    sys.exit(main())
