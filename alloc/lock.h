/* lock.h — the one lock type of the slow paths, and the CPU pause used while spinning.
 *
 * Owns: the mutex wrapper every module uses, so fork handling and sanitizers see one kind of lock.
 * Promises: locks never allocate; hak_lock_reinit() makes a lock usable in a fork child whatever
 * state the parent left it in. Must never: be taken on a malloc/free fast path. */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include <pthread.h>

#include "config.h"
#include "sched_hook.h"

typedef struct {
    pthread_mutex_t mutex;
} hak_lock_t;

#define HAK_LOCK_INITIALIZER                                                                       \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER                                                                  \
    }

#ifdef HAK_SCHED
/* Under a deterministic scheduler only one thread runs: a lock held by another must be waited
 * for at a spin point, where the scheduler can run its holder. */
HAK_INLINE void hak_lock(hak_lock_t *l)
{
    SCHED_POINT(HAK_SCHED_LOCK, l);
    while (pthread_mutex_trylock(&l->mutex) != 0)
        SCHED_POINT(HAK_SCHED_SPIN, l);
}
#else
HAK_INLINE void hak_lock(hak_lock_t *l) { pthread_mutex_lock(&l->mutex); }
#endif
HAK_INLINE void hak_unlock(hak_lock_t *l) { pthread_mutex_unlock(&l->mutex); }
HAK_INLINE void hak_lock_reinit(hak_lock_t *l) { pthread_mutex_init(&l->mutex, NULL); }

/* One step of a spin wait: in the sched build, where the awaited thread runs. */
HAK_INLINE void cpu_relax(void)
{
    SCHED_POINT(HAK_SCHED_SPIN, NULL);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
