/* hak_collect(): the calling thread's empty slabs go back to the shared pool (those with a live
 * block stay), and with give_back idle segments and cached Large ranges are unmapped. */
#include <string.h>

#include "hakmem.h"
#include "heap.h"
#include "segment_map.h"
#include "test.h"
#include "thread_cache.h"

static unsigned listed_slabs(const struct heap *h, unsigned cls)
{
    return h->partial[cls].count + h->full[cls].count;
}

TEST(collect_returns_every_empty_slab_and_keeps_those_in_use)
{
    static void *blocks[3000];
    void *kept = hak_malloc(48);
    for (int i = 0; i < 3000; i++)
        blocks[i] = hak_malloc(i % 3 == 0 ? 64 : i % 3 == 1 ? 1000 : 20000);
    for (int i = 0; i < 3000; i++)
        hak_free(blocks[i]);
    hak_thread_flush();
    struct heap *h = hk_thread_cache.heap;
    CHECK(h != NULL);
    unsigned c64 = (unsigned)hak_size_class(64), c48 = (unsigned)hak_size_class(48);
    CHECK(listed_slabs(h, c64) >= 1); /* the refill path keeps the last one of its class */
    CHECK(hak_collect(0) == 0);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++)
        CHECKF(listed_slabs(h, c) == (c == c48 ? 1u : 0u), "class %u: %u slabs still listed", c,
               listed_slabs(h, c));
    hak_free(kept);
    hak_collect(0);
    CHECK(listed_slabs(h, c48) == 0);
    /* The thread goes on allocating from the pool as before. */
    void *again = hak_malloc(64);
    memset(again, 1, 64);
    hak_free(again);
}

TEST(collect_with_give_back_unmaps_idle_segments_and_cached_large_ranges)
{
    static void *blocks[2000];
    for (int i = 0; i < 2000; i++)
        blocks[i] = hak_malloc(30000); /* about 60 MB of slabs: many segments */
    void *large = hak_malloc(8 << 20);
    memset(large, 1, 8 << 20);
    for (int i = 0; i < 2000; i++)
        hak_free(blocks[i]);
    hak_free(large);
    hak_collect(0);
    struct hak_stats before, after;
    hak_stats(&before);
    CHECKF(before.segments_cached > 0, "%llu segments cached",
           (unsigned long long)before.segments_cached);
    size_t given = hak_collect(1);
    hak_stats(&after);
    CHECKF(given >= (8u << 20) && after.segments_cached == 0 &&
               after.mapped_bytes + given <= before.mapped_bytes,
           "gave back %zu bytes; mapped %llu -> %llu, segments cached %llu -> %llu", given,
           (unsigned long long)before.mapped_bytes, (unsigned long long)after.mapped_bytes,
           (unsigned long long)before.segments_cached, (unsigned long long)after.segments_cached);
    CHECK(hak_collect(1) == 0); /* nothing left to give */
}

TEST(a_pointer_into_a_segment_given_back_to_the_cache_has_no_usable_size)
{
    /* Runs over three segments, all freed: all but one segment go back to the segment cache. */
    enum { RUNS = 3 * (HAK_SEGMENT_SIZE / (600 << 10)) + 3 };
    void *runs[RUNS];
    for (int i = 0; i < RUNS; i++)
        runs[i] = hak_malloc(600 << 10);
    for (int i = 0; i < RUNS; i++)
        hak_free(runs[i]);
    unsigned idle = 0;
    for (int i = 0; i < RUNS; i++)
        if (segment_map_kind((uintptr_t)runs[i]) == HAK_MAP_IDLE) {
            idle++;
            CHECK(hak_usable_size(runs[i]) == 0);
        }
    CHECK(idle > 0);
}

TEST(class_queries_outside_the_table_answer_zero)
{
    CHECK(hak_class_block_size(-1) == 0);
    CHECK(hak_class_block_size(HAK_CLASS_COUNT) == 0);
    CHECK(hak_class_block_size(0) == 16);
}
