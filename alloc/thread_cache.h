/* thread_cache.h — the per-thread front: one bin (a LIFO list with a capacity) per size class.
 *
 * Owns: the thread-local bins and the refill / overflow / flush operations between a bin and the
 * thread's heap. Promises: a bin only ever holds blocks of slabs owned by this thread; a bin
 * never holds more than its cap after a free returns; pop and push are a handful of instructions
 * with no atomic operation, lock or system call. Must never: touch another thread's bins (fork's
 * child handler is the one exception: the other threads no longer exist there). */
#ifndef HAK_THREAD_CACHE_H
#define HAK_THREAD_CACHE_H

#include "config.h"
#include "free_mark.h"
#include "heap.h"
#include "remote_batch.h"
#include "remote_queue.h"
#include "size_class.h"

struct cache_bin {
    void *head;
    int32_t room;    /* cap - blocks held: a push that takes it below 0 overflows the bin */
    uint32_t cap;    /* 0 until the thread's heap exists */
    uint64_t allocs; /* blocks handed out from this bin (published to the heap on slow paths) */
};

HAK_INLINE uint32_t cache_bin_count(const struct cache_bin *b)
{
    return b->cap - (uint32_t)b->room;
}

struct thread_cache {
    struct cache_bin bins[HAK_CLASS_COUNT];
    /* Only while the thread has a heap (its exit flushes them); bit k of batched: batch k holds
     * blocks. */
    struct remote_batch batch[HAK_CLASS_COUNT];
    uint64_t batched;
    uintptr_t id; /* this thread's heap id; 0 (never a slab owner) until it has a heap */
    struct heap *heap;
    uint8_t exiting; /* the heap was torn down at thread exit; use the shared exit heap */
};

extern HAK_TLS struct thread_cache hk_thread_cache HAK_HIDDEN;

/* A class's bin as a byte offset in struct thread_cache. The fast paths address bins this way
 * (malloc through the tables below, free through the slab's bin_off): one load and an add, where
 * a class number would need scaling by the bin size first. */
HAK_INLINE size_t cache_bin_offset(unsigned cls)
{
    return __builtin_offsetof(struct thread_cache, bins) + cls * sizeof(struct cache_bin);
}

_Static_assert(HAK_CLASS_COUNT >= 1 && HAK_CLASS_COUNT <= 64,
               "a class's batch is one bit of batched");
_Static_assert(sizeof(((struct thread_cache *)0)->bins) <= UINT16_MAX,
               "bin offsets fit the uint16_t tables and slab bin_off");

/* hk_class_tiny_table and hk_class_mid_table with each class replaced by its bin's offset; 0
 * (class 0's bin, whose cap is 0 until the thread has a heap) until the first thread's first
 * refill fills them. */
extern uint16_t hk_bin_tiny_table[HAK_TINY_TABLE_LEN] HAK_HIDDEN;
extern uint16_t hk_bin_mid_table[HAK_MID_TABLE_LEN] HAK_HIDDEN;
/* Slow paths (a thread's first refill initializes the allocator and gives the thread a heap). */
HAK_HIDDEN void *hk_cache_refill(size_t size); /* the bin of size's class was empty */
/* The same for the class of `class_size`, handing out a block of `requested` bytes. */
HAK_HIDDEN void *hk_cache_refill_as(size_t class_size, size_t requested);
HAK_HIDDEN void hk_cache_overflow(unsigned cls); /* the bin of cls went over its cap */
HAK_HIDDEN void hk_cache_flush_all(struct thread_cache *tc);

/* The calling thread's cache in the %fs address space: its offset from the thread pointer is a
 * link-time constant of the initial-exec TLS model, read from the GOT exactly as the compiler
 * would, but every access then addresses %fs directly instead of first materializing the thread
 * pointer (two instructions fewer on each fast path). */
#if defined(HAK_TRACK_MSAN)
/* MemorySanitizer would compute the shadow of the %fs offset, not of the thread's memory: plain
 * TLS there. */
typedef struct thread_cache fs_thread_cache;
typedef struct remote_batch fs_remote_batch;
typedef struct cache_bin fs_cache_bin;
typedef char fs_byte;
HAK_INLINE fs_thread_cache *my_cache(void) { return &hk_thread_cache; }
#else
#if defined(__clang__)
#define HAK_FS_SPACE __attribute__((address_space(257)))
#else
#define HAK_FS_SPACE __seg_fs
#endif
typedef struct thread_cache HAK_FS_SPACE fs_thread_cache;
typedef struct remote_batch HAK_FS_SPACE fs_remote_batch;
typedef struct cache_bin HAK_FS_SPACE fs_cache_bin;
typedef char HAK_FS_SPACE fs_byte;

HAK_INLINE fs_thread_cache *my_cache(void)
{
    uintptr_t off;
    __asm__("movq hk_thread_cache@gottpoff(%%rip), %0" : "=r"(off));
    return (fs_thread_cache *)off;
}
#endif

HAK_INLINE fs_cache_bin *my_bin_at(size_t off)
{
    return (fs_cache_bin *)((fs_byte *)my_cache() + off);
}

HAK_INLINE void *cache_pop_at(size_t off)
{
    fs_cache_bin *b = my_bin_at(off);
    void *p = b->head;
    if (HAK_LIKELY(p != NULL)) {
        b->head = block_next(p);
        b->room++;
        b->allocs++;
        block_mark_live(p);
    }
    return p;
}

HAK_INLINE void *cache_pop(unsigned cls) { return cache_pop_at(cache_bin_offset(cls)); }

/* Push a block of one of this thread's slabs; false when the bin went over its cap. */
HAK_INLINE int cache_push_at(size_t off, void *p)
{
    fs_cache_bin *b = my_bin_at(off);
    block_set_next(p, b->head);
    b->head = p;
    return --b->room >= 0;
}

HAK_INLINE int cache_push(unsigned cls, void *p) { return cache_push_at(cache_bin_offset(cls), p); }

/* A remote free by the calling thread: into its batch (remote_batch.h). Joining the current batch
 * of the slab is the common case and stays inline. A thread without a heap never has a batch (no
 * exit handler could flush one): each of its frees is pushed at once. */
HAK_INLINE void remote_batch_add(struct slab *s, void *p)
{
    fs_thread_cache *tc = my_cache();
    if (HAK_UNLIKELY(tc->heap == NULL)) {
        hk_remote_free_unbatched(s, p);
        return;
    }
    size_t cls = s->cls;
    fs_remote_batch *b = &tc->batch[cls];
    if (HAK_LIKELY(b->slab == s && b->count < b->limit)) {
        /* a batch with a slab is flagged in tc->batched already */
        block_set_next(p, b->head);
        b->head = p;
        b->count++;
        counter_add(&tc->heap->counters[cls].remote_frees, 1);
        return;
    }
    hk_remote_batch_start(&hk_thread_cache, s, p);
}

#endif
