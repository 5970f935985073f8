/* thread_churn — waves of threads each leave blocks live and exit; the next wave's main-thread
 * pass verifies and frees them (remote frees into orphaned slabs). RSS must stay bounded: after
 * the first waves it may not grow by more than 64 MiB however long the churn runs. */
#include <pthread.h>

#include "stress_common.h"

#define WAVE 8
#define BLOCKS 200

struct job {
    void *p[BLOCKS];
    size_t n[BLOCKS];
    uint32_t tag;
};

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *leave_blocks(void *arg)
{
    struct job *j = arg;
    uint64_t rng = j->tag * 2654435761u + 1;
    for (int i = 0; i < BLOCKS; i++) {
        uint64_t r = stress_rand(&rng);
        j->n[i] = r % 16 == 0 ? 1 + r % 40000 : 1 + r % 700;
        j->p[i] = hak_malloc(j->n[i]);
        if (!j->p[i])
            stress_fail("hak_malloc failed");
        stress_fill(j->p[i], j->n[i], j->tag + (uint32_t)i);
    }
    return NULL;
}

int main(void)
{
    stress_name = "thread_churn";
    stress_watchdog_start();
    static struct job jobs[2][WAVE];
    double end = stress_now() + stress_seconds();
    long waves = 0, baseline = 0, peak = 0;
    uint32_t tag = 1;
    while (stress_now() < end) {
        struct job *cur = jobs[waves & 1], *prev = jobs[(waves + 1) & 1];
        pthread_t t[WAVE];
        for (int i = 0; i < WAVE; i++) {
            cur[i].tag = tag;
            tag += BLOCKS;
            pthread_create(&t[i], NULL, leave_blocks, &cur[i]);
        }
        if (waves > 0)
            for (int i = 0; i < WAVE; i++)
                for (int k = 0; k < BLOCKS; k++) {
                    stress_check(prev[i].p[k], prev[i].n[k], prev[i].tag + (uint32_t)k,
                                 "left by an exited thread");
                    hak_free(prev[i].p[k]);
                }
        stress_phase("joining the threads");
        for (int i = 0; i < WAVE; i++)
            pthread_join(t[i], NULL);
        waves++;
        long rss = rss_kb();
        if (waves == 20)
            baseline = rss;
        if (rss > peak)
            peak = rss;
    }
    struct job *last = jobs[(waves - 1) & 1];
    for (int i = 0; i < WAVE; i++)
        for (int k = 0; k < BLOCKS; k++)
            hak_free(last[i].p[k]);
    struct hak_stats s;
    hak_stats(&s);
    long growth = baseline ? peak - baseline : 0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const int checked = 0; /* sanitizer shadow memory grows with every new address */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    const int checked = 0;
#else
    const int checked = 1;
#endif
#else
    const int checked = 1;
#endif
    if (checked && growth > 64 * 1024)
        stress_fail("RSS grew by %ld KiB after the first 20 waves (baseline %ld KiB, peak %ld KiB)",
                    growth, baseline, peak);
    stress_end_check();
    printf("PASS thread_churn (%ld threads in %ld waves; RSS %ld KiB after 20 waves, peak %ld KiB; "
           "orphaned %llu, adopted %llu, reclaimed %llu slabs)\n",
           waves * WAVE, waves, baseline, peak, (unsigned long long)s.slabs_orphaned,
           (unsigned long long)s.slabs_adopted, (unsigned long long)s.slabs_reclaimed);
    return 0;
}
