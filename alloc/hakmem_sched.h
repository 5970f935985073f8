/* hakmem_sched.h — the scheduling hook of the `sched` build, for deterministic schedulers.
 *
 * Owns: the names of the scheduling points and the one call that installs a hook. Promises: in
 * the sched build, every synchronization step of hakmem's cross-thread protocol first calls the
 * installed hook with the point and the object it is about to touch (a heap's pending stack, a
 * lock, or for every step on one slab — its queue, its arm, its owner, the notification of its
 * owner — that slab's remote queue, so that a scheduler sees which steps race on one slab); the
 * hook may run other threads before it returns. With no hook
 * installed the points cost one load. Must never: be used outside the sched build, where
 * hak_sched_set_hook does not exist. */
#ifndef HAKMEM_SCHED_H
#define HAKMEM_SCHED_H

#ifdef __cplusplus
extern "C" {
#endif

enum hak_sched_point {
    HAK_SCHED_PUSH,         /* a remote free's compare-and-swap on a slab's queue */
    HAK_SCHED_TAKE,         /* the owner detaching a queue's chain */
    HAK_SCHED_QUEUE_LOAD,   /* a load of a queue word that decides what happens next */
    HAK_SCHED_ARM,          /* the owner arming a full slab's queue */
    HAK_SCHED_DISARM,       /* the owner withdrawing the arm */
    HAK_SCHED_NOTIFY,       /* a notifier reading the owner and pushing onto its pending stack */
    HAK_SCHED_NOTIFY_DONE,  /* a notifier clearing NOTIFYING */
    HAK_SCHED_PENDING_TAKE, /* the owner taking its pending stack */
    HAK_SCHED_OWNER,        /* a slab's owner changing (adoption, orphaning, pooling) */
    HAK_SCHED_LOCK,         /* acquiring an allocator lock */
    HAK_SCHED_SPIN,         /* a wait that cannot make progress until another thread runs */
    HAK_SCHED_THREAD_EXIT,  /* a thread's heap teardown begins */
    HAK_SCHED_POINTS
};

/* Install (or, with NULL, remove) the hook. */
void hak_sched_set_hook(void (*hook)(unsigned point, const void *object));

#ifdef __cplusplus
}
#endif
#endif
