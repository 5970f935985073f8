/* misuse_case KIND TIER [realloc] — commit one misuse of hakmem memory, then (if still alive,
 * i.e. under HAKMEM_INVALID_FREE=report) prove nothing was corrupted: the right counter moved by
 * exactly one, every bystander block is intact, and new allocations neither repeat a block nor
 * overlap a live one. Exit 0 and print "survived" when all holds.
 *
 * KIND: double-immediate double-delayed double-interleaved double-owner-then-other
 *       double-other-then-owner double-other-twice double-after-thread-exit interior
 *       never-allocated
 * TIER: tiny mid l25 large */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

static size_t tier_size(const char *tier)
{
    if (!strcmp(tier, "tiny"))
        return 64;
    if (!strcmp(tier, "mid"))
        return 5000;
    if (!strcmp(tier, "l25"))
        return 100000;
    if (!strcmp(tier, "large"))
        return 3u << 20;
    return 0;
}

#define BYSTANDERS 64
static unsigned char *bystander[BYSTANDERS];
static size_t bystander_size[BYSTANDERS];

static void make_bystanders(void)
{
    /* Blocks of every tier; the Large one is the smallest Large size (its pages, and under TSan
     * their shadow, were most of a case's page faults at 2 MiB). */
    static const size_t sizes[] = {16, 64, 200, 1024, 5000, 30000, 100000, (1u << 20) + 4096};
    for (int i = 0; i < BYSTANDERS; i++) {
        bystander_size[i] = sizes[i % 8];
        bystander[i] = hak_malloc(bystander_size[i]);
        memset(bystander[i], 0x40 + i, bystander_size[i]);
    }
}

/* Compared a page at a time (a byte loop was most of a TSan build's run: every byte of the 2 MiB
 * bystanders was an instrumented load); the byte is searched for only once a page differs. */
static int bystanders_intact(void)
{
    static unsigned char want[4096];
    for (int i = 0; i < BYSTANDERS; i++) {
        memset(want, 0x40 + i, sizeof want);
        for (size_t at = 0; at < bystander_size[i]; at += sizeof want) {
            size_t n = bystander_size[i] - at < sizeof want ? bystander_size[i] - at : sizeof want;
            if (memcmp(bystander[i] + at, want, n) == 0)
                continue;
            size_t k = at;
            while (bystander[i][k] == want[0])
                k++;
            fprintf(stderr, "bystander %d corrupted at byte %zu\n", i, k);
            return 0;
        }
    }
    return 1;
}

struct job {
    void *p;
    int times;
};

static void *free_elsewhere(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < j->times; i++)
        hak_free(j->p);
    return NULL;
}

/* A block whose whole thread is gone: allocated and freed by a thread that then exits, so its slab
 * goes back to the pool or its page-run segment goes idle before the second free. */
static void *alloc_free_exit(void *arg)
{
    size_t size = *(size_t *)arg;
    void *p = hak_malloc(size);
    memset(p, 0x55, size);
    hak_free(p);
    return p;
}

static void *freed_by_exited_thread(size_t size)
{
    pthread_t t;
    void *p;
    pthread_create(&t, NULL, alloc_free_exit, &size);
    pthread_join(t, &p);
    return p;
}

static void free_on_other_thread(void *p, int times)
{
    struct job j = {p, times};
    pthread_t t;
    pthread_create(&t, NULL, free_elsewhere, &j);
    pthread_join(t, NULL);
}

static uint64_t counter(const struct hak_stats *s, const char *kind)
{
    if (!strncmp(kind, "double", 6))
        return s->double_frees;
    if (!strcmp(kind, "interior"))
        return s->interior_frees;
    return s->unallocated_frees;
}

static int cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Allocate many blocks of the misused size: none repeats, none overlaps a bystander. */
static int fresh_allocations_sound(size_t size)
{
    enum { N = 600 };
    static void *got[N];
    int n = size >= (1u << 20) ? 8 : N;
    for (int i = 0; i < n; i++) {
        got[i] = hak_malloc(size);
        if (!got[i])
            return 0;
        memset(got[i], 0x11, size < 256 ? size : 256);
        for (int b = 0; b < BYSTANDERS; b++) {
            uintptr_t lo = (uintptr_t)bystander[b], hi = lo + bystander_size[b];
            uintptr_t g = (uintptr_t)got[i];
            if (g < hi && g + size > lo) {
                fprintf(stderr, "new block %p overlaps bystander %d\n", got[i], b);
                return 0;
            }
        }
    }
    qsort(got, (size_t)n, sizeof got[0], cmp);
    for (int i = 1; i < n; i++)
        if (got[i] == got[i - 1]) {
            fprintf(stderr, "block %p handed out twice\n", got[i]);
            return 0;
        }
    for (int i = 0; i < n; i++)
        hak_free(got[i]);
    return 1;
}

static void misuse(const char *kind, size_t size, int via_realloc)
{
    unsigned char *p = hak_malloc(size);
    memset(p, 0x77, size);
    void *target = p;
    if (!strcmp(kind, "interior")) {
        target = p + (size >= 4096 ? 4096 + 16 : 16);
    } else if (!strcmp(kind, "never-allocated")) {
        /* Far past anything carved in this fresh process: the slab's or segment's untouched
         * tail (for page runs, a page-aligned address in the free part of the segment). */
        target = size < 4096 ? p + size * 300 : size < 32768 ? p + 5120 * 60 : p + (1u << 20);
    } else if (!strcmp(kind, "double-immediate")) {
        hak_free(p);
    } else if (!strcmp(kind, "double-delayed")) {
        hak_free(p);
        for (int i = 0; i < 1000; i++)
            hak_free(hak_malloc(size == 64 ? 200 : 64));
    } else if (!strcmp(kind, "double-interleaved")) {
        void *a = hak_malloc(size), *b = hak_malloc(size);
        hak_free(p);
        hak_free(a);
        hak_free(b);
    } else if (!strcmp(kind, "double-after-thread-exit")) {
        hak_free(p);
        target = freed_by_exited_thread(size);
    } else if (!strcmp(kind, "double-owner-then-other")) {
        hak_free(p);
        free_on_other_thread(p, 1);
        return;
    } else if (!strcmp(kind, "double-other-then-owner")) {
        free_on_other_thread(p, 1);
    } else if (!strcmp(kind, "double-other-twice")) {
        free_on_other_thread(p, 2);
        return;
    } else {
        fprintf(stderr, "unknown kind %s\n", kind);
        exit(2);
    }
    if (via_realloc) {
        void *q = hak_realloc(target, size * 2);
        if (q != NULL) {
            fprintf(stderr, "realloc of invalid pointer returned %p\n", q);
            exit(1);
        }
    } else {
        hak_free(target);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || tier_size(argv[2]) == 0) {
        fprintf(stderr, "usage: misuse_case KIND TIER [realloc]\n");
        return 2;
    }
    const char *kind = argv[1];
    size_t size = tier_size(argv[2]);
    make_bystanders();
    struct hak_stats before, after;
    hak_stats(&before);
    misuse(kind, size, argc > 3 && !strcmp(argv[3], "realloc"));
    hak_stats(&after);
    uint64_t moved = counter(&after, kind) - counter(&before, kind);
    if (moved != 1 || after.invalid_frees - before.invalid_frees != 1) {
        fprintf(stderr, "misuse counter moved by %llu (all kinds: %llu)\n",
                (unsigned long long)moved,
                (unsigned long long)(after.invalid_frees - before.invalid_frees));
        return 1;
    }
    if (!bystanders_intact() || !fresh_allocations_sound(size))
        return 1;
    printf("survived\n");
    return 0;
}
