/* segment.c — segment mapping, the warm segment cache and mapped-memory accounting. */
#include "segment.h"

#include "check.h"
#include "hakmem.h"
#include "options.h"
#include "os_memory.h"
#include "reclaim.h"
#include "segment_map.h"
#include "track.h"

#define SEGMENT_CACHE_SLOTS 64

static hak_lock_t cache_lock = HAK_LOCK_INITIALIZER;
static void *cache[SEGMENT_CACHE_SLOTS];
static uint8_t cache_kind[SEGMENT_CACHE_SLOTS]; /* each cached segment's map kind before */
static unsigned cache_count;

static uint64_t mapped_bytes, peak_mapped_bytes;
static uint64_t live_segments, peak_segments;

static void raise_peak(uint64_t *peak, uint64_t value)
{
    uint64_t cur = __atomic_load_n(peak, __ATOMIC_RELAXED);
    while (value > cur &&
           !__atomic_compare_exchange_n(peak, &cur, value, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void hk_segment_note_mapped(long delta_bytes)
{
    uint64_t now = __atomic_add_fetch(&mapped_bytes, (uint64_t)delta_bytes, __ATOMIC_RELAXED);
    if (delta_bytes > 0)
        raise_peak(&peak_mapped_bytes, now);
}

void *hk_segment_acquire(unsigned kind)
{
    void *seg = NULL;
    hak_lock(&cache_lock);
    if (cache_count > 0)
        seg = cache[--cache_count];
    hak_unlock(&cache_lock);
    if (seg != NULL) {
        track_reset(seg, HAK_SEGMENT_SIZE); /* its previous use's block states are void */
#ifdef HAK_HARDENED
        hk_os_purge(seg, HAK_SEGMENT_SIZE); /* hardened: every byte handed out is zero */
#endif
    }
    if (seg == NULL) {
        seg = hk_reclaim_map_aligned(HAK_SEGMENT_SIZE, HAK_SEGMENT_SIZE);
        if (seg == NULL)
            return NULL;
        hk_segment_note_mapped((long)HAK_SEGMENT_SIZE);
        uint64_t n = __atomic_add_fetch(&live_segments, 1, __ATOMIC_RELAXED);
        raise_peak(&peak_segments, n);
    }
    hk_segment_map_set((uintptr_t)seg, kind);
    return seg;
}

void hk_segment_release(void *seg)
{
    unsigned limit = hk_options.segment_cache;
    if (limit > SEGMENT_CACHE_SLOTS)
        limit = SEGMENT_CACHE_SLOTS;
    unsigned former = segment_map_kind((uintptr_t)seg);
    hk_segment_map_set((uintptr_t)seg, HAK_MAP_IDLE);
    hak_lock(&cache_lock);
    if (cache_count < limit) {
        cache_kind[cache_count] = (uint8_t)former;
        cache[cache_count++] = seg;
        seg = NULL;
    }
    hak_unlock(&cache_lock);
    if (seg != NULL) {
        hk_segment_map_set((uintptr_t)seg, HAK_MAP_NONE);
        track_unmapped(seg, HAK_SEGMENT_SIZE);
        hk_os_unmap(seg, HAK_SEGMENT_SIZE);
        hk_segment_note_mapped(-(long)HAK_SEGMENT_SIZE);
        __atomic_sub_fetch(&live_segments, 1, __ATOMIC_RELAXED);
    }
}

size_t hk_segment_cache_drop(void)
{
    size_t bytes = 0;
    for (;;) {
        void *seg = NULL;
        hak_lock(&cache_lock);
        if (cache_count > 0)
            seg = cache[--cache_count];
        hak_unlock(&cache_lock);
        if (seg == NULL)
            return bytes;
        bytes += HAK_SEGMENT_SIZE;
        hk_segment_map_set((uintptr_t)seg, HAK_MAP_NONE);
        track_unmapped(seg, HAK_SEGMENT_SIZE);
        hk_os_unmap(seg, HAK_SEGMENT_SIZE);
        hk_segment_note_mapped(-(long)HAK_SEGMENT_SIZE);
        __atomic_sub_fetch(&live_segments, 1, __ATOMIC_RELAXED);
    }
}

unsigned hk_segment_idle_hold(const void *p)
{
    void *seg = segment_of(p);
    hak_lock(&cache_lock);
    for (unsigned k = 0; k < cache_count; k++)
        if (cache[k] == seg)
            return cache_kind[k];
    hak_unlock(&cache_lock);
    return HAK_MAP_NONE;
}

void hk_segment_idle_unhold(void) { hak_unlock(&cache_lock); }

void hk_segment_fork_prepare(void) { hak_lock(&cache_lock); }
void hk_segment_fork_parent(void) { hak_unlock(&cache_lock); }
void hk_segment_fork_child(void) { hak_lock_reinit(&cache_lock); }

void hk_segment_stats(struct hak_stats *out)
{
    out->mapped_bytes = __atomic_load_n(&mapped_bytes, __ATOMIC_RELAXED);
    out->peak_mapped_bytes = __atomic_load_n(&peak_mapped_bytes, __ATOMIC_RELAXED);
    out->segments_mapped = __atomic_load_n(&live_segments, __ATOMIC_RELAXED);
    out->segments_peak = __atomic_load_n(&peak_segments, __ATOMIC_RELAXED);
    hak_lock(&cache_lock);
    out->segments_cached = cache_count;
    hak_unlock(&cache_lock);
}

/* Every mapped segment is a slab segment, a page-run segment or a cached one, the ownership map
 * says so for each and for nothing else, and the mapped bytes are segments plus Large mappings. */
void hk_segment_check(struct check *c, uint64_t slab_segments, uint64_t run_segments,
                      uint64_t large_mapped_bytes)
{
    hak_lock(&cache_lock);
    unsigned cached = cache_count;
    for (unsigned k = 0; k < cache_count; k++) {
        if (((uintptr_t)cache[k] & HAK_SEGMENT_MASK) != 0 ||
            segment_map_kind((uintptr_t)cache[k]) != HAK_MAP_IDLE)
            hk_check_fail(c, "cached segment %p: ownership map says kind %u, expected idle",
                          cache[k], segment_map_kind((uintptr_t)cache[k]));
        for (unsigned j = k + 1; j < cache_count; j++)
            if (cache[j] == cache[k])
                hk_check_fail(c, "segment %p is in the segment cache twice", cache[k]);
    }
    hak_unlock(&cache_lock);
    uint64_t live = __atomic_load_n(&live_segments, __ATOMIC_RELAXED);
    if (live != slab_segments + run_segments + cached)
        hk_check_fail(c,
                      "%llu segments are mapped, but there are %llu slab, %llu page-run and %u "
                      "cached segments",
                      (unsigned long long)live, (unsigned long long)slab_segments,
                      (unsigned long long)run_segments, cached);
    uint64_t kinds[16];
    hk_segment_map_count(kinds);
    uint64_t slab_marks = kinds[HAK_MAP_SLAB_SMALL] + kinds[HAK_MAP_SLAB_MEDIUM];
    if (slab_marks != slab_segments || kinds[HAK_MAP_PAGE_RUN] != run_segments ||
        kinds[HAK_MAP_IDLE] != cached)
        hk_check_fail(c,
                      "ownership map marks %llu slab, %llu page-run and %llu idle segments; there "
                      "are %llu, %llu and %u",
                      (unsigned long long)slab_marks, (unsigned long long)kinds[HAK_MAP_PAGE_RUN],
                      (unsigned long long)kinds[HAK_MAP_IDLE], (unsigned long long)slab_segments,
                      (unsigned long long)run_segments, cached);
    uint64_t bytes = __atomic_load_n(&mapped_bytes, __ATOMIC_RELAXED);
    if (bytes != live * HAK_SEGMENT_SIZE + large_mapped_bytes)
        hk_check_fail(c,
                      "%llu bytes are mapped, but %llu segments and %llu bytes of Large mappings "
                      "explain %llu",
                      (unsigned long long)bytes, (unsigned long long)live,
                      (unsigned long long)large_mapped_bytes,
                      (unsigned long long)(live * HAK_SEGMENT_SIZE + large_mapped_bytes));
}
