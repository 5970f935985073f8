/* segment_map.c — storage of the ownership map. */
#include "segment_map.h"

uint8_t hak_segment_map[HAK_MAP_ENTRIES];

void segment_map_mark_large(uintptr_t addr, size_t size)
{
    uintptr_t first = addr >> HAK_SEGMENT_SHIFT;
    uintptr_t last = (addr + size - 1) >> HAK_SEGMENT_SHIFT;
    for (uintptr_t i = first; i <= last && i < HAK_MAP_ENTRIES; i++) {
        /* A range that is a segment can't overlap a Large mapping; only NONE ever changes. */
        uint8_t expected = HAK_MAP_NONE;
        __atomic_compare_exchange_n(&hak_segment_map[i], &expected, HAK_MAP_LARGE, 0,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
}
