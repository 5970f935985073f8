/* repro_runtime.c — the checks of an op program as a plain C program, for a bug report.
 *
 * `opsc emit-c PROGRAM` writes this file followed by a main() with one call per op: the result
 * uses only the standard malloc family, POSIX threads, fork and setrlimit, and shows a failure
 * under LD_PRELOAD of the allocator it was found in (cc -O1 -fno-builtin -pthread repro.c -o
 * repro -ldl; LD_PRELOAD=liballoc.so ./repro). Owns: the program's blocks (slots with sizes and fill seeds),
 * its worker threads and the checks after each op, the same ones the interpreter makes with
 * hakmem's own checks off: contents kept, no overlap, alignment, usable size (where the
 * allocator has its own malloc_usable_size), realloc keeps the prefix, calloc zeroes, failures
 * only while memory is refused and then with ENOMEM. Promises: exit status 0 when every check
 * passed; otherwise one line naming the op and what was expected, then abort(). Must never:
 * depend on anything of hakmem's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* A program uses only the ops it has. */
#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef REPRO_STRICT_C
#define REPRO_STRICT_C 0 /* 1: hold the allocator to C, not to glibc's documented choices */
#endif
#define REPRO_SLOTS 64
#define REPRO_WORKERS 4
#define REPRO_BULK_MAX 4096

static unsigned repro_op;
static const char *repro_text = "start";
static int repro_refusing, repro_in_child;

__attribute__((noreturn, format(printf, 1, 2))) static void repro_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "repro: check failed at op %u (%s%s): %s\n", repro_op,
            repro_in_child ? "in the fork child: " : "", repro_text, msg);
    fflush(stderr);
    abort();
}

/* ---- contents: a window into a table of random bytes, from an offset drawn from the seed ---- */

#define REPRO_PERIOD 4093
static uint8_t repro_table[2 * REPRO_PERIOD];

static void repro_pattern_init(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < REPRO_PERIOD; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        repro_table[i] = repro_table[REPRO_PERIOD + i] = (uint8_t)(x >> 24);
    }
}

static const uint8_t *repro_window(uint32_t seed, size_t from)
{
    return repro_table + ((size_t)seed * 977u + from) % REPRO_PERIOD;
}

static void repro_fill(uint8_t *p, uint32_t seed, size_t size)
{
    for (size_t from = 0; from < size; from += REPRO_PERIOD)
        memcpy(p + from, repro_window(seed, from),
               size - from < REPRO_PERIOD ? size - from : REPRO_PERIOD);
}

/* First offset below n that differs from the pattern, or SIZE_MAX. */
static size_t repro_damage(const uint8_t *p, uint32_t seed, size_t n)
{
    for (size_t from = 0; from < n; from += REPRO_PERIOD) {
        size_t k = n - from < REPRO_PERIOD ? n - from : REPRO_PERIOD;
        const uint8_t *want = repro_window(seed, from);
        if (memcmp(p + from, want, k) != 0)
            for (size_t i = 0; i < k; i++)
                if (p[from + i] != want[i])
                    return from + i;
    }
    return SIZE_MAX;
}

/* ---- slots ---- */

static struct {
    uint8_t *p;
    size_t size;
    uint32_t seed;
} repro_slot[REPRO_SLOTS];
static uint32_t repro_next_seed = 1;
static size_t (*repro_usable)(void *);

static void repro_intact(unsigned k, const char *when)
{
    size_t at = repro_damage(repro_slot[k].p, repro_slot[k].seed, repro_slot[k].size);
    if (at != SIZE_MAX)
        repro_fail("slot %u (%p, %zu bytes) damaged %s: byte %zu changed", k,
                   (void *)repro_slot[k].p, repro_slot[k].size, when, at);
}

static void repro_check_new(unsigned k, size_t align)
{
    uint8_t *p = repro_slot[k].p;
    size_t size = repro_slot[k].size, fundamental = 16;
    if (REPRO_STRICT_C)
        while (fundamental > 1 && fundamental > size)
            fundamental /= 2;
    if (((uintptr_t)p & (fundamental - 1)) != 0 || ((uintptr_t)p & (align - 1)) != 0)
        repro_fail("slot %u: %p (%zu bytes) is not aligned to %zu", k, (void *)p, size,
                   align > fundamental ? align : fundamental);
    if (repro_usable != NULL && repro_usable(p) < size)
        repro_fail("slot %u: usable size %zu < requested %zu", k, repro_usable(p), size);
    uintptr_t lo = (uintptr_t)p, hi = lo + (size ? size : 1);
    for (unsigned o = 0; o < REPRO_SLOTS; o++) {
        if (o == k || repro_slot[o].p == NULL)
            continue;
        uintptr_t olo = (uintptr_t)repro_slot[o].p, ohi = olo + (repro_slot[o].size ?: 1);
        if (lo < ohi && olo < hi)
            repro_fail("slot %u [%p, +%zu) overlaps live slot %u [%p, +%zu)", k, (void *)p, size, o,
                       (void *)repro_slot[o].p, repro_slot[o].size);
    }
}

