/* heap_check.c — the full heap check behind hak_debug_check_heap() and hak_debug_check_quiescent().
 *
 * Accounts for every carved slab block: it is in exactly one of {a thread cache, its slab's free
 * list, its slab's remote queue} or in the program's hands, and the per-class counters (blocks
 * moved into caches, moved back, cached, freed remotely) agree with what the slabs say is out.
 * Every slab is where its state says: on its owner's list (armed or notified if parked full), on
 * the orphan list, or in the slab pool. The slab pool, page runs, Large tier and segment cache
 * check their own structures (check.h), and the mapped bytes must be explained by them. Given the
 * list of blocks the program holds, nothing else may be out: a block the allocator lost is
 * reported with its slab. Reads other threads' caches, so it runs while no other thread is
 * inside the allocator. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "diag.h"
#include "hakmem.h"
#include "heap.h"
#include "heap_check.h"
#include "large.h"
#include "orphan_pool.h"
#include "os_memory.h"
#include "page_run.h"
#include "segment.h"
#include "segment_map.h"
#include "slab_pool.h"
#include "thread_cache.h"
#include "track.h"

#define GRANULE_SHIFT 4 /* blocks are multiples of 16 bytes */
#define GRANULES (HAK_SEGMENT_SIZE >> GRANULE_SHIFT)

enum place { PLACE_NONE, PLACE_BIN, PLACE_FREE_LIST, PLACE_REMOTE_QUEUE, PLACE_REMOTE_BATCH };
static const char *const place_name[] = {"the program's hands", "a thread cache", "the free list",
                                         "the remote queue", "a thread's remote-free batch"};

/* Where a slab was seen while walking the lists. */
enum { SEEN_OWNER_LIST = 1, SEEN_FULL_LIST = 2, SEEN_ORPHAN_LIST = 4, SEEN_PENDING = 8 };

struct segment_scratch {
    uint8_t slab_seen[HAK_MAX_SLABS_PER_SEGMENT];
    uint8_t where[GRANULES];
};

struct walk {
    struct check report; /* violations and the program's held blocks (check.c) */
    /* every slab segment, sorted by address, with its scratch */
    struct slab_segment **segs;
    struct segment_scratch *scratch;
    size_t nsegs, segs_cap;
    uintptr_t last_seg; /* the last segment looked up, and its scratch */
    struct segment_scratch *last_scratch;
    /* per class: blocks out by the counters and by the slabs */
    uint64_t refilled[HAK_CLASS_COUNT], flushed[HAK_CLASS_COUNT], remote[HAK_CLASS_COUNT];
    uint64_t cached[HAK_CLASS_COUNT], out[HAK_CLASS_COUNT];
};

static void report_slab(struct walk *c, const struct slab *s, const char *what, const void *b)
{
    if (b != NULL)
        hk_check_fail(&c->report, "slab %p (class %u, %u-byte blocks): %s at %p", (const void *)s,
                      (unsigned)s->cls, (unsigned)s->block_size, what, b);
    else
        hk_check_fail(&c->report, "slab %p (class %u, %u-byte blocks): %s", (const void *)s,
                      (unsigned)s->cls, (unsigned)s->block_size, what);
}

/* ---- slab segments and their scratch ---- */

static void count_segment(struct slab_segment *seg, void *arg)
{
    (void)seg;
    ((struct walk *)arg)->segs_cap++;
}

static void collect_segment(struct slab_segment *seg, void *arg)
{
    struct walk *c = arg;
    if (c->nsegs < c->segs_cap)
        c->segs[c->nsegs++] = seg;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Scratch of the slab segment holding a, or NULL if a is in none. */
static struct segment_scratch *scratch_of(struct walk *c, const void *a)
{
    uintptr_t seg = (uintptr_t)a & ~HAK_SEGMENT_MASK;
    if (seg == c->last_seg)
        return c->last_scratch;
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)c->segs[mid] < seg)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= c->nsegs || (uintptr_t)c->segs[lo] != seg)
        return NULL;
    c->last_seg = seg;
    c->last_scratch = &c->scratch[lo];
    return c->last_scratch;
}

static uint8_t *where_of(struct segment_scratch *sc, const void *b)
{
    return &sc->where[((uintptr_t)b & HAK_SEGMENT_MASK) >> GRANULE_SHIFT];
}

