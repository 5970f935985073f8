#!/usr/bin/env python3
"""check.py — hakmem's symbols: what the shipped archives expose, and its private namespace.

Checks (one PASS or FAIL line each; exit 1 if any failed), from the repository root after a build:
  shipped_archive_exposes_only_the_public_api_<variant>_<archive>
      the global symbols an archive defines (nm) are exactly the documented set: the functions of
      alloc/hakmem.h, plus for libhakmem.a the malloc family the README lists ("Interposed: ..."),
      plus in the hardened build C++'s operators new and delete (every form).
  internal_symbols_carry_the_prefix
      every other global symbol any module's object defines (in every variant make test builds)
      starts with
      the private prefix hk_ (or is a documented public name: hakmem.h, hakmem_sched.h).
  internal_symbols_are_declared_in_their_own_header
      each hk_ symbol defined by alloc/X.c is declared in alloc/X.h and in no other header.
"""
import glob
import os
import re
import subprocess
import sys

PREFIX = "hk_"
VARIANTS = ("release", "hardened", "asan", "tsan", "valgrind", "sched", "fuzz")
failed = 0


def result(ok, name, detail):
    global failed
    if ok:
        print(f"PASS {name} ({detail})")
    else:
        failed = 1
        print(f"FAIL {name}: {detail}")


def defined_globals(*paths):
    out = subprocess.run(["nm", "-g", "--defined-only", *paths], capture_output=True, text=True,
                         check=True).stdout
    per_file, current = {}, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = line[:-1]
            per_file.setdefault(current, set())
            continue
        parts = line.split()
        if len(parts) == 3:
            per_file.setdefault(current or paths[0], set()).add(parts[2])
    return per_file


def public_functions(header):
    text = open(header).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return set(re.findall(r"\b(hak_[a-z0-9_]+)\s*\(", text))


def malloc_family():
    text = open("README.md").read()
    m = re.search(r"Interposed: `([^`]*)`", text.replace("\n", " "))
    return set(m.group(1).split()) if m else set()


def cxx_operator(name):
    return re.match(r"^_Z(nw|na|dl|da)", name) is not None


def main():
    public = public_functions("alloc/hakmem.h")
    sched = public_functions("alloc/hakmem_sched.h")
    family = malloc_family()
    if not family:
        result(False, "shipped_archive_exposes_only_the_public_api",
               "README.md has no 'Interposed: `...`' list of the malloc family")
        return 1
    # 1. the shipped archives
    for variant in ("release", "hardened"):
        for archive in ("libhakmem.a", "libhakmem_core.a"):
            path = f"build/{variant}/{archive}"
            name = f"shipped_archive_exposes_only_the_public_api_{variant}_{archive[:-2]}"
            if not os.path.exists(path):
                result(False, name, f"no {path} (build the variant first)")
                continue
            got = set().union(*defined_globals(path).values())
            want = set(public)
            if archive == "libhakmem.a":
                want |= family
            extra = sorted(s for s in got - want
                           if not (variant == "hardened" and archive == "libhakmem.a"
                                   and cxx_operator(s)))
            missing = sorted(want - got)
            ok = not extra and not missing
            detail = f"{len(got)} global symbols" if ok else ""
            if extra:
                detail += f"{len(extra)} not documented: {' '.join(extra[:12])}"
            if missing:
                detail += f"{'; ' if extra else ''}missing: {' '.join(missing[:12])}"
            result(ok, name, detail)
    # 2. every module's globals, every variant built
    # The variants make test builds (others may hold objects of an older tree).
    objdirs = [f"build/{v}/obj/alloc" for v in VARIANTS if glob.glob(f"build/{v}/obj/alloc/*.o")]
    documented = public | sched | family
    bad, owners, nsyms = {}, {}, 0
    for objdir in objdirs:
        objs = [o for o in sorted(glob.glob(objdir + "/*.o"))
                if os.path.exists("alloc/" + os.path.basename(o)[:-2] + ".c")]
        for obj, syms in defined_globals(*objs).items():
            src = os.path.basename(obj)[:-2]
            for s in syms:
                if s in documented or cxx_operator(s) or s.startswith("__"):
                    continue  # public, or the compiler's own (coverage records, ...)
                nsyms += 1
                if not s.startswith(PREFIX):
                    bad.setdefault(s, set()).add(f"{objdir.split('/')[1]}/{src}")
                else:
                    owners.setdefault(s, set()).add(src)
    detail = (f"{len(owners)} internal symbols in {len(objdirs)} variants' objects"
              if not bad else "without the prefix: " +
              "; ".join(f"{s} ({', '.join(sorted(w))})" for s, w in sorted(bad.items())[:12]))
    result(not bad and objdirs, "internal_symbols_carry_the_prefix",
           detail if objdirs else "no objects under build/*/obj/alloc (build first)")
    # 3. declarations
    headers = {}
    for h in sorted(glob.glob("alloc/*.h")):
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), open(h).read(),
                      flags=re.S)
        headers[os.path.basename(h)] = text
    problems = []
    for s, srcs in sorted(owners.items()):
        decl = re.compile(r"^[^\n#]*\b(HAK_HIDDEN|extern)\b[^\n;{]*\b" + re.escape(s) + r"\b",
                          re.M)
        where = sorted(h for h, text in headers.items() if decl.search(text))
        for src in sorted(srcs):
            if where != [src + ".h"]:
                problems.append(f"{s} (defined in alloc/{src}.c) is declared in "
                                f"{', '.join('alloc/' + w for w in where) or 'no header'}")
    result(not problems, "internal_symbols_are_declared_in_their_own_header",
           f"{len(owners)} symbols, each in alloc/<its file>.h" if not problems
           else f"{len(problems)} misplaced: " + "; ".join(problems[:20]))
    return failed


if __name__ == "__main__":
    sys.exit(main())
