/* xthread — producer threads allocate, consumer threads free: every free is remote (the worst
 * case for per-thread caches). Blocks of random Tiny/Mid sizes travel in batches of 256 through
 * a lock-free queue per producer/consumer pair, so the hand-over itself costs little.
 *
 *   xthread threads=2 seconds=2 min=16 max=1024      (threads/2 producers, threads/2 consumers) */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "bench_common.h"

#define BATCH 256 /* blocks per hand-over: the queue's cache-line traffic is per batch */
#define SLOTS 16  /* batches in flight per producer/consumer pair */
#define MAXT 64

struct batch {
    void *blocks[BATCH];
};

struct queue { /* single producer, single consumer */
    size_t head __attribute__((aligned(64)));
    size_t tail __attribute__((aligned(64)));
    struct batch *slots[SLOTS] __attribute__((aligned(64)));
};

static struct queue queues[MAXT];
static int stop;
static uint64_t done_ops[MAXT];
static long pairs, lo = 16, hi = 1024;

static void *producer(void *arg)
{
    long id = (long)arg;
    struct queue *q = &queues[id];
    uint64_t rng = 0x5eed + (uint64_t)id;
    uint64_t ops = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        size_t t = q->tail;
        if (t - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) == SLOTS) {
            sched_yield();
            continue;
        }
        struct batch *b = malloc(sizeof *b);
        for (int i = 0; i < BATCH; i++) {
            char *p = malloc((size_t)(lo + (long)(bench_rand(&rng) % (uint64_t)(hi - lo + 1))));
            p[0] = 1;
            b->blocks[i] = p;
        }
        q->slots[t % SLOTS] = b;
        __atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
        ops += BATCH + 1;
    }
    done_ops[id] = ops;
    return NULL;
}

static void *consumer(void *arg)
{
    long id = (long)arg;
    struct queue *q = &queues[id];
    uint64_t ops = 0;
    for (;;) {
        size_t h = q->head;
        if (h == __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE)) {
            if (__atomic_load_n(&stop, __ATOMIC_RELAXED) &&
                h == __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE))
                break;
            sched_yield();
            continue;
        }
        struct batch *b = q->slots[h % SLOTS];
        for (int i = 0; i < BATCH; i++)
            free(b->blocks[i]);
        free(b);
        __atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
        ops += BATCH + 1;
    }
    done_ops[pairs + id] = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = bench_arg(argc, argv, "threads", 2);
    double seconds = (double)bench_arg(argc, argv, "ms", 2000) / 1000.0;
    lo = bench_arg(argc, argv, "min", 16);
    hi = bench_arg(argc, argv, "max", 1024);
    pairs = threads / 2 > 0 ? threads / 2 : 1;
    if (pairs > MAXT / 2)
        pairs = MAXT / 2;
    pthread_t t[MAXT];
    double t0 = bench_now();
    for (long i = 0; i < pairs; i++) {
        pthread_create(&t[i], NULL, producer, (void *)i);
        pthread_create(&t[pairs + i], NULL, consumer, (void *)i);
    }
    usleep((useconds_t)(seconds * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (long i = 0; i < 2 * pairs; i++)
        pthread_join(t[i], NULL);
    double t1 = bench_now();
    uint64_t ops = 0;
    for (long i = 0; i < 2 * pairs; i++)
        ops += done_ops[i];
    printf("xthread threads=%ld min=%ld max=%ld ops=%llu seconds=%.3f ops_per_sec=%.0f "
           "peak_rss_kb=%ld\n",
           2 * pairs, lo, hi, (unsigned long long)ops, t1 - t0, (double)ops / (t1 - t0),
           peak_rss_kb());
    return 0;
}
