/* slab_pool.h — the shared pool of empty slabs, one per slab geometry (64 KiB and 512 KiB).
 *
 * Owns: which slabs of which slab segments are empty and unowned, and when a slab segment goes back
 * to the segment cache. Any size class of the matching geometry may reuse a pooled slab.
 * Promises: a taken slab has owner SLAB_OWNER_FREE and an idle, empty remote queue; a segment is
 * released only when every one of its slabs is pooled. Must never: format a slab for a class (the
 * heap does) or be called with the pool lock of the other geometry held. */
#ifndef HAK_SLAB_POOL_H
#define HAK_SLAB_POOL_H

#include "slab.h"

/* An empty slab of the geometry `slab_shift` from the pool; NULL if it has none. */
HAK_HIDDEN struct slab *hk_slab_pool_take(unsigned slab_shift);
/* The same from a segment acquired for it (the pool had none); NULL on ENOMEM. */
HAK_HIDDEN struct slab *hk_slab_pool_grow(unsigned slab_shift);
/* Give back a slab with no live blocks (its remote queue quiet). */
HAK_HIDDEN void hk_slab_pool_put(struct slab *s);

/* Call fn on every slab segment (both geometries), with the pool locks held. */
HAK_HIDDEN void hk_slab_pool_for_each_segment(void (*fn)(struct slab_segment *, void *), void *arg);

/* The heap check's part (check.h): every segment's free mask, counts and pool membership agree
 * with its slabs' owners, pooled slabs are reset; adds the slab segments to *segments. */
struct check;
HAK_HIDDEN void hk_slab_pool_check(struct check *c, uint64_t *segments);

HAK_HIDDEN void hk_slab_pool_fork_prepare(void);
HAK_HIDDEN void hk_slab_pool_fork_parent(void);
HAK_HIDDEN void hk_slab_pool_fork_child(void);

#endif