static uint8_t *seen_of(struct walk *c, const struct slab *s)
{
    struct segment_scratch *sc = scratch_of(c, s);
    return sc != NULL ? &sc->slab_seen[slab_index(s)] : NULL;
}

/* Is b a carved block start of s? (reported otherwise, naming where it was found) */
static int valid_block(struct walk *c, const struct slab *s, const void *b, const char *in)
{
    uintptr_t first = (uintptr_t)slab_segment_of(s) + s->start_off;
    uintptr_t a = (uintptr_t)b;
    if (slab_segment_of(b) != slab_segment_of(s) || a < first || a >= first + s->carved) {
        char what[96];
        snprintf(what, sizeof what, "pointer outside the carved blocks in %s", in);
        report_slab(c, s, what, b);
        return 0;
    }
    if ((a - first) % s->block_size != 0) {
        char what[96];
        snprintf(what, sizeof what, "pointer inside a block (not at its start) in %s", in);
        report_slab(c, s, what, b);
        return 0;
    }
    return 1;
}

/* Record that free block b of s is in `place`; reports a block found twice or without the
 * free mark. */
static int place_block(struct walk *c, const struct slab *s, const void *b, enum place place)
{
    if (!valid_block(c, s, b, place_name[place]))
        return 0;
    uint8_t *w = where_of(scratch_of(c, s), b);
    if (*w != PLACE_NONE) {
        char what[128];
        snprintf(what, sizeof what, "block appears twice (in %s and in %s)", place_name[*w],
                 place_name[place]);
        report_slab(c, s, what, b);
        return 0;
    }
    *w = (uint8_t)place;
    if (!block_is_marked_free(b)) {
        char what[96];
        snprintf(what, sizeof what, "free block in %s without the free mark", place_name[place]);
        report_slab(c, s, what, b);
    }
    return 1;
}

/* Walk a chain of free blocks of s; stops at the first bad link. Returns the blocks seen. */
static uint32_t walk_chain(struct walk *c, const struct slab *s, const void *chain,
                           enum place place, uint32_t limit)
{
    uint32_t n = 0;
    for (const void *b = chain; b != NULL; b = block_next(b)) {
        if (n >= limit) {
            report_slab(c, s, "chain longer than the slab's capacity (a cycle?)", NULL);
            break;
        }
        if (!place_block(c, s, b, place))
            break;
        n++;
    }
    return n;
}

/* ---- heaps: lists, pending stacks, thread caches, counters ---- */

static void check_list(struct walk *c, struct heap *h, unsigned k, int full)
{
    const struct slab_list *l = full ? &h->full[k] : &h->partial[k];
    uint32_t n = 0;
    for (const struct slab *s = l->head, *prev = NULL; s != NULL && n <= l->count;
         prev = s, s = s->next, n++) {
        uint8_t *seen = seen_of(c, s);
        if (seen == NULL) {
            hk_check_fail(&c->report,
                          "heap %p class %u: %s list holds %p, which is in no slab segment",
                          (void *)h, k, full ? "full" : "partial", (const void *)s);
            break;
        }
        if (slab_owner(s) != h->id || s->cls != k ||
            s->list != (full ? SLAB_LIST_FULL : SLAB_LIST_PARTIAL) || s->prev != prev)
            report_slab(c, s,
                        full ? "slab on a heap's full list has another owner, class, list "
                               "state or back link"
                             : "slab on a heap's partial list has another owner, class, "
                               "list state or back link",
                        NULL);
        else if (*seen & (SEEN_OWNER_LIST | SEEN_ORPHAN_LIST))
            report_slab(c, s, "slab is on two lists", NULL);
        *seen |= SEEN_OWNER_LIST | (full ? SEEN_FULL_LIST : 0);
    }
    if (n != l->count)
        hk_check_fail(&c->report, "heap %p class %u: %s list holds %u slabs, its count says %u",
                      (void *)h, k, full ? "full" : "partial", n, l->count);
}