static void repro_failed(const char *what, size_t size, int err)
{
    if (!repro_refusing)
        repro_fail("%s of %zu bytes failed (errno %d)", what, size, err);
    if (err != ENOMEM)
        repro_fail("%s of %zu bytes failed with errno %d while memory was refused, not ENOMEM",
                   what, size, err);
}

static void repro_place(unsigned k, void *p, size_t size, size_t align, int err)
{
    if (p == NULL) {
        repro_failed("allocation", size, err);
        return;
    }
    repro_slot[k].p = p;
    repro_slot[k].size = size;
    repro_slot[k].seed = repro_next_seed++;
    repro_check_new(k, align);
    repro_fill(p, repro_slot[k].seed, size);
}

static void r_free(unsigned k)
{
    if (repro_slot[k].p == NULL)
        return;
    repro_intact(k, "when freed");
    free(repro_slot[k].p);
    repro_slot[k].p = NULL;
}

static void r_malloc(unsigned k, size_t size)
{
    r_free(k);
    errno = 0;
    void *p = malloc(size);
    repro_place(k, p, size, 1, errno);
}

static void r_calloc(unsigned k, size_t size)
{
    r_free(k);
    errno = 0;
    uint8_t *p = calloc(1, size);
    if (p == NULL) {
        repro_failed("calloc", size, errno);
        return;
    }
    for (size_t i = 0; i < size; i++)
        if (p[i] != 0)
            repro_fail("calloc(%zu) byte %zu is %#x, not zero", size, i, p[i]);
    repro_place(k, p, size, 1, 0);
}

static void r_realloc(unsigned k, size_t size)
{
    if (repro_slot[k].p == NULL) {
        errno = 0;
        void *p = realloc(NULL, size);
        repro_place(k, p, size, 1, errno);
        return;
    }
    repro_intact(k, "before realloc");
    if (size == 0) {
        void *q = realloc(repro_slot[k].p, 0);
        repro_slot[k].p = NULL;
        if (q != NULL && !REPRO_STRICT_C)
            repro_fail("realloc(p, 0) returned %p, not NULL (glibc frees the block)", q);
        if (q != NULL)
            repro_place(k, q, 0, 1, 0);
        return;
    }
    size_t old = repro_slot[k].size;
    errno = 0;
    uint8_t *q = realloc(repro_slot[k].p, size);
    if (q == NULL) {
        repro_failed("realloc", size, errno);
        repro_intact(k, "after a refused realloc (it must leave the block as it was)");
        return;
    }
    size_t at = repro_damage(q, repro_slot[k].seed, old < size ? old : size);
    if (at != SIZE_MAX)
        repro_fail("realloc %zu -> %zu lost the prefix at byte %zu", old, size, at);
    repro_slot[k].p = NULL;
    repro_place(k, q, size, 1, 0);
}

static void r_aligned(unsigned k, size_t align, size_t size)
{
    r_free(k);
    errno = 0;
    void *p = aligned_alloc(align, size);
    if (p == NULL && errno == EINVAL && size % align != 0) {
        if (!REPRO_STRICT_C)
            repro_fail("aligned_alloc(%zu, %zu) failed with EINVAL: glibc takes any size", align,
                       size);
        return;
    }
    repro_place(k, p, size, align, errno);
}

static void r_usable(unsigned k)
{
    if (repro_slot[k].p != NULL && repro_usable != NULL &&
        repro_usable(repro_slot[k].p) < repro_slot[k].size)
        repro_fail("usable size %zu < %zu", repro_usable(repro_slot[k].p), repro_slot[k].size);
}

static void r_sweep(void)
{
    for (unsigned k = 0; k < REPRO_SLOTS; k++)
        if (repro_slot[k].p != NULL)
            repro_intact(k, "in a sweep");
}

/* ---- refused memory: an address-space limit for the ops an oom op covers ---- */

static unsigned repro_oom_left, repro_oom_after;
static long repro_headroom = -1;

