/* fast_path.h — the inline malloc and free fast paths, shared by hak_* and the malloc symbols, and
 * the slow paths behind them (fast_path.c).
 *
 * Owns: the dispatch from a size or a pointer to the right tier; the frees that are not the
 * owner's checked block (remote frees into the thread's batches, misuse reports, page runs, Large,
 * foreign pointers to ExternalGuard). Promises: a malloc of a cached
 * class and a free of a small-slab block (classes up to 4 KiB) owned by the calling thread run
 * without a call, a lock, an atomic read-modify-write or a system call (a medium-slab block takes
 * one jump to the same code); everything else goes to an out-of-line slow path.
 * Must never: read the memory behind a pointer before the segment map says it is ours. */
#ifndef HAK_FAST_PATH_H
#define HAK_FAST_PATH_H

#include "segment_map.h"
#include "size_class.h"
#include "slab.h"
#include "thread_cache.h"
#include "track.h"

/* Requests above the Mid tier: page runs or Large; align 0 means the default. */
HAK_HIDDEN void *hk_alloc_big(size_t size, size_t align, int zero);
/* Any power-of-two alignment (hak_aligned_alloc checks it is one). */
HAK_HIDDEN void *hk_alloc_aligned(size_t align, size_t size);
/* ExternalGuard's answer to a free or realloc of a pointer hakmem does not own (which may be the
 * process's first call: the guard's policy is read first). */
HAK_HIDDEN void hk_free_foreign(const void *p, const void *caller);
HAK_HIDDEN void *hk_realloc_foreign(const void *p, const void *caller);
/* Diagnostics name the caller of free()/hak_free(). In release the free slow paths are reached
 * by tail calls (-O2), so each reads its own return address and the fast path passes NULL; in
 * other builds the entry point passes its return address down. */
#ifdef HAK_TAILCALL_CALLER
#define ENTRY_CALLER NULL
#else
#define ENTRY_CALLER __builtin_return_address(0)
#endif
#define SLOW_PATH_CALLER(c) ((c) != NULL ? (c) : __builtin_return_address(0))

/* Frees that are not a small-slab address: medium slabs, NULL, page runs, Large, idle and
 * foreign pointers. */
HAK_HIDDEN HAK_NOINLINE void hk_free_other(void *p, unsigned kind, const void *caller);
/* A slab block whose slab the calling thread does not own: remote free or misuse. */
HAK_HIDDEN HAK_NOINLINE void hk_free_not_owner(struct slab *s, void *p, const void *caller);
/* The owner's free of p failed a cheap check: not a block start, or already marked free. */
HAK_HIDDEN HAK_NOINLINE void hk_free_suspect(struct slab *s, void *p, const void *caller);

HAK_INLINE void *alloc_inline(size_t size)
{
    size_t off;
    /* Tiny first: one compare on the most common path. */
    if (HAK_LIKELY(size <= HAK_TINY_MAX))
        off = __atomic_load_n(&hk_bin_tiny_table[(size + 15) >> 4], __ATOMIC_RELAXED);
    else if (size <= HAK_MID_MAX)
        off = __atomic_load_n(&hk_bin_mid_table[(size + 127) >> 7], __ATOMIC_RELAXED);
    else
        return hk_alloc_big(size, 0, 0);
    void *p = cache_pop_at(off);
    if (HAK_LIKELY(p != NULL)) {
        track_alloc(p, size, HAK_TRACKING ? size_class_block_size(size_class_of(size)) : 0);
        return p;
    }
    return hk_cache_refill(size);
}

/* The owner's cheap checks of a block it is handed back: not a carved block start of s, or
 * already marked free (the slow paths then tell which misuse, or find a 2^-64 key collision). */
HAK_INLINE int owned_block_is_suspect(const struct slab *s, void *p)
{
    return !slab_owner_is_block_start(s, (uintptr_t)p) || block_is_marked_free(p);
}

/* Owner: block p of s passed the checks; into the bin. */
HAK_INLINE void free_owned_block(const struct slab *s, void *p)
{
    track_free(p, s->block_size);
    block_mark_free(p);
    if (HAK_LIKELY(cache_push_at(s->bin_off, p)))
        return;
    hk_cache_overflow(s->cls);
}

/* A free of p, an address in slab s: the owner's inline path, or a remote free or misuse. */
HAK_INLINE void free_slab_address(struct slab *s, void *p, const void *caller)
{
    if (HAK_LIKELY(slab_owner(s) == my_cache()->id)) {
        if (HAK_UNLIKELY(owned_block_is_suspect(s, p))) {
            hk_free_suspect(s, p, caller);
            return;
        }
        free_owned_block(s, p);
        return;
    }
    hk_free_not_owner(s, p, caller);
}

HAK_INLINE void free_inline(void *p, const void *caller)
{
    uintptr_t a = (uintptr_t)p;
    unsigned kind = segment_map_kind(a);
    /* Small slabs by a compare with a constant: the slab line's address then does not wait for
     * the map load, so on the predicted path the CPU loads the two at once (medium slabs, whose
     * line needs the map's shift, are hk_free_other's). */
    if (HAK_LIKELY(kind == HAK_MAP_SLAB_SMALL)) {
        free_slab_address(slab_of_address(a, HAK_MAP_SLAB_SMALL), p, caller);
        return;
    }
    hk_free_other(p, kind, caller);
}

#endif
