/* heap_check.c — hak_debug_check_heap(): the full invariant checker.
 *
 * Walks every heap (its slab lists and its thread's bins) and every slab of every slab segment,
 * and accounts for every carved block: at most one of {a bin, the slab's free list, the slab's
 * remote queue}, the rest in a caller's hands. Reads other threads' bins, so it must run while no
 * other thread is inside the allocator. */
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "hakmem.h"
#include "heap.h"
#include "init.h"
#include "orphan_pool.h"
#include "segment_map.h"
#include "slab_pool.h"
#include "track.h"

#define MAX_BLOCKS_PER_SLAB ((1u << HAK_MEDIUM_SLAB_SHIFT) / 16u)

struct check {
    int errors;
    /* per-slab scratch: where each block was found (0: not found yet) */
    uint8_t where[MAX_BLOCKS_PER_SLAB];
};

enum place { PLACE_NONE, PLACE_BIN, PLACE_FREE_LIST, PLACE_REMOTE_QUEUE };
static const char *const place_name[] = {"", "a thread cache", "the free list", "the remote queue"};

static struct check state; /* callers are single-threaded by contract; keeps the stack small */

static void fail(struct check *c, const char *what, const struct slab *s, const void *block)
{
    c->errors++;
    if (c->errors > 50)
        return;
    if (block != NULL)
        diag_print("hakmem heap check: slab %p (class %u, %u-byte blocks): %s at %p\n", (void *)s,
                   (unsigned)s->cls, s->block_size, what, block);
    else
        diag_print("hakmem heap check: slab %p (class %u, %u-byte blocks): %s\n", (void *)s,
                   (unsigned)s->cls, s->block_size, what);
}

static char *slab_first(const struct slab *s) { return (char *)slab_segment_of(s) + s->start_off; }

/* Index of block b in s, or -1 (and a reported error) if b is not a carved block start. */
static long block_index(struct check *c, const struct slab *s, const void *b, const char *in)
{
    uintptr_t a = (uintptr_t)b;
    if (slab_segment_of(b) != slab_segment_of(s) || a < (uintptr_t)slab_first(s) ||
        a >= (uintptr_t)slab_first(s) + s->carved) {
        char what[96];
        snprintf(what, sizeof what, "pointer out of the carved range in %s", in);
        fail(c, what, s, b);
        return -1;
    }
    size_t off = a - (uintptr_t)slab_first(s);
    if (off % s->block_size != 0) {
        char what[96];
        snprintf(what, sizeof what, "misaligned block pointer in %s", in);
        fail(c, what, s, b);
        return -1;
    }
    return (long)(off / s->block_size);
}

/* Walk a chain of free blocks, marking each; duplicates (including cycles) are reported and stop
 * the walk. Returns the number of blocks of s seen; blocks of other slabs are skipped when
 * `only_mine` (bins hold blocks of many slabs). */
static uint32_t walk(struct check *c, const struct slab *s, const void *chain, enum place place,
                     int only_mine, uint32_t limit)
{
    uint32_t n = 0, steps = 0;
    for (const void *b = chain; b != NULL; b = block_next(b)) {
        if (++steps > limit) {
            fail(c, "chain longer than the slab's capacity (a cycle?)", s, NULL);
            break;
        }
        if (only_mine) {
            if (segment_map_kind((uintptr_t)b) < HAK_MAP_SLAB_MIN ||
                slab_of_address((uintptr_t)b, segment_map_kind((uintptr_t)b)) != s)
                continue;
        }
        long i = block_index(c, s, b, place_name[place]);
        if (i < 0)
            break;
        if (c->where[i] != PLACE_NONE) {
            char what[128];
            snprintf(what, sizeof what, "block appears twice (in %s and in %s)",
                     place_name[c->where[i]], place_name[place]);
            fail(c, what, s, b);
            break;
        }
        c->where[i] = (uint8_t)place;
        n++;
    }
    return n;
}

