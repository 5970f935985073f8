#!/usr/bin/env python3
"""large_cache_model.py — a model of the Large tier's cache of free ranges, for huge_churn-like
workloads: which placement rule keeps peak RSS near the live peak, and at how many page faults.

It replays the huge_churn bench's sequence (same xorshift stream, same arguments) against a
model of alloc/large.c's rules: 64 MiB reserves mapped next to each other, freed blocks merged
with adjacent ranges of the same kind (touched or untouched), best fit on touched ranges first,
then a freed block extended in place into the untouched range after it, then the best-fitting
untouched range, and a block taking a whole range when less than 1 MiB would be left. Pages
count as resident once written (the program writes every byte of each block). For the bench's
own sequence it gives 459,448 kB against hakmem's measured 459,212 (VmHWM less the base).

The other policies are the alternatives the README discusses; each line prints, per workload,
peak resident / live peak, page faults per step and pages moved per step (mremap) by kind.
`frames_trim` is alloc/large.c since fbea571 (huge pages on): its faults are 2 MiB ones.

  bench/large_cache_model.py                 # every policy, every workload
  bench/large_cache_model.py current donate  # some of them
"""
import sys

MASK = (1 << 64) - 1
PAGE = 4096
CHUNK = 2 << 20  # a page-table (PMD) entry's worth: moved whole by mremap when aligned
RESERVE = 64 << 20
KEEP_WHOLE = 1 << 20  # a range left shorter than this goes with the block

WORKLOADS = [  # huge_churn's arguments; the first is the bench's own run
    dict(),
    dict(seed=1), dict(seed=2), dict(seed=3),
    dict(lo=1 << 20, hi=8 << 20),
    dict(live=50),
    dict(lo=2 << 20, hi=40 << 20, live=10),
]


