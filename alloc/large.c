/* large.c — Large blocks: registry, reserves and the cache of free ranges, mremap for realloc. */
#include "large.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "hakmem.h"
#include "lock.h"
#include "misuse.h"
#include "options.h"
#include "os_memory.h"
#include "reclaim.h"
#include "segment.h"
#include "segment_map.h"
#include "track.h"

#define CACHE_SLOTS 64
#define RECENT_SLOTS 64 /* addresses of recently unmapped blocks, to recognise double frees */
/* Blocks up to half this size are cut from reserves of this much address space (pages are only
 * resident once touched), so freed blocks and their neighbours coalesce into reusable ranges. */
#define LARGE_RESERVE ((size_t)64 << 20)
#define EVICT_MAX (CACHE_SLOTS + 4) /* ranges one cache update may give back */
/* With huge pages (HAKMEM_LARGE_HUGE_PAGES and a kernel that has them) Large blocks are whole
 * 2 MiB frames and reserves start on one: a block's pages are transparent huge pages (one fault
 * and one zeroing per 2 MiB instead of 512, measured 16x faster on a guest with shadow paging),
 * and no huge page ever straddles two blocks, or a block and a free range, where it would keep
 * untouched bytes resident that the touched-bytes bound below does not see. Without them the
 * grain is a page: rounding to frames would only cost memory. */
#define HUGE_FRAME ((size_t)2 << 20)

static int huge_frames(void)
{
#ifdef HAK_HARDENED
    /* The hardened build ends each block's span with a guard page right after the user bytes and
     * seals freed blocks page by page: its blocks stay whole 4 KiB pages. */
    return 0;
#else
    return hk_options.large_huge_pages != 0;
#endif
}

struct entry {      /* a live block in the registry */
    uintptr_t addr; /* 0: empty slot */
    size_t size;    /* usable size */
};

struct range { /* a free range in the cache */
    uintptr_t addr;
    size_t size;
    int dirty;         /* may hold touched pages (a freed block); clean ranges read as zero */
    uint64_t freed_ms; /* dirty ranges: when the newest of their blocks was freed */
};

static hak_lock_t lock = HAK_LOCK_INITIALIZER;
static struct entry *table;
static size_t table_cap, table_count;
static struct range cache[CACHE_SLOTS]; /* oldest first */
static unsigned cache_count;
static size_t cache_bytes, dirty_bytes;
static uintptr_t recent[RECENT_SLOTS];
static unsigned recent_next;
static uint64_t n_allocs, n_frees, live_bytes, cache_hits, remaps, extends;
static uint64_t high_live, trimmed; /* the most live bytes seen; touched bytes trimmed */
static uint64_t mapped; /* atomic: bytes of Large mappings held (blocks and cached ranges) */

static size_t round_grain(size_t n)
{
    size_t grain = huge_frames() ? HUGE_FRAME : HAK_PAGE_SIZE;
    return (n + grain - 1) & ~(grain - 1);
}

static size_t home(uintptr_t addr)
{
    uint64_t h = (uint64_t)(addr >> HAK_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (table_cap - 1);
}

static long find(uintptr_t addr)
{
    if (table_cap == 0)
        return -1;
    for (size_t i = home(addr);; i = (i + 1) & (table_cap - 1)) {
        if (table[i].addr == addr)
            return (long)i;
        if (table[i].addr == 0)
            return -1;
    }
}

static void place(struct entry e)
{
    size_t i = home(e.addr);
    while (table[i].addr != 0)
        i = (i + 1) & (table_cap - 1);
    table[i] = e;
}

static int grow(void)
{
    size_t old_cap = table_cap, cap = old_cap ? old_cap * 2 : 256;
    struct entry *old = table, *fresh = hk_os_map(cap * sizeof *fresh);
    if (fresh == NULL)
        return 0;
    table = fresh;
    table_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].addr != 0)
            place(old[i]);
    if (old != NULL)
        hk_os_unmap(old, old_cap * sizeof *old);
    return 1;
}

static int insert(uintptr_t addr, size_t size)
{
    if ((table_count + 1) * 2 > table_cap && !grow())
        return 0;
    place((struct entry){addr, size});
    table_count++;
    return 1;
}

