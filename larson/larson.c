/* larson — the Larson server workload (Larson & Krishnan), in C.
 *
 * Each thread owns an array of `slots` blocks of random sizes in [min, max]. It repeatedly frees
 * a random slot and refills it; after `rounds` x `slots` such steps it hands its array to a new
 * thread and exits. So most frees are of blocks another (usually dead) thread allocated, and
 * threads keep being born and dying. Runs for `seconds`; one op is one malloc or one free.
 *
 * Watchdog: the threads beat every 4096 steps; a run that makes no progress for 20 s, or whose
 * threads do not stop within 60 s of the deadline, fails with every thread's stack (gdb).
 *
 * Check mode: every block carries its size, its slot's generation count and a pattern derived
 * from its address and generation; all of it is verified before the block is freed, and any
 * mismatch prints what was expected and found and exits 1.
 *
 *   larson [threads=4] [seconds=5] [min=8] [max=1000] [slots=5000] [rounds=100] [seed=4141]
 *          [check=1]
 *
 * Built plainly it calls the malloc family (the allocator is chosen with LD_PRELOAD); built with
 * LARSON_HAK_API it calls hak_* directly (the sanitizer variants). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peak_rss.h"

#ifdef LARSON_HAK_API
#include "hakmem.h"
#define xmalloc hak_malloc
#define xfree hak_free
#define ALLOCATOR "hakmem (API)"
#else
#define xmalloc malloc
#define xfree free
#define ALLOCATOR NULL
#endif

struct params {
    long threads, seconds, min, max, slots, rounds, seed, check;
};

static struct params P = {4, 5, 8, 1000, 5000, 100, 4141, 1};

struct arena { /* one thread's array, handed from thread to thread */
    unsigned char **blocks;
    uint32_t *sizes;
    uint32_t *gens;
    uint64_t rng;
    uint64_t ops;
    int index;
    /* The thread running this array, and the one it took it over from (joined at its start, so
     * at the end joining the last thread of each chain means every thread has fully exited). */
    pthread_t thread, prev;
    int has_prev;
};

static int stop;           /* atomic */
static uint64_t heartbeat; /* atomic: bumped every 4096 steps of any thread */
static uint64_t total_ops; /* atomic: ops of finished threads */
static uint64_t handovers; /* atomic */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint8_t pattern_byte(const void *p, uint32_t gen, size_t i)
{
    return (uint8_t)(((uintptr_t)p >> 4) ^ (gen * 0x9e37u) ^ (i * 31u));
}

/* Layout of a checked block: [size:4][gen:4][pattern...] as far as the size allows. */
static void stamp(unsigned char *p, uint32_t size, uint32_t gen)
{
    if (size >= 4)
        memcpy(p, &size, 4);
    if (size >= 8)
        memcpy(p + 4, &gen, 4);
    for (size_t i = 8; i < size; i++)
        p[i] = pattern_byte(p, gen, i);
    if (size < 4)
        for (size_t i = 0; i < size; i++)
            p[i] = pattern_byte(p, gen, i);
}

static void verify(const unsigned char *p, uint32_t size, uint32_t gen, int slot)
{
    uint32_t got_size = 0, got_gen = 0;
    if (size >= 4)
        memcpy(&got_size, p, 4);
    if (size >= 8)
        memcpy(&got_gen, p + 4, 4);
    if ((size >= 4 && got_size != size) || (size >= 8 && got_gen != gen)) {
        fprintf(stderr,
                "larson: check failed: block %p (slot %d): expected size %u gen %u, found "
                "size %u gen %u\n",
                (const void *)p, slot, size, gen, got_size, got_gen);
        exit(1);
    }
    size_t from = size >= 8 ? 8 : size >= 4 ? size : 0;
    for (size_t i = from; i < size; i++)
        if (p[i] != pattern_byte(p, gen, i)) {
            fprintf(stderr,
                    "larson: check failed: block %p (slot %d, %u bytes, gen %u): byte %zu "
                    "is %#x, expected %#x\n",
                    (const void *)p, slot, size, gen, i, p[i], pattern_byte(p, gen, i));
            exit(1);
        }
}