static size_t repro_mapped(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void repro_limit(long headroom)
{
    struct rlimit r;
    getrlimit(RLIMIT_AS, &r);
    r.rlim_cur = headroom < 0 ? RLIM_INFINITY : repro_mapped() + (size_t)headroom;
    setrlimit(RLIMIT_AS, &r);
}

static void r_oom(unsigned after, unsigned span)
{
    repro_oom_after = after;
    repro_oom_left = span;
}

/* Before and after each op: memory is refused while an oom op covers an op that allocates. */
static void repro_begin(unsigned index, const char *text, int refusable)
{
    repro_op = index;
    repro_text = text;
    repro_refusing = repro_oom_left > 0 && refusable;
    if (repro_refusing) {
        repro_headroom = (long)repro_oom_after * (256 << 10);
        repro_limit(repro_headroom);
    }
}

static void repro_end(int is_oom_op)
{
    if (repro_refusing)
        repro_limit(repro_headroom = -1);
    repro_refusing = 0;
    if (repro_oom_left > 0 && !is_oom_op)
        repro_oom_left--;
}

/* ---- workers: threads that run one request at a time while the main thread waits ---- */

enum { W_NONE, W_FREE, W_ALLOC, W_CHURN, W_BULK, W_EXIT, W_RACE };
struct repro_task {
    int action; /* 1 free group, 2 alloc group, 3 churn, 4 exit, 5 flush (nothing here) */
    unsigned thread, group, count;
    size_t size;
};
static struct repro_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int running, op, done, err;
    void *ptr;
    size_t size;
    unsigned count;
    struct repro_task race;
} repro_workers[REPRO_WORKERS];
static struct {
    int fill;
    size_t size;
    uint32_t seed;
} repro_race_slot[REPRO_SLOTS];

static void repro_race_task(const struct repro_task *t, unsigned id)
{
    if (t->action == 1) {
        for (unsigned k = t->group * 8; k < t->group * 8 + 8; k++)
            if (repro_slot[k].p != NULL)
                free(repro_slot[k].p);
    } else if (t->action == 2) {
        for (unsigned k = t->group * 8; k < t->group * 8 + 8; k++) {
            if (!repro_race_slot[k].fill)
                continue;
            repro_slot[k].p = malloc(repro_race_slot[k].size);
            repro_slot[k].size = repro_race_slot[k].size;
            repro_slot[k].seed = repro_race_slot[k].seed;
            if (repro_slot[k].p != NULL)
                repro_fill(repro_slot[k].p, repro_slot[k].seed, repro_slot[k].size);
        }
    } else if (t->action == 3) {
        uint8_t *held[64];
        for (unsigned i = 0; i < t->count; i++)
            if ((held[i] = malloc(t->size)) != NULL)
                memset(held[i], 0xc0 + (int)id, t->size);
        for (unsigned i = 0; i < t->count; i++) {
            if (held[i] == NULL)
                continue;
            for (size_t j = 0; j < t->size; j++)
                if (held[i][j] != (uint8_t)(0xc0 + id))
                    repro_fail("a block churned by thread %u (%p, %zu bytes) was written by "
                               "someone else: byte %zu is %#x",
                               id, (void *)held[i], t->size, j, held[i][j]);
            free(held[i]);
        }
    }
}

static void *repro_worker_main(void *arg)
{
    struct repro_worker *w = arg;
    static void *bulk[REPRO_WORKERS][REPRO_BULK_MAX];
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->op == W_NONE)
            pthread_cond_wait(&w->cond, &w->lock);
        int op = w->op;
        pthread_mutex_unlock(&w->lock);
        int exits = op == W_EXIT;
        void **h = bulk[w - repro_workers];
        if (op == W_FREE) {
            free(w->ptr);
        } else if (op == W_ALLOC) {
            errno = 0;
            w->ptr = malloc(w->size);
            w->err = errno;
        } else if (op == W_CHURN || op == W_BULK) {
            for (unsigned i = 0; i < w->count; i++)
                h[i] = malloc(w->size);
            for (unsigned i = 0; i < w->count; i += 2)
                free(h[i]);
            for (unsigned i = 1; i < w->count; i += 2)
                free(h[i]);
        } else if (op == W_RACE) {
            repro_race_task(&w->race, (unsigned)(w - repro_workers) + 1);
            exits = w->race.action == 4;
        }
        pthread_mutex_lock(&w->lock);
        w->op = W_NONE;
        w->done = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (exits)
            return NULL;
    }
}

static struct repro_worker *repro_worker(unsigned k)
{
    struct repro_worker *w = &repro_workers[k];
    if (!w->running) {
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        w->op = W_NONE;
        if (repro_headroom >= 0) /* a thread's stack is the program's, not the allocator's */
            repro_limit(-1);
        int rc = pthread_create(&w->thread, NULL, repro_worker_main, w);
        if (repro_headroom >= 0)
            repro_limit(repro_headroom);
        if (rc != 0)
            repro_fail("cannot start worker %u", k);
        w->running = 1;
    }
    return w;
}