/* Linear-probing deletion without tombstones: pull later entries of the run back. */
static void erase(size_t i)
{
    size_t mask = table_cap - 1;
    table[i].addr = 0;
    for (size_t j = (i + 1) & mask; table[j].addr != 0; j = (j + 1) & mask) {
        size_t h = home(table[j].addr);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            table[i] = table[j];
            table[j].addr = 0;
            i = j;
        }
    }
    table_count--;
}

/* A new mapping may reuse addresses of blocks unmapped earlier: they are live again. */
static void forget_recent(uintptr_t addr, size_t size)
{
    for (unsigned k = 0; k < RECENT_SLOTS; k++)
        if (recent[k] >= addr && recent[k] < addr + size)
            recent[k] = 0;
}

static void note_mapped(long delta)
{
    __atomic_add_fetch(&mapped, (uint64_t)delta, __ATOMIC_RELAXED);
    hk_segment_note_mapped(delta);
}

static void unmap_block(uintptr_t addr, size_t size)
{
    track_unmapped((void *)addr, size);
    hk_os_unmap((void *)addr, size);
    note_mapped(-(long)size);
}

static void cache_remove(unsigned k)
{
    cache_bytes -= cache[k].size;
    if (cache[k].dirty)
        dirty_bytes -= cache[k].size;
    memmove(&cache[k], &cache[k + 1], (cache_count - k - 1) * sizeof cache[0]);
    cache_count--;
}

/* Under the lock: e grown by every cached range of the same kind (dirty or clean) adjacent to
 * it, those taken out of the cache. Freed blocks rejoin the ranges they were cut from, so a
 * reserve's free space stays in few large pieces; touched and untouched pages stay apart so the
 * budget counts exactly the touched ones. The result may span several kernel mappings. */
static struct range cache_merge(struct range e)
{
    for (unsigned k = 0; k < cache_count;) {
        struct range c = cache[k];
        if (c.dirty != e.dirty || (c.addr + c.size != e.addr && e.addr + e.size != c.addr)) {
            k++;
            continue;
        }
        e.addr = c.addr < e.addr ? c.addr : e.addr;
        e.size += c.size;
        e.freed_ms = c.freed_ms > e.freed_ms ? c.freed_ms : e.freed_ms;
        cache_remove(k);
    }
    return e;
}

/* Under the lock: add merged range e; with every slot taken, the oldest untouched range (else
 * the oldest) goes to evicted[]. */
static void cache_append(struct range e, struct range *evicted, unsigned *nevicted)
{
    if (cache_count == CACHE_SLOTS) {
        unsigned victim = 0;
        for (unsigned k = 0; k < cache_count; k++)
            if (!cache[k].dirty) {
                victim = k;
                break;
            }
        evicted[(*nevicted)++] = cache[victim];
        cache_remove(victim);
    }
    cache[cache_count++] = e;
    cache_bytes += e.size;
    if (e.dirty)
        dirty_bytes += e.size;
}

/* Under the lock: up to `excess` bytes (rounded up to the grain) given back from the oldest
 * touched cached range to evicted[] — its end; its front stays cached. Returns the bytes given
 * back, 0 when no touched range is cached. */
static size_t evict_oldest_touched(size_t excess, struct range *evicted, unsigned *nevicted)
{
    unsigned k = 0;
    while (k < cache_count && !cache[k].dirty)
        k++;
    if (k == cache_count)
        return 0;
    excess = round_grain(excess);
    struct range old = cache[k];
    cache_remove(k);
    if (excess < old.size) { /* keep the front, give back the end */
        cache_append((struct range){old.addr, old.size - excess, 1, old.freed_ms}, evicted,
                     nevicted);
        old.addr += old.size - excess;
        old.size = excess;
    }
    evicted[(*nevicted)++] = old;
    return old.size;
}

/* Under the lock: cache free range e. Touched cached bytes are bounded by HAKMEM_LARGE_CACHE_MB:
 * past it the excess is cut from the oldest touched ranges (then from e itself) and goes to
 * evicted[], to be unmapped once the lock is released, address space included (a process under
 * RLIMIT_AS needs it back). evicted[] needs room for EVICT_MAX. */
static void cache_put(struct range e, struct range *evicted, unsigned *nevicted)
{
    e = cache_merge(e);
    size_t budget = hk_options.large_cache_bytes;
    while (e.dirty && dirty_bytes + e.size > budget &&
           evict_oldest_touched(dirty_bytes + e.size - budget, evicted, nevicted) > 0)
        continue;
    if (e.dirty && dirty_bytes + e.size > budget) {
        size_t excess = round_grain(dirty_bytes + e.size - budget);
        excess = excess < e.size ? excess : e.size;
        e.size -= excess;
        evicted[(*nevicted)++] = (struct range){e.addr + e.size, excess, 1, e.freed_ms};
        if (e.size == 0)
            return;
    }
    cache_append(e, evicted, nevicted);
}

