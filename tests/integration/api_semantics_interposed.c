/* The malloc family behaves like glibc's: edge sizes, errno values, alignment of every API,
 * usable size, realloc across tiers, foreign pointers contained. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem.h"
#include "test.h"

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Sizes that hit every tier and the edges of each. */
static const size_t edge_sizes[] = {
    0,       1,       7,    8,    9,    15,    16,    17,    127,   128,    129,     1023,
    1024,    1025,    4095, 4096, 4097, 32767, 32768, 32769, 65536, 100000, 1 << 20, (1 << 20) + 1,
    3 << 20, 16 << 20};
#define NEDGE (sizeof edge_sizes / sizeof edge_sizes[0])

TEST(malloc_zero_returns_a_unique_freeable_pointer)
{
    void *a = malloc(0), *b = malloc(0);
    CHECK(a != NULL && b != NULL && a != b);
    free(a);
    free(b);
    a = hak_malloc(0);
    CHECK(a != NULL);
    hak_free(a);
}

TEST(every_pointer_is_16_byte_aligned)
{
    for (size_t i = 0; i < NEDGE; i++) {
        size_t n = edge_sizes[i];
        void *p = malloc(n);
        CHECK(p != NULL);
        CHECKF(aligned(p, 16), "malloc(%zu) = %p", n, p);
        CHECKF(malloc_usable_size(p) >= n, "usable %zu < %zu", malloc_usable_size(p), n);
        memset(p, 0xab, n);
        free(p);
    }
}

