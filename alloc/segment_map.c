/* segment_map.c — storage of the ownership map. */
#include "segment_map.h"

#ifdef HAK_TRACK_ASAN
#include <sys/mman.h>

#include "diag.h"

uint8_t *hk_segment_map_entries;

/* The map for writing, mapped on first use (not through hk_os_map: fault injection must not reach
 * it, and a build that cannot map 32 MiB of address space for its map cannot go on). */
static uint8_t *writable_map(void)
{
    uint8_t *map = __atomic_load_n(&hk_segment_map_entries, __ATOMIC_ACQUIRE);
    if (HAK_LIKELY(map != NULL))
        return map;
    void *fresh = mmap(NULL, HAK_MAP_ENTRIES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fresh == MAP_FAILED) {
        hk_diag_print("hakmem: cannot map the %zu-byte segment map\n", (size_t)HAK_MAP_ENTRIES);
        hk_diag_abort();
    }
    if (__atomic_compare_exchange_n(&hk_segment_map_entries, &map, (uint8_t *)fresh, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return fresh;
    munmap(fresh, HAK_MAP_ENTRIES); /* another thread's came first */
    return map;
}
#define MAP_ENTRY(i) (&writable_map()[i])
#else
uint8_t hk_segment_map[HAK_MAP_ENTRIES];
#define MAP_ENTRY(i) (&hk_segment_map[i])
#endif

/* One bit per 4 KiB of the map: set once any entry in it was marked. */
#define SUMMARY_BITS (HAK_MAP_ENTRIES >> HAK_PAGE_SHIFT)
static uint64_t summary[SUMMARY_BITS / 64];

static void note_marked(uintptr_t i)
{
    uintptr_t page = i >> HAK_PAGE_SHIFT;
    __atomic_fetch_or(&summary[page / 64], 1ull << (page % 64), __ATOMIC_RELAXED);
}

void hk_segment_map_set(uintptr_t addr, unsigned kind)
{
    uintptr_t i = addr >> HAK_SEGMENT_SHIFT;
    if (kind != HAK_MAP_NONE)
        note_marked(i);
    __atomic_store_n(MAP_ENTRY(i), (uint8_t)kind, __ATOMIC_RELAXED);
}

void hk_segment_map_count(uint64_t out[16])
{
    for (unsigned k = 0; k < 16; k++)
        out[k] = 0;
    for (uintptr_t w = 0; w < SUMMARY_BITS / 64; w++) {
        uint64_t bits = __atomic_load_n(&summary[w], __ATOMIC_RELAXED);
        while (bits != 0) {
            uintptr_t page = w * 64 + (uintptr_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const uint8_t *e = MAP_ENTRY(page << HAK_PAGE_SHIFT);
            for (size_t j = 0; j < HAK_PAGE_SIZE; j++) {
                uint8_t k = __atomic_load_n(&e[j], __ATOMIC_RELAXED);
                if (k != HAK_MAP_NONE)
                    out[k & 15]++;
            }
        }
    }
}

void hk_segment_map_mark_large(uintptr_t addr, size_t size)
{
    uintptr_t first = addr >> HAK_SEGMENT_SHIFT;
    uintptr_t last = (addr + size - 1) >> HAK_SEGMENT_SHIFT;
    for (uintptr_t i = first; i <= last && i < HAK_MAP_ENTRIES; i++) {
        /* A range that is a segment can't overlap a Large mapping; only NONE ever changes. */
        uint8_t expected = HAK_MAP_NONE;
        note_marked(i);
        __atomic_compare_exchange_n(MAP_ENTRY(i), &expected, HAK_MAP_LARGE, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    }
}