static void check_heap(struct heap *h, void *arg)
{
    struct walk *c = arg;
    if (h != &hk_exit_heap && syscall(SYS_tgkill, getpid(), h->tid, 0) != 0 && errno == ESRCH)
        hk_check_fail(&c->report,
                      "heap %p belongs to thread %d, which no longer exists (its slabs are "
                      "stranded)",
                      (void *)h, h->tid);
    uint32_t notified = 0;
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        check_list(c, h, k, 0);
        check_list(c, h, k, 1);
        uint32_t n = 0; /* bounded: a cyclic list was reported above and must not hang this */
        for (const struct slab *s = h->partial[k].head; s != NULL && n++ <= h->partial[k].count;
             s = s->next)
            notified += s->notified;
        const struct heap_class_counters *hc = &h->counters[k];
        c->refilled[k] += __atomic_load_n(&hc->refilled, __ATOMIC_RELAXED);
        c->flushed[k] += __atomic_load_n(&hc->flushed, __ATOMIC_RELAXED);
        c->remote[k] += __atomic_load_n(&hc->remote_frees, __ATOMIC_RELAXED);
    }
    if (notified != h->notified_count)
        hk_check_fail(&c->report, "heap %p: %u slabs are marked notified, its count says %u",
                      (void *)h, notified, h->notified_count);
    uint32_t n = 0;
    for (struct slab *s = __atomic_load_n(&h->pending, __ATOMIC_ACQUIRE); s != NULL;
         s = __atomic_load_n(&slab_remote(s)->pending_next, __ATOMIC_RELAXED)) {
        uint8_t *seen = seen_of(c, s);
        if (seen == NULL || slab_owner(s) != h->id) {
            hk_check_fail(&c->report, "heap %p: pending stack holds slab %p, which it does not own",
                          (void *)h, (void *)s);
            break;
        }
        if (*seen & SEEN_PENDING) {
            report_slab(c, s, "slab is twice on its owner's pending stack", NULL);
            break;
        }
        *seen |= SEEN_PENDING;
        if (++n > (1u << 20))
            break;
    }
    if (h->cache == NULL)
        return;
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        const struct cache_bin *b = &h->cache->bins[k];
        uint32_t held = 0;
        for (const void *p = b->head; p != NULL; p = block_next(p)) {
            if (held > b->cap + 1u) {
                hk_check_fail(&c->report,
                              "heap %p class %u: thread cache holds more than its capacity %u",
                              (void *)h, k, b->cap);
                break;
            }
            unsigned kind = segment_map_kind((uintptr_t)p);
            struct slab *s = kind >= HAK_MAP_SLAB_MIN ? slab_of_address((uintptr_t)p, kind) : NULL;
            if (s == NULL || scratch_of(c, p) == NULL) {
                hk_check_fail(&c->report,
                              "heap %p class %u: thread cache holds %p, which is in no slab "
                              "segment",
                              (void *)h, k, p);
                break;
            }
            if (slab_owner(s) != h->id || s->cls != k) {
                report_slab(c, s,
                            "a thread cache holds a block of a slab of another owner or class", p);
                break;
            }
            if (!place_block(c, s, p, PLACE_BIN))
                break;
            held++;
        }
        if (b->cap != 0 && held != cache_bin_count(b))
            hk_check_fail(&c->report,
                          "heap %p class %u: thread cache holds %u blocks, its count says %u",
                          (void *)h, k, held, cache_bin_count(b));
        c->cached[k] += held;
    }
    /* The remote-free batches: blocks of one slab (per class) of another owner, freed, not yet
     * pushed. (Its own slab is possible: the thread may have adopted the slab since.) */
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        const struct remote_batch *rb = &h->cache->batch[k];
        struct slab *s = rb->slab;
        if (s == NULL) {
            if (rb->head != NULL || rb->count != 0)
                hk_check_fail(&c->report, "heap %p: an empty remote-free batch holds %p (count %u)",
                              (void *)h, rb->head, rb->count);
            continue;
        }
        if (seen_of(c, s) == NULL || slab_owner(s) == SLAB_OWNER_FREE || s->cls != k ||
            !(h->cache->batched & (1ull << k))) {
            hk_check_fail(&c->report, "heap %p: remote-free batch %u for slab %p, which is %s",
                          (void *)h, k, (void *)s,
                          seen_of(c, s) == NULL              ? "in no slab segment"
                          : slab_owner(s) == SLAB_OWNER_FREE ? "pooled"
                          : s->cls != k                      ? "of another class"
                                                             : "not marked as batched");
            continue;
        }
        uint32_t batched = walk_chain(c, s, rb->head, PLACE_REMOTE_BATCH, REMOTE_BATCH_MAX + 1);
        if (batched != rb->count || (batched != 0 && block_next(rb->tail) != NULL))
            report_slab(c, s, "a thread's remote-free batch does not match its count or tail",
                        NULL);
        else if (batched > hk_class_info[k].remote_batch)
            report_slab(c, s, "a thread's remote-free batch holds more than its class's bound",
                        NULL);
    }
}

