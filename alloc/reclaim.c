/* reclaim.c — out of address space: the caches give it back, and the mapping is tried again. */
#include "reclaim.h"

#include "diag.h"
#include "os_memory.h"

#define RECLAIM_HOOKS 4

/* Written by the initializing thread before the allocator is ready, read-only afterwards. */
static reclaim_hook hooks[RECLAIM_HOOKS];
static unsigned nhooks;

void hk_reclaim_register(reclaim_hook hook)
{
    HAK_ASSERT(nhooks < RECLAIM_HOOKS);
    for (unsigned k = 0; k < nhooks; k++)
        if (hooks[k] == hook)
            return; /* a fork child that starts over registers again */
    if (nhooks < RECLAIM_HOOKS)
        hooks[nhooks++] = hook;
}

size_t hk_reclaim_cached_address_space(void)
{
    size_t bytes = 0;
    for (unsigned k = 0; k < nhooks; k++)
        bytes += hooks[k]();
    return bytes;
}

void *hk_reclaim_map_aligned(size_t size, size_t align)
{
    void *p = hk_os_map_aligned(size, align);
    if (p == NULL && hk_reclaim_cached_address_space() > 0)
        p = hk_os_map_aligned(size, align);
    return p;
}
