#!/usr/bin/env python3
"""make bench: every benchmark for every allocator, side by side.

Each configuration runs REPS times for each allocator, in interleaved order (every repetition
rotates the allocator order), from one binary per benchmark with the allocator chosen through
LD_PRELOAD (glibc: none); hakmem's runs (release and hardened) write its JSON statistics
(HAKMEM_STATS=json), which must show that it served them. The hardened build is a column of its
own, compared with release and glibc, never counted as a peer. Throughput is the median of the runs (one op = one malloc or one free;
realloc_grow also counts reallocs); peak RSS is each run's own VmHWM, median. Writes
build/bench/results.csv, results.md and the gnuplot charts, printing progress as it goes.
"""
import csv
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

OUT = "build/bench"
BIN = "build/bench/bin"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
REPS = int(os.environ.get("REPS", "3" if QUICK else "5"))
NPROC = os.cpu_count() or 2
THREADS = [int(t) for t in os.environ.get("BENCH_THREADS", "").split()] or \
    sorted({1, 2, NPROC} if NPROC > 2 else {1, 2})

ALLOCATORS = [
    ("hakmem", os.path.abspath("build/release/libhakmem.so")),
    ("hakmem-hardened", os.path.abspath("build/hardened/libhakmem.so")),
    ("glibc", None),
    ("mimalloc", LIBDIR + "/libmimalloc.so.2"),
    ("jemalloc", LIBDIR + "/libjemalloc.so.2"),
    ("tcmalloc", LIBDIR + "/libtcmalloc_minimal.so.4"),
]
# BENCH_ALLOCATORS=hakmem,glibc: a subset (the nightly job compares hakmem with its own history).
if os.environ.get("BENCH_ALLOCATORS"):
    _wanted = os.environ["BENCH_ALLOCATORS"].split(",")
    ALLOCATORS = [a for a in ALLOCATORS if a[0] in _wanted]
# hakmem's hardened build is not a peer: it is measured for its cost against release and glibc.
OURS = ("hakmem", "hakmem-hardened")
PEERS = [a for a, _ in ALLOCATORS if a not in OURS]


def configs():
    """(bench, param, threads, argv) for every row of the table."""
    q = QUICK
    rows = []
    for size in (16, 64, 256, 1024, 4096):
        rows.append(("fixed_size", f"{size} B", 1,
                     [f"{BIN}/fixed_size", f"size={size}", f"steps={10000000 if q else 40000000}"]))
    rows.append(("random_mixed", "16-1040 B", 1,
                 [f"{BIN}/random_mixed", f"steps={5000000 if q else 20000000}"]))
    rows.append(("xthread", "16-1024 B", 2,
                 [f"{BIN}/xthread", "threads=2", f"ms={1000 if q else 2000}"]))
    for t in THREADS:
        if t < 2:
            continue
        for lo, hi in ((64, 64), (16, 512)):
            rows.append(("m2m", f"{lo} B" if lo == hi else f"{lo}-{hi} B", t,
                         [f"{BIN}/m2m", f"threads={t}", f"min={lo}", f"max={hi}",
                          f"ms={1000 if q else 2000}"]))
    for t in THREADS:
        rows.append(("larson", "8-1000 B", t,
                     [f"{BIN}/larson", f"threads={t}", f"seconds={2 if q else 5}", "check=0"]))
    rows.append(("realloc_grow", "16 B-1 MiB", 1,
                 [f"{BIN}/realloc_grow", f"rounds={1000 if q else 3000}"]))
    rows.append(("large", "64 KiB-8 MiB", 1,
                 [f"{BIN}/large", f"steps={1500 if q else 4000}"]))
    rows.append(("huge_churn", "5-25 MiB", 1,
                 [f"{BIN}/huge_churn", f"steps={200 if q else 600}"]))
    rows.append(("thread_churn", "16 B-64 KiB", NPROC,
                 [f"{BIN}/thread_churn", f"threads={NPROC}", f"rounds={10 if q else 30}"]))
    rows.append(("alloc_heavy", "program", 1,
                 [f"{BIN}/alloc_heavy", f"statements={300000 if q else 1000000}"]))
    return rows


