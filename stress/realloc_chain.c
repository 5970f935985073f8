/* realloc_chain — several threads grow and shrink blocks across every tier (Tiny, Mid, page
 * runs, Large) with realloc, checking that each keeps its prefix; blocks also move between
 * threads, so reallocs of other threads' blocks happen too. */
#include <pthread.h>

#include "stress_common.h"

#define THREADS 3
#define CHAINS 16

struct chain {
    void *p;
    size_t n;
    uint32_t tag;
    pthread_mutex_t lock;
};

static struct chain chains[THREADS * CHAINS];
static int stop;
static uint64_t reallocs; /* atomic */

static size_t pick(uint64_t *rng)
{
    uint64_t r = stress_rand(rng);
    switch (r % 8) {
    case 0:
        return (1u << 20) + (r >> 8) % (4u << 20); /* Large */
    case 1:
    case 2:
        return 32769 + (r >> 8) % 1000000; /* page runs */
    case 3:
    case 4:
        return 1025 + (r >> 8) % 31000; /* Mid */
    default:
        return 1 + (r >> 8) % 1024; /* Tiny */
    }
}

static void *work(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 31337 + (uint64_t)id;
    uint64_t n_realloc = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        /* Mostly its own chains, sometimes another thread's. */
        uint64_t r = stress_rand(&rng);
        int k = r % 4 == 0 ? (int)((r >> 4) % (THREADS * CHAINS))
                           : id * CHAINS + (int)((r >> 4) % CHAINS);
        struct chain *c = &chains[k];
        pthread_mutex_lock(&c->lock);
        size_t n = pick(&rng);
        if (c->p)
            stress_check(c->p, c->n, c->tag, "before realloc");
        unsigned char *q = hak_realloc(c->p, n);
        if (!q)
            stress_fail("realloc to %zu bytes failed", n);
        if (c->p) {
            /* The prefix survives: compare against the old stamp (filled densely up to 16 KiB). */
            size_t keep = c->n < n ? c->n : n;
            if (keep > 4096)
                keep = 4096;
            for (size_t i = 0; i < keep; i++)
                if (q[i] != stress_byte(c->p, c->tag, i))
                    stress_fail("realloc %zu -> %zu lost byte %zu", c->n, n, i);
        }
        c->p = q, c->n = n, c->tag++;
        stress_fill(q, n, c->tag);
        pthread_mutex_unlock(&c->lock);
        n_realloc++;
    }
    __atomic_fetch_add(&reallocs, n_realloc, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    stress_name = "realloc_chain";
    stress_watchdog_start();
    for (int i = 0; i < THREADS * CHAINS; i++)
        pthread_mutex_init(&chains[i].lock, NULL);
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    usleep((useconds_t)(stress_seconds() * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS * CHAINS; i++)
        if (chains[i].p) {
            stress_check(chains[i].p, chains[i].n, chains[i].tag, "at the end");
            hak_free(chains[i].p);
        }
    stress_end_check();
    printf("PASS realloc_chain (%llu reallocs across every tier by %d threads, prefixes kept)\n",
           (unsigned long long)__atomic_load_n(&reallocs, __ATOMIC_RELAXED), THREADS);
    return 0;
}
