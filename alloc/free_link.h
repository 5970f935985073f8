/* free_link.h — the hardened build's encoded free-list links.
 *
 * Owns: how the first word of a free slab block names the next block in the hardened build: XOR'd
 * with a per-process random key and the word's own address, so that an overflow from a neighbour
 * or a forged block cannot plant a pointer the allocator will follow. Promises: a decoded link is
 * NULL or a 16-byte aligned address in slab memory; anything else is reported on one line and the
 * process aborts under every policy (the list is corrupt, and nothing after the link can be
 * trusted). Must never: be used outside HAK_HARDENED (elsewhere links are plain pointers, as the
 * memory tools' views of free blocks expect). */
#ifndef HAK_FREE_LINK_H
#define HAK_FREE_LINK_H

#include "segment_map.h"

extern uint64_t hk_link_key HAK_HIDDEN;

HAK_HIDDEN void hk_free_link_init(void);
HAK_HIDDEN _Noreturn void hk_free_link_corrupt(const void *block, uintptr_t stored);

HAK_INLINE uintptr_t free_link_encode(const void *block, const void *next)
{
    return (uintptr_t)next ^ hk_link_key ^ (uintptr_t)block;
}

HAK_INLINE void *free_link_decode(const void *block, uintptr_t stored)
{
    uintptr_t next = stored ^ hk_link_key ^ (uintptr_t)block;
    if (next != 0 && HAK_UNLIKELY((next & 15) != 0 || segment_map_kind(next) < HAK_MAP_SLAB_MIN))
        hk_free_link_corrupt(block, stored);
    return (void *)next;
}

#endif
