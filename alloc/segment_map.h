/* segment_map.h — the ownership map: which 4 MiB address ranges belong to hakmem, and as what.
 *
 * Owns: one byte per segment-sized range of the 47-bit user address space, kept in .bss (32 MiB of
 * lazily-touched, zero-filled virtual memory), so it exists before any initialization and a lookup
 * is one load from a link-time address. Promises: segment_map_kind() never touches the pointed-to
 * memory and answers HAK_MAP_NONE for any address hakmem has never mapped. Must never: be consulted
 * with locks held for longer than a store, or be the only evidence for a Large block (Large ranges
 * are shared with foreign mappings; the Large registry is authoritative). */
#ifndef HAK_SEGMENT_MAP_H
#define HAK_SEGMENT_MAP_H

#include "config.h"

#define HAK_MAP_ENTRIES ((size_t)1 << (HAK_ADDRESS_BITS - HAK_SEGMENT_SHIFT))

/* The slab kinds store their slab shift minus 6 (log2 of the 64-byte slab line), so the free
 * fast path finds the slab line as segment + ((offset >> kind) & ~63) with no header load, and
 * recognises slab memory with one compare (kind >= HAK_MAP_SLAB_MIN). */
enum hak_map_kind {
    HAK_MAP_NONE = 0,
    HAK_MAP_LARGE = 1,    /* may hold Large mappings (sticky; check the Large registry) */
    HAK_MAP_PAGE_RUN = 2, /* an L25 page-run segment */
    HAK_MAP_IDLE = 3,     /* a warm segment in the segment cache: ours, no live blocks */
    HAK_MAP_SLAB_SMALL = HAK_SMALL_SLAB_SHIFT - 6,
    HAK_MAP_SLAB_MEDIUM = HAK_MEDIUM_SLAB_SHIFT - 6,
};
#define HAK_MAP_SLAB_MIN HAK_MAP_SLAB_SMALL

#ifdef HAK_TRACK_ASAN
/* ASan builds: LeakSanitizer reads every writable global at each process exit, and 32 MiB of .bss
 * faulted in and scanned at every exit was most of a sanitized replay's time (one process per
 * schedule). There the map is mapped by the first hk_segment_map_set and read through a pointer; a
 * lookup before that answers HAK_MAP_NONE, as the empty map would. */
extern uint8_t *hk_segment_map_entries HAK_HIDDEN;
#else
extern uint8_t hk_segment_map[HAK_MAP_ENTRIES] HAK_HIDDEN;
#endif

HAK_INLINE unsigned segment_map_kind(uintptr_t addr)
{
    uintptr_t i = addr >> HAK_SEGMENT_SHIFT;
    if (HAK_UNLIKELY(i >= HAK_MAP_ENTRIES))
        return HAK_MAP_NONE;
#ifdef HAK_TRACK_ASAN
    const uint8_t *map = __atomic_load_n(&hk_segment_map_entries, __ATOMIC_ACQUIRE);
    if (map == NULL)
        return HAK_MAP_NONE;
    return __atomic_load_n(&map[i], __ATOMIC_RELAXED);
#else
    return __atomic_load_n(&hk_segment_map[i], __ATOMIC_RELAXED);
#endif
}

/* Set the kind of the segment at addr (slow paths only: it also notes which part of the map
 * holds marks, so the heap check reads only that part). */
HAK_HIDDEN void hk_segment_map_set(uintptr_t addr, unsigned kind);

/* The heap check: how many map entries hold each kind (out[kind] for kind < 16). */
HAK_HIDDEN void hk_segment_map_count(uint64_t out[16]);

/* Mark every range overlapping [addr, addr+size) as possibly holding Large mappings. */
HAK_HIDDEN void hk_segment_map_mark_large(uintptr_t addr, size_t size);

#endif
