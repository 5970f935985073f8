/* Creating and ending many threads that each leave live blocks (freed later by other threads)
 * keeps memory bounded: orphaned slabs are adopted and reclaimed instead of piling up. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "test.h"

#define PER_THREAD 40
#define WAVE 8

struct job {
    void *blocks[PER_THREAD];
    unsigned seed;
};

/* Slabs a wave's threads would hold if none reused another's: one per thread per class it
 * touched, counted in segments of each slab kind (64 KiB slabs up to 4 KiB blocks, 512 KiB
 * above). */
static double wave_segments_if_unshared(const struct job *wave)
{
    double segments = 0;
    for (int i = 0; i < WAVE; i++) {
        bool seen[HAK_NUM_CLASSES] = {false};
        for (int k = 0; k < PER_THREAD; k++) {
            size_t n = hak_usable_size(wave[i].blocks[k]);
            int cls = hak_size_class(n);
            if (cls < 0 || seen[cls])
                continue;
            seen[cls] = true;
            segments += n <= 4096 ? 1.0 / 64 : 1.0 / 8;
        }
    }
    return segments;
}

static void *leave_blocks(void *arg)
{
    struct job *j = arg;
    unsigned s = j->seed;
    for (int i = 0; i < PER_THREAD; i++) {
        s = s * 1103515245u + 12345u;
        size_t n = 8 + (s >> 16) % (i % 10 == 0 ? 20000 : 1000);
        j->blocks[i] = hak_malloc(n);
        memset(j->blocks[i], (int)(s & 0xff), n < 64 ? n : 64);
    }
    return NULL;
}

TEST_TIMEOUT(ten_thousand_threads_leaving_live_blocks_keep_rss_bounded, 300)
{
    const char *env = getenv("TEST_CHURN_THREADS");
    int threads = env ? atoi(env) : 10000;
    static struct job jobs[2][WAVE];
    long rss_start = test_rss_kb();
    long rss_max = rss_start;
    uint64_t segments_peak = 0;
    double need[3] = {0, 0, 0}, need_max = 0;
    int waves = threads / WAVE;
    for (int w = 0; w < waves; w++) {
        struct job *cur = jobs[w & 1], *prev = jobs[(w + 1) & 1];
        test_progress("wave %d of %d: starting its threads, freeing the last wave's blocks, "
                      "joining",
                      w + 1, waves);
        pthread_t t[WAVE];
        for (int i = 0; i < WAVE; i++) {
            cur[i].seed = (unsigned)(w * WAVE + i + 1);
            pthread_create(&t[i], NULL, leave_blocks, &cur[i]);
        }
        /* Free the previous wave's blocks while this wave runs: cross-thread frees into slabs
         * whose owners have exited. */
        if (w > 0)
            for (int i = 0; i < WAVE; i++)
                for (int k = 0; k < PER_THREAD; k++)
                    hak_free(prev[i].blocks[k]);
        for (int i = 0; i < WAVE; i++)
            pthread_join(t[i], NULL);
        need[w % 3] = wave_segments_if_unshared(cur);
        if (need[0] + need[1] + need[2] > need_max)
            need_max = need[0] + need[1] + need[2];
        if (w % 64 == 0) {
            long rss = test_rss_kb();
            if (rss > rss_max)
                rss_max = rss;
        }
    }
    for (int i = 0; i < WAVE; i++)
        for (int k = 0; k < PER_THREAD; k++)
            hak_free(jobs[(waves - 1) & 1][i].blocks[k]);
    struct hak_stats s;
    hak_stats(&s);
    segments_peak = s.segments_peak;
    printf("  %d threads: RSS %ld KiB at start, at most %ld KiB during; segments peak %llu; "
           "orphaned %llu adopted %llu reclaimed %llu; three waves unshared %.1f segments\n",
           waves * WAVE, rss_start, rss_max, (unsigned long long)segments_peak,
           (unsigned long long)s.slabs_orphaned, (unsigned long long)s.slabs_adopted,
           (unsigned long long)s.slabs_reclaimed, need_max);
    CHECK(s.threads_exited >= (uint64_t)(waves * WAVE));
    /* Live data never exceeds two waves (~16 threads x 40 blocks); 10,000 threads' worth of
     * un-reused slabs would be gigabytes. */
    if (!TEST_UNDER_SANITIZER)
        CHECKF(rss_max - rss_start < 48 * 1024, "RSS grew by %ld KiB", rss_max - rss_start);
    /* At most three waves hold slabs at once (the running one, the last one whose blocks are
     * being freed, the one before whose orphans wait for adoption): even with no slab ever
     * shared, that bounds the segments, plus one partly used segment per slab kind. Without
     * adoption the peak grows with every wave (1,250 of them). */
    uint64_t bound = (uint64_t)need_max + 1 + 2;
    CHECKF(segments_peak <= bound,
           "segments peaked at %llu; three waves need at most %llu even without sharing a slab",
           (unsigned long long)segments_peak, (unsigned long long)bound);
}

/* A thread-local destructor that runs after hakmem tore the thread's heap down (a later key)
 * still allocates and frees; what it leaves live is freed by another thread. */
static pthread_key_t late_key;
static void *volatile left_by_destructor[3];
static volatile unsigned long long exited_when_destructor_ran;

static void late_destructor(void *arg)
{
    (void)arg;
    struct hak_stats s;
    hak_stats(&s);
    exited_when_destructor_ran = s.threads_exited;
    void *temp = hak_malloc(200);
    CHECK(temp != NULL);
    memset(temp, 0x5a, 200);
    hak_free(temp);
    for (int i = 0; i < 3; i++) {
        char *p = hak_malloc(48 << i);
        CHECK(p != NULL);
        memset(p, i + 1, 48 << i);
        left_by_destructor[i] = p;
    }
}

static void *set_late_key(void *arg)
{
    hak_free(hak_malloc(64)); /* the thread has a heap, torn down before the later key's turn */
    pthread_setspecific(late_key, arg);
    return NULL;
}

TEST(allocations_in_a_later_thread_destructor_are_served_and_freeable)
{
    hak_free(hak_malloc(1)); /* hakmem's own key first: its destructor runs before this one */
    CHECK(pthread_key_create(&late_key, late_destructor) == 0);
    struct hak_stats before;
    hak_stats(&before);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, set_late_key, (void *)1) == 0);
    pthread_join(t, NULL);
    /* hakmem's teardown of the thread had run: the destructor used the exit heap. */
    CHECKF(exited_when_destructor_ran > before.threads_exited,
           "threads exited: %llu before, %llu when the later destructor ran",
           (unsigned long long)before.threads_exited, exited_when_destructor_ran);
    for (int i = 0; i < 3; i++) {
        unsigned char *p = left_by_destructor[i];
        CHECK(p != NULL && p[0] == i + 1 && p[(48 << i) - 1] == i + 1);
        hak_free(p);
    }
    pthread_key_delete(late_key);
}
