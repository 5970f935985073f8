/* page_run.c — page-run segments and arenas.
 *
 * Each segment keeps one entry per page. The first and last page of every run (free or used)
 * carry the run length and state, so a freed run finds its neighbours in O(1); interior pages
 * carry no marks, so a pointer into the middle of a run is never taken for a run start. */
#include "page_run.h"

#include <errno.h>
#include <string.h>

#include "check.h"
#include "diag.h"
#include "hakmem.h"
#include "list.h"
#include "lock.h"
#include "misuse.h"
#include "page_run_layout.h"
#include "segment.h"
#include "segment_map.h"
#include "track.h"

#define BIN_COUNT 257 /* exact bins for 1..255 pages, bin 256 for longer runs */
#define BIN_WORDS ((BIN_COUNT + 63) / 64)

struct arena {
    hak_lock_t lock;
    uint64_t nonempty[BIN_WORDS];
    struct run_page *bins[BIN_COUNT];
    struct run_segment *segments;
    uint32_t nsegments;
    uint64_t allocs, frees, live_bytes;
} __attribute__((aligned(HAK_CACHE_LINE)));

static struct arena arenas[PAGE_RUN_ARENAS];

static struct run_segment *segment_of_page(const struct run_page *pg)
{
    return (struct run_segment *)((uintptr_t)pg & ~HAK_SEGMENT_MASK);
}

static size_t page_no(const struct run_page *pg)
{
    return (size_t)(pg - segment_of_page(pg)->pages);
}

static char *page_addr(const struct run_page *pg)
{
    return (char *)segment_of_page(pg) + (page_no(pg) << HAK_PAGE_SHIFT);
}

static unsigned bin_of(size_t len) { return len < BIN_COUNT - 1 ? (unsigned)len : BIN_COUNT - 1; }

static void bin_insert(struct arena *a, struct run_page *pg)
{
    unsigned b = bin_of(pg->len);
    LIST_PUSH(&a->bins[b], pg, next, prev);
    a->nonempty[b / 64] |= 1ull << (b % 64);
}

static void bin_remove(struct arena *a, struct run_page *pg)
{
    unsigned b = bin_of(pg->len);
    LIST_REMOVE(&a->bins[b], pg, next, prev);
    if (a->bins[b] == NULL)
        a->nonempty[b / 64] &= ~(1ull << (b % 64));
}

/* Mark pages [first, first+len) as one run in state `mark`. */
static void set_run(struct run_segment *seg, size_t first, size_t len, uint8_t mark)
{
    struct run_page *h = &seg->pages[first], *t = &seg->pages[first + len - 1];
    h->len = t->len = (uint32_t)len;
    h->head = mark;
    t->tail = mark;
}

static void clear_marks(struct run_segment *seg, size_t first, size_t len)
{
    seg->pages[first].head = RUN_NONE;
    seg->pages[first + len - 1].tail = RUN_NONE;
}

static struct run_segment *add_segment(struct arena *a, unsigned index)
{
    struct run_segment *seg = hk_segment_acquire(HAK_MAP_PAGE_RUN);
    if (seg == NULL)
        return NULL;
    /* A reused segment holds stale marks: clear them all, then make one free run. */
    memset(seg->pages, 0, sizeof seg->pages);
    __atomic_store_n(&seg->arena, index, __ATOMIC_RELAXED);
    seg->free_pages = RUN_USABLE_PAGES;
    LIST_PUSH(&a->segments, seg, next, prev);
    a->nsegments++;
    set_run(seg, RUN_FIRST_PAGE, RUN_USABLE_PAGES, RUN_FREE);
    bin_insert(a, &seg->pages[RUN_FIRST_PAGE]);
    track_noaccess((char *)seg + (RUN_FIRST_PAGE << HAK_PAGE_SHIFT),
                   RUN_USABLE_PAGES << HAK_PAGE_SHIFT);
    return seg;
}

static void remove_segment(struct arena *a, struct run_segment *seg)
{
    bin_remove(a, &seg->pages[RUN_FIRST_PAGE]);
    LIST_REMOVE(&a->segments, seg, next, prev);
    a->nsegments--;
}

