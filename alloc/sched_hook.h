/* sched_hook.h — the scheduling points of the cross-thread protocol.
 *
 * Owns: SCHED_POINT(point, object), placed before every synchronization step another thread can
 * race with (hakmem_sched.h lists them). Promises: in every build but `sched` it compiles to
 * nothing; in the sched build it calls the installed hook, which may run other threads first, so
 * a deterministic scheduler can choose how the threads' steps interleave. Must never: sit where
 * the calling thread could wait on something other than a hakmem lock or a spin point (the
 * scheduler only knows to run another thread there). */
#ifndef HAK_SCHED_HOOK_H
#define HAK_SCHED_HOOK_H

#include "config.h"

#ifdef HAK_SCHED
#include "hakmem_sched.h"

extern void (*hk_sched_hook)(unsigned point, const void *object) HAK_HIDDEN;

#define SCHED_POINT(point, object)                                                                 \
    do {                                                                                           \
        void (*sched_hook_)(unsigned, const void *) =                                              \
            __atomic_load_n(&hk_sched_hook, __ATOMIC_ACQUIRE);                                     \
        if (sched_hook_ != NULL)                                                                   \
            sched_hook_((point), (object));                                                        \
    } while (0)
#else
#define SCHED_POINT(point, object) ((void)0)
#endif

#endif