static void mark_orphan(struct slab *s, void *arg)
{
    struct walk *c = arg;
    uint8_t *seen = seen_of(c, s);
    if (seen == NULL) {
        hk_check_fail(&c->report, "orphan pool holds %p, which is in no slab segment", (void *)s);
        return;
    }
    if (*seen & (SEEN_OWNER_LIST | SEEN_ORPHAN_LIST))
        report_slab(c, s, "slab is on two lists", NULL);
    *seen |= SEEN_ORPHAN_LIST;
}

/* ---- slabs ---- */

static void check_queue_state(struct walk *c, const struct slab *s, uintptr_t q, uint8_t seen)
{
    if (q & REMOTE_NOTIFYING)
        report_slab(c, s, "remote queue still says NOTIFYING with no thread in the allocator",
                    NULL);
    if (slab_owner(s) == SLAB_OWNER_ORPHAN) {
        if (q & REMOTE_BITS)
            report_slab(c, s, "orphaned slab's remote queue carries notification bits", NULL);
        return;
    }
    if (s->list == SLAB_LIST_FULL) {
        /* Parked full: either the arm is still pending (nothing pushed since), or it was consumed
         * and the slab is on the pending stack, where its owner will find it. */
        int armed_idle = q == REMOTE_ARMED;
        int pending = (seen & SEEN_PENDING) != 0;
        if (armed_idle == pending)
            report_slab(c, s,
                        pending ? "parked full slab is armed and on the pending stack at once"
                                : "parked full slab is neither armed nor on the pending stack "
                                  "(remote frees to it would go unnoticed)",
                        NULL);
        return;
    }
    if (q & REMOTE_ARMED)
        report_slab(c, s, "slab off the full list is still armed", NULL);
    if (s->notified && !(seen & SEEN_PENDING))
        report_slab(c, s, "slab is marked notified but is not on the pending stack", NULL);
    if (!s->notified && (seen & SEEN_PENDING))
        report_slab(c, s, "partial slab is on the pending stack but not marked notified", NULL);
}

