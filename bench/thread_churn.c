/* thread_churn — memory under thread churn: rounds of threads that allocate and free random small
 * and medium blocks, pass some to other threads through a shared exchange (whoever displaces a
 * block there frees it, often a thread of a later round), and exit with part of their blocks
 * still out there. Threads are torn down and recreated every round. The figure that matters is
 * peak RSS (how well memory of exited threads is reused and returned); ops/s is reported too.
 *
 *   thread_churn threads=2 rounds=40 steps=50000 workset=512 */
#include <pthread.h>

#include "bench_common.h"

#define EXCHANGE 4096

static void *exchange[EXCHANGE];
static long steps, workset;
static uint64_t total_ops;

static size_t pick_size(uint64_t r)
{
    unsigned band = (unsigned)(r % 100);
    r >>= 8;
    if (band < 90)
        return 16 + (size_t)(r % 497); /* 16..512 B */
    if (band < 99)
        return 512 + (size_t)(r % 7681); /* 512 B..8 KiB */
    return 8192 + (size_t)(r % 57345);   /* 8..64 KiB */
}

/* Puts p in a random exchange slot and frees what was there (someone else's block). */
static uint64_t pass_on(void *p, uint64_t *rng)
{
    void *old = __atomic_exchange_n(&exchange[bench_rand(rng) % EXCHANGE], p, __ATOMIC_ACQ_REL);
    if (old == NULL)
        return 0;
    free(old);
    return 1;
}

static void *worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    char **local = calloc((size_t)workset, sizeof *local);
    uint64_t ops = 1;
    for (long i = 0; i < steps; i++) {
        uint64_t r = bench_rand(&rng);
        long k = (long)(r % (uint64_t)workset);
        if (local[k] != NULL) {
            if ((r >> 32) % 8 == 0)
                ops += pass_on(local[k], &rng);
            else {
                free(local[k]);
                ops++;
            }
        }
        size_t n = pick_size(bench_rand(&rng));
        local[k] = malloc(n);
        local[k][0] = (char)i;
        local[k][n - 1] = (char)i;
        ops++;
    }
    /* Exit with half the blocks freed and half left to other threads. */
    for (long k = 0; k < workset; k++) {
        if (local[k] == NULL)
            continue;
        if (k % 2 == 0) {
            free(local[k]);
            ops++;
        } else
            ops += pass_on(local[k], &rng);
    }
    free(local);
    __atomic_add_fetch(&total_ops, ops + 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = bench_arg(argc, argv, "threads", 2);
    long rounds = bench_arg(argc, argv, "rounds", 40);
    steps = bench_arg(argc, argv, "steps", 50000);
    workset = bench_arg(argc, argv, "workset", 512);
    if (threads < 1)
        threads = 1;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    double t0 = bench_now();
    for (long round = 0; round < rounds; round++) {
        for (long i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(round * threads + i + 1));
        for (long i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
    }
    double t1 = bench_now();
    for (long k = 0; k < EXCHANGE; k++)
        free(exchange[k]);
    free(t);
    printf("thread_churn threads=%ld rounds=%ld steps=%ld workset=%ld ops=%llu seconds=%.3f "
           "ops_per_sec=%.0f peak_rss_kb=%ld\n",
           threads, rounds, steps, workset, (unsigned long long)total_ops, t1 - t0,
           (double)total_ops / (t1 - t0), peak_rss_kb());
    return 0;
}