def sequence(seed=0x2545F4914F6CDD1D, steps=600, lo=5 << 20, hi=25 << 20, live=20):
    """(slot, bytes) per step, as bench/huge_churn.c draws them; bytes rounded to pages."""
    s, out = seed, []
    for _ in range(steps):
        draws = []
        for _ in range(2):
            s ^= (s << 13) & MASK
            s ^= s >> 7
            s ^= (s << 17) & MASK
            draws.append(s)
        n = lo + draws[1] % (hi - lo + 1)
        out.append((draws[0] % live, (n + PAGE - 1) // PAGE * PAGE))
    return out, live


def live_peak(seq):
    steps, live = seq
    sizes, peak = [0] * live, 0
    for slot, n in steps:
        sizes[slot] = n
        peak = max(peak, sum(sizes))
    return peak


class Model:
    def __init__(self, policy, budget=0.0):
        self.policy, self.budget = policy, budget
        self.ranges = []  # [addr, size, touched], oldest first
        self.next_reserve = 1 << 45
        self.resident = set()  # page numbers
        self.peak = self.faults = self.moved_pmd = self.moved_pte = 0
        self.frames = policy == "frames_trim"  # huge pages: a write makes its whole frame resident
        self.high = self.live = 0

    # ---- pages ----
    def write(self, addr, n):
        if self.frames:  # one fault per 2 MiB frame, the whole frame resident
            lo, hi = addr // CHUNK * CHUNK, -(-(addr + n) // CHUNK) * CHUNK
            for f in range(lo, hi, CHUNK):
                if f // PAGE not in self.resident:
                    self.faults += 1
                self.resident.update(range(f // PAGE, (f + CHUNK) // PAGE))
            self.peak = max(self.peak, len(self.resident))
            return
        for p in range(addr // PAGE, (addr + n) // PAGE):
            if p not in self.resident:
                self.resident.add(p)
                self.faults += 1
        self.peak = max(self.peak, len(self.resident))

    def release(self, addr, n):
        for p in range(addr // PAGE, (addr + n) // PAGE):
            self.resident.discard(p)

    def move(self, src, dst, n):  # mremap: the pages go, no fault; the source is untouched after
        for k in range(n // PAGE):
            if src // PAGE + k in self.resident:
                self.resident.discard(src // PAGE + k)
                self.resident.add(dst // PAGE + k)
        self.put(src, n, False)
        if n == CHUNK and src % CHUNK == 0 and dst % CHUNK == 0:
            self.moved_pmd += n // PAGE
        else:
            self.moved_pte += n // PAGE

    # ---- ranges ----
    def put(self, addr, n, touched):
        merged = True
        while merged:
            merged = False
            for r in self.ranges:
                if r[2] == touched and (r[0] + r[1] == addr or addr + n == r[0]):
                    self.ranges.remove(r)
                    addr, n, merged = min(addr, r[0]), n + r[1], True
                    break
        self.ranges.append([addr, n, touched])

    def carve(self, addr, n):
        """Take [addr, addr + n) out of the ranges; a short rest at the end joins the block."""
        for r in list(self.ranges):
            lo, hi = max(r[0], addr), min(r[0] + r[1], addr + n)
            if lo >= hi:
                continue
            self.ranges.remove(r)
            if r[0] < lo:
                self.ranges.append([r[0], lo - r[0], r[2]])
            if hi < r[0] + r[1]:
                if hi == addr + n and r[0] + r[1] - hi < KEEP_WHOLE:
                    n += r[0] + r[1] - hi
                else:
                    self.ranges.append([hi, r[0] + r[1] - hi, r[2]])
        return addr, n

    def fresh(self, n):
        self.next_reserve -= RESERVE
        self.ranges.append([self.next_reserve, RESERVE, False])
        return self.carve(self.next_reserve, n)

    def best_fit(self, n, touched, align=PAGE):
        fits = [r for r in self.ranges
                if r[2] == touched and -(-r[0] // align) * align + n <= r[0] + r[1]]
        if not fits:
            return None
        r = min(fits, key=lambda r: r[1])
        return self.carve(-(-r[0] // align) * align, n)

    def chains(self):
        """Maximal runs of adjacent ranges, whatever their kind."""
        out = []
        for r in sorted(self.ranges):
            if out and out[-1][-1][0] + out[-1][-1][1] == r[0]:
                out[-1].append(r)
            else:
                out.append([r])
        return out

    def touched_window(self, n, align=PAGE):
        """The window of n bytes over adjacent ranges with the most touched bytes (ties: in the
        shortest run); None if no run is long enough."""
        best = None
        for chain in self.chains():
            start, end = chain[0][0], chain[-1][0] + chain[-1][1]
            starts = {-(-r[0] // align) * align for r in chain}
            if align == PAGE:
                starts |= {r[0] + r[1] - n for r in chain}
            for w in starts:
                if w < start or w + n > end:
                    continue
                touched = sum(max(0, min(r[0] + r[1], w + n) - max(r[0], w))
                              for r in chain if r[2])
                key = (touched, start - end)
                if best is None or key > best[0]:
                    best = (key, w)
        return None if best is None else self.carve(best[1], n)

    # ---- policies ----
    def current(self, n):  # alloc/large.c today
        got = self.best_fit(n, True)
        if got:
            return got
        best = None
        for r in self.ranges:
            if r[2] and r[1] < n and (best is None or r[1] > best[0][1]):
                after = [c for c in self.ranges if not c[2] and c[0] == r[0] + r[1]]
                if after and r[1] + after[0][1] >= n:
                    best = (r, after[0])
        if best:
            touched, clean = best
            self.ranges.remove(touched)
            rest = n - touched[1]
            if clean[1] == rest:
                self.ranges.remove(clean)
            else:
                clean[0] += rest
                clean[1] -= rest
            return touched[0], n
        return self.best_fit(n, False) or self.fresh(n)

    def window(self, n):  # best fit on touched ranges, else the most touched window
        return self.best_fit(n, True) or self.touched_window(n) or self.fresh(n)

    def address_first(self, n):
        for chain in self.chains():
            if chain[-1][0] + chain[-1][1] - chain[0][0] >= n:
                return self.carve(chain[0][0], n)
        return self.fresh(n)

    def address_best(self, n):
        fits = [(c[-1][0] + c[-1][1] - c[0][0], c[0][0]) for c in self.chains()]
        fits = [f for f in fits if f[0] >= n]
        return self.carve(min(fits)[1], n) if fits else self.fresh(n)

    def donate(self, n):  # current, then untouched pages filled from touched ranges
        addr, size = self.current(n)
        self.fill_pages(addr, n)
        return addr, size

    def frames_trim(self, n):
        """alloc/large.c with huge pages: blocks of whole 2 MiB frames in 2 MiB-aligned reserves,
        placed by the current rules; then touched cached bytes kept under the live peak less the
        live bytes, the oldest touched ranges' ends unmapped first (whole frames)."""
        addr, size = self.current(-(-n // CHUNK) * CHUNK)
        self.live += size
        self.high = max(self.high, self.live)
        over = sum(r[1] for r in self.ranges if r[2]) - (self.high - self.live)
        self.give_back_oldest(over, CHUNK, unmap=True)
        return addr, size

    def aligned_donate(self, n):  # 2 MiB-aligned blocks: whole chunks moved first, then pages
        addr, size = (self.touched_window(n, CHUNK) or self.fresh(n))
        for dst in range(addr, (addr + n) // CHUNK * CHUNK, CHUNK):
            if dst // PAGE in self.resident:
                continue
            donors = [(r[1], r[0], -(-r[0] // CHUNK) * CHUNK) for r in self.ranges
                      if r[2] and -(-r[0] // CHUNK) * CHUNK + CHUNK <= r[0] + r[1]]
            if not donors:
                break
            self.move_out_of_ranges(min(donors)[2], dst, CHUNK)
        self.fill_pages(addr, n)
        return addr, size

    def move_out_of_ranges(self, src, dst, n):
        for r in list(self.ranges):
            if r[0] <= src and src + n <= r[0] + r[1]:
                self.ranges.remove(r)
                if r[0] < src:
                    self.ranges.append([r[0], src - r[0], True])
                if src + n < r[0] + r[1]:
                    self.ranges.append([src + n, r[0] + r[1] - src - n, True])
                break
        self.move(src, dst, n)

    def fill_pages(self, addr, n):
        """Every untouched page of [addr, addr + n) gets a touched page of a cached range,
        smallest range first, moved in runs."""
        holes = [p for p in range(addr // PAGE, (addr + n) // PAGE) if p not in self.resident]
        for r in sorted([r for r in self.ranges if r[2]], key=lambda r: r[1]):
            if not holes:
                break
            take = min(r[1] // PAGE, len(holes))
            self.ranges.remove(r)
            if take * PAGE < r[1]:
                self.ranges.append([r[0] + take * PAGE, r[1] - take * PAGE, True])
            for k in range(take):
                self.move(r[0] + k * PAGE, holes[k] * PAGE, PAGE)
            holes = holes[take:]

    def keep_budget(self, live_bytes):
        """budget: touched cached bytes kept under that fraction of the live bytes, the
        oldest given back first."""
        over = sum(r[1] for r in self.ranges if r[2]) - int(self.budget * live_bytes) // PAGE * PAGE
        self.give_back_oldest(over, PAGE, unmap=False)

    def give_back_oldest(self, over, grain, unmap):
        """over bytes (in whole grains) given back from the ends of the oldest touched ranges:
        unmapped (out of the cache altogether), or kept as untouched ranges."""
        for r in [r for r in self.ranges if r[2]]:
            if over <= 0:
                break
            cut = min(r[1], -(-over // grain) * grain)
            self.ranges.remove(r)
            if cut < r[1]:
                self.ranges.append([r[0], r[1] - cut, True])
            self.release(r[0] + r[1] - cut, cut)
            if not unmap:
                self.put(r[0] + r[1] - cut, cut, False)
            over -= cut

    def run(self, seq):
        steps, live = seq
        blocks, live_bytes = [None] * live, 0
        for slot, n in steps:
            if blocks[slot]:
                self.put(*blocks[slot], True)
                live_bytes -= blocks[slot][1]
                self.live -= blocks[slot][1]
            addr, size = getattr(self, self.policy)(n)
            blocks[slot] = (addr, size)
            live_bytes += size
            if self.budget:
                self.keep_budget(live_bytes - size)
            self.write(addr, n)
            if self.budget:
                self.keep_budget(live_bytes)
        return len(steps)


POLICIES = {
    "current": ("current", 0.0),
    "window": ("window", 0.0),
    "address_first": ("address_first", 0.0),
    "address_best": ("address_best", 0.0),
    "budget_10pct": ("current", 0.10),
    "donate": ("donate", 0.0),
    "aligned_donate": ("aligned_donate", 0.0),
    "frames_trim": ("frames_trim", 0.0),
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(POLICIES)
    for w in WORKLOADS:
        seq = sequence(**w)
        peak = live_peak(seq)
        args = " ".join(f"{k}={v}" for k, v in w.items()) or "the bench's run"
        print(f"{args}: live peak {peak // 1024} kB")
        for name in names:
            policy, budget = POLICIES[name]
            m = Model(policy, budget)
            steps = m.run(seq)
            unit = "2M" if m.frames else "4K"
            print(f"  {name:15s} peak {m.peak * PAGE / peak:.3f}x  {unit} faults/step {m.faults / steps:4.0f}"
                  f"  moved/step {m.moved_pmd / steps:4.0f} as 2 MiB entries,"
                  f" {m.moved_pte / steps:4.0f} singly")
