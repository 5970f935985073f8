/* The heap-invariant checker passes on a healthy heap and reports a block that was pushed onto a
 * slab's free list twice. */
#include <pthread.h>
#include <string.h>

#include "hakmem.h"
#include "heap.h"
#include "segment_map.h"
#include "slab.h"
#include "test.h"

static void *keep[2000];

static void *remote_free_half(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i += 2)
        hak_free(keep[i]);
    return NULL;
}

TEST(checker_passes_on_a_busy_healthy_heap)
{
    for (int i = 0; i < 2000; i++)
        keep[i] = hak_malloc((size_t)(i % 700) * 7 + 1);
    pthread_t t;
    pthread_create(&t, NULL, remote_free_half, NULL);
    pthread_join(t, NULL);
    CHECK(hak_debug_check_heap() == 0);
    for (int i = 1; i < 2000; i += 4)
        hak_free(keep[i]);
    CHECK(hak_debug_check_heap() == 0);
    hak_thread_flush();
    CHECK(hak_debug_check_heap() == 0);
}

/* The corrupted blocks stay referenced from here, so memcheck does not call them leaked. */
static void *corrupted[2];

TEST(checker_reports_a_block_pushed_twice_onto_a_free_list)
{
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
    void *a = hak_malloc(128);
    corrupted[1] = a;
    uintptr_t addr = (uintptr_t)a;
    struct slab *s = slab_of_address(addr, segment_map_kind(addr));
    hak_free(a); /* into this thread's cache */
    slab_put_block(s, a);
    CHECK(hak_debug_check_heap() > 0);
}
