/* The Large tier's cache of freed mappings: a block is cut from a bigger cached mapping (its tail
 * stays cached), freed blocks rejoin adjacent cached ranges, and a block no cached mapping fits is
 * built from several of them by moving their pages. Each reuse is visible in hak_stats: a cache
 * hit, and no more bytes mapped from the OS. */
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "test.h"
#include "track.h"

#define MiB ((size_t)1 << 20)

static uint64_t mapped_bytes(void)
{
    struct hak_stats s;
    hak_stats(&s);
    return s.mapped_bytes;
}

static uint64_t large_cache_hits(void)
{
    struct hak_stats s;
    hak_stats(&s);
    return s.large_cache_hits;
}

TEST(large_block_is_cut_from_a_bigger_cached_mapping_and_rejoins_its_tail)
{
    char *whole = hak_malloc(8 * MiB);
    CHECK(whole != NULL);
    memset(whole, 0x11, 8 * MiB);
    hak_free(whole);
    uint64_t mapped = mapped_bytes(), hits = large_cache_hits();

    char *head = hak_malloc(2 * MiB + 100);
    char *tail = hak_malloc(3 * MiB);
    CHECKF(head == whole, "2 MiB block at %p, not at the cached 8 MiB mapping %p", (void *)head,
           (void *)whole);
    CHECKF(tail == whole + 2 * MiB + 4096, "3 MiB block at %p, not in the cached tail at %p",
           (void *)tail, (void *)(whole + 2 * MiB + 4096));
    CHECK(large_cache_hits() == hits + 2);
    CHECKF(mapped_bytes() == mapped, "mapped bytes grew from %llu to %llu",
           (unsigned long long)mapped, (unsigned long long)mapped_bytes());
    /* Cut to whole pages (tracking builds may report just the requested size). */
    CHECK(hak_usable_size(head) >= 2 * MiB + 100 && hak_usable_size(head) <= 2 * MiB + 4096);
    memset(head, 0x22, 2 * MiB + 100);
    memset(tail, 0x33, 3 * MiB);

    hak_free(tail);
    hak_free(head);
    char *again = hak_malloc(8 * MiB);
    CHECKF(again == whole, "8 MiB block at %p: the freed pieces did not rejoin at %p",
           (void *)again, (void *)whole);
    CHECK(mapped_bytes() == mapped);
    hak_free(again);
    CHECK(hak_debug_check_heap() == 0);
}

TEST(large_block_no_cached_mapping_fits_is_built_from_cached_pages)
{
    if (HAK_TRACKING) /* sanitizer and memcheck builds only ever use fresh pages here */
        return;
    char *x = hak_malloc(3 * MiB);
    char *spacer = hak_malloc(2 * MiB); /* keeps x and z apart in the cache */
    char *z = hak_malloc(3 * MiB);
    memset(x, 0x44, 3 * MiB);
    memset(z, 0x44, 3 * MiB);
    hak_free(x);
    hak_free(z);
    uint64_t mapped = mapped_bytes(), hits = large_cache_hits();
    char *big = hak_malloc(6 * MiB);
    CHECK(big != NULL);
    CHECK(large_cache_hits() == hits + 1);
    CHECKF(mapped_bytes() == mapped, "mapped bytes went from %llu to %llu: pages not reused",
           (unsigned long long)mapped, (unsigned long long)mapped_bytes());
    /* The moved pages still hold the old data: they were not faulted in fresh. */
    CHECK(big[0] == 0x44 && big[6 * MiB - 1] == 0x44);
    memset(big, 0x55, 6 * MiB);
    void *c = hak_calloc(1, 6 * MiB);
    CHECK(c != NULL);
    hak_free(big);
    char *z6 = hak_calloc(1, 6 * MiB); /* built from big's pages again: must read as zero */
    for (size_t i = 0; i < 6 * MiB; i += 4093)
        CHECK(z6[i] == 0);
    hak_free(z6);
    hak_free(c);
    hak_free(spacer);
    CHECK(hak_debug_check_heap() == 0);
}
