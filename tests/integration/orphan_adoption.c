/* A thread that exits with live blocks leaves orphaned slabs: frees into them are kept, another
 * thread adopts them (draining first), and nothing is lost or handed out twice. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "test.h"

#define N 3000
#define SIZE 96

static uint64_t *made[N];

static void *allocate_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        made[i] = hak_malloc(SIZE);
        for (int k = 0; k < SIZE / 8; k++)
            made[i][k] = (uint64_t)i * 1000 + (uint64_t)k;
    }
    return NULL; /* exits with every block live */
}

static void *adopted[N];
static int adopted_count;

static void *allocate_same_class(void *arg)
{
    (void)arg;
    for (int i = 0; i < N / 2; i++) {
        adopted[i] = hak_malloc(SIZE);
        memset(adopted[i], 0xcd, SIZE);
    }
    adopted_count = N / 2;
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

TEST(orphaned_slabs_keep_remote_frees_and_are_adopted_by_the_next_thread)
{
    struct hak_stats s0, s1, s2;
    hak_stats(&s0);
    pthread_t t;
    pthread_create(&t, NULL, allocate_and_exit, NULL);
    pthread_join(t, NULL);
    hak_stats(&s1);
    CHECK(s1.slabs_orphaned > s0.slabs_orphaned);
    CHECK(s1.threads_exited == s0.threads_exited + 1);
    /* Free the even blocks into the orphaned slabs, after checking them. */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < SIZE / 8; k++)
            CHECK(made[i][k] == (uint64_t)i * 1000 + (uint64_t)k);
    for (int i = 0; i < N; i += 2)
        hak_free(made[i]);
    void **freed = malloc(sizeof(void *) * (N / 2));
    for (int i = 0; i < N / 2; i++)
        freed[i] = made[2 * i];
    qsort(freed, N / 2, sizeof *freed, cmp);
    pthread_create(&t, NULL, allocate_same_class, NULL);
    pthread_join(t, NULL);
    hak_stats(&s2);
    CHECK(s2.slabs_adopted > s1.slabs_adopted);
    int reused = 0;
    for (int i = 0; i < adopted_count; i++)
        reused += bsearch(&adopted[i], freed, N / 2, sizeof *freed, cmp) != NULL;
    CHECKF(reused > N / 4, "only %d blocks freed into orphans were reused", reused);
    /* The odd blocks were never freed: still intact although their slabs changed owners. */
    for (int i = 1; i < N; i += 2)
        for (int k = 0; k < SIZE / 8; k++)
            CHECK(made[i][k] == (uint64_t)i * 1000 + (uint64_t)k);
    qsort(adopted, (size_t)adopted_count, sizeof *adopted, cmp);
    for (int i = 1; i < adopted_count; i++)
        CHECK(adopted[i] != adopted[i - 1]);
    for (int i = 1; i < N; i += 2)
        hak_free(made[i]);
    for (int i = 0; i < adopted_count; i++)
        hak_free(adopted[i]);
    free(freed);
    hak_thread_flush();
    struct hak_stats end;
    hak_stats(&end);
    CHECKF(end.live_bytes == s0.live_bytes, "live %llu vs %llu", (unsigned long long)end.live_bytes,
           (unsigned long long)s0.live_bytes);
}

/* Every class: a thread exits holding full slabs (and a partial one) of it. Each must become an
 * orphan the heap check accounts for, take the frees of another thread, and be adopted or
 * released, whatever its class: none may stay with the heap of a thread that is gone. */
#define CLASS_BYTES (256 << 10) /* per class: more than one slab of blocks, in every class */
static void **held_by_class[HAK_NUM_CLASSES];
static size_t held_count[HAK_NUM_CLASSES];

static void *fill_every_class_and_exit(void *arg)
{
    (void)arg;
    for (int c = 0; c < HAK_NUM_CLASSES; c++) {
        size_t size = hak_class_block_size(c), n = CLASS_BYTES / size + 1;
        held_by_class[c] = malloc(n * sizeof(void *));
        for (size_t i = 0; i < n; i++)
            memset(held_by_class[c][i] = hak_malloc(size), c + 1, size);
        held_count[c] = n;
    }
    return NULL;
}

TEST(full_slabs_of_every_class_are_orphaned_when_their_thread_exits)
{
    struct hak_stats before, after;
    hak_stats(&before);
    pthread_t t;
    pthread_create(&t, NULL, fill_every_class_and_exit, NULL);
    pthread_join(t, NULL);
    CHECKF(hak_debug_check_heap() == 0, "heap check after the thread exited (lines above)");
    for (int c = 0; c < HAK_NUM_CLASSES; c++) {
        for (size_t i = 0; i < held_count[c]; i++) {
            CHECK(((unsigned char *)held_by_class[c][i])[0] == c + 1);
            hak_free(held_by_class[c][i]); /* a remote free into an orphan */
        }
        free(held_by_class[c]);
    }
    hak_thread_flush();
    CHECKF(hak_debug_check_heap() == 0, "heap check after every block was freed (lines above)");
    pthread_create(&t, NULL, allocate_same_class, NULL); /* adopts what it can */
    pthread_join(t, NULL);
    for (int i = 0; i < adopted_count; i++)
        hak_free(adopted[i]);
    hak_thread_flush();
    hak_stats(&after);
    CHECKF(after.live_bytes == before.live_bytes, "live %llu vs %llu",
           (unsigned long long)after.live_bytes, (unsigned long long)before.live_bytes);
    CHECKF(hak_debug_check_heap() == 0, "heap check at the end (lines above)");
}
