#!/usr/bin/env python3
"""layering_check.py OBJDIR... — alloc/ has no cycle between its files.

For each object directory (build/<variant>/obj/alloc), the file graph is derived from the objects
themselves: file A depends on file B when A's object uses a symbol B's object defines (nm's
undefined and defined global symbols; inline functions of headers are part of their callers).
A cycle (a strongly connected component of more than one file) is printed with one path around
it and the symbols on each edge, and the check fails. Without a cycle the files are printed in
layers: each file depends only on files of the layers below it.

Prints one PASS or FAIL line per directory (check alloc_files_form_no_cycle_<variant>) and exits
1 if any failed. The objects are the ones a build left: run it from the repository root after
building the variants (make layering-check does both).
"""
import collections
import os
import subprocess
import sys


def symbols(objdir, files):
    """Per file: the global symbols its object defines and the ones it uses (one nm run)."""
    paths = [os.path.join(objdir, f + ".o") for f in files]
    out = subprocess.run(["nm", *paths], capture_output=True, text=True, check=True).stdout
    defined = {f: set() for f in files}
    undefined = {f: set() for f in files}
    by_path = dict(zip(paths, files))
    current = None
    for line in out.splitlines():
        if line.endswith(":") and line[:-1] in by_path:
            current = by_path[line[:-1]]
            continue
        parts = line.split()
        if current is None:
            continue
        if len(parts) == 3 and parts[1] in "TDBRVWCSGu":
            defined[current].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined[current].add(parts[1])
    return defined, undefined


def graph(objdir):
    # Objects of sources that no longer exist (left by an earlier build) are not the tree's.
    files = sorted(f[:-2] for f in os.listdir(objdir)
                   if f.endswith(".o") and os.path.exists(os.path.join("alloc", f[:-2] + ".c")))
    owner, uses = {}, {}
    defined, undefined = symbols(objdir, files)
    for f in files:
        for s in defined[f]:
            owner.setdefault(s, f)
        uses[f] = undefined[f]
    edges = {f: collections.defaultdict(list) for f in files}
    for f in files:
        for s in sorted(uses[f]):
            g = owner.get(s)
            if g is not None and g != f:
                edges[f][g].append(s)
    return files, edges


def components(files, edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in files:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def cycle_path(comp, edges):
    """One path from comp[0] back to itself inside the component (breadth first: a shortest one)."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = collections.deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(edges[v]):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def layers(files, edges):
    level = {}

    def depth(f, seen=()):
        if f not in level:
            level[f] = 1 + max((depth(g, seen + (f,)) for g in edges[f]), default=-1)
        return level[f]

    for f in files:
        depth(f)
    by = collections.defaultdict(list)
    for f, n in level.items():
        by[n].append(f)
    return [sorted(by[n]) for n in sorted(by)]


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[0])
        return 2
    failed = 0
    for objdir in sys.argv[1:]:
        variant = objdir.rstrip("/").split("/")[-3] if objdir.count("/") >= 3 else objdir
        name = f"alloc_files_form_no_cycle_{variant}"
        if not os.path.isdir(objdir) or not any(f.endswith(".o") for f in os.listdir(objdir)):
            print(f"FAIL {name}: no objects in {objdir} (build the variant first)")
            failed = 1
            continue
        files, edges = graph(objdir)
        cycles = [c for c in components(files, edges) if len(c) > 1]
        if cycles:
            failed = 1
            for comp in cycles:
                path = cycle_path(comp, edges)
                print(f"{variant}: cycle between {len(comp)} files ({' '.join(comp)}):")
                print("    " + " -> ".join(path))
                for a, b in zip(path, path[1:]):
                    syms = edges[a][b]
                    more = f" and {len(syms) - 4} more" if len(syms) > 4 else ""
                    print(f"      {a} -> {b}: {' '.join(syms[:4])}{more}")
            print(f"FAIL {name}: {len(cycles)} cycle(s) between alloc/ files (above)")
            continue
        nedges = sum(len(e) for e in edges.values())
        print(f"{variant}: layers, lowest first (each file uses only files below it):")
        for n, layer in enumerate(layers(files, edges)):
            print(f"  {n}: {' '.join(layer)}")
        print(f"PASS {name} ({len(files)} files, {nedges} dependencies)")
    return failed


if __name__ == "__main__":
    sys.exit(main())
