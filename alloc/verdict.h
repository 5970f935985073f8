/* verdict.h — why a pointer handed to free or realloc is not a live block, and where it lies.
 *
 * Owns: the classification of hakmem addresses that are no live block (double free, interior
 * pointer, never allocated) in every tier, including segments gone idle and slabs back in the
 * pool, and the site (tier, class, block size) a diagnostic names. Promises: reads only, from any
 * thread; a verdict is exact for the calling thread's own slabs and, for others, right as far as
 * cheap checks can tell (a race decides only which misuse is reported). Must never: change
 * allocator state, or decide what happens next (the free and realloc paths and the misuse policy
 * do). */
#ifndef HAK_VERDICT_H
#define HAK_VERDICT_H

#include "free_mark.h"
#include "misuse.h"
#include "slab.h"

HAK_HIDDEN extern const struct misuse_site hk_verdict_page_run_site;
HAK_HIDDEN extern const struct misuse_site hk_verdict_large_site;
HAK_HIDDEN extern const struct misuse_site hk_verdict_idle_site;

HAK_INLINE struct misuse_site verdict_slab_site(const struct slab *s)
{
    return (struct misuse_site){s->block_size <= HAK_TINY_MAX ? "Tiny" : "Mid", s->cls,
                                s->block_size};
}

/* A slab back in the pool keeps its last geometry and its blocks' free marks until it is formatted
 * again: a block start there that still carries the mark was freed twice. */
HAK_HIDDEN int hk_verdict_pooled_slab(const struct slab *s, const void *p);

/* Why a pointer into slab s is not a freeable block: -1 if it is one (live, as far as cheap
 * checks can tell), else its enum misuse_kind. Valid from any thread. */
HAK_INLINE int verdict_slab(const struct slab *s, const void *p)
{
    if (slab_owner(s) == SLAB_OWNER_FREE)
        return hk_verdict_pooled_slab(s, p);
    if (!slab_is_block_start(s, (uintptr_t)p)) {
        uint32_t off = (uint32_t)((uintptr_t)p & HAK_SEGMENT_MASK) - s->start_off;
        return off < slab_carved(s) ? MISUSE_INTERIOR : MISUSE_NOT_ALLOCATED;
    }
    return block_is_marked_free(p) ? MISUSE_DOUBLE_FREE : -1;
}

/* A pointer into a segment that went idle: what its former tier's stale tables say it was. */
HAK_HIDDEN int hk_verdict_idle(const void *p);

#ifdef HAK_HARDENED
/* The live block containing p (any tier) and its usable bytes, or NULL; p may be a hardened user
 * pointer (16 bytes or a power of two past a block start). */
HAK_HIDDEN void *hk_verdict_block_of(const void *p, size_t *usable);
/* The tier, class and block size of the live block starting at b, for diagnostics. */
HAK_HIDDEN struct misuse_site hk_verdict_site(const void *b);
#endif

#endif
