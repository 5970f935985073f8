/* slab.h — slabs and the slab segments that hold them.
 *
 * Owns: the layout of a slab segment (header with one metadata line and one remote-queue line per
 * slab, then the slabs) and the per-slab block bookkeeping. A slab serves one size class; its
 * blocks are, at every instant, in exactly one of: a caller's hands, the owner's thread cache, the
 * slab's free list, the slab's remote queue, or the never-carved tail [bump, end).
 * Promises: slab_of_address() finds a block's slab from its address alone; the remote-queue line
 * is separate from the owner's line so remote frees do not slow the owner's fast path.
 * Must never: let a thread other than the owner touch `free`, `bump`, `used` or the lists. */
#ifndef HAK_SLAB_H
#define HAK_SLAB_H

#include "config.h"
#include "remote_queue.h"
#include "segment.h"

/* Owner values that are not a heap: no heap sits at these addresses. */
#define SLAB_OWNER_FREE ((uintptr_t)1)   /* in the slab pool: no live blocks */
#define SLAB_OWNER_ORPHAN ((uintptr_t)2) /* owner thread exited: live blocks, no owner */

enum slab_list_id { SLAB_LIST_NONE = 0, SLAB_LIST_PARTIAL, SLAB_LIST_FULL, SLAB_LIST_ORPHAN };

struct slab {
    uintptr_t owner; /* atomic: owning heap's id, or SLAB_OWNER_* */
    void *free;      /* owner's free list */
    char *bump;      /* next never-carved block */
    char *end;       /* end of the carvable area */
    uint32_t block_size;
    uint16_t cls;
    uint8_t list;        /* enum slab_list_id */
    uint8_t notified;    /* a notification for this slab is in (or entering) the pending stack */
    uint32_t used;       /* carved blocks not on the free list */
    uint32_t free_count; /* blocks on the free list */
    struct slab *next, *prev;
};

struct slab_remote {
    remote_queue_t queue;
    struct slab *pending_next; /* link in the owner's pending stack (atomic accesses) */
    char pad[HAK_CACHE_LINE - sizeof(remote_queue_t) - sizeof(struct slab *)];
} __attribute__((aligned(HAK_CACHE_LINE)));

struct slab_segment {
    struct segment_head head;
    uint8_t slab_shift;
    uint8_t nslabs;
    uint8_t free_slabs;             /* slab pool lock */
    uint64_t free_mask;             /* slab pool lock: slabs in the pool */
    struct slab_segment *pool_next; /* slab pool lock: segments with pooled slabs */
    struct slab_segment *pool_prev;
    struct slab slabs[HAK_MAX_SLABS_PER_SEGMENT] __attribute__((aligned(HAK_CACHE_LINE)));
    struct slab_remote remote[HAK_MAX_SLABS_PER_SEGMENT];
};

/* Slab 0 starts after the header, at a page boundary so page-aligned classes stay aligned. */
#define SLAB_SEGMENT_HEADER                                                                        \
    ((sizeof(struct slab_segment) + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1))

_Static_assert(sizeof(struct slab) == HAK_CACHE_LINE, "slab metadata is one cache line");

HAK_INLINE struct slab_segment *slab_segment_of(const void *p)
{
    return (struct slab_segment *)((uintptr_t)p & ~HAK_SEGMENT_MASK);
}

/* The slab holding address a, in a segment whose map kind (== slab shift) is `shift`. */
HAK_INLINE struct slab *slab_of_address(uintptr_t a, unsigned shift)
{
    struct slab_segment *seg = (struct slab_segment *)(a & ~HAK_SEGMENT_MASK);
    return &seg->slabs[(a & HAK_SEGMENT_MASK) >> shift];
}

HAK_INLINE unsigned slab_index(const struct slab *s)
{
    return (unsigned)(s - slab_segment_of(s)->slabs);
}

HAK_INLINE struct slab_remote *slab_remote(struct slab *s)
{
    return &slab_segment_of(s)->remote[slab_index(s)];
}

HAK_INLINE char *slab_start(const struct slab *s)
{
    struct slab_segment *seg = slab_segment_of(s);
    unsigned i = slab_index(s);
    return (char *)seg + (i == 0 ? SLAB_SEGMENT_HEADER : (size_t)i << seg->slab_shift);
}

HAK_INLINE char *slab_limit(const struct slab *s)
{
    struct slab_segment *seg = slab_segment_of(s);
    return (char *)seg + ((size_t)(slab_index(s) + 1) << seg->slab_shift);
}

HAK_INLINE uintptr_t slab_owner(const struct slab *s)
{
    return __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
}

HAK_INLINE void slab_set_owner(struct slab *s, uintptr_t owner)
{
    __atomic_store_n(&s->owner, owner, __ATOMIC_RELAXED);
}

/* Set s up, empty, for class cls (owner is set by the caller). */
HAK_HIDDEN void slab_format(struct slab *s, unsigned cls);
/* Owner (or the orphan pool, which holds orphans exclusively): move the whole remote queue onto
 * the free list. Returns the number of blocks moved. */
HAK_HIDDEN uint32_t slab_drain(struct slab *s);
/* Owner: detach up to `max` free blocks as a NULL-terminated chain, from the free list first and
 * then by carving; *count receives how many. */
HAK_HIDDEN void *slab_take(struct slab *s, uint32_t max, uint32_t *count);

/* Owner: put one block back on the free list. */
HAK_INLINE void slab_put_block(struct slab *s, void *block)
{
    *block_link(block) = s->free;
    s->free = block;
    s->free_count++;
    s->used--;
}

HAK_INLINE int slab_has_free(const struct slab *s) { return s->free != NULL || s->bump < s->end; }

#endif
