/* malloc_api.c — what any malloc promises, checked on whichever malloc the process has: run it
 * plain for glibc, or under LD_PRELOAD of another allocator (make check-allocator does both).
 *
 * Owns: the checks of the suite that need a whole process and only the standard API — overflow
 * of calloc and reallocarray, impossible sizes, posix_memalign's refusals, the alignment and usable
 * size of every small size and of aligned blocks (every usable byte written), fork while other
 * threads allocate, memory that stays bounded under thread churn and under cross-thread frees,
 * and blocks freed by several threads at once that come back exactly once. Promises: one PASS or
 * FAIL line per check, exit status 1 if any failed; a check that hangs is killed by its own
 * watchdog and reported by name. Must never: call a function the allocator under test does not
 * define itself (glibc's would be handed the target's blocks), or depend on hakmem.
 *
 * CONFORMANCE_STRICT_C=1 accepts what C allows where glibc documents a choice.
 * CONFORMANCE_QUICK=1 runs the threaded checks at a tenth of their volume (make test's seconds):
 * the growth bounds then see too little traffic to mean much. CONFORMANCE_ONLY=edges runs the
 * checks of the API's edges alone (no threads, no fork); =sizes those of sizes and arguments
 * alone (not the alignment and usable-size sweeps either). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed, strict_c;
static int volume = 10; /* tenths of the full run's loops */
static const char *volatile running = "start-up";

/* The watchdog, and a crash: the check running fails by name. */
static void on_alarm(int sig)
{
    char line[256];
    int n = sig == SIGALRM
                ? snprintf(line, sizeof line,
                           "FAIL %s: no result within its time limit (a hang in the "
                           "allocator?)\n",
                           running)
                : snprintf(line, sizeof line, "FAIL %s: killed by signal %d\n", running, sig);
    if (n > 0 && write(1, line, (size_t)n) < 0)
        _exit(2);
    _exit(1);
}

