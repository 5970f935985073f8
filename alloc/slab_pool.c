/* slab_pool.c — empty slabs shared by all threads, grouped by segment.
 *
 * Segments with pooled slabs form a list; taking prefers the list head and the lowest slab index
 * so memory is reused densely and wholly-empty segments can be returned. */
#include "slab_pool.h"

#include "orphan_pool.h"
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
    seg->pool_prev = NULL;
    seg->pool_next = p->segments;
    if (p->segments)
        p->segments->pool_prev = seg;
    p->segments = seg;
}

static void pool_unlink(struct slab_pool *p, struct slab_segment *seg)
{
    if (seg->pool_prev)
        seg->pool_prev->pool_next = seg->pool_next;
    else
        p->segments = seg->pool_next;
    if (seg->pool_next)
        seg->pool_next->pool_prev = seg->pool_prev;
    seg->pool_next = seg->pool_prev = NULL;
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
    struct slab_segment *seg = segment_acquire(slab_shift - 6); /* the map kind */
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
        s->used = s->free_count = 0;
        s->list = SLAB_LIST_NONE;
        s->notified = 0;
        s->next = s->prev = NULL;
        seg->remote[i].queue = 0;
        seg->remote[i].pending_next = NULL;
    }
    return seg;
}

struct slab *slab_pool_take(unsigned slab_shift)
{
    struct slab_pool *p = pool_for(slab_shift);
    hak_lock(&p->lock);
    struct slab *s = take_locked(p);
    hak_unlock(&p->lock);
    if (s != NULL)
        return s;
    /* Before growing, turn orphaned slabs whose blocks have all been freed back into pool slabs. */
    if (orphan_pool_reclaim() > 0) {
        hak_lock(&p->lock);
        s = take_locked(p);
        hak_unlock(&p->lock);
        if (s != NULL)
            return s;
    }
    struct slab_segment *seg = new_slab_segment(slab_shift);
    if (seg == NULL)
        return NULL;
    hak_lock(&p->lock);
    pool_link(p, seg);
    p->empty_segments++;
    seg->all_prev = NULL;
    seg->all_next = p->all;
    if (p->all)
        p->all->all_prev = seg;
    p->all = seg;
    s = take_locked(p);
    hak_unlock(&p->lock);
    return s;
}

void slab_pool_put(struct slab *s)
{
    struct slab_segment *seg = slab_segment_of(s);
    struct slab_pool *p = pool_for(seg->slab_shift);
    unsigned i = slab_index(s);
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
            if (seg->all_prev)
                seg->all_prev->all_next = seg->all_next;
            else
                p->all = seg->all_next;
            if (seg->all_next)
                seg->all_next->all_prev = seg->all_prev;
            release = seg;
        } else {
            p->empty_segments++;
        }
    }
    hak_unlock(&p->lock);
    if (release != NULL)
        segment_release(release);
}

void slab_pool_for_each_segment(void (*fn)(struct slab_segment *, void *), void *arg)
{
    hak_lock(&pools[0].lock);
    hak_lock(&pools[1].lock);
    for (int k = 0; k < 2; k++)
        for (struct slab_segment *seg = pools[k].all; seg != NULL; seg = seg->all_next)
            fn(seg, arg);
    hak_unlock(&pools[1].lock);
    hak_unlock(&pools[0].lock);
}

void slab_pool_fork_prepare(void)
{
    hak_lock(&pools[0].lock);
    hak_lock(&pools[1].lock);
}

void slab_pool_fork_parent(void)
{
    hak_unlock(&pools[1].lock);
    hak_unlock(&pools[0].lock);
}

void slab_pool_fork_child(void)
{
    hak_lock_reinit(&pools[0].lock);
    hak_lock_reinit(&pools[1].lock);
}