static void check_slab(struct check *c, struct slab *s)
{
    uintptr_t owner = slab_owner(s);
    if (owner == SLAB_OWNER_FREE) {
        uint64_t bit = 1ull << slab_index(s);
        if (!(slab_segment_of(s)->free_mask & bit))
            fail(c, "slab without owner is not in the slab pool", s, NULL);
        return;
    }
    if (s->cls >= HAK_CLASS_COUNT || s->block_size != size_class_block_size(s->cls)) {
        fail(c, "class and block size disagree", s, NULL);
        return;
    }
    if (s->carved > s->limit || s->carved % s->block_size != 0 ||
        s->start_off + s->limit > (uint32_t)(slab_limit(s) - (char *)slab_segment_of(s))) {
        fail(c, "carved/limit geometry is inconsistent", s, NULL);
        return;
    }
    uint32_t carved = s->carved / s->block_size;
    memset(c->where, 0, carved);
    uint32_t on_list = walk(c, s, s->free, PLACE_FREE_LIST, 0, carved + 1);
    if (on_list != s->free_count)
        fail(c, "free_count does not match the free list", s, NULL);
    const void *queued =
        (const void *)(__atomic_load_n(&slab_remote(s)->queue, __ATOMIC_ACQUIRE) & ~REMOTE_BITS);
    uint32_t in_queue = walk(c, s, queued, PLACE_REMOTE_QUEUE, 0, carved + 1);
    uint32_t in_bins = 0;
    if (owner != SLAB_OWNER_ORPHAN) {
        struct heap *h = (struct heap *)owner;
        if (h->cache != NULL)
            for (unsigned k = 0; k < HAK_CLASS_COUNT; k++)
                in_bins +=
                    walk(c, s, h->cache->bins[k].head, PLACE_BIN, 1, h->cache->bins[k].cap + 2);
        if (s->list != SLAB_LIST_PARTIAL && s->list != SLAB_LIST_FULL)
            fail(c, "owned slab is on no owner list", s, NULL);
    } else if (s->list != SLAB_LIST_ORPHAN) {
        fail(c, "orphaned slab is not on an orphan list", s, NULL);
    }
    if (s->used != carved - on_list)
        fail(c, "used does not equal carved blocks minus the free list", s, NULL);
    if (in_bins + in_queue > s->used)
        fail(c, "more blocks cached or queued than the slab has handed out", s, NULL);
}

static void check_segment(struct slab_segment *seg, void *arg)
{
    struct check *c = arg;
    unsigned kind = segment_map_kind((uintptr_t)seg);
    if (kind != seg->slab_shift - 6u) {
        c->errors++;
        diag_print("hakmem heap check: segment %p: map kind %u, slab shift %u\n", (void *)seg, kind,
                   seg->slab_shift);
        return;
    }
    for (unsigned i = 0; i < seg->nslabs; i++)
        check_slab(c, &seg->slabs[i]);
}

static void check_heap(struct heap *h, void *arg)
{
    struct check *c = arg;
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        for (int full = 0; full < 2; full++) {
            const struct slab_list *l = full ? &h->full[k] : &h->partial[k];
            uint32_t n = 0;
            for (const struct slab *s = l->head; s != NULL && n <= l->count; s = s->next, n++) {
                if (slab_owner(s) != h->id || s->cls != k ||
                    s->list != (full ? SLAB_LIST_FULL : SLAB_LIST_PARTIAL))
                    fail(c, "slab on a heap list has another owner, class or list state", s, NULL);
                if (s->next != NULL && s->next->prev != s)
                    fail(c, "slab list links are broken", s, NULL);
            }
            if (n != l->count) {
                c->errors++;
                diag_print("hakmem heap check: heap %p class %u: %s list holds %u slabs, count "
                           "says %u\n",
                           (void *)h, k, full ? "full" : "partial", n, l->count);
            }
        }
        if (h->cache != NULL) {
            const struct cache_bin *b = &h->cache->bins[k];
            uint32_t n = 0;
            for (const void *p = b->head; p != NULL && n <= b->cap + 1; p = block_next(p))
                n++;
            if (b->cap != 0 && n != cache_bin_count(b)) {
                c->errors++;
                diag_print("hakmem heap check: heap %p class %u: bin holds %u blocks, its "
                           "count says %u\n",
                           (void *)h, k, n, cache_bin_count(b));
            }
        }
    }
}

HAK_EXPORT int hak_debug_check_heap(void)
{
    if (!hak_ensure_init())
        return 0;
    struct check *c = &state;
    c->errors = 0;
    heap_for_each(check_heap, c);
    slab_pool_for_each_segment(check_segment, c);
    return c->errors;
}
