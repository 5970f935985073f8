/* m2m — many-to-many cross-thread frees: every thread allocates batches of small blocks and hands
 * each batch to another thread (round robin over the others), which frees it; so every thread
 * is producer and consumer at once and nearly every free is remote. One single-producer /
 * single-consumer ring per ordered pair of threads keeps the hand-over itself cheap.
 *
 *   m2m threads=2 ms=2000 min=64 max=64 batch=64      (min=16 max=512: mixed sizes) */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "bench_common.h"

#define MAXT 32
#define SLOTS 8 /* batches in flight per ordered pair */

struct ring { /* one producer (thread i), one consumer (thread j) */
    size_t head __attribute__((aligned(64)));
    size_t tail __attribute__((aligned(64)));
    void **slots[SLOTS] __attribute__((aligned(64)));
};

static struct ring rings[MAXT][MAXT]; /* rings[from][to] */
static long nthreads, lo, hi, batch;
static int stop;
static uint64_t done_ops[MAXT];

/* Frees every batch waiting for thread `self`; returns the ops done. */
static uint64_t drain(long self)
{
    uint64_t ops = 0;
    for (long from = 0; from < nthreads; from++) {
        struct ring *r = &rings[from][self];
        size_t h = r->head;
        while (h != __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE)) {
            void **b = r->slots[h % SLOTS];
            for (long i = 0; i < batch; i++)
                free(b[i]);
            free(b);
            ops += (uint64_t)batch + 1;
            __atomic_store_n(&r->head, ++h, __ATOMIC_RELEASE);
        }
    }
    return ops;
}

static void *worker(void *arg)
{
    long self = (long)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(self + 1);
    uint64_t ops = 0;
    long to = self;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        to = (to + 1) % nthreads;
        if (to == self)
            continue;
        struct ring *r = &rings[self][to];
        size_t t = r->tail;
        if (t - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == SLOTS) {
            uint64_t n = drain(self);
            ops += n;
            if (n == 0)
                sched_yield();
            continue;
        }
        void **b = malloc((size_t)batch * sizeof *b);
        for (long i = 0; i < batch; i++) {
            size_t size = (size_t)(lo + (long)(bench_rand(&rng) % (uint64_t)(hi - lo + 1)));
            char *p = malloc(size);
            p[0] = (char)i;
            b[i] = p;
        }
        r->slots[t % SLOTS] = b;
        __atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
        ops += (uint64_t)batch + 1 + drain(self);
    }
    done_ops[self] = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = bench_arg(argc, argv, "threads", 2);
    double seconds = (double)bench_arg(argc, argv, "ms", 2000) / 1000.0;
    lo = bench_arg(argc, argv, "min", 64);
    hi = bench_arg(argc, argv, "max", 64);
    batch = bench_arg(argc, argv, "batch", 64);
    if (nthreads < 2)
        nthreads = 2;
    if (nthreads > MAXT)
        nthreads = MAXT;
    pthread_t t[MAXT];
    double t0 = bench_now();
    for (long i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    usleep((useconds_t)(seconds * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (long i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    double t1 = bench_now();
    /* Batches still in the rings after every thread stopped are freed here (not counted). */
    for (long i = 0; i < nthreads; i++)
        drain(i);
    uint64_t ops = 0;
    for (long i = 0; i < nthreads; i++)
        ops += done_ops[i];
    printf("m2m threads=%ld min=%ld max=%ld batch=%ld ops=%llu seconds=%.3f ops_per_sec=%.0f "
           "peak_rss_kb=%ld\n",
           nthreads, lo, hi, batch, (unsigned long long)ops, t1 - t0, (double)ops / (t1 - t0),
           peak_rss_kb());
    return 0;
}