static void check_slab(struct walk *c, struct slab *s, struct segment_scratch *sc)
{
    uintptr_t owner = slab_owner(s);
    uint8_t seen = sc->slab_seen[slab_index(s)];
    if (owner == SLAB_OWNER_FREE) {
        if (seen & (SEEN_OWNER_LIST | SEEN_ORPHAN_LIST | SEEN_PENDING))
            report_slab(c, s, "pooled slab is still on a heap or orphan list", NULL);
        return; /* the slab pool checks the rest */
    }
    if (owner == SLAB_OWNER_ORPHAN) {
        if (!(seen & SEEN_ORPHAN_LIST) || s->list != SLAB_LIST_ORPHAN)
            report_slab(c, s, "orphaned slab is not on the orphan list (nobody can adopt it)",
                        NULL);
    } else if (!(seen & SEEN_OWNER_LIST)) {
        hk_check_fail(&c->report,
                      "slab %p (class %u) is owned by %#lx but is on none of its owner's lists "
                      "(parked where nobody looks)",
                      (void *)s, (unsigned)s->cls, (unsigned long)owner);
        return;
    }
    if (s->cls >= HAK_CLASS_COUNT || s->block_size != size_class_block_size(s->cls)) {
        report_slab(c, s, "class and block size disagree", NULL);
        return;
    }
    if (s->bin_off != cache_bin_offset(s->cls)) {
        /* The owner's free pushes through bin_off: a wrong one files blocks in another class. */
        report_slab(c, s, "bin offset is not its class's bin", NULL);
        return;
    }
    uint32_t slab_bytes = (uint32_t)(slab_limit(s) - (char *)slab_segment_of(s));
    if (s->carved > s->limit || s->carved % s->block_size != 0 ||
        s->start_off + s->limit > slab_bytes ||
        s->start_off != (uint32_t)(slab_start(s) - (char *)slab_segment_of(s)) ||
        s->limit != (slab_bytes - s->start_off) / s->block_size * s->block_size ||
        s->magic != slab_block_magic(s->block_size)) {
        report_slab(c, s, "geometry (start, carved, limit, block-start magic) is inconsistent",
                    NULL);
        return;
    }
    uint32_t carved = s->carved / s->block_size;
    uint32_t on_list = walk_chain(c, s, s->free, PLACE_FREE_LIST, carved + 1);
    if (on_list != s->free_count)
        report_slab(c, s, "free_count does not match the free list", NULL);
    uintptr_t q = __atomic_load_n(&slab_remote(s)->queue, __ATOMIC_ACQUIRE);
    uint32_t queued = walk_chain(c, s, remote_queue_chain(q), PLACE_REMOTE_QUEUE, carved + 1);
    if (queued != remote_queue_count(q)) {
        char what[128];
        snprintf(what, sizeof what, "remote queue holds %u blocks, its count says %u", queued,
                 remote_queue_count(q));
        report_slab(c, s, what, NULL);
    }
    check_queue_state(c, s, q, seen);
    if (s->used != carved - on_list) {
        char what[128];
        snprintf(what, sizeof what, "used is %u, but %u blocks are carved and %u on the free list",
                 s->used, carved, on_list);
        report_slab(c, s, what, NULL);
    }
    /* Every carved block not in a free place is out: in the program's hands. */
    char *first = (char *)slab_segment_of(s) + s->start_off;
    uint32_t out = 0, in_bins = 0, lost = 0;
    for (uint32_t i = 0; i < carved; i++) {
        char *b = first + (size_t)i * s->block_size;
        uint8_t w = *where_of(sc, b);
        if (w == PLACE_BIN)
            in_bins++;
        if (w != PLACE_NONE)
            continue;
        out++;
        if (!hk_check_held(&c->report, (uintptr_t)b) && ++lost <= 3)
            report_slab(c, s, "block is neither free nor held by the program (lost)", b);
    }
    if (lost > 3) {
        char what[96];
        snprintf(what, sizeof what, "%u blocks lost in all", lost);
        report_slab(c, s, what, NULL);
    }
    if (in_bins + queued > s->used)
        report_slab(c, s, "more blocks cached or queued than the slab has handed out", NULL);
    c->out[s->cls] += out;
}

static void check_segments(struct walk *c)
{
    for (size_t i = 0; i < c->nsegs; i++) {
        struct slab_segment *seg = c->segs[i];
        for (unsigned k = 0; k < seg->nslabs && k < HAK_MAX_SLABS_PER_SEGMENT; k++)
            check_slab(c, &seg->slabs[k], &c->scratch[i]);
    }
}

/* ---- the whole check ---- */

/* Scratch memory is kept between checks (a fuzz driver checks after every few ops): a mapping
 * that only grows, whose used part is cleared again before the check returns. */
static void *scratch_mem;
static size_t scratch_bytes;

static void *scratch(size_t bytes)
{
    if (bytes > scratch_bytes) {
        if (scratch_mem != NULL)
            hk_os_unmap(scratch_mem, scratch_bytes);
        bytes = (bytes + (HAK_SEGMENT_SIZE - 1)) & ~(size_t)(HAK_SEGMENT_SIZE - 1);
        scratch_mem = hk_os_map(bytes);
        scratch_bytes = scratch_mem != NULL ? bytes : 0;
    }
    return scratch_mem;
}

/* Zero what the check wrote: every slab's carved granules and every segment's slab marks (all
 * of it after a failed check, whose broken slabs may have had marks written anywhere). */