static uint64_t now_ms(void)
{
    struct timespec ts; /* the coarse clock is read from the vDSO: no system call */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under the lock: evict touched ranges freed HAKMEM_LARGE_PURGE_MS ago or earlier, so memory a
 * program stopped using goes back even while it stays under the size bound. */
static void purge_stale(uint64_t now, struct range *evicted, unsigned *nevicted)
{
    uint64_t age = hk_options.large_purge_ms;
    if (age == 0 || dirty_bytes == 0)
        return;
    for (unsigned k = 0; k < cache_count;) {
        if (cache[k].dirty && now - cache[k].freed_ms >= age) {
            evicted[(*nevicted)++] = cache[k];
            cache_remove(k);
        } else {
            k++;
        }
    }
}

/* Unmap ranges evicted from the cache, remembering their starts for double-free reports. */
static void unmap_evicted(const struct range *evicted, unsigned n)
{
    if (n == 0)
        return;
    hak_lock(&lock);
    for (unsigned k = 0; k < n; k++) {
        recent[recent_next] = evicted[k].addr;
        recent_next = (recent_next + 1) % RECENT_SLOTS;
    }
    hak_unlock(&lock);
    for (unsigned k = 0; k < n; k++)
        unmap_block(evicted[k].addr, evicted[k].size);
}

/* Under the lock: the first n bytes of cached range k leave the cache (a block is cut there);
 * the rest, which must not be empty, stays. */
static void cache_cut_front(unsigned k, size_t n)
{
    cache[k].addr += n;
    cache[k].size -= n;
    cache_bytes -= n;
    if (cache[k].dirty)
        dirty_bytes -= n;
}

/* Under the lock: the smallest cached range of the given kind (touched or untouched) of at least
 * `need` bytes, cut to `need` when the rest is worth keeping (a page run's worth or more), removed
 * from the cache; size 0 if none. */
static struct range cache_take_fit(size_t need, int dirty)
{
    int fit = -1;
    for (unsigned k = 0; k < cache_count; k++)
        if (cache[k].dirty == dirty && cache[k].size >= need &&
            (fit < 0 || cache[k].size < cache[fit].size))
            fit = (int)k;
    if (fit < 0)
        return (struct range){0, 0, 0, 0};
    struct range e = cache[fit];
    if (e.size - need >= HAK_PAGE_RUN_MAX) {
        cache_cut_front((unsigned)fit, need);
        e.size = need;
    } else {
        cache_remove((unsigned)fit);
    }
    return e;
}

/* Under the lock: enter [addr, addr + size) in the registry as a live block. */
static int register_block(uintptr_t addr, size_t size, int from_cache)
{
    if (!insert(addr, size))
        return 0;
    n_allocs++;
    cache_hits += (uint64_t)from_cache;
    live_bytes += size;
    if (live_bytes > high_live)
        high_live = live_bytes;
    return 1;
}

/* Under the lock, after a block was placed: touched bytes (live blocks and touched cached ranges)
 * never exceed the most live bytes the program has had, the oldest touched ranges given back
 * first (their ends, whole frames), to evicted[] (room for EVICT_MAX). Only a block that faults
 * untouched pages adds touched bytes, so only then is anything given back: peak RSS stays at the
 * live peak while the cache still serves a program whose live bytes go down and up again. The
 * faults this adds are cheap with huge pages (above). */
static void trim_touched(struct range *evicted, unsigned *nevicted)
{
    /* With 4 KiB pages every 2 MiB given back costs 512 faults when it is needed again, not one:
     * there the cache's own bounds apply alone (trimming without huge pages, measured: huge_churn
     * 1005 -> 143 ops/s, large 55k -> 4.7k). */
    if (!huge_frames())
        return;
    size_t allowed = (size_t)(high_live - live_bytes);
    while (dirty_bytes > allowed) {
        size_t given = evict_oldest_touched(dirty_bytes - allowed, evicted, nevicted);
        if (given == 0)
            break;
        trimmed += given;
    }
}

/* A fresh mapping for a block of `need` bytes (aligned to `align`), a whole LARGE_RESERVE when
 * worthwhile; *mapped says how much was mapped. NULL on ENOMEM. */
static char *map_fresh(size_t need, size_t align, size_t *mapped)
{
    char *p = NULL;
    struct rlimit as;
    /* Under an address-space limit, reserved but unused addresses would starve other mappers. */
    if (align <= HAK_PAGE_SIZE && need <= LARGE_RESERVE / 2 && getrlimit(RLIMIT_AS, &as) == 0 &&
        as.rlim_cur == RLIM_INFINITY) {
        *mapped = LARGE_RESERVE;
        p = hk_os_map_aligned(LARGE_RESERVE, huge_frames() ? HUGE_FRAME : HAK_PAGE_SIZE);
    }
    if (p == NULL) {
        *mapped = need;
        align = huge_frames() && align < HUGE_FRAME ? HUGE_FRAME : align;
        p = hk_reclaim_map_aligned(need, align);
    }
    if (p != NULL) {
        if (huge_frames())
            hk_os_advise_huge_pages(p, *mapped);
        note_mapped((long)*mapped);
        hk_segment_map_mark_large((uintptr_t)p, *mapped);
    }
    return p;
}

/* Under the lock: the index of the untouched cached range that starts at addr; -1 if none. */
static int clean_range_at(uintptr_t addr)
{
    for (unsigned k = 0; k < cache_count; k++)
        if (!cache[k].dirty && cache[k].addr == addr)
            return (int)k;
    return -1;
}

/* No cached range fits `need`: the freed (touched) range with the most bytes that the untouched
 * range right after it (the rest of its reserve, usually) extends to `need`, taken from the cache
 * with the front of that untouched range. The block is built there in place, so only the
 * untouched part faults and nothing moves (mremap moved page tables: measured on a machine with
 * shadow paging, each moved page cost as much as a fresh fault). Size 0 if there is none;
 * *dirty_len: the touched bytes at the start of the block. */
static struct range cache_take_extended(size_t need, size_t *dirty_len)
{
    int best = -1, best_clean = -1;
    for (unsigned k = 0; k < cache_count; k++) {
        if (!cache[k].dirty || cache[k].size >= need ||
            (best >= 0 && cache[k].size <= cache[best].size))
            continue;
        int c = clean_range_at(cache[k].addr + cache[k].size);
        if (c >= 0 && cache[k].size + cache[c].size >= need) {
            best = (int)k;
            best_clean = c;
        }
    }
    if (best < 0)
        return (struct range){0, 0, 0, 0};
    struct range d = cache[best];
    if (cache[best_clean].size == need - d.size) { /* the untouched range goes whole */
        cache_remove((unsigned)best_clean);
        best -= best > best_clean;
    } else {
        cache_cut_front((unsigned)best_clean, need - d.size);
    }
    cache_remove((unsigned)best);
    *dirty_len = d.size;
    return (struct range){d.addr, need, 1, 0};
}

/* No cached range fits `need`: a freed block extended in place into the untouched space after it
 * (cache_take_extended). NULL with *failed = 0 if there is none, *failed = 1 (errno ENOMEM) if the
 * registry could not grow. */
static void *extend_cached(size_t need, size_t size, int zero, int *failed)
{
    size_t dirty_len = 0;
    hak_lock(&lock);
    struct range e = cache_take_extended(need, &dirty_len);
    int ok = e.size != 0 && register_block(e.addr, e.size, 1);
    *failed = e.size != 0 && !ok;
    struct range trims[EVICT_MAX] = {{0, 0, 0, 0}}; /* zeroed: as evicted[] in hk_large_alloc */
    unsigned ntrims = 0;
    if (ok) {
        extends++;
        trim_touched(trims, &ntrims);
    } else if (e.size != 0) { /* the registry could not grow: the pieces go back */
        struct range evicted[EVICT_MAX];
        unsigned nevicted = 0;
        cache_put((struct range){e.addr + dirty_len, need - dirty_len, 0, 0}, evicted, &nevicted);
        cache_put((struct range){e.addr, dirty_len, 1, now_ms()}, evicted, &nevicted);
        hak_unlock(&lock);
        unmap_evicted(evicted, nevicted);
        errno = ENOMEM;
        return NULL;
    }
    hak_unlock(&lock);
    unmap_evicted(trims, ntrims);
    if (!ok)
        return NULL;
    char *q = (char *)e.addr;
    if (zero) { /* the untouched parts read as zero already */
        track_alloc_zeroed(q, size, need);
        memset(q, 0, size < dirty_len ? size : dirty_len);
    } else {
        track_alloc(q, size, need);
    }
    return q;
}

/* A cached range of the given kind that fits: the block at its start, registered; NULL with
 * *failed = 0 if none fits, *failed = 1 (errno ENOMEM) if the registry could not grow. */
static void *take_cached(size_t need, size_t size, int zero, int dirty, int *failed)
{
    struct range evicted[EVICT_MAX];
    unsigned nevicted = 0;
    uint64_t now = now_ms();
    hak_lock(&lock);
    purge_stale(now, evicted, &nevicted);
    struct range e = cache_take_fit(need, dirty);
    int ok = e.size != 0 && register_block(e.addr, e.size, 1);
    struct range trims[EVICT_MAX] = {{0, 0, 0, 0}}; /* zeroed: as evicted[] in hk_large_alloc */
    unsigned ntrims = 0;
    if (ok)
        trim_touched(trims, &ntrims);
    else if (e.size != 0) /* the registry could not grow */
        cache_put(e, evicted, &nevicted);
    hak_unlock(&lock);
    unmap_evicted(evicted, nevicted);
    unmap_evicted(trims, ntrims);
    *failed = e.size != 0 && !ok;
    if (!ok) {
        if (*failed)
            errno = ENOMEM;
        return NULL;
    }
    if (e.dirty) {
        track_alloc((void *)e.addr, size, e.size);
        if (zero)
            memset((void *)e.addr, 0, size);
    } else if (zero) {
        track_alloc_zeroed((void *)e.addr, size, e.size); /* never touched: zero */
    } else {
        track_alloc((void *)e.addr, size, e.size); /* malloc promises no contents */
    }
    return (void *)e.addr;
}

void *hk_large_alloc(size_t size, size_t align, int zero)
{
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = round_grain(size);
    if (align <= HAK_PAGE_SIZE) {
        /* Touched pages first — a fitting range, else a freed block extended in place — and only
         * then untouched ones: every touched page reused is a page fault and a zeroing saved. */
        int failed;
        void *q = take_cached(need, size, zero, 1, &failed);
        if (q == NULL && !failed)
            q = extend_cached(need, size, zero, &failed);
        if (q == NULL && !failed)
            q = take_cached(need, size, zero, 0, &failed);
        if (q != NULL || failed)
            return q;
    }
    size_t mapped;
    char *p = map_fresh(need, align, &mapped);
    if (p == NULL)
        return NULL;
    /* Zeroed: gcc -O1 cannot see that unmap_evicted reads only the nevicted entries put. */
    struct range evicted[EVICT_MAX] = {{0, 0, 0, 0}};
    unsigned nevicted = 0;
    hak_lock(&lock);
    forget_recent((uintptr_t)p, mapped);
    int ok = register_block((uintptr_t)p, need, 0);
    if (ok && mapped > need) /* the rest of the reserve serves later blocks */
        cache_put((struct range){(uintptr_t)p + need, mapped - need, 0, 0}, evicted, &nevicted);
    struct range trims[EVICT_MAX] = {{0, 0, 0, 0}}; /* zeroed, as evicted[] above */
    unsigned ntrims = 0;
    if (ok)
        trim_touched(trims, &ntrims);
    hak_unlock(&lock);
    unmap_evicted(evicted, nevicted);
    unmap_evicted(trims, ntrims);
    if (!ok) {
        unmap_block((uintptr_t)p, mapped);
        errno = ENOMEM;
        return NULL;
    }
    /* Fresh mappings read as zero: no memset for calloc; malloc still promises no contents. */
    if (zero)
        track_alloc_zeroed(p, size, need);
    else
        track_alloc(p, size, need);
    return p;
}

int hk_large_free(void *p)
{
    struct range evicted[EVICT_MAX];
    unsigned nevicted = 0;
    uint64_t now = now_ms();
    hak_lock(&lock);
    long i = find((uintptr_t)p);
    if (i < 0) {
        hak_unlock(&lock);
        return 0;
    }
    struct entry e = table[i];
    track_free(p, e.size);
    erase((size_t)i);
    n_frees++;
    live_bytes -= e.size;
    purge_stale(now, evicted, &nevicted);
    cache_put((struct range){e.addr, e.size, 1, now}, evicted, &nevicted);
    hak_unlock(&lock);
    unmap_evicted(evicted, nevicted);
    return 1;
}

size_t hk_large_usable(const void *p)
{
    hak_lock(&lock);
    long i = find((uintptr_t)p);
    size_t n = i < 0 ? 0 : table[i].size;
    hak_unlock(&lock);
    return n;
}

int hk_large_classify(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int verdict = -1;
    hak_lock(&lock);
    for (size_t i = 0; i < table_cap && verdict < 0; i++)
        if (table[i].addr != 0 && a > table[i].addr && a < table[i].addr + table[i].size)
            verdict = MISUSE_INTERIOR;
    /* Cached ranges were freed (merged blocks included): a page start in one is a double free. */
    for (unsigned k = 0; k < cache_count && verdict < 0; k++)
        if (a >= cache[k].addr && a < cache[k].addr + cache[k].size &&
            (a & (HAK_PAGE_SIZE - 1)) == 0)
            verdict = MISUSE_DOUBLE_FREE;
    for (unsigned k = 0; k < RECENT_SLOTS && verdict < 0; k++)
        if (recent[k] == a)
            verdict = MISUSE_DOUBLE_FREE;
    hak_unlock(&lock);
    return verdict;
}

enum large_realloc_result hk_large_realloc(void *p, size_t size, void **out, size_t *old_usable)
{
    size_t need = round_grain(size);
    hak_lock(&lock);
    long i = find((uintptr_t)p);
    if (i < 0) {
        hak_unlock(&lock);
        return LARGE_NOT_OURS;
    }
    size_t old = table[i].size;
    *old_usable = old;
    if (size <= HAK_PAGE_RUN_MAX) {
        hak_unlock(&lock);
        return LARGE_MOVE;
    }
    if (need <= old && need * 2 >= old) {
        hak_unlock(&lock);
        *out = p;
        return LARGE_DONE;
    }
    if (HAK_TRACKING) {
        /* Sanitizer and memcheck block bookkeeping does not follow mremap: copy instead. */
        hak_unlock(&lock);
        return LARGE_MOVE;
    }
    /* The lock stays held across mremap: once the old range is released another thread may
     * map a block there, and the registry must not hold the stale entry by then. */
    void *q = hk_os_remap(p, old, need);
    if (q == NULL) {
        /* Out of address space, or the block spans two kernel mappings (blocks are cut from
         * merged cached ranges): allocate, copy and free instead. */
        hak_unlock(&lock);
        return LARGE_MOVE;
    }
    erase((size_t)i); /* erase frees a slot, so placing the new key cannot need a larger table */
    place((struct entry){(uintptr_t)q, need});
    table_count++;
    forget_recent((uintptr_t)q, need);
    remaps++;
    live_bytes += need - old;
    if (live_bytes > high_live)
        high_live = live_bytes;
    hak_unlock(&lock);
    note_mapped((long)need - (long)old);
    hk_segment_map_mark_large((uintptr_t)q, need);
    *out = q;
    return LARGE_DONE;
}

size_t hk_large_cache_drop(void)
{
    struct range dropped[CACHE_SLOTS];
    unsigned n;
    size_t bytes = 0;
    hak_lock(&lock);
    n = cache_count;
    memcpy(dropped, cache, n * sizeof cache[0]);
    for (unsigned k = 0; k < n; k++) {
        recent[recent_next] = dropped[k].addr;
        recent_next = (recent_next + 1) % RECENT_SLOTS;
    }
    cache_count = 0;
    cache_bytes = 0;
    dirty_bytes = 0;
    hak_unlock(&lock);
    for (unsigned k = 0; k < n; k++) {
        bytes += dropped[k].size;
        unmap_block(dropped[k].addr, dropped[k].size);
    }
    return bytes;
}

void hk_large_stats(struct hak_stats *out)
{
    hak_lock(&lock);
    out->large_allocs = n_allocs;
    out->large_frees = n_frees;
    out->large_live_bytes = live_bytes;
    out->large_cache_hits = cache_hits;
    out->large_remaps = remaps;
    out->large_extends = extends;
    out->large_trimmed_bytes = trimmed;
    hak_unlock(&lock);
}

uint64_t hk_large_mapped_bytes(void) { return __atomic_load_n(&mapped, __ATOMIC_RELAXED); }

static int overlaps(uintptr_t a, size_t an, uintptr_t b, size_t bn)
{
    return a < b + bn && b < a + an;
}

/* The registry agrees with the counters and the ownership map; cached ranges agree with their
 * counters and overlap neither each other nor a live block; every mapped byte is a live block or
 * a cached range. */
void hk_large_check(struct check *c)
{
    hak_lock(&lock);
    size_t count = 0, bytes = 0;
    for (size_t i = 0; i < table_cap; i++) {
        const struct entry *e = &table[i];
        if (e->addr == 0)
            continue;
        count++;
        bytes += e->size;
        if ((e->addr | e->size) & (HAK_PAGE_SIZE - 1) || e->size == 0)
            hk_check_fail(c, "Large block %p has %zu bytes: not whole pages", (void *)e->addr,
                          e->size);
        for (uintptr_t a = e->addr & ~HAK_SEGMENT_MASK; a < e->addr + e->size;
             a += HAK_SEGMENT_SIZE)
            if (segment_map_kind(a) != HAK_MAP_LARGE) {
                hk_check_fail(c, "Large block %p: ownership map says kind %u at %p",
                              (void *)e->addr, segment_map_kind(a), (void *)a);
                break;
            }
        if (!hk_check_held(c, e->addr))
            hk_check_fail(c, "Large block %p (%zu bytes) is live but the program does not hold it",
                          (void *)e->addr, e->size);
    }
    if (count != table_count || bytes != live_bytes)
        hk_check_fail(c,
                      "Large registry holds %zu blocks of %zu bytes, its counters say %zu of %llu",
                      count, bytes, table_count, (unsigned long long)live_bytes);
    size_t cached = 0, dirty = 0;
    for (unsigned k = 0; k < cache_count; k++) {
        const struct range *r = &cache[k];
        cached += r->size;
        dirty += r->dirty ? r->size : 0;
        if ((r->addr | r->size) & (HAK_PAGE_SIZE - 1) || r->size == 0)
            hk_check_fail(c, "Large cache range %p (%zu bytes) is not whole pages", (void *)r->addr,
                          r->size);
        for (unsigned j = k + 1; j < cache_count; j++)
            if (overlaps(r->addr, r->size, cache[j].addr, cache[j].size))
                hk_check_fail(c, "Large cache ranges %p (+%zu) and %p (+%zu) overlap",
                              (void *)r->addr, r->size, (void *)cache[j].addr, cache[j].size);
        for (size_t i = 0; i < table_cap; i++)
            if (table[i].addr != 0 && overlaps(r->addr, r->size, table[i].addr, table[i].size))
                hk_check_fail(c, "Large cache range %p (+%zu) overlaps live block %p (+%zu)",
                              (void *)r->addr, r->size, (void *)table[i].addr, table[i].size);
    }
    if (cached != cache_bytes || dirty != dirty_bytes)
        hk_check_fail(c, "Large cache holds %zu bytes (%zu touched), its counters say %zu (%zu)",
                      cached, dirty, cache_bytes, dirty_bytes);
    uint64_t m = __atomic_load_n(&mapped, __ATOMIC_RELAXED);
    if (bytes + cached != m)
        hk_check_fail(c,
                      "Large tier holds %llu mapped bytes, but live blocks (%zu) and cached ranges "
                      "(%zu) explain %zu",
                      (unsigned long long)m, bytes, cached, bytes + cached);
    hak_unlock(&lock);
}

#ifndef NDEBUG
void hk_large_debug_view(const void *block, const void *cached, struct hk_large_debug_view *out)
{
    hak_lock(&lock);
    long i = find((uintptr_t)block);
    out->block_size = i >= 0 ? &table[i].size : NULL;
    out->range_addr = NULL;
    out->range_size = NULL;
    for (unsigned k = 0; k < cache_count; k++)
        if (overlaps(cache[k].addr, cache[k].size, (uintptr_t)cached, 1)) {
            out->range_addr = &cache[k].addr;
            out->range_size = &cache[k].size;
        }
    out->cache_bytes = &cache_bytes;
    out->live_bytes = &live_bytes;
    hak_unlock(&lock);
}
#endif

void hk_large_fork_prepare(void) { hak_lock(&lock); }
void hk_large_fork_parent(void) { hak_unlock(&lock); }
void hk_large_fork_child(void) { hak_lock_reinit(&lock); }
