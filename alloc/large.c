/* large.c — Large blocks: registry, mapping cache, mremap. */
#include "large.h"

#include <errno.h>
#include <string.h>

#include "lock.h"
#include "misuse.h"
#include "options.h"
#include "os_memory.h"
#include "segment.h"
#include "segment_map.h"
#include "track.h"

#define CACHE_SLOTS 16
#define RECENT_SLOTS 64 /* addresses of recently unmapped blocks, to recognise double frees */

struct entry {
    uintptr_t addr; /* 0: empty slot */
    size_t size;    /* mapping size == usable size */
};

static hak_lock_t lock = HAK_LOCK_INITIALIZER;
static struct entry *table;
static size_t table_cap, table_count;
static struct entry cache[CACHE_SLOTS]; /* oldest first */
static unsigned cache_count;
static size_t cache_bytes;
static uintptr_t recent[RECENT_SLOTS];
static unsigned recent_next;
static uint64_t n_allocs, n_frees, live_bytes, cache_hits, remaps;

static size_t round_pages(size_t n) { return (n + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1); }

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
    struct entry *old = table, *fresh = os_map(cap * sizeof *fresh);
    if (fresh == NULL)
        return 0;
    table = fresh;
    table_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].addr != 0)
            place(old[i]);
    if (old != NULL)
        os_unmap(old, old_cap * sizeof *old);
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

static void unmap_block(uintptr_t addr, size_t size)
{
    track_unmapped((void *)addr, size);
    os_unmap((void *)addr, size);
    segment_note_mapped(-(long)size);
}

static void cache_remove(unsigned k)
{
    cache_bytes -= cache[k].size;
    memmove(&cache[k], &cache[k + 1], (cache_count - k - 1) * sizeof cache[0]);
    cache_count--;
}

/* Under the lock: e grown by every cached mapping adjacent to it (taken out of the cache). Freed
 * blocks rejoin the tails they were cut from, so the cache keeps few large pieces rather than
 * many small ones. The result may span several kernel mappings; nothing needs it to be one. */
static struct entry cache_merge(struct entry e)
{
    for (unsigned k = 0; k < cache_count;) {
        if (cache[k].addr + cache[k].size == e.addr) {
            e.addr = cache[k].addr;
            e.size += cache[k].size;
        } else if (e.addr + e.size == cache[k].addr) {
            e.size += cache[k].size;
        } else {
            k++;
            continue;
        }
        cache_remove(k);
    }
    return e;
}

/* Under the lock: cache freed range e (merged with its cached neighbours), evicting the oldest
 * entries while the cache is over its slots or HAKMEM_LARGE_CACHE_MB; the ranges to unmap once
 * the lock is released are appended to evicted[] (room for CACHE_SLOTS + 1). */
static void cache_put(struct entry e, struct entry *evicted, unsigned *nevicted)
{
    e = cache_merge(e);
    size_t budget = hak_options.large_cache_bytes;
    if (e.size > budget) {
        evicted[(*nevicted)++] = e;
        return;
    }
    while (cache_count > 0 && (cache_count == CACHE_SLOTS || cache_bytes + e.size > budget)) {
        evicted[(*nevicted)++] = cache[0];
        cache_remove(0);
    }
    cache[cache_count++] = e;
    cache_bytes += e.size;
}

/* Unmap ranges evicted from the cache, remembering their starts for double-free reports. */
static void unmap_evicted(const struct entry *evicted, unsigned n)
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

/* Under the lock: the smallest cached mapping of at least `need` bytes, removed from the cache
 * ({0, 0} if none). One too big by at least a page run's worth is cut: its tail (already faulted
 * in, so still worth keeping) stays cached. */
static struct entry cache_take_fit(size_t need)
{
    int fit = -1;
    for (unsigned k = 0; k < cache_count; k++)
        if (cache[k].size >= need && (fit < 0 || cache[k].size < cache[fit].size))
            fit = (int)k;
    if (fit < 0)
        return (struct entry){0, 0};
    struct entry e = cache[fit];
    if (e.size - need >= HAK_PAGE_RUN_MAX) {
        cache[fit].addr += need;
        cache[fit].size -= need;
        cache_bytes -= need;
        e.size = need;
    } else {
        cache_remove((unsigned)fit);
    }
    return e;
}

/* Under the lock: the largest cached mappings, removed from the cache, until they hold at least
 * `need` bytes or the cache is empty; returns how many went to out[]. */
static unsigned cache_take_largest(size_t need, struct entry out[CACHE_SLOTS])
{
    unsigned n = 0;
    size_t got = 0;
    while (got < need && cache_count > 0) {
        unsigned big = 0;
        for (unsigned k = 1; k < cache_count; k++)
            if (cache[k].size > cache[big].size)
                big = k;
        out[n] = cache[big];
        got += out[n++].size;
        cache_remove(big);
    }
    return n;
}

/* Register mapping [p, p + need) as a live block; NULL (mapping unmapped) if the registry cannot
 * grow. */