#define CHECK_NAMED(name, cond, ...)                                                               \
    do {                                                                                           \
        running = name;                                                                            \
        if (cond) {                                                                                \
            printf("PASS %s\n", name);                                                             \
        } else {                                                                                   \
            printf("FAIL %s: ", name);                                                             \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failed = 1;                                                                            \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

/* An entry point of the malloc family, only where the allocator that owns malloc defines it. */
static void *own(const char *symbol)
{
    void *f = dlsym(RTLD_DEFAULT, symbol);
    Dl_info a, b;
    if (f == NULL || !dladdr(f, &a) || !dladdr(dlsym(RTLD_DEFAULT, "malloc"), &b) ||
        a.dli_fbase != b.dli_fbase)
        return NULL;
    return f;
}

static size_t (*usable_size)(void *);
static int (*posix_memalign_fn)(void **, size_t, size_t);
static void *(*aligned_alloc_fn)(size_t, size_t);

static size_t resident_kib(void)
{
    unsigned long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* ---- the API's edges ---- */

static void impossible_sizes(void)
{
    running = "impossible sizes";
    errno = 0;
    void *p = calloc(SIZE_MAX / 2 + 2, 2); /* the product wraps to 2 */
    CHECK_NAMED("calloc_whose_product_overflows_fails_with_enomem",
                p == NULL && (errno == ENOMEM || strict_c),
                "calloc(SIZE_MAX / 2 + 2, 2) gave %p, errno %d", p, errno);
    free(p);
    errno = 0;
    p = calloc((size_t)1 << 33, (size_t)1 << 31); /* 2^64: wraps to 0 */
    CHECK_NAMED("calloc_whose_product_wraps_to_zero_fails_with_enomem",
                p == NULL && (errno == ENOMEM || strict_c), "calloc(2^33, 2^31) gave %p, errno %d",
                p, errno);
    free(p);
    void *(*reallocarray_fn)(void *, size_t, size_t) = own("reallocarray");
    if (reallocarray_fn != NULL) {
        void *q = malloc(64);
        memset(q, 0x5a, 64);
        errno = 0;
        p = reallocarray_fn(q, SIZE_MAX / 4 + 1, 8);
        int kept = p == NULL && ((unsigned char *)q)[63] == 0x5a;
        CHECK_NAMED("reallocarray_whose_product_overflows_fails_and_keeps_the_block",
                    kept && (errno == ENOMEM || strict_c),
                    "reallocarray(p, SIZE_MAX / 4 + 1, 8) gave %p, errno %d", p, errno);
        free(p != NULL ? p : q);
    } else {
        printf("SKIP reallocarray_whose_product_overflows_fails_and_keeps_the_block: the allocator "
               "has no reallocarray of its own\n");
    }
    errno = 0;
    p = malloc(SIZE_MAX - 4096);
    CHECK_NAMED("malloc_of_an_impossible_size_fails_with_enomem",
                p == NULL && (errno == ENOMEM || strict_c),
                "malloc(SIZE_MAX - 4096) gave %p, errno %d", p, errno);
    errno = 0;
    void *q = malloc(16);
    p = realloc(q, (size_t)PTRDIFF_MAX + 1);
    CHECK_NAMED("realloc_to_an_impossible_size_fails_and_keeps_the_block",
                p == NULL && (errno == ENOMEM || strict_c),
                "realloc(p, PTRDIFF_MAX + 1) gave %p, errno %d", p, errno);
    free(p != NULL ? p : q);
}

static void zero_and_null(void)
{
    void *a = malloc(0), *b = malloc(0);
    CHECK_NAMED("malloc_of_zero_gives_distinct_blocks", a != NULL && b != NULL && a != b,
                "malloc(0) gave %p and %p", a, b);
    free(a);
    free(b);
    free(NULL);
    void *p = realloc(NULL, 100);
    CHECK_NAMED("realloc_of_null_allocates", p != NULL, "realloc(NULL, 100) gave NULL");
    errno = 0;
    void *q = realloc(p, 0);
    CHECK_NAMED("realloc_to_zero_frees_the_block", q == NULL || strict_c,
                "realloc(p, 0) gave %p (glibc frees and returns NULL; C allows a block: "
                "CONFORMANCE_STRICT_C=1)",
                q);
    free(q);
}

static void posix_memalign_refusals(void)
{
    running = "posix_memalign_refuses_a_bad_alignment_and_leaves_the_pointer";
    if (posix_memalign_fn == NULL) {
        printf("SKIP %s: the allocator has no posix_memalign of its own\n", running);
        return;
    }
    static const size_t bad[] = {0, 3, 4, 24, 48, (size_t)1 << 63 | 16};
    int ok = 1;
    char why[256] = "";
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *p = (void *)0x1234;
        int rc = posix_memalign_fn(&p, bad[i], 64);
        if (rc != EINVAL || p != (void *)0x1234) {
            snprintf(why, sizeof why, "alignment %zu: returned %d, pointer %p", bad[i], rc, p);
            ok = 0;
            if (rc == 0)
                free(p);
            break;
        }
    }
    CHECK_NAMED("posix_memalign_refuses_a_bad_alignment_and_leaves_the_pointer", ok, "%s", why);
}

/* Every size to 4 KiB, and aligned blocks of every power of two to 64 MiB: aligned as promised,
 * usable size at least the request, and every usable byte writable without touching a
 * neighbour (each block is surrounded by live ones, filled and checked after). */
static void alignment_and_usable_size(void)
{
    running = "every_size_to_4096_is_aligned_and_every_usable_byte_is_its_own";
    enum { N = 4096 };
    static unsigned char *blocks[N + 1];
    int ok = 1;
    char why[256] = "";
    for (size_t n = 1; n <= N && ok; n++) {
        blocks[n] = malloc(n);
        size_t want = 16;
        if (strict_c)
            while (want > n)
                want /= 2;
        if (blocks[n] == NULL || ((uintptr_t)blocks[n] & (want - 1)) != 0) {
            snprintf(why, sizeof why, "malloc(%zu) gave %p, not aligned to %zu", n,
                     (void *)blocks[n], want);
            ok = 0;
            break;
        }
        size_t usable = usable_size != NULL ? usable_size(blocks[n]) : n;
        if (usable < n) {
            snprintf(why, sizeof why, "malloc(%zu): usable size %zu", n, usable);
            ok = 0;
            break;
        }
        memset(blocks[n], (int)(n & 0xff), usable);
    }
    for (size_t n = 1; n <= N && ok; n++)
        for (size_t i = 0; i < n; i++)
            if (blocks[n][i] != (unsigned char)(n & 0xff)) {
                snprintf(why, sizeof why,
                         "block of %zu bytes: byte %zu overwritten (a neighbour's usable size "
                         "reached into it)",
                         n, i);
                ok = 0;
                break;
            }
    for (size_t n = 1; n <= N; n++)
        free(blocks[n]), blocks[n] = NULL;
    CHECK_NAMED("every_size_to_4096_is_aligned_and_every_usable_byte_is_its_own", ok, "%s", why);

    running = "aligned_blocks_of_every_power_of_two_are_aligned_and_wholly_usable";
    if (aligned_alloc_fn == NULL) {
        printf("SKIP %s: the allocator has no aligned_alloc of its own\n", running);
        return;
    }
    ok = 1;
    for (size_t align = 1; align <= ((size_t)64 << 20) && ok; align *= 2)
        for (size_t size = 1;
             size <= 3 * align + 100 && size <= (volume < 10 ? (size_t)1 << 17 : (size_t)1 << 21);
             size = size * 3 + 7) {
            errno = 0;
            unsigned char *p = aligned_alloc_fn(align, size);
            if (p == NULL && errno == EINVAL && strict_c && size % align != 0)
                continue;
            if (p == NULL || ((uintptr_t)p & (align - 1)) != 0) {
                snprintf(why, sizeof why, "aligned_alloc(%zu, %zu) gave %p", align, size,
                         (void *)p);
                ok = 0;
                break;
            }
            size_t usable = usable_size != NULL ? usable_size(p) : size;
            if (usable < size) {
                snprintf(why, sizeof why, "aligned_alloc(%zu, %zu): usable size %zu", align, size,
                         usable);
                ok = 0;
            }
            memset(p, 0xa5, usable); /* an overstated usable size faults or corrupts here */
            free(p);
        }
    CHECK_NAMED("aligned_blocks_of_every_power_of_two_are_aligned_and_wholly_usable", ok, "%s",
                why);
}

/* ---- threads ---- */

static volatile int stop_threads;

static void *allocate_a_little(void *arg)
{
    for (int i = 0; i < 100; i++)
        free(malloc((size_t)i * 40 + 1));
    return arg;
}

/* Allocates and frees every size class and Large blocks, and every 8 rounds or so starts and joins a
 * thread that allocates (a heap set up and torn down: the allocator's global paths). */
static void *allocate_until_stopped(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *held[64] = {0};
    while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 16) % 64;
        free(held[k]);
        held[k] = malloc((seed >> 8) % 3 == 0 ? 100000 : (seed >> 4) % 2000 + 1);
        if ((seed >> 20) % 8 == 0) {
            pthread_t t;
            if (pthread_create(&t, NULL, allocate_a_little, NULL) == 0)
                pthread_join(t, NULL);
        }
    }
    for (int k = 0; k < 64; k++)
        free(held[k]);
    return NULL;
}

