/* smoke.c — a short whole-program check of a malloc run under LD_PRELOAD (the reference
 * allocator, tests/refalloc/refalloc.c, first of all): threads freeing each other's blocks,
 * thread churn, many threads at once, realloc chains across every class, calloc of dirty memory,
 * the aligned API, the edge cases glibc documents, and fork while other threads allocate. Exit 0 and "smoke: ok" when
 * everything held; a message and exit 1 otherwise.
 *   cc -std=gnu11 -O1 -fno-builtin -pthread -o smoke tests/refalloc/smoke.c
 * (-fno-builtin: clang otherwise takes the malloc family never to set errno and folds the checks)
 *   LD_PRELOAD=build/refalloc/librefalloc.so ./smoke */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "smoke: %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define THREADS 4
#define PER_THREAD 2000

/* Blocks made by thread i are freed by thread i + 1 (mod THREADS): every free is remote. */
static void *handoff[THREADS][PER_THREAD];
static pthread_barrier_t barrier;

static size_t size_of(unsigned i) { return 1 + (i * 7919u) % 3000; }

static void *cross(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (int round = 0; round < 5; round++) {
        for (unsigned i = 0; i < PER_THREAD; i++) {
            unsigned char *p = malloc(size_of(i));
            CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
            memset(p, (int)(id + i), size_of(i));
            handoff[id][i] = p;
        }
        pthread_barrier_wait(&barrier);
        unsigned from = (id + THREADS - 1) % THREADS;
        for (unsigned i = 0; i < PER_THREAD; i++) {
            unsigned char *p = handoff[from][i];
            CHECK(p[0] == (unsigned char)(from + i) &&
                  p[size_of(i) - 1] == (unsigned char)(from + i));
            free(p);
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    void **keep = arg;
    for (int i = 0; i < 100; i++)
        free(malloc(64 + (size_t)i));
    *keep = malloc(100); /* outlives its thread: freed by main */
    return NULL;
}

/* Many threads alive at once, after memory was freed: new heaps are carved from recycled spans. */
#define CROWD 150
static pthread_barrier_t crowd_barrier;

static void *crowd_member(void *arg)
{
    (void)arg;
    void *p[40];
    for (int i = 0; i < 40; i++)
        CHECK((p[i] = malloc((size_t)i * 800 + 1)) != NULL);
    pthread_barrier_wait(&crowd_barrier);
    for (int i = 0; i < 40; i++)
        free(p[i]);
    return NULL;
}

static void crowd(void)
{
    static void *held[4096];
    for (int i = 0; i < 4096; i++) { /* 16 MiB and more of dirty spans, then all of them idle */
        size_t n = 4000 + (size_t)(i % 8) * 4096;
        CHECK((held[i] = malloc(n)) != NULL);
        memset(held[i], 0x5a, n);
    }
    for (int i = 0; i < 4096; i++)
        free(held[i]);
    pthread_t t[CROWD];
    pthread_barrier_init(&crowd_barrier, NULL, CROWD);
    for (int i = 0; i < CROWD; i++)
        CHECK(pthread_create(&t[i], NULL, crowd_member, NULL) == 0);
    for (int i = 0; i < CROWD; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&crowd_barrier);
}

static void realloc_chain(void)
{
    unsigned char *p = NULL;
    size_t n = 0;
    for (size_t want = 1; want < (3u << 20); want = want * 5 / 4 + 1) {
        unsigned char *q = realloc(p, want);
        CHECK(q != NULL && malloc_usable_size(q) >= want);
        for (size_t i = 0; i < n && i < want; i++)
            CHECK(q[i] == (unsigned char)(i * 31));
        for (size_t i = n; i < want; i++)
            q[i] = (unsigned char)(i * 31);
        p = q, n = want;
    }
    for (size_t want = n; want > 1; want /= 3) { /* and down again */
        unsigned char *q = realloc(p, want);
        CHECK(q != NULL);
        CHECK(q[want - 1] == (unsigned char)((want - 1) * 31));
        p = q;
    }
    errno = 0;
    CHECK(realloc(p, 0) == NULL && errno == 0); /* frees, as glibc */
}

static volatile size_t huge = SIZE_MAX;

static void calloc_and_edges(void)
{
    for (size_t n = 16; n <= (64u << 10); n *= 2) { /* dirty blocks first */
        void *d = malloc(n);
        memset(d, 0xa5, n);
        free(d);
        unsigned char *z = calloc(1, n);
        CHECK(z != NULL);
        for (size_t i = 0; i < n; i++)
            CHECK(z[i] == 0);
        free(z);
    }
    size_t big = huge; /* through a volatile: no compiler folds or warns about these calls */
    errno = 0;         /* products that wrap to 16 and 8 bytes */
    CHECK(calloc(big / 16 + 2, 16) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(reallocarray(NULL, big / 8 + 2, 8) == NULL && errno == ENOMEM);
    void *a = malloc(0), *b = malloc(0);
    CHECK(a != NULL && b != NULL && a != b);
    free(a), free(b);
    free(NULL);
    errno = 0;
    CHECK(malloc(big - 100) == NULL && errno == ENOMEM);
}

static void aligned(void)
{
    for (size_t align = 1; align <= (8u << 20); align *= 2) {
        size_t sizes[] = {0, 1, align, 3 * align + 5, 100000};
        for (unsigned k = 0; k < 5; k++) {
            unsigned char *p = aligned_alloc(align, sizes[k]);
            CHECK(p != NULL && ((uintptr_t)p & (align - 1)) == 0 && ((uintptr_t)p & 15) == 0);
            CHECK(malloc_usable_size(p) >= sizes[k]);
            memset(p, 1, sizes[k]);
            free(p);
            void *q = (void *)0x1;
            if (align >= sizeof(void *)) {
                CHECK(posix_memalign(&q, align, sizes[k]) == 0 &&
                      ((uintptr_t)q & (align - 1)) == 0);
                free(q);
            }
            q = memalign(align, sizes[k]);
            CHECK(q != NULL && ((uintptr_t)q & (align - 1)) == 0);
            q = realloc(q, sizes[k] + 40000); /* an aligned block grows like any other */
            CHECK(q != NULL);
            free(q);
        }
    }
    void *q = (void *)0x1;
    CHECK(posix_memalign(&q, 24, 10) == EINVAL && q == (void *)0x1);
    CHECK(posix_memalign(&q, 4, 10) == EINVAL && q == (void *)0x1);
    void *v = valloc(10);
    CHECK(v != NULL && ((uintptr_t)v & 4095) == 0);
    free(v);
}

/* Workers allocate and free without pause while the main thread forks: the child must find a
 * working allocator (no lock left held by a thread that does not exist in it). */
static volatile int stop;

static void *busy(void *arg)
{
    (void)arg;
    while (!stop) {
        void *p[64];
        for (int i = 0; i < 64; i++)
            p[i] = malloc((size_t)(i * 523) % 40000 + 1);
        for (int i = 0; i < 64; i++)
            free(p[i]);
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    free(arg);
    return malloc(1000);
}

static void forks(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, busy, NULL) == 0);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            void *p[100];
            for (int i = 0; i < 100; i++)
                p[i] = malloc((size_t)i * 997 + 1);
            pthread_t c;
            void *r = NULL;
            if (pthread_create(&c, NULL, child_thread, p[5]) != 0 || pthread_join(c, &r) != 0)
                _exit(2);
            free(r);
            for (int i = 0; i < 100; i++)
                if (i != 5)
                    free(p[i]);
            _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    void *probe = malloc(1);
    printf("smoke: malloc(1) usable size %zu\n", malloc_usable_size(probe));
    free(probe);

    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, cross, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    for (int round = 0; round < 200; round++) { /* thread churn: orphaned heaps adopted */
        void *keep = NULL;
        pthread_t s;
        CHECK(pthread_create(&s, NULL, short_lived, &keep) == 0);
        pthread_join(s, NULL);
        CHECK(keep != NULL);
        free(keep);
    }

    crowd();
    realloc_chain();
    calloc_and_edges();
    aligned();
    forks();
    printf("smoke: ok\n");
    return 0;
}
