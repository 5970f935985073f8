/* Remote-free batches: a thread holds back its frees of another thread's blocks to push many with
 * one compare-and-swap, but never more than REMOTE_BATCH_BYTES of one class (its owner carves
 * fresh blocks while they wait), and its exit pushes what it still holds. */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

#include "hakmem.h"
#include "remote_queue.h"
#include "segment_map.h"
#include "size_class.h"
#include "slab.h"
#include "slab_of.h"
#include "test.h"

#define FREES 6

static void *blocks[FREES];
static sem_t freed, may_exit;

static void *free_then_wait(void *arg)
{
    (void)arg;
    hak_free(hak_malloc(16)); /* a heap of its own: a thread without one frees at once */
    for (int i = 0; i < FREES; i++)
        hak_free(blocks[i]);
    sem_post(&freed);
    sem_wait(&may_exit); /* stay alive: the exit would push the batch */
    return NULL;
}

static uint32_t queued(struct slab *s)
{
    return remote_queue_count(__atomic_load_n(&slab_remote(s)->queue, __ATOMIC_ACQUIRE));
}

/* FREES blocks of one slab of `size`, freed by another thread: what reached the slab's remote
 * queue while that thread lived, and after it exited. The owner (this thread) allocates nothing
 * of the class meanwhile, so nothing drains the queue. */
static void free_remotely(size_t size, uint32_t *while_alive, uint32_t *after_exit)
{
    for (int i = 0; i < FREES; i++)
        blocks[i] = hak_malloc(size);
    struct slab *s = slab_of(blocks[0]);
    for (int i = 1; i < FREES; i++)
        CHECKF(slab_of(blocks[i]) == s, "blocks of %zu bytes from more than one slab", size);
    uint32_t before = queued(s);
    sem_init(&freed, 0, 0);
    sem_init(&may_exit, 0, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_then_wait, NULL) == 0);
    sem_wait(&freed);
    *while_alive = queued(s) - before;
    sem_post(&may_exit);
    pthread_join(t, NULL);
    *after_exit = queued(s) - before;
}

TEST(remote_frees_of_large_blocks_are_pushed_once_a_batch_holds_its_byte_bound)
{
    size_t size = 1024;
    uint32_t per_batch = REMOTE_BATCH_BYTES / (uint32_t)size;
    CHECK(per_batch < FREES);
    uint32_t alive, exited;
    free_remotely(size, &alive, &exited);
    CHECK(hk_class_info[size_class_of(size)].remote_batch == per_batch);
    CHECKF(alive == per_batch, "%u of %d remote frees of %zu-byte blocks pushed, expected %u",
           alive, FREES, size, per_batch);
    CHECKF(exited == FREES, "%u of %d pushed after the freeing thread exited", exited, FREES);
}

TEST(remote_frees_of_small_blocks_wait_in_the_batch_until_the_thread_exits)
{
    size_t size = 64;
    uint32_t alive, exited;
    free_remotely(size, &alive, &exited);
    CHECK(hk_class_info[size_class_of(size)].remote_batch > FREES);
    CHECKF(alive == 0, "%u of %d remote frees of 64-byte blocks pushed before the batch filled",
           alive, FREES);
    CHECKF(exited == FREES, "%u of %d pushed after the freeing thread exited", exited, FREES);
}

/* ---- what a living thread's calls promise about the blocks it holds back ---- */

enum worker_step { STEP_NONE, STEP_THREAD_FLUSH, STEP_COLLECT, STEP_REFILL };

#define CLASSES_FREED 6
static size_t class_sizes[CLASSES_FREED] = {16, 48, 64, 112, 256, 512};
static void *per_class[CLASSES_FREED][FREES];
static enum worker_step step;

/* Frees every block of per_class (another thread's), then takes `step`, and waits alive. */
static void *free_classes_then_step(void *arg)
{
    (void)arg;
    hak_free(hak_malloc(16)); /* a heap of its own: a thread without one frees at once */
    for (int c = 0; c < CLASSES_FREED; c++)
        for (int i = 0; i < FREES; i++)
            hak_free(per_class[c][i]);
    void *kept = NULL;
    switch (step) {
    case STEP_NONE:
        break;
    case STEP_THREAD_FLUSH:
        hak_thread_flush();
        break;
    case STEP_COLLECT:
        hak_collect(0);
        break;
    case STEP_REFILL:
        kept = hak_malloc(20000);
        break; /* a class whose bin is empty */
    }
    sem_post(&freed);
    sem_wait(&may_exit);
    hak_free(kept);
    return NULL;
}

