/* init.h — lazy, thread-safe global initialization, and fork handlers.
 *
 * Owns: the one-time setup (options, size classes, the thread cache's exit key, the reclaim hooks,
 * atfork registration) and the ordering of every module's fork handlers. It is the top of the
 * allocator's modules: it calls each one's setup and fork handlers, so none of those calls it;
 * the entry points (api.c, stats.c, heap_check.c, hardened.c) initialize on their slow paths. Promises: hak_ensure_init() is safe to call from the
 * first malloc of a process, whoever makes it (the dynamic loader, dlsym, pthread_create), and the
 * steps before the "ready" point never allocate, so a recursive malloc cannot deadlock. Must
 * never: run anything on a fast path beyond one acquire load. */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"

extern long hk_init_state HAK_HIDDEN; /* 2 when ready (see init.c) */

HAK_HIDDEN bool hk_init_slow(void);

HAK_INLINE bool hak_ensure_init(void)
{
    if (HAK_LIKELY(__atomic_load_n(&hk_init_state, __ATOMIC_ACQUIRE) == 2))
        return true;
    return hk_init_slow();
}

#endif
