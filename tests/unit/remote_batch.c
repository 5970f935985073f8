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