static void scratch_clear(struct walk *c)
{
    if (c->report.errors > 0) {
        memset(c->scratch, 0, c->nsegs * sizeof *c->scratch);
        return;
    }
    for (size_t i = 0; i < c->nsegs; i++) {
        struct slab_segment *seg = c->segs[i];
        struct segment_scratch *sc = &c->scratch[i];
        memset(sc->slab_seen, 0, sizeof sc->slab_seen);
        for (unsigned k = 0; k < seg->nslabs && k < HAK_MAX_SLABS_PER_SEGMENT; k++) {
            const struct slab *s = &seg->slabs[k];
            if (s->carved == 0)
                continue; /* nothing was marked (and a never-formatted slab has no start) */
            size_t first = s->start_off >> GRANULE_SHIFT;
            size_t n = (size_t)s->carved >> GRANULE_SHIFT;
            if (first < GRANULES)
                memset(&sc->where[first], 0, n < GRANULES - first ? n : GRANULES - first);
        }
    }
}

int hk_heap_check_run(void *const *held, size_t nheld, int has_held)
{
    struct walk c;
    memset(&c, 0, sizeof c);
    c.report.has_held = has_held;
    hk_slab_pool_for_each_segment(count_segment, &c);
    c.segs_cap += 16; /* headroom: nothing should change, but never write past the array */
    size_t scratch_size = c.segs_cap * sizeof *c.scratch, segs_size = c.segs_cap * sizeof *c.segs;
    size_t held_size = has_held ? nheld * sizeof *c.report.held : 0;
    char *mem = scratch(scratch_size + segs_size + held_size + (has_held ? nheld : 0));
    if (mem == NULL) {
        hk_diag_print("hakmem heap check: no memory for the check's scratch\n");
        return 1;
    }
    /* Only the per-segment scratch must start zeroed (and is left zeroed); the rest is set. */
    c.scratch = (struct segment_scratch *)mem;
    c.segs = (struct slab_segment **)(mem + scratch_size);
    if (has_held) {
        c.report.held = (uintptr_t *)(mem + scratch_size + segs_size);
        c.report.held_found = (uint8_t *)(c.report.held + nheld);
        for (size_t i = 0; i < nheld; i++) {
            c.report.held[i] = (uintptr_t)held[i];
            c.report.held_found[i] = 0;
        }
        qsort(c.report.held, nheld, sizeof *c.report.held, by_address);
        c.report.nheld = nheld;
        for (size_t i = 1; i < nheld; i++)
            if (c.report.held[i] == c.report.held[i - 1])
                hk_check_fail(&c.report, "the program lists block %p as held twice",
                              (void *)c.report.held[i]);
    }
    hk_slab_pool_for_each_segment(collect_segment, &c);
    qsort(c.segs, c.nsegs, sizeof *c.segs, by_address);

    hk_heap_for_each(check_heap, &c);
    hk_orphan_pool_check(&c.report, mark_orphan, &c);
    check_segments(&c);
    hk_heap_exited_totals(c.refilled, c.flushed, c.remote);
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        int64_t by_counters = (int64_t)c.refilled[k] - (int64_t)c.flushed[k] -
                              (int64_t)c.cached[k] - (int64_t)c.remote[k];
        if (by_counters != (int64_t)c.out[k])
            hk_check_fail(
                &c.report,
                "class %u (%zu-byte blocks): the counters say %lld blocks are out "
                "(moved to caches %llu, back %llu, cached %llu, freed remotely %llu), the "
                "slabs say %llu",
                k, size_class_block_size(k), (long long)by_counters,
                (unsigned long long)c.refilled[k], (unsigned long long)c.flushed[k],
                (unsigned long long)c.cached[k], (unsigned long long)c.remote[k],
                (unsigned long long)c.out[k]);
    }
    uint64_t slab_segments = 0, run_segments = 0;
    hk_slab_pool_check(&c.report, &slab_segments);
    hk_page_run_check(&c.report, &run_segments);
    hk_large_check(&c.report);
    hk_segment_check(&c.report, slab_segments, run_segments, hk_large_mapped_bytes());
    for (size_t i = 0; i < c.report.nheld; i++)
        if (!c.report.held_found[i])
            hk_check_fail(&c.report, "the program holds %p, but it is not a live block",
                          (void *)c.report.held[i]);
    if (c.report.errors > CHECK_REPORT_LIMIT)
        hk_diag_print("hakmem heap check: %d violations in all\n", c.report.errors);
    scratch_clear(&c);
    return c.report.errors;
}