TEST(impossible_sizes_give_null_and_enomem)
{
    size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1,
                     (size_t)1 << 62};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        huge[i] = LAUNDER(huge[i]);
        errno = 0;
        CHECK(malloc(huge[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(hak_malloc(huge[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(calloc(1, huge[i]) == NULL && errno == ENOMEM);
        void *p = malloc(16);
        errno = 0;
        CHECK(realloc(p, huge[i]) == NULL && errno == ENOMEM);
        free(p); /* p is untouched by the failed realloc */
        errno = 0;
        CHECK(aligned_alloc(64, huge[i]) == NULL && errno == ENOMEM);
    }
}

TEST(overflowing_calloc_and_reallocarray_give_null_and_enomem)
{
    errno = 0;
    CHECK(calloc(LAUNDER(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(hak_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
    void *p = malloc(10);
    errno = 0;
    CHECK(reallocarray(p, LAUNDER(SIZE_MAX / 4), 8) == NULL && errno == ENOMEM);
    void *q = reallocarray(p, 10, 10);
    CHECK(q != NULL && malloc_usable_size(q) >= 100);
    free(q);
}

TEST(calloc_returns_zeroed_memory_in_every_tier_even_when_reused)
{
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < NEDGE; i++) {
            size_t n = edge_sizes[i];
            unsigned char *p = calloc(1, n);
            CHECK(p != NULL);
            for (size_t k = 0; k < n; k++)
                CHECKF(p[k] == 0, "calloc(%zu)[%zu] = %u", n, k, p[k]);
            memset(p, 0x5a, n); /* dirty it so the next round reuses dirty memory */
            free(p);
        }
}

TEST(posix_memalign_rejects_bad_alignments_with_einval)
{
    void *p = (void *)0x1;
    size_t bad[] = {0, 1, 2, 4, 3, 24, 48, 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(posix_memalign(&p, bad[i], 16) == EINVAL, "alignment %zu accepted", bad[i]);
        CHECK(p == (void *)0x1); /* untouched */
    }
    errno = 0;
    CHECK(aligned_alloc(LAUNDER((size_t)24), 48) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(hak_aligned_alloc(0, 48) == NULL && errno == EINVAL);
    CHECK(posix_memalign(&p, 64, SIZE_MAX) == ENOMEM);
}

TEST(every_aligned_api_honours_power_of_two_alignments_up_to_4_mib)
{
    size_t sizes[] = {0, 1, 8, 16, 40, 100, 1000, 4096, 5000, 40000, 300000, 2 << 20};
    for (size_t a = 1; a <= ((size_t)4 << 20); a <<= 1)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            void *ps[5] = {0};
            if (a >= sizeof(void *))
                CHECK(posix_memalign(&ps[0], a, n) == 0);
            ps[1] = aligned_alloc(a, n);
            ps[2] = memalign(a, n);
            ps[3] = hak_aligned_alloc(a, n);
            for (int k = 0; k < 4; k++) {
                if (k == 0 && a < sizeof(void *))
                    continue;
                CHECKF(ps[k] != NULL && aligned(ps[k], a), "api %d align %zu size %zu -> %p", k, a,
                       n, ps[k]);
                CHECK(malloc_usable_size(ps[k]) >= n);
                memset(ps[k], 0x77, n);
            }
            for (int k = 0; k < 4; k++)
                free(ps[k]);
        }
}

TEST(valloc_and_pvalloc_are_page_aligned_and_pvalloc_rounds_up)
{
    void *v = valloc(10);
    CHECK(v && aligned(v, 4096));
    void *p = pvalloc(10);
    CHECK(p && aligned(p, 4096) && malloc_usable_size(p) >= 4096);
    void *z = pvalloc(0);
    CHECK(z && malloc_usable_size(z) >= 4096);
    free(v);
    free(p);
    free(z);
}

TEST(memalign_rounds_a_non_power_of_two_alignment_up)
{
    void *p = memalign(LAUNDER((size_t)24), 100);
    CHECK(p && aligned(p, 32));
    free(p);
    void *q = memalign(LAUNDER((size_t)3000), 10);
    CHECK(q && aligned(q, 4096));
    free(q);
}

TEST(realloc_keeps_the_prefix_growing_and_shrinking_across_every_tier)
{
    size_t path[] = {1,       24,       200,     1024,   3000,  20000, 40000, 500000,
                     2 << 20, 20 << 20, 3 << 20, 700000, 33000, 5000,  100,   8};
    unsigned char *p = malloc(path[0]);
    test_fill_pattern(p, path[0], 7);
    size_t have = path[0];
    for (size_t i = 1; i < sizeof path / sizeof path[0]; i++) {
        size_t n = path[i];
        p = realloc(p, n);
        CHECK(p != NULL);
        size_t keep = have < n ? have : n;
        CHECKF(test_pattern_holds(p, keep, 7), "prefix lost at %zu -> %zu", have, n);
        test_fill_pattern(p, n, 7);
        have = n;
    }
    free(p);
}

TEST(realloc_edge_cases_follow_glibc)
{
    void *p = realloc(NULL, 50);
    CHECK(p != NULL);
    CHECK(realloc(p, 0) == NULL); /* frees, like glibc */
    struct hak_stats s;
    hak_stats(&s);
    CHECK(s.invalid_frees == 0);
}

TEST(usable_size_of_null_and_foreign_pointers_is_zero)
{
    int local;
    CHECK(malloc_usable_size(NULL) == 0);
    CHECK(hak_usable_size(&local) == 0);
    char *p = malloc(100);
    CHECK(hak_usable_size(p + 16) == 0); /* interior pointer */
    free(p);
}

TEST(free_of_foreign_pointers_is_contained_and_counted)
{
    struct hak_stats before, after;
    hak_stats(&before);
    int local = 42;
    char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    map[0] = 1;
    free(LAUNDER(&local));
    free(LAUNDER(map));
    free(LAUNDER(map + 100));
    errno = 0;
    CHECK(realloc(LAUNDER(&local), 100) == NULL && errno == EINVAL);
    hak_stats(&after);
    CHECKF(after.external_guard_hits - before.external_guard_hits == 4, "hits %llu",
           (unsigned long long)(after.external_guard_hits - before.external_guard_hits));
    CHECK(local == 42 && LAUNDER(map)[0] == 1); /* never written */
    munmap(LAUNDER(map), 8192);
}

TEST(malloc_and_free_of_many_live_blocks_never_overlap)
{
    enum { N = 20000 };
    static unsigned char *ptrs[N];
    static size_t sizes[N];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245 + 12345;
        size_t n = (seed >> 8) % (i % 50 == 0 ? 200000 : 2000);
        ptrs[i] = malloc(n);
        sizes[i] = n;
        CHECK(ptrs[i] != NULL);
        memset(ptrs[i], (unsigned char)i, n);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            CHECKF(ptrs[i][k] == (unsigned char)i, "block %d byte %zu overwritten", i, k);
    for (int i = 0; i < N; i += 2)
        free(ptrs[i]);
    for (int i = 1; i < N; i += 2)
        for (size_t k = 0; k < sizes[i]; k++)
            CHECK(ptrs[i][k] == (unsigned char)i);
    for (int i = 1; i < N; i += 2)
        free(ptrs[i]);
}

/* The hardened build's blocks carry a header and canaries (another class) and sit in a
 * quarantine after free; tests/hardened checks its own accounting. */
#ifndef HAK_HARDENED
TEST(stats_count_allocations_frees_and_live_bytes)
{
    hak_thread_flush();
    struct hak_stats a, b, c;
    hak_stats(&a);
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = hak_malloc(48);
    hak_stats(&b);
    int cls = hak_size_class(48);
    CHECK(b.cls[cls].allocs - a.cls[cls].allocs == 100);
    CHECK(b.cls[cls].live_blocks - a.cls[cls].live_blocks == 100);
    CHECK(b.live_bytes - a.live_bytes == 100 * hak_class_block_size(cls));
    for (int i = 0; i < 100; i++)
        hak_free(p[i]);
    hak_stats(&c);
    CHECK(c.cls[cls].frees - b.cls[cls].frees == 100);
    CHECK(c.live_bytes == a.live_bytes);
}
#endif

TEST(malloc_trim_gives_freed_memory_back_and_then_has_nothing_left)
{
    static void *blocks[2000];
    for (int i = 0; i < 2000; i++)
        blocks[i] = malloc(LAUNDER((size_t)30000)); /* about 60 MB of slabs */
    for (int i = 0; i < 2000; i++)
        free(blocks[i]); /* their emptied segments are cached for reuse until trimmed */
    struct hak_stats s;
    hak_stats(&s);
    CHECKF(s.segments_cached > 0, "%llu segments cached", (unsigned long long)s.segments_cached);
    CHECK(malloc_trim(0) == 1);
    hak_stats(&s);
    CHECK(s.segments_cached == 0);
    CHECK(malloc_trim(0) == 0);
    void *p = malloc(100); /* and allocation goes on */
    CHECK(p != NULL);
    free(p);
}

#ifndef HAK_HARDENED /* hardened: a shrink under half moves (tests/hardened) */
TEST(shrinking_a_small_block_by_realloc_keeps_it_in_place)
{
    char *p = malloc(LAUNDER((size_t)32));
    memset(p, 'x', 32);
    char *q = realloc(p, LAUNDER((size_t)4)); /* under half, but a 32-byte block is not split */
    CHECK(q == p && q[0] == 'x' && q[3] == 'x');
    free(q);
}
#endif