/* Page offset inside the free run at pg where an aligned run of `pages` fits, or -1. */
static long fit(const struct run_page *pg, size_t pages, size_t align)
{
    size_t first = page_no(pg), end = first + pg->len;
    uintptr_t addr = (uintptr_t)page_addr(pg);
    uintptr_t aligned = (addr + align - 1) & ~(uintptr_t)(align - 1);
    size_t start = first + ((aligned - addr) >> HAK_PAGE_SHIFT);
    return start + pages <= end ? (long)start : -1;
}

/* Find a free run that can hold `pages` at `align`; returns its first page and the offset. */
static struct run_page *find(struct arena *a, size_t pages, size_t align, long *start)
{
    size_t need = pages + (align > HAK_PAGE_SIZE ? (align >> HAK_PAGE_SHIFT) - 1 : 0);
    for (unsigned w = bin_of(need) / 64; w < BIN_WORDS; w++) {
        uint64_t bits = a->nonempty[w];
        if (w == bin_of(need) / 64)
            bits &= ~0ull << (bin_of(need) % 64);
        while (bits != 0) {
            unsigned b = w * 64 + (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            for (struct run_page *pg = a->bins[b]; pg != NULL; pg = pg->next)
                if ((*start = fit(pg, pages, align)) >= 0)
                    return pg;
        }
    }
    return NULL;
}

/* Carve [start, start+pages) out of the free run at pg; leftovers become free runs. */
static void carve(struct arena *a, struct run_page *pg, size_t start, size_t pages)
{
    HAK_ASSERT(pg->head == RUN_FREE && start + pages <= page_no(pg) + pg->len);
    struct run_segment *seg = segment_of_page(pg);
    size_t first = page_no(pg), len = pg->len;
    bin_remove(a, pg);
    clear_marks(seg, first, len);
    if (start > first) {
        set_run(seg, first, start - first, RUN_FREE);
        bin_insert(a, &seg->pages[first]);
    }
    size_t after = first + len - (start + pages);
    if (after > 0) {
        set_run(seg, start + pages, after, RUN_FREE);
        bin_insert(a, &seg->pages[start + pages]);
    }
    set_run(seg, start, pages, RUN_USED);
    seg->free_pages -= (uint32_t)pages;
}

/* Turn the used run at page i into a free run, merged with free neighbours. */
static void release_run(struct arena *a, struct run_segment *seg, size_t i)
{
    size_t len = seg->pages[i].len;
    HAK_ASSERT(seg->pages[i].head == RUN_USED && seg->pages[i + len - 1].tail == RUN_USED);
    seg->pages[i].freed = 1;
    seg->free_pages += (uint32_t)len;
    clear_marks(seg, i, len);
    if (i > RUN_FIRST_PAGE && seg->pages[i - 1].tail == RUN_FREE) {
        size_t plen = seg->pages[i - 1].len, pfirst = i - plen;
        bin_remove(a, &seg->pages[pfirst]);
        clear_marks(seg, pfirst, plen);
        i = pfirst;
        len += plen;
    }
    if (i + len < RUN_SEGMENT_PAGES && seg->pages[i + len].head == RUN_FREE) {
        size_t nfirst = i + len, nlen = seg->pages[nfirst].len;
        bin_remove(a, &seg->pages[nfirst]);
        clear_marks(seg, nfirst, nlen);
        len += nlen;
    }
    set_run(seg, i, len, RUN_FREE);
    bin_insert(a, &seg->pages[i]);
}

static size_t pages_for(size_t size) { return (size + HAK_PAGE_SIZE - 1) >> HAK_PAGE_SHIFT; }

void *hk_page_run_alloc(size_t size, size_t align, int zero, unsigned arena_hint)
{
    unsigned index = arena_hint % PAGE_RUN_ARENAS;
    struct arena *a = &arenas[index];
    size_t pages = pages_for(size);
    long start;
    hak_lock(&a->lock);
    struct run_page *pg = find(a, pages, align, &start);
    if (pg == NULL) {
        struct run_segment *seg = add_segment(a, index);
        if (seg == NULL || (pg = find(a, pages, align, &start)) == NULL) {
            hak_unlock(&a->lock);
            errno = ENOMEM;
            return NULL;
        }
    }
    carve(a, pg, (size_t)start, pages);
    a->allocs++;
    a->live_bytes += pages << HAK_PAGE_SHIFT;
    hak_unlock(&a->lock);
    char *p = (char *)segment_of_page(pg) + ((size_t)start << HAK_PAGE_SHIFT);
    track_alloc(p, size, pages << HAK_PAGE_SHIFT);
    if (zero)
        memset(p, 0, size);
    return p;
}

/* What p would be freeing, given the run table (arena lock held): -1 for a live run start. */
static int classify_locked(const struct run_segment *seg, uintptr_t off)
{
    size_t i = off >> HAK_PAGE_SHIFT;
    if (i < RUN_FIRST_PAGE)
        return MISUSE_NOT_ALLOCATED; /* the segment header */
    if ((off & (HAK_PAGE_SIZE - 1)) == 0 && seg->pages[i].head == RUN_USED)
        return -1;
    /* Every run's first page is marked: walk back to the run holding page i. */
    size_t h = i;
    while (seg->pages[h].head == RUN_NONE && h > RUN_FIRST_PAGE)
        h--;
    if (seg->pages[h].head == RUN_USED)
        return MISUSE_INTERIOR;
    if ((off & (HAK_PAGE_SIZE - 1)) == 0 && seg->pages[i].freed)
        return MISUSE_DOUBLE_FREE;
    return MISUSE_NOT_ALLOCATED;
}

/* Lock the arena of p's segment; *verdict is -1 if p starts a live run (then *page_out is set)
 * or the misuse kind. The arena stays locked either way. */
static struct arena *lock_run(const void *p, struct run_segment **seg_out, size_t *page_out,
                              int *verdict)
{
    struct run_segment *seg = (struct run_segment *)segment_of(p);
    uintptr_t off = (uintptr_t)p & HAK_SEGMENT_MASK;
    struct arena *a = &arenas[__atomic_load_n(&seg->arena, __ATOMIC_RELAXED) % PAGE_RUN_ARENAS];
    hak_lock(&a->lock);
    *verdict = classify_locked(seg, off);
    *seg_out = seg;
    *page_out = off >> HAK_PAGE_SHIFT;
    return a;
}

int hk_page_run_free(void *p)
{
    struct run_segment *seg;
    size_t i;
    int verdict;
    struct arena *a = lock_run(p, &seg, &i, &verdict);
    if (verdict >= 0) {
        hak_unlock(&a->lock);
        return verdict;
    }
    a->frees++;
    a->live_bytes -= (size_t)seg->pages[i].len << HAK_PAGE_SHIFT;
    track_free(p, (size_t)seg->pages[i].len << HAK_PAGE_SHIFT);
    release_run(a, seg, i);
    int give_back = seg->free_pages == RUN_USABLE_PAGES && a->nsegments > 1;
    if (give_back)
        remove_segment(a, seg);
    hak_unlock(&a->lock);
    if (give_back)
        hk_segment_release(seg);
    return -1;
}

int hk_page_run_classify(const void *p)
{
    struct run_segment *seg;
    size_t i;
    int verdict;
    struct arena *a = lock_run(p, &seg, &i, &verdict);
    hak_unlock(&a->lock);
    return verdict;
}

int hk_page_run_idle_classify(const void *p)
{
    /* The run table is as the last free left it: every freed run start still carries its mark
     * until the segment is set up again, which cannot happen while the caller holds it. */
    const struct run_segment *seg = (const struct run_segment *)segment_of(p);
    uintptr_t off = (uintptr_t)p & HAK_SEGMENT_MASK;
    size_t i = off >> HAK_PAGE_SHIFT;
    if (i >= RUN_FIRST_PAGE && (off & (HAK_PAGE_SIZE - 1)) == 0 && seg->pages[i].freed)
        return MISUSE_DOUBLE_FREE;
    return MISUSE_NOT_ALLOCATED;
}

size_t hk_page_run_usable(const void *p)
{
    struct run_segment *seg;
    size_t i;
    int verdict;
    struct arena *a = lock_run(p, &seg, &i, &verdict);
    size_t n = verdict < 0 ? (size_t)seg->pages[i].len << HAK_PAGE_SHIFT : 0;
    hak_unlock(&a->lock);
    return n;
}

int hk_page_run_resize(void *p, size_t size)
{
    struct run_segment *seg;
    size_t i;
    int verdict;
    struct arena *a = lock_run(p, &seg, &i, &verdict);
    if (verdict >= 0) {
        hak_unlock(&a->lock);
        return -1;
    }
    size_t len = seg->pages[i].len, want = pages_for(size);
    int done = 0;
    if (want <= len) {
        if (want * 2 >= len) {
            done = 1; /* fits and wastes at most half: stay */
        } else {
            /* Give the tail back. */
            clear_marks(seg, i, len);
            set_run(seg, i, want, RUN_USED);
            set_run(seg, i + want, len - want, RUN_USED);
            track_noaccess((char *)p + (want << HAK_PAGE_SHIFT), (len - want) << HAK_PAGE_SHIFT);
            release_run(a, seg, i + want);
            a->live_bytes -= (len - want) << HAK_PAGE_SHIFT;
            done = 1;
        }
    } else if (i + len < RUN_SEGMENT_PAGES && seg->pages[i + len].head == RUN_FREE &&
               len + seg->pages[i + len].len >= want) {
        /* Grow into the free neighbour. */
        struct run_page *next = &seg->pages[i + len];
        carve(a, next, i + len, want - len);
        clear_marks(seg, i, len);
        clear_marks(seg, i + len, want - len);
        set_run(seg, i, want, RUN_USED);
        a->live_bytes += (want - len) << HAK_PAGE_SHIFT;
        done = 1;
    }
    hak_unlock(&a->lock);
    return done;
}

void hk_page_run_stats(struct hak_stats *out)
{
    out->page_run_allocs = out->page_run_frees = out->page_run_live_bytes = 0;
    for (unsigned k = 0; k < PAGE_RUN_ARENAS; k++) {
        struct arena *a = &arenas[k];
        hak_lock(&a->lock);
        out->page_run_allocs += a->allocs;
        out->page_run_frees += a->frees;
        out->page_run_live_bytes += a->live_bytes;
        hak_unlock(&a->lock);
    }
}

/* One segment's run table: runs tile the usable pages, each run's first and last page carry its
 * length and state and no other page carries a mark, no two free runs touch (freed runs
 * coalesce), and the free page count agrees. Returns the used bytes; counts free runs. */
static size_t check_segment(struct check *c, const struct run_segment *seg, unsigned index,
                            unsigned *free_runs)
{
    size_t used = 0, free_pages = 0;
    int prev_free = 0;
    if (segment_map_kind((uintptr_t)seg) != HAK_MAP_PAGE_RUN)
        hk_check_fail(c, "page-run segment %p: ownership map says kind %u", (void *)seg,
                      segment_map_kind((uintptr_t)seg));
    if (seg->arena != index)
        hk_check_fail(c, "page-run segment %p is listed in arena %u but says arena %u", (void *)seg,
                      index, seg->arena);
    for (size_t i = 0; i < RUN_FIRST_PAGE; i++)
        if (seg->pages[i].head != RUN_NONE || seg->pages[i].tail != RUN_NONE)
            hk_check_fail(c, "page-run segment %p: header page %zu carries a run mark", (void *)seg,
                          i);
    for (size_t i = RUN_FIRST_PAGE; i < RUN_SEGMENT_PAGES;) {
        const struct run_page *h = &seg->pages[i];
        size_t len = h->len;
        if (h->head == RUN_NONE || len == 0 || i + len > RUN_SEGMENT_PAGES) {
            hk_check_fail(c, "page-run segment %p: no run starts at page %zu (mark %u, length %zu)",
                          (void *)seg, i, h->head, len);
            return used;
        }
        const struct run_page *t = &seg->pages[i + len - 1];
        if (t->tail != h->head || t->len != len)
            hk_check_fail(c,
                          "page-run segment %p: run at page %zu (%zu pages) ends with mark %u, "
                          "length %u",
                          (void *)seg, i, len, t->tail, t->len);
        for (size_t k = i; k < i + len; k++)
            if ((k != i && seg->pages[k].head != RUN_NONE) ||
                (k != i + len - 1 && seg->pages[k].tail != RUN_NONE)) {
                hk_check_fail(c,
                              "page-run segment %p: page %zu inside the run at page %zu carries "
                              "a mark",
                              (void *)seg, k, i);
                break;
            }
        if (h->head == RUN_FREE) {
            if (prev_free)
                hk_check_fail(c,
                              "page-run segment %p: free run at page %zu touches the free run "
                              "before it (not coalesced)",
                              (void *)seg, i);
            free_pages += len;
            (*free_runs)++;
        } else {
            used += len << HAK_PAGE_SHIFT;
            uintptr_t a = (uintptr_t)seg + (i << HAK_PAGE_SHIFT);
            if (!hk_check_held(c, a))
                hk_check_fail(c, "page run %p (%zu bytes) is live but the program does not hold it",
                              (void *)a, len << HAK_PAGE_SHIFT);
        }
        prev_free = h->head == RUN_FREE;
        i += len;
    }
    if (free_pages != seg->free_pages)
        hk_check_fail(c, "page-run segment %p: %zu pages in free runs, its count says %u",
                      (void *)seg, free_pages, seg->free_pages);
    return used;
}

void hk_page_run_check(struct check *c, uint64_t *segments)
{
    for (unsigned k = 0; k < PAGE_RUN_ARENAS; k++) {
        struct arena *a = &arenas[k];
        hak_lock(&a->lock);
        unsigned binned = 0, free_runs = 0, n = 0, wholly_free = 0;
        for (unsigned b = 0; b < BIN_COUNT; b++) {
            int nonempty = (int)((a->nonempty[b / 64] >> (b % 64)) & 1);
            if (nonempty != (a->bins[b] != NULL))
                hk_check_fail(c, "page-run arena %u: bin %u is %s but its bit says otherwise", k, b,
                              a->bins[b] != NULL ? "non-empty" : "empty");
            for (const struct run_page *pg = a->bins[b], *prev = NULL; pg != NULL;
                 prev = pg, pg = pg->next) {
                if (pg->prev != prev || pg->head != RUN_FREE || bin_of(pg->len) != b)
                    hk_check_fail(c, "page-run arena %u: bin %u holds page %p (mark %u, %u pages)",
                                  k, b, (void *)page_addr(pg), pg->head, pg->len);
                if (++binned > (1u << 24))
                    break;
            }
        }
        size_t used = 0;
        for (const struct run_segment *seg = a->segments, *prev = NULL; seg != NULL;
             prev = seg, seg = seg->next) {
            if (seg->prev != prev)
                hk_check_fail(c, "page-run arena %u: broken back link at segment %p", k,
                              (void *)seg);
            used += check_segment(c, seg, k, &free_runs);
            wholly_free += seg->free_pages == RUN_USABLE_PAGES;
            if (++n > (1u << 20))
                break;
        }
        if (n != a->nsegments)
            hk_check_fail(c, "page-run arena %u: %u segments listed, its count says %u", k, n,
                          a->nsegments);
        if (binned != free_runs)
            hk_check_fail(c, "page-run arena %u: %u free runs in the segments, %u in the bins", k,
                          free_runs, binned);
        if (used != a->live_bytes)
            hk_check_fail(c, "page-run arena %u: %zu bytes in used runs, its count says %llu", k,
                          used, (unsigned long long)a->live_bytes);
        if (wholly_free > 0 && n > 1)
            hk_check_fail(c, "page-run arena %u keeps %u wholly free segments besides others", k,
                          wholly_free);
        *segments += n;
        hak_unlock(&a->lock);
    }
}

void hk_page_run_fork_prepare(void)
{
    for (unsigned k = 0; k < PAGE_RUN_ARENAS; k++)
        hak_lock(&arenas[k].lock);
}

void hk_page_run_fork_parent(void)
{
    for (unsigned k = PAGE_RUN_ARENAS; k-- > 0;)
        hak_unlock(&arenas[k].lock);
}

void hk_page_run_init(void)
{
    for (unsigned k = 0; k < PAGE_RUN_ARENAS; k++)
        hak_lock_reinit(&arenas[k].lock);
}

void hk_page_run_fork_child(void)
{
    for (unsigned k = 0; k < PAGE_RUN_ARENAS; k++)
        hak_lock_reinit(&arenas[k].lock);
}
