/* Eight threads each free blocks allocated by the others, verifying contents, for a fixed time
 * (TEST_SECONDS, default 10): remote frees and drains must happen and lose nothing. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

#define THREADS 8
#define INBOX 1024

struct parcel {
    uint64_t *p;
    size_t words;
};

struct inbox {
    pthread_mutex_t lock;
    struct parcel items[INBOX];
    unsigned count;
} __attribute__((aligned(64)));

static struct inbox inboxes[THREADS];
static int stop; /* atomic */
static uint64_t verified[THREADS];

static uint64_t pattern(const uint64_t *p, size_t i) { return (uint64_t)(uintptr_t)p * 31 + i; }

static size_t pick_words(uint64_t *rng)
{
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    unsigned r = (unsigned)(*rng >> 33);
    if (r % 97 == 0)
        return 4096 + r % 20000; /* 32 KiB .. 200 KiB: mid and page runs */
    return 1 + r % 130;          /* 8 .. 1 KiB: tiny */
}

static int check_and_free(struct parcel x)
{
    for (size_t i = 0; i < x.words; i++)
        if (x.p[i] != pattern(x.p, i))
            return 0;
    hak_free(x.p);
    return 1;
}

static void *worker(void *arg)
{
    unsigned self = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (self + 1);
    struct parcel local[64];
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        /* Produce a batch for the others. */
        for (int k = 0; k < 64; k++) {
            size_t words = pick_words(&rng);
            uint64_t *p = hak_malloc(words * 8);
            if (p == NULL)
                test_fail(__FILE__, __LINE__, "out of memory");
            for (size_t i = 0; i < words; i++)
                p[i] = pattern(p, i);
            unsigned to = (self + 1 + (unsigned)(rng >> 40) % (THREADS - 1)) % THREADS;
            struct inbox *b = &inboxes[to];
            pthread_mutex_lock(&b->lock);
            if (b->count < INBOX) {
                b->items[b->count++] = (struct parcel){p, words};
                p = NULL;
            }
            pthread_mutex_unlock(&b->lock);
            if (p != NULL && !check_and_free((struct parcel){p, words}))
                test_fail(__FILE__, __LINE__, "own block corrupted");
        }
        test_tick();
        /* Consume what the others sent. */
        struct inbox *mine = &inboxes[self];
        unsigned n;
        do {
            pthread_mutex_lock(&mine->lock);
            n = mine->count < 64 ? mine->count : 64;
            mine->count -= n;
            memcpy(local, &mine->items[mine->count], n * sizeof local[0]);
            pthread_mutex_unlock(&mine->lock);
            for (unsigned k = 0; k < n; k++) {
                if (!check_and_free(local[k]))
                    test_fail(__FILE__, __LINE__, "block from another thread corrupted");
                verified[self]++;
            }
        } while (n == 64);
    }
    return NULL;
}

TEST_TIMEOUT(threads_freeing_each_others_blocks_lose_nothing, 120)
{
    const char *env = getenv("TEST_SECONDS");
    double seconds = env ? atof(env) : 10.0;
    for (int i = 0; i < THREADS; i++)
        pthread_mutex_init(&inboxes[i].lock, NULL);
    struct hak_stats before, after;
    hak_stats(&before);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    test_progress("%d threads allocating and freeing each other's blocks", THREADS);
    usleep((useconds_t)(seconds * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    test_progress("waiting for the %d threads to stop and exit", THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        for (unsigned k = 0; k < inboxes[i].count; k++)
            CHECK(check_and_free(inboxes[i].items[k]));
        total += verified[i];
    }
    hak_thread_flush();
    hak_stats(&after);
    printf("  %llu cross-thread blocks verified; remote frees %llu, drains %llu (%llu blocks)\n",
           (unsigned long long)total,
           (unsigned long long)(after.remote_frees - before.remote_frees),
           (unsigned long long)(after.drains - before.drains),
           (unsigned long long)(after.drained - before.drained));
    CHECK(total > 1000);
    CHECK(after.remote_frees - before.remote_frees > 500);
    CHECK(after.drains - before.drains > 0);
    CHECKF(after.live_bytes == before.live_bytes, "live bytes %llu -> %llu",
           (unsigned long long)before.live_bytes, (unsigned long long)after.live_bytes);
}
