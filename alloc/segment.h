/* segment.h — segments: the 4 MiB, 4 MiB-aligned units of memory taken from the OS.
 *
 * Owns: mapping and unmapping segments, the warm cache of free segments (hysteresis, so a program
 * that frees and reallocates does not page-fault fresh memory each time), the ownership-map marks
 * of segments, and the mapped-bytes counters. Promises: an acquired segment is marked with the
 * requested kind before it is returned; a released one is never handed out twice. Must never: look
 * inside a segment; its kind's module owns the layout. */
#ifndef HAK_SEGMENT_H
#define HAK_SEGMENT_H

#include "config.h"
#include "lock.h"

HAK_INLINE void *segment_of(const void *p) { return (void *)((uintptr_t)p & ~HAK_SEGMENT_MASK); }

/* A segment for `kind`, from the warm cache or the OS; NULL with errno = ENOMEM on failure. Its
 * contents are zero (fresh) or whatever its previous use left (cached): callers set them up. */
HAK_HIDDEN void *hk_segment_acquire(unsigned kind);
/* Give a segment with no live blocks back: to the warm cache, or to the OS when it is full. */
HAK_HIDDEN void hk_segment_release(void *seg);
/* Unmap every cached segment. Returns the bytes given back. */
HAK_HIDDEN size_t hk_segment_cache_drop(void);

/* Misuse reports on an idle segment: if p's segment is in the warm cache, keep it there (the cache
 * lock stays held) and return the map kind it had before it went idle, so its former owner can
 * read the stale header and tell a double free from a wild pointer; hk_segment_idle_unhold() then.
 * Returns HAK_MAP_NONE, holding nothing, when the segment is not cached. */
HAK_HIDDEN unsigned hk_segment_idle_hold(const void *p);
HAK_HIDDEN void hk_segment_idle_unhold(void);

HAK_HIDDEN void hk_segment_note_mapped(long delta_bytes);

/* Fork support: the cache lock is held across fork() and reset in the child. */
HAK_HIDDEN void hk_segment_fork_prepare(void);
HAK_HIDDEN void hk_segment_fork_parent(void);
HAK_HIDDEN void hk_segment_fork_child(void);

/* The segments' statistics (segments_*, mapped_bytes, peak_mapped_bytes) into out. */
struct hak_stats;
HAK_HIDDEN void hk_segment_stats(struct hak_stats *out);

/* The heap check's part (check.h): every mapped segment is a slab, page-run or cached one, the
 * ownership map says so for each and nothing else, and the mapped bytes are the segments plus the
 * Large mappings. */
struct check;
HAK_HIDDEN void hk_segment_check(struct check *c, uint64_t slab_segments, uint64_t run_segments,
                                 uint64_t large_mapped_bytes);

#endif
