/* realloc that moves a block copies exactly what it keeps: the old block's bytes up to the new
 * size, into the new block and nothing past it. Checked where a copy too long or too short shows
 * in any build: the new block is taken between two live blocks of its class (the owner's bin hands
 * back the block freed last), which must come out of the move intact. */
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "slab_of.h"
#include "test.h"

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131 + i * 7);
}

static long mismatch(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 131 + i * 7))
            return (long)i;
    return -1;
}

TEST(a_moving_realloc_copies_the_kept_prefix_and_writes_nothing_past_the_new_block)
{
    /* from -> to: shrinking below half of a slab block, from a page run and from a Large block
     * into a slab class; growing from a small class to a bigger one. */
    static const size_t pairs[][2] = {{1000, 100}, {4000, 48},  {100 << 10, 500}, {3 << 20, 2000},
                                      {24, 300},   {300, 4000}, {20000, 1500},    {900 << 10, 16}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        size_t from = pairs[k][0], to = pairs[k][1];
        size_t block = hak_class_block_size(hak_size_class(to));
        /* Three blocks of the new size's class, the middle one freed: the realloc takes it. */
        unsigned char *x = hak_malloc(to), *y = hak_malloc(to), *z = hak_malloc(to);
        CHECK(x != NULL && y != NULL && z != NULL);
        /* All of each block the program may touch (the requested size under a sanitizer). */
        size_t mine = hak_usable_size(x);
        CHECK(hak_usable_size(z) == mine && mine >= to);
        pattern(x, mine, 1);
        pattern(z, mine, 3);
        hak_free(y);
        unsigned char *p = hak_malloc(from);
        CHECK(p != NULL);
        pattern(p, from, 2);
        unsigned char *q = hak_realloc(p, to);
        CHECKF(q == y, "%zu -> %zu bytes: the moved block is at %p, not in the freed %p", from, to,
               (void *)q, (void *)y);
        size_t kept = from < to ? from : to;
        long at = mismatch(q, kept, 2);
        CHECKF(at < 0, "%zu -> %zu bytes: the kept prefix differs at byte %ld of %zu", from, to, at,
               kept);
        at = mismatch(z, mine, 3);
        CHECKF(at < 0, "%zu -> %zu bytes: the block after the new one changed at byte %ld", from,
               to, at);
        at = mismatch(x, mine, 1);
        CHECKF(at < 0, "%zu -> %zu bytes: the block before the new one changed at byte %ld", from,
               to, at);
        CHECK(slab_of(q)->block_size == block);
        hak_free(x);
        hak_free(q);
        hak_free(z);
    }
}

/* A page run that grows into the free pages after it, or shrinks, stays where it is: realloc
 * reports the resize it made instead of moving a block it has already grown. */
TEST(a_page_run_grows_into_its_free_neighbour_and_shrinks_in_place)
{
    /* The first page run of a fresh process: the rest of its segment is free. */
    unsigned char *p = hak_malloc(64 << 10);
    CHECK(p != NULL);
    pattern(p, 64 << 10, 4);
    struct hak_stats before;
    hak_stats(&before);
    unsigned char *q = hak_realloc(p, 200 << 10);
    CHECKF(q == p, "64 KiB -> 200 KiB: moved from %p to %p although the pages after it were free",
           (void *)p, (void *)q);
    CHECK(mismatch(q, 64 << 10, 4) < 0);
    CHECK(hak_usable_size(q) >= 200 << 10);
    struct hak_stats grown;
    hak_stats(&grown);
    CHECKF(grown.page_run_live_bytes == before.page_run_live_bytes + (136 << 10),
           "page-run live bytes %llu -> %llu after growing by 136 KiB in place",
           (unsigned long long)before.page_run_live_bytes,
           (unsigned long long)grown.page_run_live_bytes);
    /* Below half of the run: the tail goes back, the block stays. */
    unsigned char *r = hak_realloc(q, 80 << 10);
    CHECKF(r == q, "200 KiB -> 80 KiB: moved from %p to %p", (void *)q, (void *)r);
    CHECK(mismatch(r, 64 << 10, 4) < 0);
    /* The tail it gave back is free again: growing into it stays in place too. */
    unsigned char *s = hak_realloc(r, 150 << 10);
    CHECKF(s == r, "80 KiB -> 150 KiB: moved from %p to %p", (void *)r, (void *)s);
    CHECK(mismatch(s, 64 << 10, 4) < 0);
    hak_free(s);
}