/* fork() while other threads allocate: the child must be able to allocate in every tier (an
 * allocator lock held by another thread across fork would hang it). */
static void fork_while_threads_allocate(void)
{
    running = "fork_while_threads_allocate_gives_a_child_that_can_allocate";
    pthread_t t[3];
    stop_threads = 0;
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, allocate_until_stopped, (void *)(uintptr_t)(i + 1));
    int ok = 1;
    char why[256] = "";
    for (int round = 0; round < 20 * volume && ok; round++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(5);
            for (size_t size = 16; size <= ((size_t)4 << 20); size *= 2) {
                void *p = malloc(size);
                if (p == NULL)
                    _exit(3);
                memset(p, 1, size);
                free(p);
            }
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            snprintf(why, sizeof why, "fork %d: the child %s (an allocator lock held across fork?)",
                     round,
                     WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "hung for 5 s in malloc"
                                                                        : "did not exit cleanly");
            ok = 0;
        }
    }
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_NAMED("fork_while_threads_allocate_gives_a_child_that_can_allocate", ok, "%s", why);
}

/* Short-lived threads, each allocating and keeping blocks the main thread frees after it
 * exited: what the allocator keeps must not grow with the number of threads. */
#define CHURN_BLOCKS 2000
static void *keep_blocks_and_exit(void *arg)
{
    void **out = arg;
    for (int i = 0; i < CHURN_BLOCKS; i++) {
        out[i] = malloc((size_t)(i % 50) * 16 + 16);
        memset(out[i], 7, 16);
    }
    for (int i = 0; i < CHURN_BLOCKS; i += 2) /* half freed by the thread itself */
        free(out[i]), out[i] = NULL;
    return NULL;
}