static uint32_t pick_size(uint64_t *rng)
{
    return (uint32_t)(P.min + (long)(next_random(rng) % (uint64_t)(P.max - P.min + 1)));
}

static void *worker(void *arg);

static void start_thread(struct arena *a)
{
    if (pthread_create(&a->thread, NULL, worker, a) != 0) {
        fprintf(stderr, "larson: pthread_create failed\n");
        exit(1);
    }
}

static int running_threads; /* atomic */

static void *worker(void *arg)
{
    struct arena *a = arg;
    if (a->has_prev)
        pthread_join(a->prev, NULL);
    long steps = P.rounds * P.slots;
    uint64_t ops = 0;
    /* The random state lives in a register while the thread runs: the arenas sit side by side
     * in one array, and writing it there on every step would make the threads' cache lines
     * ping-pong (false sharing), a cost no allocator should be charged for. */
    uint64_t rng = a->rng;
    for (long k = 0; k < steps && !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
        int victim = (int)(next_random(&rng) % (uint64_t)P.slots);
        if (P.check)
            verify(a->blocks[victim], a->sizes[victim], a->gens[victim], victim);
        xfree(a->blocks[victim]);
        uint32_t size = pick_size(&rng);
        unsigned char *p = xmalloc(size);
        if (p == NULL) {
            fprintf(stderr, "larson: malloc(%u) failed\n", size);
            exit(1);
        }
        a->blocks[victim] = p;
        a->sizes[victim] = size;
        a->gens[victim]++;
        if (P.check)
            stamp(p, size, a->gens[victim]);
        else
            p[0] = (unsigned char)k;
        ops += 2;
        if ((k & 4095) == 4095)
            __atomic_fetch_add(&heartbeat, 1, __ATOMIC_RELAXED);
    }
    a->rng = rng;
    __atomic_fetch_add(&total_ops, ops, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        /* Hand the array to a new thread and die: its frees of our blocks are remote. */
        __atomic_fetch_add(&handovers, 1, __ATOMIC_RELAXED);
        a->prev = pthread_self();
        a->has_prev = 1;
        start_thread(a);
    } else {
        __atomic_fetch_sub(&running_threads, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Check mode, with every block freed and every thread joined: hakmem's full heap check (with
 * the hak_* API nothing may be out; preloaded, libc's own blocks are hakmem's too, so the
 * structural check and the counters). Other allocators have no such check. */
static void heap_check(void)
{
    int errors;
#ifdef LARSON_HAK_API
    hak_thread_flush();
    errors = hak_debug_check_quiescent(NULL, 0);
#else
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "hak_debug_check_heap");
    void (*flush)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "hak_thread_flush");
    if (check == NULL || flush == NULL)
        return;
    flush();
    errors = check();
#endif
    if (errors != 0) {
        fprintf(stderr,
                "larson: check failed: hakmem's heap check found %d violation(s) after "
                "every block was freed and every thread joined (lines above)\n",
                errors);
        exit(1);
    }
}

/* The watchdog's verdict: what was waited for, then every thread's stack, then exit 1. */
__attribute__((noreturn)) static void stuck(const char *what, double seconds)
{
    printf("larson: FAIL: %s for %.0f s (%d threads still running); stacks:\n", what, seconds,
           __atomic_load_n(&running_threads, __ATOMIC_RELAXED));
    fflush(stdout);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "command -v gdb >/dev/null && timeout -s KILL 30 gdb -p %d -batch -nx "
             "-ex 'thread apply all bt 25' 2>/dev/null | grep -E '^(Thread|#)' | sed 's/^/    /'",
             (int)getpid());
    if (system(cmd) != 0)
        printf("  (no stacks: gdb is missing or could not attach)\n");
    printf("larson: check=failed (hung)\n");
    fflush(stdout);
    _exit(1);
}