static void *register_mapping(void *p, size_t need, int from_cache)
{
    segment_map_mark_large((uintptr_t)p, need);
    hak_lock(&lock);
    forget_recent((uintptr_t)p, need);
    int ok = insert((uintptr_t)p, need);
    if (ok) {
        n_allocs++;
        cache_hits += (uint64_t)from_cache;
        live_bytes += need;
    }
    hak_unlock(&lock);
    if (!ok) {
        unmap_block((uintptr_t)p, need);
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

/* No single cached mapping fits: build the block in a fresh mapping by moving the pages of the
 * largest cached mappings into it (mremap moves page-table entries, so those pages are not
 * faulted and zeroed again); the rest of the block is fresh. A partly used mapping's remainder
 * goes back to the cache. Returns how many bytes at the start of `dest` hold moved (old) data. */
static size_t fill_from_cache(char *dest, size_t need)
{
    struct entry taken[CACHE_SLOTS];
    hak_lock(&lock);
    unsigned n = cache_take_largest(need, taken);
    hak_unlock(&lock);
    size_t filled = 0;
    for (unsigned k = 0; k < n; k++) {
        struct entry e = taken[k];
        size_t move = e.size < need - filled ? e.size : need - filled;
        if (move == 0 || os_move(e.addr, move, dest + filled) != 0) {
            unmap_block(e.addr, e.size); /* cannot move (out of mappings): give it back */
            continue;
        }
        segment_note_mapped(-(long)move); /* those pages now belong to dest's mapping */
        filled += move;
        if (move < e.size) {
            /* Other threads may have filled the cache meanwhile: this may evict. */
            struct entry evicted[CACHE_SLOTS + 1];
            unsigned nevicted = 0;
            hak_lock(&lock);
            cache_put((struct entry){e.addr + move, e.size - move}, evicted, &nevicted);
            hak_unlock(&lock);
            unmap_evicted(evicted, nevicted);
        }
    }
    return filled;
}

void *large_alloc(size_t size, size_t align, int zero)
{
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = round_pages(size);
    if (align <= HAK_PAGE_SIZE) {
        hak_lock(&lock);
        struct entry e = cache_take_fit(need);
        int ok = e.size != 0 && insert(e.addr, e.size);
        if (ok) {
            n_allocs++;
            cache_hits++;
            live_bytes += e.size;
        }
        hak_unlock(&lock);
        if (ok) {
            track_alloc((void *)e.addr, size, e.size);
            if (zero)
                memset((void *)e.addr, 0, size);
            return (void *)e.addr;
        }
        if (e.size != 0) { /* the registry could not grow: give the mapping back */
            unmap_block(e.addr, e.size);
            errno = ENOMEM;
            return NULL;
        }
    }
    void *p = os_map_aligned(need, align);
    if (p == NULL && (segment_cache_drop() + large_cache_drop()) > 0)
        p = os_map_aligned(need, align); /* out of address space: give the caches back, retry */
    if (p == NULL)
        return NULL;
    segment_note_mapped((long)need);
    /* Sanitizer and memcheck bookkeeping does not follow moved pages: fresh pages only there. */
    size_t reused = HAK_TRACKING ? 0 : fill_from_cache(p, need);
    if (register_mapping(p, need, reused != 0) == NULL)
        return NULL;
    if (reused == 0) {
        track_alloc_zeroed(p, size, need); /* fresh mappings read as zero: no memset for calloc */
    } else {
        track_alloc(p, size, need);
        if (zero)
            memset(p, 0, reused < size ? reused : size);
    }
    return p;
}

int large_free(void *p)
{
    struct entry evicted[CACHE_SLOTS + 1];
    unsigned nevicted = 0;
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
    cache_put(e, evicted, &nevicted);
    hak_unlock(&lock);
    unmap_evicted(evicted, nevicted);
    return 1;
}

size_t large_usable(const void *p)
{
    hak_lock(&lock);
    long i = find((uintptr_t)p);
    size_t n = i < 0 ? 0 : table[i].size;
    hak_unlock(&lock);
    return n;
}

int large_classify(const void *p)
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

enum large_realloc_result large_realloc(void *p, size_t size, void **out, size_t *old_usable)
{
    size_t need = round_pages(size);
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
    void *q = os_remap(p, old, need);
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
    hak_unlock(&lock);
    segment_note_mapped((long)need - (long)old);
    segment_map_mark_large((uintptr_t)q, need);
    *out = q;
    return LARGE_DONE;
}

size_t large_cache_drop(void)
{
    struct entry dropped[CACHE_SLOTS];
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
    hak_unlock(&lock);
    for (unsigned k = 0; k < n; k++) {
        bytes += dropped[k].size;
        unmap_block(dropped[k].addr, dropped[k].size);
    }
    return bytes;
}

void large_counters(struct large_counters *out)
{
    hak_lock(&lock);
    out->allocs = n_allocs;
    out->frees = n_frees;
    out->live_bytes = live_bytes;
    out->cache_hits = cache_hits;
    out->remaps = remaps;
    out->cached_bytes = cache_bytes;
    hak_unlock(&lock);
}

void large_fork_prepare(void) { hak_lock(&lock); }
void large_fork_parent(void) { hak_unlock(&lock); }
void large_fork_child(void) { hak_lock_reinit(&lock); }
