/* remote_queue.h — the lock-free multi-producer / single-consumer queue of blocks freed by threads
 * that do not own the block's slab.
 *
 * Owns: one atomic word per slab: the head of an intrusive stack of freed blocks (the first word
 * of each block links to the next), two notification bits, and in the top 16 bits the number of
 * blocks on the stack. Promises:
 *  - any thread may push; only the slab's owner takes, and a take removes the whole chain with one
 *    atomic read-modify-write, so a taken block is no longer reachable from the queue (the
 *    block-in-exactly-one-place invariant), and says how many blocks it took without walking
 *    them (the blocks were just written by other cores: every step of a walk is a miss);
 *  - ARMED is set by the owner on a slab it parked as full; the first push that sees it turns it
 *    into NOTIFYING and must tell the owner (push returns true), then clear NOTIFYING. While
 *    NOTIFYING is set the owner may not abandon the slab, which keeps the owner's heap alive for
 *    the notifier.
 * Must never: take a lock, or let a consumer read a block's link before acquiring the chain. */
#ifndef HAK_REMOTE_QUEUE_H
#define HAK_REMOTE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "lock.h"
#include "sched_hook.h"
#include "track.h"

#define REMOTE_ARMED ((uintptr_t)1)
#define REMOTE_NOTIFYING ((uintptr_t)2)
#define REMOTE_BITS ((uintptr_t)3)
/* User-space addresses have 47 bits on Linux (48 with 5-level paging only above a hint that
 * hakmem never gives), so the top 16 bits count the chain; a slab holds fewer blocks than that. */
#define REMOTE_COUNT_SHIFT 48
#define REMOTE_COUNT_ONE ((uintptr_t)1 << REMOTE_COUNT_SHIFT)
#define REMOTE_CHAIN_MASK ((REMOTE_COUNT_ONE - 1) & ~REMOTE_BITS)

/* The chain a queue word points to, and the number of blocks it says the chain has. */
HAK_INLINE void *remote_queue_chain(uintptr_t word) { return (void *)(word & REMOTE_CHAIN_MASK); }
HAK_INLINE uint32_t remote_queue_count(uintptr_t word)
{
    return (uint32_t)(word >> REMOTE_COUNT_SHIFT);
}

/* The count bits of a queue word that had n more blocks pushed onto it. */
HAK_INLINE uintptr_t remote_queue_count_plus(uintptr_t word, uint32_t n)
{
    return (word & ~(REMOTE_COUNT_ONE - 1)) + (uintptr_t)n * REMOTE_COUNT_ONE;
}

typedef uintptr_t remote_queue_t;

/* Push a chain of n freed blocks, head ... tail (linked through their first words, tail's link
 * is overwritten). True when the caller consumed the arm and must notify the owner. */
HAK_INLINE bool remote_queue_push_chain(remote_queue_t *q, void *head, void *tail, uint32_t n)
{
    SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
    uintptr_t old = __atomic_load_n(q, __ATOMIC_RELAXED);
    uintptr_t next;
    do {
        SCHED_POINT(HAK_SCHED_PUSH, q);
        block_set_next(tail, remote_queue_chain(old));
        next = (uintptr_t)head | (old & REMOTE_NOTIFYING) | remote_queue_count_plus(old, n);
        if (old & REMOTE_ARMED)
            next |= REMOTE_NOTIFYING;
        /* Acquire as well: a pusher that consumes the arm reads the owner's heap next, which
         * the owner published before arming. */
    } while (!__atomic_compare_exchange_n(q, &old, next, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return (old & REMOTE_ARMED) != 0;
}

/* Push one freed block. */
HAK_INLINE bool remote_queue_push(remote_queue_t *q, void *block)
{
    return remote_queue_push_chain(q, block, block, 1);
}

#ifdef HAK_RACY_REMOTE_PUSH_FOR_TEST
/* A deliberately broken push (plain load and store, no compare-and-swap), compiled only into the
 * test that shows ThreadSanitizer reports it. Never used by the allocator. */
HAK_INLINE void remote_queue_push_racy(remote_queue_t *q, void *block)
{
    uintptr_t old = *(volatile remote_queue_t *)q;
    block_set_next(block, remote_queue_chain(old));
    *(volatile remote_queue_t *)q =
        (uintptr_t)block | (old & REMOTE_BITS) | remote_queue_count_plus(old, 1);
}
#endif

HAK_INLINE void remote_queue_notify_done(remote_queue_t *q)
{
    SCHED_POINT(HAK_SCHED_NOTIFY_DONE, q);
    __atomic_fetch_and(q, ~REMOTE_NOTIFYING, __ATOMIC_RELEASE);
}

HAK_INLINE bool remote_queue_nonempty(const remote_queue_t *q)
{
    SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
    return remote_queue_chain(__atomic_load_n(q, __ATOMIC_RELAXED)) != NULL;
}

/* Owner only: detach the whole chain (NULL if empty), keeping the notification bits; *count is
 * the number of blocks on it. */
HAK_INLINE void *remote_queue_take(remote_queue_t *q, uint32_t *count)
{
    SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
    uintptr_t old = __atomic_load_n(q, __ATOMIC_RELAXED);
    do {
        if (remote_queue_chain(old) == NULL) {
            *count = 0;
            return NULL;
        }
        SCHED_POINT(HAK_SCHED_TAKE, q);
    } while (!__atomic_compare_exchange_n(q, &old, old & REMOTE_BITS, 1, __ATOMIC_ACQUIRE,
                                          __ATOMIC_RELAXED));
    *count = remote_queue_count(old);
    return remote_queue_chain(old);
}

/* Owner only: ask to be notified of the next push. Fails (false) if the queue is not idle and
 * empty; the caller then drains and reconsiders. */
HAK_INLINE bool remote_queue_arm(remote_queue_t *q)
{
    uintptr_t idle = 0;
    SCHED_POINT(HAK_SCHED_ARM, q);
    return __atomic_compare_exchange_n(q, &idle, REMOTE_ARMED, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

/* Owner only, on an armed queue: withdraw the arm. True if it was still pending; false if a
 * pusher consumed it (the notification has been delivered once this returns). */
HAK_INLINE bool remote_queue_disarm(remote_queue_t *q)
{
    SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
    uintptr_t old = __atomic_load_n(q, __ATOMIC_ACQUIRE);
    struct spin_wait w = SPIN_WAIT_INIT;
    for (;;) {
        if (old & REMOTE_ARMED) {
            SCHED_POINT(HAK_SCHED_DISARM, q);
            if (__atomic_compare_exchange_n(q, &old, old & ~REMOTE_ARMED, 1, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
                return true;
            continue;
        }
        if (!(old & REMOTE_NOTIFYING))
            return false;
        spin_wait(&w, "a remote free to finish notifying a full slab's owner", q);
        SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
        old = __atomic_load_n(q, __ATOMIC_ACQUIRE);
    }
}

/* Wait until no notifier is between its push and its notify_done. */
HAK_INLINE void remote_queue_wait_quiet(const remote_queue_t *q)
{
    struct spin_wait w = SPIN_WAIT_INIT;
    for (;;) {
        SCHED_POINT(HAK_SCHED_QUEUE_LOAD, q);
        if (!(__atomic_load_n(q, __ATOMIC_ACQUIRE) & REMOTE_NOTIFYING))
            return;
        spin_wait(&w, "a remote free to finish notifying a slab's owner", q);
    }
}

#endif
