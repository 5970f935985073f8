/* The heap checker passes on a healthy heap, accounts for exactly the blocks a program holds,
 * and reports a block pushed onto a free list twice, a block in two places, a block the
 * allocator lost, and a held pointer that is not a live block. */
#include <pthread.h>
#include <string.h>

#include "hakmem.h"
#include "heap.h"
#include "segment_map.h"
#include "slab.h"
#include "test.h"
#include "thread_cache.h"

static void *keep[2000];

static void *remote_free_half(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i += 2)
        hak_free(keep[i]);
    return NULL;
}

/* The blocks of keep[] still live, as the program's held list. */
static size_t held_list(void **out)
{
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        if (keep[i] != NULL)
            out[n++] = keep[i];
    return n;
}

TEST(checker_passes_on_a_busy_healthy_heap_and_accounts_for_every_held_block)
{
    static void *held[2000];
    for (int i = 0; i < 2000; i++)
        keep[i] = hak_malloc((size_t)(i % 700) * 7 + 1);
    pthread_t t;
    pthread_create(&t, NULL, remote_free_half, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < 2000; i += 2)
        keep[i] = NULL;
    CHECK(hak_debug_check_heap() == 0);
    CHECK(hak_debug_check_quiescent(held, held_list(held)) == 0);
    for (int i = 1; i < 2000; i += 4) {
        hak_free(keep[i]);
        keep[i] = NULL;
    }
    CHECK(hak_debug_check_quiescent(held, held_list(held)) == 0);
    hak_thread_flush();
    CHECK(hak_debug_check_quiescent(held, held_list(held)) == 0);
    for (int i = 0; i < 2000; i++)
        hak_free(keep[i]);
    CHECK(hak_debug_check_quiescent(NULL, 0) == 0);
}

TEST(checker_reports_a_block_the_program_does_not_hold_as_lost)
{
    void *a = hak_malloc(48), *b = hak_malloc(5000), *c = hak_malloc(200000);
    void *held[] = {a, b, c};
    CHECK(hak_debug_check_quiescent(held, 3) == 0);
    for (int i = 0; i < 3; i++) {
        void *all_but_one[2];
        int n = 0;
        for (int j = 0; j < 3; j++)
            if (j != i)
                all_but_one[n++] = held[j];
        int errors = hak_debug_check_quiescent(all_but_one, 2);
        printf("  leaving out block %d: %d violation(s)\n", i, errors);
        CHECK(errors > 0);
    }
    hak_free(a);
    hak_free(b);
    hak_free(c);
}

TEST(checker_reports_a_held_pointer_that_is_not_a_live_block)
{
    void *a = hak_malloc(64);
    void *held[] = {a, (char *)a + 16};
    CHECK(hak_debug_check_quiescent(held, 2) > 0);
    hak_free(a);
    CHECK(hak_debug_check_quiescent(held, 1) > 0);
}

/* The corrupted blocks stay referenced from here, so memcheck does not call them leaked. */
static void *corrupted[2];

TEST(checker_reports_a_block_pushed_twice_onto_a_free_list)
{
    test_skip_heap_check();
    void *a = hak_malloc(64), *b = hak_malloc(64);
    corrupted[0] = a;
    hak_thread_flush();
    CHECK(hak_debug_check_heap() == 0);
    uintptr_t addr = (uintptr_t)a;
    struct slab *s = slab_of_address(addr, segment_map_kind(addr));
    /* What a broken drain or flush would do: the same block onto the free list twice. */
    slab_put_block(s, a);
    slab_put_block(s, a);
    int errors = hak_debug_check_heap();
    printf("  checker reported %d violation(s)\n", errors);
    CHECK(errors > 0);
    hak_free(b);
}

TEST(checker_reports_a_block_both_in_a_cache_and_on_the_free_list)
{
    test_skip_heap_check();
    void *a = hak_malloc(128);
    corrupted[1] = a;
    uintptr_t addr = (uintptr_t)a;
    struct slab *s = slab_of_address(addr, segment_map_kind(addr));
    hak_free(a); /* into this thread's cache */
    slab_put_block(s, a);
    CHECK(hak_debug_check_heap() > 0);
}