static long arg(int argc, char **argv, const char *key, long def)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return strtol(argv[i] + n + 1, NULL, 0);
    return def;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    P.threads = arg(argc, argv, "threads", P.threads);
    P.seconds = arg(argc, argv, "seconds", P.seconds);
    P.min = arg(argc, argv, "min", P.min);
    P.max = arg(argc, argv, "max", P.max);
    P.slots = arg(argc, argv, "slots", P.slots);
    P.rounds = arg(argc, argv, "rounds", P.rounds);
    P.seed = arg(argc, argv, "seed", P.seed);
    P.check = arg(argc, argv, "check", P.check);
    if (P.threads < 1 || P.min < 1 || P.max < P.min || P.slots < 1 || P.rounds < 1) {
        fprintf(stderr, "larson: bad parameters\n");
        return 2;
    }
    const char *name = ALLOCATOR;
    if (name == NULL)
        name = getenv("LARSON_ALLOCATOR");
    if (name == NULL) { /* run by hand: name whatever is preloaded */
        const char *preload = getenv("LD_PRELOAD");
        name = preload != NULL && *preload != '\0' ? preload : "system";
    }
    struct arena *arenas = calloc((size_t)P.threads, sizeof *arenas);
    uint64_t rng = (uint64_t)P.seed * 0x9e3779b97f4a7c15ull | 1;
    /* Warm-up: the main thread fills every array (so the first frees are all remote). */
    for (long t = 0; t < P.threads; t++) {
        struct arena *a = &arenas[t];
        a->index = (int)t;
        a->blocks = calloc((size_t)P.slots, sizeof *a->blocks);
        a->sizes = calloc((size_t)P.slots, sizeof *a->sizes);
        a->gens = calloc((size_t)P.slots, sizeof *a->gens);
        a->rng = next_random(&rng) | 1;
        for (long i = 0; i < P.slots; i++) {
            uint32_t size = pick_size(&rng);
            a->blocks[i] = xmalloc(size);
            a->sizes[i] = size;
            stamp(a->blocks[i], size, 0);
        }
    }
    /* The seed first: a run that fails or hangs can be repeated exactly. */
    printf("larson: threads=%ld seconds=%ld seed=%ld check=%ld\n", P.threads, P.seconds, P.seed,
           P.check);
    fflush(stdout);
    __atomic_store_n(&running_threads, (int)P.threads, __ATOMIC_RELAXED);
    double t0 = now();
    for (long t = 0; t < P.threads; t++)
        start_thread(&arenas[t]);
    uint64_t beat = 0;
    double last_beat = t0;
    while (now() - t0 < (double)P.seconds) {
        usleep(100000);
        uint64_t b = __atomic_load_n(&heartbeat, __ATOMIC_RELAXED);
        if (b != beat) {
            beat = b;
            last_beat = now();
        } else if (now() - last_beat > 20) {
            stuck("no thread made progress", now() - last_beat);
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    double t1 = now();
    while (__atomic_load_n(&running_threads, __ATOMIC_ACQUIRE) > 0) {
        usleep(1000);
        if (now() - t1 > 60)
            stuck("threads did not stop after the deadline", now() - t1);
    }
    for (long t = 0; t < P.threads; t++)
        pthread_join(arenas[t].thread, NULL);
    uint64_t ops = __atomic_load_n(&total_ops, __ATOMIC_RELAXED);
    /* Final check and cleanup of every array. */
    for (long t = 0; t < P.threads; t++) {
        struct arena *a = &arenas[t];
        for (long i = 0; i < P.slots; i++) {
            if (P.check)
                verify(a->blocks[i], a->sizes[i], a->gens[i], (int)i);
            xfree(a->blocks[i]);
        }
        free(a->blocks);
        free(a->sizes);
        free(a->gens);
    }
    free(arenas);
    if (P.check)
        heap_check();
    printf("larson: allocator=%s threads=%ld seconds=%ld size=%ld-%ld slots=%ld rounds=%ld "
           "handovers=%llu ops=%llu ops_per_sec=%.0f peak_rss_kb=%ld check=%s\n",
           name, P.threads, P.seconds, P.min, P.max, P.slots, P.rounds,
           (unsigned long long)__atomic_load_n(&handovers, __ATOMIC_RELAXED),
           (unsigned long long)ops, (double)ops / (t1 - t0), peak_rss_kb(),
           P.check ? "passed" : "off");
    return 0;
}
