/* Size-class table: every request maps to the smallest class that holds it, and the block-index
 * arithmetic used by pointer validation is exact. */
#include "size_class.h"
#include "slab.h"
#include "slab_of.h"
#include "test.h"

static void init_tables(void)
{
    /* Any allocation initializes the allocator, and with it the tables. */
    void *p = hak_malloc(1);
    hak_free(p);
}

TEST(every_size_maps_to_the_smallest_class_that_holds_it)
{
    init_tables();
    for (size_t n = 0; n <= HAK_MID_MAX; n++) {
        unsigned c = size_class_of(n);
        CHECKF(c < HAK_CLASS_COUNT, "size %zu -> class %u", n, c);
        CHECKF(size_class_block_size(c) >= n, "size %zu in class %u of %zu bytes", n, c,
               size_class_block_size(c));
        if (c > 0)
            CHECKF(size_class_block_size(c - 1) < n, "size %zu fits class %u already", n, c - 1);
        CHECKF(hak_size_class(n) == (int)c, "public hak_size_class(%zu) disagrees", n);
    }
    CHECK(hak_size_class(HAK_MID_MAX + 1) == -1);
}

TEST(block_sizes_increase_and_keep_16_byte_alignment)
{
    init_tables();
    CHECK(size_class_block_size(0) == 16);
    for (unsigned c = 1; c < HAK_CLASS_COUNT; c++) {
        CHECKF(size_class_block_size(c) % 16 == 0, "class %u: %zu", c, size_class_block_size(c));
        CHECK(size_class_block_size(c) > size_class_block_size(c - 1));
        /* Geometric spacing above 128 bytes: at most 25 % internal fragmentation. */
        if (size_class_block_size(c - 1) >= 128)
            CHECKF(size_class_block_size(c) * 4 <= size_class_block_size(c - 1) * 5,
                   "class %u too far from its predecessor", c);
    }
    CHECK(size_class_block_size(HAK_CLASS_COUNT - 1) == HAK_MID_MAX);
    CHECK(size_class_block_size(size_class_of(HAK_TINY_MAX)) == HAK_TINY_MAX);
}

TEST(block_start_test_is_exact_for_every_offset_in_a_slab)
{
    init_tables();
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        uint32_t bs = (uint32_t)size_class_block_size(c);
        uint64_t magic = slab_block_magic(bs);
        size_t slab = (size_t)1 << hk_class_info[c].slab_shift;
        for (uint64_t off = 0; off < slab; off++) {
            int start = off * magic < ((uint64_t)1 << 31);
            CHECKF(start == (off % bs == 0), "class %u (%u bytes) offset %llu", c, bs,
                   (unsigned long long)off);
        }
    }
}

TEST(cache_caps_bound_per_class_bytes_and_batches_fit)
{
    init_tables();
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        const struct size_class_info *ci = &hk_class_info[c];
        CHECK(ci->cache_cap >= 4 && ci->cache_cap <= 128);
        CHECK(ci->batch >= 1 && ci->batch < ci->cache_cap);
        CHECK((size_t)ci->cache_cap * ci->block_size <= 128 * 1024);
        CHECK(ci->slab_shift == (ci->block_size <= HAK_SMALL_CLASS_MAX ? HAK_SMALL_SLAB_SHIFT
                                                                       : HAK_MEDIUM_SLAB_SHIFT));
    }
}

/* The fast path's own lookup (the bin tables, by offset) gives every size a block of the class the
 * class table names for it: first through a refill, then from the bin. */
TEST(malloc_of_every_size_up_to_the_mid_tier_gets_a_block_of_its_class)
{
    for (size_t n = 1; n <= HAK_MID_MAX; n++) {
        void *p = hak_malloc(n), *q = hak_malloc(n);
        CHECK(p != NULL && q != NULL);
        size_t want = hak_class_block_size(hak_size_class(n));
        CHECKF(slab_of(p)->block_size == want && slab_of(q)->block_size == want && want >= n,
               "malloc(%zu): blocks of %u and %u bytes, the class of %zu bytes holds %zu", n,
               (unsigned)slab_of(p)->block_size, (unsigned)slab_of(q)->block_size, n, want);
        hak_free(q);
        hak_free(p);
    }
}
