/* lock.h — the one lock type of the slow paths, and waits that only another thread can end.
 *
 * Owns: the mutex wrapper every module uses, so fork handling and sanitizers see one kind of lock,
 * and spin_wait(), the one way hakmem waits for another thread (a notifier to finish, another
 * thread's initialization). Promises: locks never allocate; hak_lock_reinit() makes a lock usable
 * in a fork child whatever state the parent left it in; in every build but release a wait that
 * lasts HAKMEM_WAIT_LIMIT_S seconds (default 10) — a lock never released, a notification never
 * finished — is reported (what was waited for, and where) and aborts, so a hang in the allocator
 * is a failure, not silence. Release waits as long as it takes (a thread stopped in a debugger is not a bug).
 * Must never: be taken on a malloc/free fast path. */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include <pthread.h>

#include "config.h"
#include "sched_hook.h"

typedef struct {
    pthread_mutex_t mutex;
} hak_lock_t;

#ifndef NDEBUG
#define HAK_WAIT_WATCHDOG 1
/* Slow paths of the watchdog: a lock that did not come free at once, a spin that went on. */
HAK_HIDDEN void hk_lock_wait(hak_lock_t *l);
struct spin_wait;
HAK_HIDDEN void hk_spin_wait_check(struct spin_wait *w, const char *what, const void *object);
#endif

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
#elif defined(HAK_WAIT_WATCHDOG)
HAK_INLINE void hak_lock(hak_lock_t *l)
{
    if (HAK_UNLIKELY(pthread_mutex_trylock(&l->mutex) != 0))
        hk_lock_wait(l);
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

/* A wait for another thread: spin_wait() once per round of the waiting loop, naming what is
 * awaited (for the watchdog's report). */
struct spin_wait {
    uint32_t spins;
    uint64_t since_ns; /* when the watchdog first looked (0: not yet) */
};
#define SPIN_WAIT_INIT                                                                             \
    {                                                                                              \
        0, 0                                                                                       \
    }

HAK_INLINE void spin_wait(struct spin_wait *w, const char *what, const void *object)
{
    cpu_relax();
#ifdef HAK_WAIT_WATCHDOG
    if (HAK_UNLIKELY(++w->spins % 65536 == 0))
        hk_spin_wait_check(w, what, object);
#else
    (void)w, (void)what, (void)object;
#endif
}

#endif
