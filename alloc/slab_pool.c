/* slab_pool.c — empty slabs shared by all threads, grouped by segment.
 *
 * Segments with pooled slabs form a list; taking prefers the list head and the lowest slab index
 * so memory is reused densely and wholly-empty segments can be returned. */
#include "slab_pool.h"

#include "check.h"
#include "list.h"
#include "segment_map.h"

struct slab_pool {
    hak_lock_t lock;
    struct slab_segment *segments; /* with at least one pooled slab */
    unsigned empty_segments;       /* segments whose slabs are all pooled */
    struct slab_segment *all;      /* every segment of this geometry */
};

static struct slab_pool pools[2] = {{HAK_LOCK_INITIALIZER, NULL, 0, NULL},
                                    {HAK_LOCK_INITIALIZER, NULL, 0, NULL}};

static struct slab_pool *pool_for(unsigned slab_shift)
{
    return &pools[slab_shift == HAK_SMALL_SLAB_SHIFT ? 0 : 1];
}

static void pool_link(struct slab_pool *p, struct slab_segment *seg)
{
    LIST_PUSH(&p->segments, seg, pool_next, pool_prev);
}

static void pool_unlink(struct slab_pool *p, struct slab_segment *seg)
{
    LIST_REMOVE(&p->segments, seg, pool_next, pool_prev);
}

static struct slab *take_locked(struct slab_pool *p)
{
    struct slab_segment *seg = p->segments;
    if (seg == NULL)
        return NULL;
    unsigned i = (unsigned)__builtin_ctzll(seg->free_mask);
    if (seg->free_slabs == seg->nslabs)
        p->empty_segments--;
    seg->free_mask &= ~(1ull << i);
    if (--seg->free_slabs == 0)
        pool_unlink(p, seg);
    return &seg->slabs[i];
}

static struct slab_segment *new_slab_segment(unsigned slab_shift)
{
    struct slab_segment *seg = hk_segment_acquire(slab_shift - 6); /* the map kind */
    if (seg == NULL)
        return NULL;
    unsigned n = (unsigned)(HAK_SEGMENT_SIZE >> slab_shift);
    seg->slab_shift = (uint8_t)slab_shift;
    seg->nslabs = (uint8_t)n;
    seg->free_slabs = (uint8_t)n;
    seg->free_mask = n == 64 ? ~0ull : (1ull << n) - 1;
    seg->pool_next = seg->pool_prev = NULL;
    for (unsigned i = 0; i < n; i++) {
        struct slab *s = &seg->slabs[i];
        s->owner = SLAB_OWNER_FREE;
        s->free = NULL;
        s->carved = s->limit = 0;
        s->block_size = 0;
        __atomic_store_n(&s->magic, 0, __ATOMIC_RELAXED);     /* no former blocks (see misuse) */
        __atomic_store_n(&s->start_off, 0, __ATOMIC_RELAXED); /* a reused segment's is stale */
        s->used = s->free_count = 0;
        s->list = SLAB_LIST_NONE;
        s->notified = 0;
        s->next = s->prev = NULL;
        seg->remote[i].queue = 0;
        seg->remote[i].pending_next = NULL;
    }
    return seg;
}

struct slab *hk_slab_pool_take(unsigned slab_shift)
{
    struct slab_pool *p = pool_for(slab_shift);
    hak_lock(&p->lock);
    struct slab *s = take_locked(p);
    hak_unlock(&p->lock);
    return s;
}

struct slab *hk_slab_pool_grow(unsigned slab_shift)
{
    struct slab_pool *p = pool_for(slab_shift);
    struct slab_segment *seg = new_slab_segment(slab_shift);
    if (seg == NULL)
        return NULL;
    hak_lock(&p->lock);
    pool_link(p, seg);
    p->empty_segments++;
    LIST_PUSH(&p->all, seg, all_next, all_prev);
    struct slab *s = take_locked(p);
    hak_unlock(&p->lock);
    return s;
}

void hk_slab_pool_put(struct slab *s)
{
    struct slab_segment *seg = slab_segment_of(s);
    struct slab_pool *p = pool_for(seg->slab_shift);
    unsigned i = slab_index(s);
    SCHED_POINT(HAK_SCHED_OWNER, &slab_remote(s)->queue);
    slab_set_owner(s, SLAB_OWNER_FREE);
    s->list = SLAB_LIST_NONE;
    s->free = NULL;
    s->used = s->free_count = 0;
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
    s->limit = 0;
    struct slab_segment *release = NULL;
    hak_lock(&p->lock);
    if (seg->free_slabs++ == 0)
        pool_link(p, seg);
    seg->free_mask |= 1ull << i;
    if (seg->free_slabs == seg->nslabs) {
        /* Keep one wholly-empty segment per geometry to absorb alloc/free oscillation. */
        if (p->empty_segments >= 1) {
            pool_unlink(p, seg);
            LIST_REMOVE(&p->all, seg, all_next, all_prev);
            release = seg;
        } else {
            p->empty_segments++;
        }
    }
    hak_unlock(&p->lock);
    if (release != NULL)
        hk_segment_release(release);
}

