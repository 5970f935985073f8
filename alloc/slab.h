/* slab.h — slabs and the slab segments that hold them.
 *
 * Owns: the layout of a slab segment (header with one metadata line and one remote-queue line per
 * slab, then the slabs) and the per-slab block bookkeeping. A slab serves one size class; its
 * blocks are, at every instant, in exactly one of: a caller's hands, the owner's thread cache, the
 * slab's free list, the slab's remote queue, or the never-carved tail of the slab.
 * Promises: slab_of_address() finds a block's slab from its address alone; the remote-queue line
 * is separate from the owner's line so remote frees do not slow the owner's fast path.
 * Must never: let a thread other than the owner touch `free`, `carved`, `used` or the lists. */
#ifndef HAK_SLAB_H
#define HAK_SLAB_H

#include "config.h"
#include "diag.h"
#include "remote_queue.h"
#include "segment.h"

/* Owner values that are not a heap: no heap sits at these addresses. */
#define SLAB_OWNER_FREE ((uintptr_t)1)   /* in the slab pool: no live blocks */
#define SLAB_OWNER_ORPHAN ((uintptr_t)2) /* owner thread exited: live blocks, no owner */

enum slab_list_id { SLAB_LIST_NONE = 0, SLAB_LIST_PARTIAL, SLAB_LIST_FULL, SLAB_LIST_ORPHAN };

struct slab {
    uintptr_t owner;   /* atomic: owning heap's id, or SLAB_OWNER_* */
    void *free;        /* owner's free list */
    uint64_t magic;    /* ceil(2^64 / block_size): block-start test without a division */
    struct slab *next; /* owner's (or the orphan pool's) list */
    struct slab *prev;
    uint32_t start_off;  /* first block, as an offset from the segment base */
    uint32_t carved;     /* atomic: bytes carved so far; [start+carved, start+limit) never used */
    uint32_t limit;      /* carvable bytes (capacity * block_size) */
    uint16_t block_size; /* at most HAK_MID_MAX */
    uint16_t bin_off;    /* byte offset of the class's bin in struct thread_cache */
    uint16_t cls;
    uint8_t list;        /* enum slab_list_id */
    uint8_t notified;    /* a notification for this slab is in (or entering) the pending stack */
    uint16_t used;       /* carved blocks not on the free list */
    uint16_t free_count; /* blocks on the free list */
};

struct slab_remote {
    remote_queue_t queue;
    struct slab *pending_next; /* link in the owner's pending stack (atomic accesses) */
    char pad[HAK_CACHE_LINE - sizeof(remote_queue_t) - sizeof(struct slab *)];
} __attribute__((aligned(HAK_CACHE_LINE)));

/* The slab lines come first, so a slab's address is segment + index * 64. */
struct slab_segment {
    struct slab slabs[HAK_MAX_SLABS_PER_SEGMENT];
    struct slab_remote remote[HAK_MAX_SLABS_PER_SEGMENT];
    uint8_t slab_shift;
    uint8_t nslabs;
    uint8_t free_slabs;             /* slab pool lock */
    uint64_t free_mask;             /* slab pool lock: slabs in the pool */
    struct slab_segment *pool_next; /* slab pool lock: segments with pooled slabs */
    struct slab_segment *pool_prev;
    struct slab_segment *all_next; /* slab pool lock: every live slab segment */
    struct slab_segment *all_prev;
};

/* Slab 0 starts after the header, at a page boundary so page-aligned classes stay aligned. */
#define SLAB_SEGMENT_HEADER                                                                        \
    ((sizeof(struct slab_segment) + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1))

_Static_assert(sizeof(struct slab) == HAK_CACHE_LINE, "slab metadata is one cache line");
_Static_assert(HAK_MID_MAX <= UINT16_MAX, "slab block sizes fit block_size");

HAK_INLINE struct slab_segment *slab_segment_of(const void *p)
{
    return (struct slab_segment *)((uintptr_t)p & ~HAK_SEGMENT_MASK);
}

/* The slab holding address a, in a slab segment of map kind `kind` (slab shift - 6). */
HAK_INLINE struct slab *slab_of_address(uintptr_t a, unsigned kind)
{
    return (struct slab *)((a & ~HAK_SEGMENT_MASK) +
                           (((a & HAK_SEGMENT_MASK) >> kind) & ~(uintptr_t)(HAK_CACHE_LINE - 1)));
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
HAK_HIDDEN void hk_slab_format(struct slab *s, unsigned cls);
/* Owner (or the orphan pool, which holds orphans exclusively): move the whole remote queue onto
 * the free list. Returns the number of blocks moved. */
HAK_HIDDEN uint32_t hk_slab_drain(struct slab *s);
/* Owner: detach free blocks as a NULL-terminated chain: the whole free list when it holds at most
 * `up_to` blocks (no walk over blocks that may be cold), else `want` of them; with an empty free
 * list, up to `want` freshly carved ones (those that start in one page, at least one). *count
 * receives how many. */
HAK_HIDDEN void *hk_slab_take(struct slab *s, uint32_t want, uint32_t up_to, uint32_t *count);

HAK_INLINE int slab_has_free(const struct slab *s)
{
    return s->free != NULL || s->carved < s->limit;
}

HAK_INLINE uint32_t slab_carved(const struct slab *s)
{
    return __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
}

/* Owner only (plain loads, so they fold into compares): is a a carved block start of s? */
HAK_INLINE int slab_owner_is_block_start(const struct slab *s, uintptr_t a)
{
    uint32_t off = (uint32_t)(a & HAK_SEGMENT_MASK) - s->start_off;
    return off < s->carved && (uint64_t)off * s->magic < ((uint64_t)1 << 31);
}

/* Is a (an address in s's segment) the start of a block carved from s? Says nothing about
 * whether the block is live. Offsets below the first block wrap around and fail the bound. */
HAK_INLINE int slab_is_block_start(const struct slab *s, uintptr_t a)
{
    /* Atomic loads (plain moves on x86): a stale pointer may race with the slab's reformatting. */
    uint32_t off =
        (uint32_t)(a & HAK_SEGMENT_MASK) - __atomic_load_n(&s->start_off, __ATOMIC_RELAXED);
    /* off * ceil(2^64/bs) mod 2^64 is below the slab size for multiples of bs and at least
     * 2^64/bs >= 2^49 otherwise. */
    return off < slab_carved(s) &&
           (uint64_t)off * __atomic_load_n(&s->magic, __ATOMIC_RELAXED) < ((uint64_t)1 << 31);
}

/* Owner: put one block back on the free list. */
HAK_INLINE void slab_put_block(struct slab *s, void *block)
{
    HAK_ASSERT(s->used > 0 && slab_owner_is_block_start(s, (uintptr_t)block));
    block_set_next(block, s->free);
    s->free = block;
    s->free_count++;
    s->used--;
}

/* ceil(2^64 / block_size) (exact for powers of two): off * magic mod 2^64 is below 2^31 exactly
 * when off is a multiple of block_size (for off below the slab size). */
HAK_INLINE uint64_t slab_block_magic(uint32_t block_size) { return UINT64_MAX / block_size + 1; }

#endif
