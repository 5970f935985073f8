/* reclaim.h — the one out-of-memory policy of the tiers that map memory.
 *
 * Owns: what a tier does when the OS refuses it address space: every cache of mapped but unused
 * address space (the warm segment cache, the Large range cache) is given back, and the mapping is
 * tried once more. The caches register themselves at initialization, so a tier never calls
 * another's. Promises: a mapping fails only after the caches were emptied. Must never: be used on
 * a fast path, or register a hook that allocates or takes a tier lock its caller may hold. */
#ifndef HAK_RECLAIM_H
#define HAK_RECLAIM_H

#include "config.h"

/* Gives back a cache's address space; returns the bytes unmapped. */
typedef size_t (*reclaim_hook)(void);

/* At initialization, before any mapping: the caches to empty when the OS refuses a mapping. */
HAK_HIDDEN void hk_reclaim_register(reclaim_hook hook);
/* Empty every registered cache; returns the bytes given back to the OS. */
HAK_HIDDEN size_t hk_reclaim_cached_address_space(void);
/* hk_os_map_aligned(size, align), and once more after the caches gave their address space back. */
HAK_HIDDEN void *hk_reclaim_map_aligned(size_t size, size_t align);

#endif
