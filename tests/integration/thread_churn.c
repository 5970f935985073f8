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
    /* The destructor's work, done with no heap of its own, is in the snapshot: one block each of
     * 48, 96 and 192 bytes out, and one of 200 bytes in and out (not in the hardened build, whose
     * counts are of framed blocks, freed after their quarantine). */
#ifndef HAK_HARDENED
    struct hak_stats after;
    hak_stats(&after);
    for (int i = 0; i < 3; i++) {
        int k = hak_size_class(48 << i);
        CHECKF(after.cls[k].allocs - before.cls[k].allocs == 1 &&
                   after.cls[k].live_blocks - before.cls[k].live_blocks == 1,
               "%d-byte blocks the exited thread's destructor left: %llu allocs, %llu live "
               "counted (expected 1, 1)",
               48 << i, (unsigned long long)(after.cls[k].allocs - before.cls[k].allocs),
               (unsigned long long)(after.cls[k].live_blocks - before.cls[k].live_blocks));
    }
    int k200 = hak_size_class(200);
    CHECKF(after.cls[k200].allocs - before.cls[k200].allocs == 1 &&
               after.cls[k200].frees - before.cls[k200].frees == 1,
           "the destructor's 200-byte block: %llu allocs, %llu frees counted (expected 1, 1)",
           (unsigned long long)(after.cls[k200].allocs - before.cls[k200].allocs),
           (unsigned long long)(after.cls[k200].frees - before.cls[k200].frees));
#endif
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

/* ---- the page-run arena of short-lived threads ---- */

static void *run_pages(void *arg)
{
    void **keep = arg;
    hak_free(hak_malloc(32)); /* a heap of its own, and with it an arena */
    void *a = hak_malloc(64 << 10), *b = hak_malloc(300 << 10), *c = hak_malloc(900 << 10);
    CHECK(a != NULL && b != NULL && c != NULL);
    memset(a, 1, 64 << 10);
    memset(b, 2, 300 << 10);
    memset(c, 3, 900 << 10);
    hak_free(a);
    hak_free(c);
    *keep = b; /* freed by the main thread after this one exited */
    return NULL;
}

/* Threads that come one after another (and two at a time) each take page runs: the arena a new
 * thread gets is one the threads before it used, so their free runs are reused and the page-run
 * segments stay as few as the threads alive at once need. */
TEST_TIMEOUT(short_lived_threads_reuse_the_page_run_segments_of_those_before_them, 120)
{
    void *warm = hak_malloc(100 << 10); /* the main thread's arena has its segment already */
    struct hak_stats s0, s1;
    hak_stats(&s0);
    uint64_t peak = 0;
    for (int round = 0; round < 300; round++) {
        test_progress("round %d of 300: two threads taking page runs", round + 1);
        void *kept[2];
        pthread_t t[2];
        int n = round % 2 == 0 ? 1 : 2; /* one thread, then two at once */
        for (int i = 0; i < n; i++)
            CHECK(pthread_create(&t[i], NULL, run_pages, &kept[i]) == 0);
        for (int i = 0; i < n; i++) {
            pthread_join(t[i], NULL);
            hak_free(kept[i]);
        }
        hak_stats(&s1);
        if (s1.segments_mapped > peak)
            peak = s1.segments_mapped;
    }
    hak_free(warm);
    /* Two threads at once need two arenas' runs (and a slab segment each at most); a thread that
     * got an arena nobody used before would add a segment every time. */
    CHECKF(peak <= s0.segments_mapped + 4,
           "segments peaked at %llu (from %llu) over 300 rounds of at most two live threads",
           (unsigned long long)peak, (unsigned long long)s0.segments_mapped);
    CHECK(s1.threads_exited - s0.threads_exited == 450);
}

/* ---- what the statistics keep of a thread that exited ---- */

static void *count_and_leave(void *arg)
{
    void **left = arg;
    void *p[50];
    for (int i = 0; i < 50; i++)
        p[i] = hak_malloc(96);
    for (int i = 0; i < 20; i++)
        hak_free(p[i]);
    for (int i = 20; i < 50; i++)
        left[i - 20] = p[i];
    return NULL;
}

TEST(an_exited_threads_allocations_and_frees_stay_counted_and_its_blocks_free_remotely)
{
#ifdef HAK_HARDENED
    return; /* the hardened build's frees wait in quarantine and its blocks carry a frame: the
             * counts are the inner allocator's, not the program's */
#endif
    hak_free(hak_malloc(1));
    int cls = hak_size_class(96);
    void *left[30];
    struct hak_stats s0, s1, s2;
    hak_stats(&s0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, count_and_leave, left) == 0);
    pthread_join(t, NULL);
    hak_stats(&s1);
    const struct hak_class_stats *a = &s0.cls[cls], *b = &s1.cls[cls];
    CHECKF(b->allocs - a->allocs == 50 && b->frees - a->frees == 20 &&
               b->live_blocks - a->live_blocks == 30 && s1.threads_exited == s0.threads_exited + 1,
           "after the thread exited: %llu allocs, %llu frees, %llu live (expected 50, 20, 30), "
           "%llu threads exited (expected %llu)",
           (unsigned long long)(b->allocs - a->allocs), (unsigned long long)(b->frees - a->frees),
           (unsigned long long)(b->live_blocks - a->live_blocks),
           (unsigned long long)s1.threads_exited, (unsigned long long)s0.threads_exited + 1);
    for (int i = 0; i < 30; i++)
        hak_free(left[i]);
    hak_stats(&s2);
    const struct hak_class_stats *c = &s2.cls[cls];
    CHECKF(c->frees - a->frees == 50 && c->remote_frees - a->remote_frees == 30 &&
               c->live_blocks == a->live_blocks,
           "after its blocks were freed by another thread: %llu frees (expected 50), %llu remote "
           "(expected 30), %llu live (expected %llu)",
           (unsigned long long)(c->frees - a->frees),
           (unsigned long long)(c->remote_frees - a->remote_frees),
           (unsigned long long)c->live_blocks, (unsigned long long)a->live_blocks);
}
