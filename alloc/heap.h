/* heap.h — a thread's heap: the slabs it owns, per size class, and the remote-free protocol.
 *
 * Owns: per-class lists of owned slabs (partial: has free blocks; full: parked, armed for
 * notification), the pending stack of full slabs that received remote frees, refill and return of
 * block chains, remote frees, thread attach/exit (orphaning) and fork handling, and the heap
 * registry with the published counters. Promises: the owner drains a slab's remote queue before it
 * takes blocks from that slab; a slab is released or orphaned only when no notifier can still
 * reach its heap. Must never: be touched by a thread other than its owner, except through the
 * remote-free protocol (remote_batch.c pushes to a slab's queue and the heap's pending stack) and
 * the registry's published counters; call into the thread cache (thread_cache.c, the front, calls
 * the heap) or initialize the allocator (its callers have). */
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include "hakmem.h"
#include "lock.h"
#include "size_class.h"
#include "slab.h"

struct thread_cache;

struct slab_list {
    struct slab *head;
    uint32_t count;
};

/* Counters are written by the owner only and read by hak_stats() with relaxed loads. */
struct heap_class_counters {
    uint64_t allocs;   /* published copy of the bin's allocs (direct for a cacheless heap) */
    uint64_t cached;   /* published copy of the bin's count */
    uint64_t refilled; /* blocks moved slab -> bin */
    uint64_t flushed;  /* blocks moved bin -> slab */
    uint64_t refills, flushes, remote_frees, drains, drained;
};

struct heap {
    uintptr_t id; /* == (uintptr_t)this; compared with slab owners on the free fast path */
    struct thread_cache *cache; /* NULL for the shared exit heap */
    hak_lock_t lock;            /* the owner holds it in slow paths; fork holds every heap's */
    struct slab *pending; /* atomic: stack of notified slabs, linked by slab_remote.pending_next */
    uint32_t notified_count;
    uint32_t arena; /* page-run arena this thread uses */
    int32_t tid;    /* the owning thread's kernel id (0: the exit heap), for the heap check */
    struct heap *reg_next, *reg_prev;
    struct slab_list partial[HAK_CLASS_COUNT];
    struct slab_list full[HAK_CLASS_COUNT];
    struct heap_class_counters counters[HAK_CLASS_COUNT];
};

/* The heap of threads past their exit teardown (late frees/allocations from other destructors). */
extern struct heap hk_exit_heap HAK_HIDDEN;

/* A heap for the calling thread, whose cache is tc, registered; NULL with ENOMEM. */
HAK_HIDDEN struct heap *hk_heap_attach(struct thread_cache *tc);
/* At initialization: the thread-exit key, whose destructor retires a thread's heap. */
HAK_HIDDEN void hk_heap_init(void);
/* After the calling thread's cache took heap h: arm the exit key (which may allocate). */
HAK_HIDDEN void hk_heap_register_exit(struct heap *h);

/* Under h->lock: blocks of class cls as a chain (*count of them; see hk_slab_take for want and
 * up_to); NULL on ENOMEM. */
HAK_HIDDEN void *hk_heap_alloc_chain(struct heap *h, unsigned cls, uint32_t want, uint32_t up_to,
                                     uint32_t *count);
/* Under h->lock: return a chain of blocks of h's slabs; returns how many. */
HAK_HIDDEN uint32_t hk_heap_return_chain(struct heap *h, void *chain);
/* Allocate one block of class cls from the shared exit heap. */
HAK_HIDDEN void *hk_heap_exit_alloc(unsigned cls);
/* Owner only, its cache flushed: every empty slab of h goes back to the pool, the last partial
 * slab of its class too (which the refill path keeps). */
HAK_HIDDEN void hk_heap_collect(struct heap *h);

HAK_INLINE void heap_lock(struct heap *h) { hak_lock(&h->lock); }
HAK_INLINE void heap_unlock(struct heap *h) { hak_unlock(&h->lock); }

HAK_INLINE void counter_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* Call fn on every heap (the exit heap included) with the registry lock held. */
HAK_HIDDEN void hk_heap_for_each(void (*fn)(struct heap *, void *), void *arg);

/* The heaps' statistics into out: per class over all heaps, live and exited (cls[]), and the
 * threads started and exited. */
HAK_HIDDEN void hk_heap_stats(struct hak_stats *out);
/* Counters of exited threads (and frees by threads past their teardown) per class, added to
 * refilled[], flushed[] and remote[]: the heap check's share of heaps no longer registered. */
HAK_HIDDEN void hk_heap_exited_totals(uint64_t *refilled, uint64_t *flushed, uint64_t *remote);

HAK_HIDDEN void hk_heap_fork_prepare(void);
HAK_HIDDEN void hk_heap_fork_parent(void);
HAK_HIDDEN void hk_heap_fork_child(void);

#endif