static void memory_bounded_under_thread_churn(void)
{
    running = "memory_stays_bounded_under_thread_churn";
    static void *blocks[CHURN_BLOCKS];
    size_t base = 0;
    for (int round = 0; round < 20 + 38 * volume; round++) {
        pthread_t t;
        pthread_create(&t, NULL, keep_blocks_and_exit, blocks);
        pthread_join(t, NULL);
        for (int i = 1; i < CHURN_BLOCKS; i += 2)
            free(blocks[i]);
        if (round == 19)
            base = resident_kib(); /* after the allocator's own warm-up */
    }
    size_t now = resident_kib(), grew = now > base ? now - base : 0; /* it may shrink */
    CHECK_NAMED("memory_stays_bounded_under_thread_churn", grew < 32 * 1024,
                "resident memory grew by %zu KiB over %d short-lived threads that each left "
                "about 400 KiB to be freed by another",
                grew, 38 * volume);
}

/* One thread allocates, another frees, about 0.8 GB through a queue of at most 64 batches: resident
 * memory must stay near what is in flight. */
#define BATCH 512
#define DEPTH 64
static void *volatile queue[DEPTH][BATCH];
static volatile int queue_full[DEPTH];

static void *free_batches(void *arg)
{
    long batches = (long)(intptr_t)arg;
    for (long b = 0; b < batches; b++) {
        int slot = (int)(b % DEPTH);
        while (!__atomic_load_n(&queue_full[slot], __ATOMIC_ACQUIRE))
            sched_yield();
        for (int i = 0; i < BATCH; i++)
            free(queue[slot][i]);
        __atomic_store_n(&queue_full[slot], 0, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void memory_bounded_under_cross_thread_frees(void)
{
    running = "memory_stays_bounded_under_cross_thread_frees";
    long batches = 2000L * volume + 2001;
    pthread_t consumer;
    pthread_create(&consumer, NULL, free_batches, (void *)(intptr_t)batches);
    size_t base = 0, peak = 0;
    for (long b = 0; b < batches; b++) {
        int slot = (int)(b % DEPTH);
        while (__atomic_load_n(&queue_full[slot], __ATOMIC_ACQUIRE))
            sched_yield();
        for (int i = 0; i < BATCH; i++) {
            queue[slot][i] = malloc((size_t)(i % 8 + 1) * 16);
            *(char *)queue[slot][i] = 1;
        }
        __atomic_store_n(&queue_full[slot], 1, __ATOMIC_RELEASE);
        if (b == 2000)
            base = resident_kib();
        if (b > 2000 && b % 1000 == 0 && resident_kib() > peak)
            peak = resident_kib();
    }
    pthread_join(consumer, NULL);
    size_t grew = peak > base ? peak - base : 0;
    CHECK_NAMED("memory_stays_bounded_under_cross_thread_frees", grew < 32 * 1024,
                "resident memory grew by %zu KiB while about 2 MiB was in flight", grew);
}

/* Blocks of one thread freed by three others at once, again and again: each must come back once
 * (a lost or duplicated remote free shows as a block handed out while still in use). */
#define SHARED 3000
static unsigned *shared_blocks[SHARED];
static pthread_barrier_t start_frees;

static void *free_a_third(void *arg)
{
    int part = (int)(intptr_t)arg;
    pthread_barrier_wait(&start_frees);
    for (int i = part; i < SHARED; i += 3)
        free(shared_blocks[i]);
    return NULL;
}

static void concurrent_remote_frees(void)
{
    running = "blocks_freed_by_several_threads_at_once_come_back_exactly_once";
    int ok = 1;
    char why[256] = "";
    for (int round = 0; round < 20 * volume && ok; round++) {
        for (int i = 0; i < SHARED; i++)
            shared_blocks[i] = malloc(48);
        pthread_t t[3];
        pthread_barrier_init(&start_frees, NULL, 3);
        for (int k = 0; k < 3; k++)
            pthread_create(&t[k], NULL, free_a_third, (void *)(intptr_t)k);
        for (int k = 0; k < 3; k++)
            pthread_join(t[k], NULL);
        pthread_barrier_destroy(&start_frees);
        /* Take them back, each stamped with its index: a block handed out twice is stamped twice. */
        for (int i = 0; i < SHARED; i++) {
            shared_blocks[i] = malloc(48);
            shared_blocks[i][0] = (unsigned)i;
            shared_blocks[i][1] = 0x600dcafe;
        }
        for (int i = 0; i < SHARED && ok; i++)
            if (shared_blocks[i][0] != (unsigned)i || shared_blocks[i][1] != 0x600dcafe) {
                snprintf(why, sizeof why, "round %d: block %p holds %u, not %d (handed out twice)",
                         round, (void *)shared_blocks[i], shared_blocks[i][0], i);
                ok = 0;
            }
        for (int i = 0; i < SHARED; i++)
            free(shared_blocks[i]);
    }
    CHECK_NAMED("blocks_freed_by_several_threads_at_once_come_back_exactly_once", ok, "%s", why);
}

int main(void)
{
    const char *s = getenv("CONFORMANCE_STRICT_C");
    strict_c = s != NULL && strcmp(s, "1") == 0;
    const char *quick = getenv("CONFORMANCE_QUICK");
    if (quick != NULL && strcmp(quick, "1") == 0)
        volume = 1;
    usable_size = (size_t(*)(void *))own("malloc_usable_size");
    posix_memalign_fn = (int (*)(void **, size_t, size_t))own("posix_memalign");
    aligned_alloc_fn = (void *(*)(size_t, size_t))own("aligned_alloc");
    signal(SIGALRM, on_alarm);
    signal(SIGSEGV, on_alarm);
    signal(SIGBUS, on_alarm);
    signal(SIGABRT, on_alarm);
    alarm(120); /* the whole program: a hang is a failure, not a stuck run */
    impossible_sizes();
    zero_and_null();
    posix_memalign_refusals();
    const char *only = getenv("CONFORMANCE_ONLY");
    if (only != NULL && strcmp(only, "sizes") == 0)
        return failed;
    alignment_and_usable_size();
    if (only != NULL && strcmp(only, "edges") == 0)
        return failed;
    fork_while_threads_allocate();
    memory_bounded_under_thread_churn();
    memory_bounded_under_cross_thread_frees();
    concurrent_remote_frees();
    return failed;
}