def run_one(argv, lib):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    stats = None
    if lib:
        env["LD_PRELOAD"] = lib
    if lib in [l for a, l in ALLOCATORS if a in OURS]:
        # hakmem's own JSON statistics prove that it served the run (a preload that did not take
        # would otherwise be measured as hakmem).
        stats = f"{OUT}/hakmem-stats.json"
        env["HAKMEM_STATS"], env["HAKMEM_STATS_FILE"] = "json", os.path.abspath(stats)
        if os.path.exists(stats):
            os.remove(stats)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    out, err, status = proc.stdout, proc.stderr, proc.returncode
    m = re.search(r"ops_per_sec=([0-9.]+)", out)
    rss = re.search(r"peak_rss_kb=([0-9]+)", out)
    if status != 0 or not m or not rss:
        sys.exit(f"bench: {' '.join(argv)} with {lib or 'glibc'} failed:\n{out}{err}")
    if stats:
        s = {"allocs": 0, "page_run_allocs": 0, "large_allocs": 0}
        if os.path.exists(stats):
            with open(stats) as f:
                s = json.load(f)
        if s["allocs"] + s["page_run_allocs"] + s["large_allocs"] == 0:
            sys.exit(f"bench: {' '.join(argv)}: hakmem's statistics show no allocation "
                     f"(LD_PRELOAD={lib} did not take)")
    # The program's own VmHWM: a forked child's ru_maxrss would include this runner's size.
    return float(m.group(1)), int(rss.group(1))


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{NPROC} cores, {model}, Linux {platform.release()}"


def fmt(ops):
    """Mops/s with three significant digits (large and realloc_grow run at kops/s)."""
    m = ops / 1e6
    return f"{m:.1f}" if m >= 10 else f"{m:.3g}"


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, lib in ALLOCATORS:
        if lib and not os.path.exists(lib):
            sys.exit(f"bench: {lib} is missing (make bench installs it)")
    rows = configs()
    total = len(rows) * len(ALLOCATORS) * REPS
    samples = {}  # (row index, allocator) -> [(ops, rss)]
    done = 0
    print(f"bench: {len(rows)} configurations x {len(ALLOCATORS)} allocators x {REPS} runs "
          f"({'quick' if QUICK else 'full'}), on {machine()}", flush=True)
    for rep in range(REPS):
        for i, (bench, param, threads, argv) in enumerate(rows):
            order = ALLOCATORS[rep % len(ALLOCATORS):] + ALLOCATORS[:rep % len(ALLOCATORS)]
            for name, lib in order:
                ops, rss = run_one(argv, lib)
                samples.setdefault((i, name), []).append((ops, rss))
                done += 1
                print(f"  [{done}/{total}] run {rep + 1}/{REPS} {bench} {param} threads={threads} "
                      f"{name}: {fmt(ops)} Mops/s, peak RSS {rss} KiB", flush=True)
    os.makedirs(OUT, exist_ok=True)
    table = []
    with open(f"{OUT}/results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["bench", "param", "threads", "allocator", "ops_per_sec_median",
                    "ops_per_sec_min", "ops_per_sec_max", "peak_rss_kb_median"])
        for i, (bench, param, threads, _) in enumerate(rows):
            row = {}
            for name, _ in ALLOCATORS:
                ops = [s[0] for s in samples[(i, name)]]
                rss = [s[1] for s in samples[(i, name)]]
                med = statistics.median(ops)
                row[name] = (med, statistics.median(rss))
                w.writerow([bench, param, threads, name, f"{med:.0f}", f"{min(ops):.0f}",
                            f"{max(ops):.0f}", f"{statistics.median(rss):.0f}"])
            table.append((bench, param, threads, row))
    write_markdown(table)
    write_charts(table)
    print(f"bench: wrote {OUT}/results.csv, {OUT}/results.md, {OUT}/throughput.png, "
          f"{OUT}/larson_threads.png")


