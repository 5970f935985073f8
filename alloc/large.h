/* large.h — the Large tier: blocks above 1 MiB (whole 2 MiB frames on huge pages where the
 * kernel gives them, else whole pages), cut from 64 MiB reserves of address space (or mapped
 * alone when bigger or over-aligned), a cache of free ranges (a freed block is extended in place
 * into the untouched range after it), and mremap-based realloc.
 *
 * Owns: the registry of live Large blocks (address -> size), the cache of free ranges (freed
 * blocks merged with their free neighbours, and untouched reserve), and the sticky HAK_MAP_LARGE
 * marks. Promises: the registry is authoritative, so a foreign pointer in a range that once held
 * Large memory is never taken for ours; touched bytes (live and cached) never exceed the most live
 * bytes seen, and touched cached bytes are bounded by HAKMEM_LARGE_CACHE_MB and
 * HAKMEM_LARGE_PURGE_MS (the rest is unmapped). Must never: call into the slab or page-run tiers
 * while holding its lock. */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include "config.h"

HAK_HIDDEN void *hk_large_alloc(size_t size, size_t align, int zero);
/* 1 if p was a live Large block (now freed), 0 if not. */
HAK_HIDDEN int hk_large_free(void *p);
/* Usable bytes of a live Large block, 0 if p is not one. */
HAK_HIDDEN size_t hk_large_usable(const void *p);
/* For a pointer that is not a live Large block start: the enum misuse_kind it represents
 * (inside a live block; a block freed recently or sitting in the mapping cache), or -1 if it
 * cannot be told apart from foreign memory. */
HAK_HIDDEN int hk_large_classify(const void *p);

enum large_realloc_result { LARGE_NOT_OURS, LARGE_DONE, LARGE_MOVE };
/* Resize live Large block p to size (> HAK_PAGE_RUN_MAX) in place or by remapping: LARGE_DONE and
 * *out set; LARGE_MOVE (with *old_usable) when the caller must allocate, copy and free;
 * it also when remapping fails (p intact); LARGE_NOT_OURS if p is not a live Large block. */
HAK_HIDDEN enum large_realloc_result hk_large_realloc(void *p, size_t size, void **out,
                                                      size_t *old_usable);

/* Unmap every cached mapping (memory pressure). Returns the bytes given back. */
HAK_HIDDEN size_t hk_large_cache_drop(void);

/* The Large tier's statistics (large_* of HAK_STATS_FIELDS) into out. */
struct hak_stats;
HAK_HIDDEN void hk_large_stats(struct hak_stats *out);
/* Bytes the Large tier holds mapped: live blocks and cached ranges. */
HAK_HIDDEN uint64_t hk_large_mapped_bytes(void);

#ifndef NDEBUG
/* For the heap check's damage tests (not in release builds): where the Large tier keeps the
 * size of the live block at `block`, the start and size of the cached range holding `cached`
 * (NULL where there is none), and its byte counters — to be broken on purpose. The pointers are
 * good until the next Large operation (the cache shifts when a range leaves it). */
struct hk_large_debug_view {
    size_t *block_size, *range_size, *cache_bytes;
    uintptr_t *range_addr;
    uint64_t *live_bytes;
};
HAK_HIDDEN void hk_large_debug_view(const void *block, const void *cached,
                                    struct hk_large_debug_view *out);
#endif

/* The heap check's part (check.h): the registry, the range cache and the counters agree. */
struct check;
HAK_HIDDEN void hk_large_check(struct check *c);

HAK_HIDDEN void hk_large_fork_prepare(void);
HAK_HIDDEN void hk_large_fork_parent(void);
HAK_HIDDEN void hk_large_fork_child(void);

#endif
