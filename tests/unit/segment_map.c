/* Ownership map: answers for our segments, nothing for anything else, never reads the memory. */
#include <stdlib.h>
#include <sys/mman.h>

#include "hakmem.h"
#include "segment_map.h"
#include "test.h"

TEST(map_recognises_slab_memory_and_rejects_foreign_addresses)
{
    void *p = hak_malloc(64);
    CHECK(segment_map_kind((uintptr_t)p) == HAK_MAP_SLAB_SMALL);
    void *m = hak_malloc(20000);
    CHECK(segment_map_kind((uintptr_t)m) == HAK_MAP_SLAB_MEDIUM);
    void *r = hak_malloc(100000);
    CHECK(segment_map_kind((uintptr_t)r) == HAK_MAP_PAGE_RUN);
    int local;
    CHECK(segment_map_kind((uintptr_t)&local) == HAK_MAP_NONE);
    CHECK(segment_map_kind(LAUNDER((uintptr_t)0)) == HAK_MAP_NONE);
    CHECK(segment_map_kind(LAUNDER(~(uintptr_t)0)) == HAK_MAP_NONE);
    CHECK(segment_map_kind(LAUNDER((uintptr_t)1 << 47)) == HAK_MAP_NONE);
    void *mapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(segment_map_kind((uintptr_t)mapped) == HAK_MAP_NONE ||
          segment_map_kind((uintptr_t)mapped) == HAK_MAP_LARGE);
    munmap(mapped, 4096);
    hak_free(p);
    hak_free(m);
    hak_free(r);
}

TEST(large_marks_cover_every_range_of_the_mapping)
{
    size_t size = 9u << 20;
    char *p = hak_malloc(size);
    CHECK(p != NULL);
    for (size_t off = 0; off < size; off += 1u << 20)
        CHECK(segment_map_kind((uintptr_t)(p + off)) == HAK_MAP_LARGE);
    CHECK(hak_usable_size(p) >= size);
    CHECK(hak_usable_size(p + 4096) == 0); /* interior: not a block */
    hak_free(p);
}
