/* orphan_pool.h — slabs whose owner thread exited while some of their blocks were still live.
 *
 * Owns: per-class lists of orphaned slabs (owner SLAB_OWNER_ORPHAN), held exclusively while listed.
 * Remote frees keep landing in an orphan's remote queue; the next thread that needs the class
 * adopts it (and drains it first), and before hakmem maps a new segment it reclaims orphans whose
 * blocks have all come back. Promises: an orphan is adopted by at most one thread; nothing freed to
 * an orphan is lost. Must never: hold the pool lock while taking a heap lock. */
#ifndef HAK_ORPHAN_POOL_H
#define HAK_ORPHAN_POOL_H

#include "slab.h"

HAK_HIDDEN void hk_orphan_pool_put(struct slab *s);
/* An orphan of class cls, removed from the pool, or NULL. The caller becomes its owner. */
HAK_HIDDEN struct slab *hk_orphan_pool_take(unsigned cls);
/* Drain every orphan and take the ones with no live block out of the pool: returned linked
 * through their next fields (NULL if none), for the caller to give back to the slab pool. */
HAK_HIDDEN struct slab *hk_orphan_pool_reclaim(void);

/* The orphans' statistics (slabs_orphaned, slabs_adopted, slabs_reclaimed) into out. */
struct hak_stats;
HAK_HIDDEN void hk_orphan_pool_stats(struct hak_stats *out);

/* The heap check: fn on every listed orphan (pool lock held), and the pool's own invariants
 * (list links, counts, every listed slab an orphan of its list's class). */
struct check;
HAK_HIDDEN void hk_orphan_pool_check(struct check *c, void (*fn)(struct slab *, void *), void *arg);

HAK_HIDDEN void hk_orphan_pool_fork_prepare(void);
HAK_HIDDEN void hk_orphan_pool_fork_parent(void);
HAK_HIDDEN void hk_orphan_pool_fork_child(void);

#endif