void hk_slab_pool_for_each_segment(void (*fn)(struct slab_segment *, void *), void *arg)
{
    hak_lock(&pools[0].lock);
    hak_lock(&pools[1].lock);
    for (int k = 0; k < 2; k++)
        for (struct slab_segment *seg = pools[k].all; seg != NULL; seg = seg->all_next)
            fn(seg, arg);
    hak_unlock(&pools[1].lock);
    hak_unlock(&pools[0].lock);
}

/* One geometry's pool: every segment's free mask, count and pool membership agree with its
 * slabs' owners, and pooled slabs are reset (nothing carved, remote queue idle and empty). */
static void check_pool(struct check *c, struct slab_pool *p, unsigned slab_shift,
                       uint64_t *segments)
{
    unsigned with_free = 0, empty = 0, listed = 0, n = 0;
    for (struct slab_segment *seg = p->segments, *prev = NULL; seg != NULL;
         prev = seg, seg = seg->pool_next) {
        if (seg->pool_prev != prev)
            hk_check_fail(c, "slab pool: broken back link at segment %p", (void *)seg);
        if (seg->free_slabs == 0)
            hk_check_fail(c, "slab pool: segment %p is listed with no free slab", (void *)seg);
        if (++listed > 1u << 20)
            break;
    }
    for (struct slab_segment *seg = p->all, *prev = NULL; seg != NULL;
         prev = seg, seg = seg->all_next) {
        if (seg->all_prev != prev)
            hk_check_fail(c, "slab segments: broken back link at segment %p", (void *)seg);
        n++;
        unsigned nslabs = (unsigned)(HAK_SEGMENT_SIZE >> slab_shift);
        if (seg->slab_shift != slab_shift || seg->nslabs != nslabs) {
            hk_check_fail(c, "slab segment %p has slab shift %u and %u slabs in the %u-bit pool",
                          (void *)seg, seg->slab_shift, seg->nslabs, slab_shift);
            continue;
        }
        if (segment_map_kind((uintptr_t)seg) != slab_shift - 6u)
            hk_check_fail(c, "slab segment %p: ownership map says kind %u, expected %u",
                          (void *)seg, segment_map_kind((uintptr_t)seg), slab_shift - 6u);
        unsigned pooled = 0;
        for (unsigned i = 0; i < 64; i++) {
            int bit = (int)((seg->free_mask >> i) & 1);
            if (i >= nslabs) {
                if (bit)
                    hk_check_fail(c, "slab segment %p: free mask has bit %u past its %u slabs",
                                  (void *)seg, i, nslabs);
                continue;
            }
            struct slab *s = &seg->slabs[i];
            int is_free = slab_owner(s) == SLAB_OWNER_FREE;
            if (bit != is_free)
                hk_check_fail(c, "slab %p: %s the pool's free mask but its owner is %#lx",
                              (void *)s, bit ? "in" : "not in", (unsigned long)slab_owner(s));
            if (!is_free)
                continue;
            pooled++;
            if (s->used != 0 || s->free != NULL || s->free_count != 0 || slab_carved(s) != 0)
                hk_check_fail(c,
                              "pooled slab %p was not reset (used %u, %u on its free list, %u "
                              "bytes carved)",
                              (void *)s, s->used, s->free_count, slab_carved(s));
            if (__atomic_load_n(&seg->remote[i].queue, __ATOMIC_ACQUIRE) != 0)
                hk_check_fail(
                    c,
                    "pooled slab %p has a remote queue word %#lx (blocks or notification "
                    "bits left behind)",
                    (void *)s,
                    (unsigned long)__atomic_load_n(&seg->remote[i].queue, __ATOMIC_ACQUIRE));
        }
        if (pooled != seg->free_slabs)
            hk_check_fail(c, "slab segment %p: %u slabs are pooled, its count says %u", (void *)seg,
                          pooled, seg->free_slabs);
        with_free += seg->free_slabs > 0;
        empty += seg->free_slabs == nslabs;
        if (n > 1u << 20)
            break;
    }
    if (listed != with_free)
        hk_check_fail(c, "slab pool (%u-bit slabs): %u segments listed, %u have free slabs",
                      slab_shift, listed, with_free);
    if (empty != p->empty_segments)
        hk_check_fail(c, "slab pool (%u-bit slabs): %u wholly empty segments, its count says %u",
                      slab_shift, empty, p->empty_segments);
    if (empty > 1)
        hk_check_fail(c, "slab pool (%u-bit slabs): %u wholly empty segments kept (at most one is)",
                      slab_shift, empty);
    *segments += n;
}

void hk_slab_pool_check(struct check *c, uint64_t *segments)
{
    hak_lock(&pools[0].lock);
    hak_lock(&pools[1].lock);
    check_pool(c, &pools[0], HAK_SMALL_SLAB_SHIFT, segments);
    check_pool(c, &pools[1], HAK_MEDIUM_SLAB_SHIFT, segments);
    hak_unlock(&pools[1].lock);
    hak_unlock(&pools[0].lock);
}

void hk_slab_pool_fork_prepare(void)
{
    hak_lock(&pools[0].lock);
    hak_lock(&pools[1].lock);
}

void hk_slab_pool_fork_parent(void)
{
    hak_unlock(&pools[1].lock);
    hak_unlock(&pools[0].lock);
}

void hk_slab_pool_fork_child(void)
{
    hak_lock_reinit(&pools[0].lock);
    hak_lock_reinit(&pools[1].lock);
}