def write_markdown(table):
    stamp = datetime.date.today().isoformat()
    lines = [f"Measured {stamp} on {machine()} with `make bench{' BENCH_QUICK=1' if QUICK else ''}`"
             f" (median of {REPS} interleaved runs each; Mops/s, higher is better; one op = one "
             f"malloc or free).", "",
             "| bench | threads | " + " | ".join(a for a, _ in ALLOCATORS) +
             " | hakmem / best peer | hakmem RSS / mimalloc RSS |",
             "|---|---|" + "---|" * len(ALLOCATORS) + "---|---|"]
    for bench, param, threads, row in table:
        best_peer = max(PEERS, key=lambda a: row[a][0])
        ratio = row["hakmem"][0] / row[best_peer][0]
        ref = row.get("mimalloc", (0, 0))[1]  # absent when BENCH_ALLOCATORS leaves it out
        mem = row["hakmem"][1] / ref if ref else 0
        cells = []
        for a, _ in ALLOCATORS:
            best = max(row[x][0] for x, _ in ALLOCATORS if x != "hakmem-hardened")
            text = fmt(row[a][0])
            cells.append(f"**{text}**" if row[a][0] == best else text)
        lines.append(f"| {bench} {param} | {threads} | " + " | ".join(cells) +
                     f" | {ratio:.2f} ({best_peer}) | {mem:.2f} |")
    if "hakmem-hardened" in [a for a, _ in ALLOCATORS]:
        lines += ["", "The hardened build's cost: its throughput and peak RSS against release "
                  "hakmem and glibc (same runs).", "",
                  "| bench | threads | hardened / release | hardened / glibc | RSS hardened / "
                  "release | RSS hardened / glibc |", "|---|---|---|---|---|---|"]
        for bench, param, threads, row in table:
            h, r = row["hakmem-hardened"], row["hakmem"]
            g = row.get("glibc", (0, 0))
            lines.append(f"| {bench} {param} | {threads} | {h[0] / r[0]:.2f} | "
                         f"{h[0] / g[0] if g[0] else 0:.2f} | {h[1] / r[1]:.2f} | "
                         f"{h[1] / g[1] if g[1] else 0:.2f} |")
    with open(f"{OUT}/results.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_charts(table):
    names = [a for a, _ in ALLOCATORS]
    with open(f"{OUT}/throughput.dat", "w") as f:
        f.write("bench " + " ".join(names) + "\n")
        for bench, param, threads, row in table:
            best = max(row[a][0] for a in names)
            label = f"{bench}-{param.replace(' ', '')}" + (f"-{threads}t" if threads > 1 else "")
            f.write(f'"{label}" ' + " ".join(f"{row[a][0] / best:.4f}" for a in names) + "\n")
    with open(f"{OUT}/larson.dat", "w") as f:
        f.write("threads " + " ".join(names) + "\n")
        for bench, param, threads, row in table:
            if bench == "larson":
                f.write(f"{threads} " + " ".join(f"{row[a][0] / 1e6:.3f}" for a in names) + "\n")
    script = f"""set terminal png size 1400,650 noenhanced
set output '{OUT}/throughput.png'
set title 'Throughput relative to the fastest allocator of each benchmark (1.0 = fastest)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set yrange [0:1.1]
set xtics rotate by -30
set key outside right top
set grid ytics
plot for [i=2:{len(names) + 1}] '{OUT}/throughput.dat' using i:xtic(1) title columnheader(i)
set terminal png size 900,600 noenhanced
set output '{OUT}/larson_threads.png'
set title 'Larson (8-1000 B, check off): throughput vs threads'
set style data linespoints
set xlabel 'threads'
set ylabel 'Mops/s'
set yrange [0:*]
set xtics 1 norotate
set key left top
plot for [i=2:{len(names) + 1}] '{OUT}/larson.dat' using 1:i title columnheader(i)
"""
    with open(f"{OUT}/charts.gp", "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", f"{OUT}/charts.gp"], check=True)


if __name__ == "__main__":
    main()