static void repro_post(unsigned k, int op)
{
    struct repro_worker *w = repro_worker(k);
    pthread_mutex_lock(&w->lock);
    w->op = op;
    w->done = 0;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void repro_wait(unsigned k)
{
    struct repro_worker *w = &repro_workers[k];
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void repro_ask(unsigned k, int op)
{
    repro_post(k, op);
    repro_wait(k);
}

static void repro_join(unsigned k)
{
    pthread_join(repro_workers[k].thread, NULL);
    pthread_mutex_destroy(&repro_workers[k].lock);
    pthread_cond_destroy(&repro_workers[k].cond);
    repro_workers[k].running = 0;
}

static void r_free_on(unsigned k, unsigned worker)
{
    if (repro_slot[k].p == NULL)
        return;
    repro_intact(k, "when handed to a worker to free");
    repro_worker(worker)->ptr = repro_slot[k].p;
    repro_ask(worker, W_FREE);
    repro_slot[k].p = NULL;
}

static void r_alloc_on(unsigned k, unsigned worker, size_t size)
{
    r_free(k);
    repro_worker(worker)->size = size;
    repro_ask(worker, W_ALLOC);
    repro_place(k, repro_workers[worker].ptr, size, 1, repro_workers[worker].err);
}

static void r_churn_on(unsigned worker, size_t size, unsigned count)
{
    repro_worker(worker)->size = size;
    repro_workers[worker].count = count;
    repro_ask(worker, W_CHURN);
}

static void r_end_worker(unsigned worker)
{
    if (!repro_workers[worker].running)
        return;
    repro_ask(worker, W_EXIT);
    repro_join(worker);
}

/* Up to three tasks at once, on real threads (a race's schedule bytes mean nothing here: run the
 * reproducer many times, REPRO_RUNS=N, to see a race that needs a rare interleaving). */
static void r_race(const struct repro_task *t, unsigned n)
{
    memset(repro_race_slot, 0, sizeof repro_race_slot);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8; k++) {
            if (t[i].action == 1 && repro_slot[k].p != NULL)
                repro_intact(k, "before a race freed it");
            if (t[i].action == 2 && repro_slot[k].p == NULL)
                repro_race_slot[k].fill = 1, repro_race_slot[k].size = t[i].size,
                repro_race_slot[k].seed = repro_next_seed++;
        }
        if (t[i].thread > 0)
            repro_worker(t[i].thread - 1);
    }
    for (unsigned i = 0; i < n; i++)
        if (t[i].thread > 0) {
            repro_workers[t[i].thread - 1].race = t[i];
            repro_post(t[i].thread - 1, W_RACE);
        }
    for (unsigned i = 0; i < n; i++)
        if (t[i].thread == 0)
            repro_race_task(&t[i], 0);
    for (unsigned i = 0; i < n; i++)
        if (t[i].thread > 0) {
            repro_wait(t[i].thread - 1);
            if (t[i].action == 4)
                repro_join(t[i].thread - 1);
        }
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8 && t[i].action == 1; k++)
            repro_slot[k].p = NULL;
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8 && t[i].action == 2; k++) {
            if (!repro_race_slot[k].fill || (repro_slot[k].p == NULL && repro_refusing))
                continue;
            if (repro_slot[k].p == NULL)
                repro_fail("a race's allocation of %zu bytes into slot %u failed",
                           repro_race_slot[k].size, k);
            repro_check_new(k, 1);
            repro_intact(k, "after the race that allocated it");
        }
}

static void r_bulk_on(unsigned worker, size_t size, unsigned count)
{
    repro_worker(worker)->size = size;
    repro_workers[worker].count = count;
    repro_ask(worker, W_BULK);
}

/* A fork child (workers gone, their blocks still held) frees half the blocks, allocates in a few
 * ways and frees again; it must exit cleanly. */
static void r_fork(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid == 0) {
        repro_in_child = 1;
        for (unsigned k = 0; k < REPRO_SLOTS; k += 2)
            r_free(k);
        r_malloc(0, 1);
        r_calloc(2, 20000);
        r_aligned(4, 4096, 100);
        r_malloc(6, 5 << 20);
        r_realloc(6, 1000);
        for (unsigned k = 0; k < REPRO_SLOTS; k++)
            r_free(k);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        repro_fail("fork child ended with status %#x (its report is above)", status);
}

static void repro_setup(void)
{
    repro_pattern_init();
    /* malloc_usable_size only where the allocator has its own (else it would be libc's, asked
     * about a block it does not own). */
    Dl_info a, b;
    void *usable = dlsym(RTLD_DEFAULT, "malloc_usable_size");
    if (usable != NULL && dladdr(usable, &a) && dladdr((void *)malloc, &b) &&
        a.dli_fbase == b.dli_fbase)
        repro_usable = (size_t(*)(void *))usable;
}

static void repro_finish(void)
{
    repro_text = "end of program";
    for (unsigned k = 0; k < REPRO_SLOTS; k++)
        r_free(k);
    for (unsigned k = 0; k < REPRO_WORKERS; k++)
        r_end_worker(k);
}
