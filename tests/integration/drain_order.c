/* The owner drains remote frees before it carves or pops: blocks freed by another thread come
 * back to the owner, and no block is ever handed out twice while live. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "test.h"

#define N 4096
#define SIZE 64

static void *blocks[N];

static void *free_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        hak_free(blocks[i]);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static int in_set(void *p, void **sorted, int n)
{
    return bsearch(&p, sorted, (size_t)n, sizeof *sorted, cmp) != NULL;
}

TEST(remotely_freed_blocks_are_drained_and_reused_by_the_owner)
{
    struct hak_stats before, after;
    for (int i = 0; i < N; i++) {
        blocks[i] = hak_malloc(SIZE);
        memset(blocks[i], 0x11, SIZE);
    }
    void **freed = malloc(sizeof blocks);
    memcpy(freed, blocks, sizeof blocks);
    qsort(freed, N, sizeof *freed, cmp);
    hak_stats(&before);
    pthread_t t;
    pthread_create(&t, NULL, free_all, NULL);
    pthread_join(t, NULL);
    int reused = 0;
    void **again = malloc(sizeof blocks);
    for (int i = 0; i < N; i++) {
        again[i] = hak_malloc(SIZE);
        reused += in_set(again[i], freed, N);
        memset(again[i], 0x22, SIZE);
    }
    hak_thread_flush();
    hak_stats(&after);
    int cls = hak_size_class(SIZE);
    CHECK(after.cls[cls].remote_frees - before.cls[cls].remote_frees == N);
    CHECK(after.cls[cls].drains > before.cls[cls].drains);
    /* Everything but what sat in the bin and the never-carved tail of the slab that was current
     * (at most one slab of 64-byte blocks) comes back. */
    CHECKF(reused >= N - 1024 - 64, "only %d of %d remotely freed blocks came back", reused, N);
    qsort(again, N, sizeof *again, cmp);
    for (int i = 1; i < N; i++)
        CHECKF(again[i] != again[i - 1], "block %p handed out twice", again[i]);
    for (int i = 0; i < N; i++)
        hak_free(again[i]);
    free(again);
    free(freed);
}

static void *owner_blocks[64];

static void *free_some(void *arg)
{
    int from = (int)(intptr_t)arg;
    for (int i = from; i < 64; i += 2)
        hak_free(owner_blocks[i]);
    return NULL;
}

TEST(a_full_slab_comes_back_when_remote_frees_arrive)
{
    /* Fill slabs of the largest Mid class completely, then free half of the blocks remotely:
     * the owner must learn about the full slabs' frees (notification) and reuse them. */
    size_t sz = 32768;
    void *keep[200];
    int n = 0;
    for (; n < 64; n++)
        owner_blocks[n] = hak_malloc(sz);
    pthread_t t;
    pthread_create(&t, NULL, free_some, (void *)0);
    pthread_join(t, NULL);
    struct hak_stats before;
    hak_stats(&before);
    int reused = 0;
    for (int i = 0; i < 32; i++) {
        keep[i] = hak_malloc(sz);
        for (int k = 0; k < 64; k += 2)
            reused += keep[i] == owner_blocks[k];
    }
    CHECKF(reused >= 24, "only %d of 32 remotely freed 32 KiB blocks reused", reused);
    for (int i = 0; i < 32; i++)
        hak_free(keep[i]);
    for (int i = 1; i < 64; i += 2)
        hak_free(owner_blocks[i]);
}