/* Blocks of CLASSES_FREED classes freed by another thread that then takes `step`: how many of
 * each class reached its slab's queue while that thread lived, and the remote frees the snapshot
 * counted per class meanwhile. */
static void free_classes_remotely(enum worker_step s, uint32_t *queued_alive, uint64_t *counted)
{
    struct slab *slabs[CLASSES_FREED];
    uint32_t before[CLASSES_FREED];
    struct hak_stats s0, s1;
    for (int c = 0; c < CLASSES_FREED; c++) {
        for (int i = 0; i < FREES; i++)
            per_class[c][i] = hak_malloc(class_sizes[c]);
        slabs[c] = slab_of(per_class[c][0]);
        for (int i = 1; i < FREES; i++)
            CHECK(slab_of(per_class[c][i]) == slabs[c]);
        before[c] = queued(slabs[c]);
    }
    hak_stats(&s0);
    step = s;
    sem_init(&freed, 0, 0);
    sem_init(&may_exit, 0, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_classes_then_step, NULL) == 0);
    sem_wait(&freed);
    hak_stats(&s1);
    for (int c = 0; c < CLASSES_FREED; c++) {
        unsigned k = size_class_of(class_sizes[c]);
        queued_alive[c] = queued(slabs[c]) - before[c];
        counted[c] = s1.cls[k].remote_frees - s0.cls[k].remote_frees;
    }
    sem_post(&may_exit);
    pthread_join(t, NULL);
}

static void check_every_class_pushed(enum worker_step s, const char *call)
{
    uint32_t alive[CLASSES_FREED];
    uint64_t counted[CLASSES_FREED];
    free_classes_remotely(s, alive, counted);
    for (int c = 0; c < CLASSES_FREED; c++) {
        CHECKF(alive[c] == FREES,
               "after %s, %u of the %d blocks of %zu bytes it freed to another thread's slab were "
               "in the slab's remote queue (the rest still held back in its batch)",
               call, alive[c], FREES, class_sizes[c]);
        CHECKF(counted[c] == FREES,
               "after %s, the snapshot counted %llu remote frees of %zu-byte blocks, not %d", call,
               (unsigned long long)counted[c], class_sizes[c], FREES);
    }
}

TEST(thread_flush_pushes_every_block_freed_to_another_threads_slab_and_publishes_the_count)
{
    check_every_class_pushed(STEP_THREAD_FLUSH, "hak_thread_flush()");
}

TEST(collect_pushes_every_block_freed_to_another_threads_slab_and_publishes_the_count)
{
    check_every_class_pushed(STEP_COLLECT, "hak_collect(0)");
}

TEST(a_refill_of_any_class_pushes_the_batches_of_every_class)
{
    uint32_t alive[CLASSES_FREED];
    uint64_t counted[CLASSES_FREED];
    free_classes_remotely(STEP_REFILL, alive, counted);
    for (int c = 0; c < CLASSES_FREED; c++)
        CHECKF(alive[c] == FREES,
               "after a refill of another class, %u of %d remote frees of %zu-byte blocks were "
               "pushed to their slab",
               alive[c], FREES, class_sizes[c]);
}

TEST(without_a_flush_small_remote_frees_stay_held_back_in_every_class)
{
    /* The other side of the promise: the batches are real (each class holds its blocks back). */
    uint32_t alive[CLASSES_FREED];
    uint64_t counted[CLASSES_FREED];
    free_classes_remotely(STEP_NONE, alive, counted);
    for (int c = 0; c < CLASSES_FREED; c++) {
        uint32_t limit = hk_class_info[size_class_of(class_sizes[c])].remote_batch;
        uint32_t want = limit >= FREES ? 0 : FREES - FREES % limit;
        CHECKF(alive[c] == want,
               "%u of %d remote frees of %zu-byte blocks pushed with no flush, "
               "expected %u (batches of %u)",
               alive[c], FREES, class_sizes[c], want, limit);
    }
}
