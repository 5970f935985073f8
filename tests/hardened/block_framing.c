/* The hardened build's framing of every block keeps the API's promises: the usable size is what
 * was asked for, realloc keeps the contents (in place while the block has room, moved when it
 * shrinks below half), every alignment is honoured, and the heap check sees both a damaged
 * canary of a block the program holds and the quarantines of other threads. A program that
 * damages a block under HAKMEM_INVALID_FREE=report is told once and goes on. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "hakmem.h"
#include "test.h"

static const size_t sizes[] = {1,     15,    16,    40,     100,     1000,   4000,
                               10000, 30000, 40000, 100000, 1 << 20, 3 << 20};
#define SIZES (sizeof sizes / sizeof sizes[0])

TEST(usable_size_is_exactly_the_requested_size_in_every_tier)
{
    for (size_t i = 0; i < SIZES; i++) {
        char *p = hak_malloc(sizes[i]);
        CHECK(p != NULL);
        CHECKF(hak_usable_size(p) == sizes[i], "%zu bytes: usable %zu", sizes[i],
               hak_usable_size(p));
        memset(p, 0x5a, sizes[i]); /* all of it is the program's */
        CHECK(hak_debug_check_quiescent((void **)&p, 1) == 0);
        hak_free(p);
    }
}

TEST(realloc_keeps_contents_in_place_while_there_is_room_and_moves_below_half)
{
    unsigned char *p = hak_malloc(40);
    test_fill_pattern(p, 40, 3);
    unsigned char *q = hak_realloc(p, 44); /* the 64-byte block has room for 44 and its canary */
    CHECK(q == p && test_pattern_holds(q, 40, 3) && hak_usable_size(q) == 44);
    CHECK(q[40] == 0 && q[43] == 0); /* the canary bytes it took over are the program's, zeroed */
    unsigned char *r = hak_realloc(q, 8); /* under half: moves to a smaller block */
    CHECK(r != q && test_pattern_holds(r, 8, 3) && hak_usable_size(r) == 8);
    size_t kept = 8;                     /* bytes of the pattern the block still holds */
    for (size_t i = 0; i < SIZES; i++) { /* through every tier, down to 1 byte and up again */
        unsigned char *s = hak_realloc(r, sizes[i]);
        kept = kept < sizes[i] ? kept : sizes[i];
        CHECKF(s != NULL && test_pattern_holds(s, kept, 3), "%zu bytes", sizes[i]);
        CHECK(hak_usable_size(s) == sizes[i]);
        r = s;
        if (sizes[i] >= 8) {
            test_fill_pattern(r, 8, 3);
            kept = 8;
        }
    }
    CHECK(hak_debug_check_quiescent((void **)&r, 1) == 0);
    hak_free(r);
}

TEST(every_alignment_is_honoured_with_the_block_framed)
{
    for (size_t align = 32; align <= ((size_t)2 << 20); align <<= 1)
        for (size_t i = 0; i < SIZES; i++) {
            if (sizes[i] > ((size_t)1 << 20) && align > 65536)
                continue; /* keeps the test's address space small */
            char *p = hak_aligned_alloc(align, sizes[i]);
            CHECKF(p != NULL && (uintptr_t)p % align == 0, "align %zu, %zu bytes: %p", align,
                   sizes[i], (void *)p);
            CHECK(hak_usable_size(p) == sizes[i]);
            memset(p, 0x33, sizes[i]);
            CHECKF(hak_debug_check_quiescent((void **)&p, 1) == 0, "align %zu, %zu bytes", align,
                   sizes[i]);
            hak_free(p);
        }
}

TEST(heap_check_reports_a_held_block_whose_canary_changed)
{
    unsigned char *p = hak_malloc(40);
    unsigned char canary = p[40]; /* deliberately past the block: the first canary byte */
    p[40] = (unsigned char)(canary ^ 1);
    CHECK(hak_debug_check_quiescent((void **)&p, 1) == 1);
    p[40] = canary;
    CHECK(hak_debug_check_quiescent((void **)&p, 1) == 0);
    hak_free(p);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int phase;

static void *free_then_wait(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        hak_free(hak_malloc((size_t)(16 + i * 40)));
    pthread_mutex_lock(&lock);
    phase = 1;
    pthread_cond_broadcast(&cond);
    while (phase != 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

TEST(another_threads_quarantine_counts_as_free_in_the_heap_check)
{
    pthread_t t;
    pthread_create(&t, NULL, free_then_wait, NULL);
    pthread_mutex_lock(&lock);
    while (phase != 1)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    /* The thread is idle with 100 freed blocks in its quarantine: they are free, not lost. */
    CHECK(hak_debug_check_quiescent(NULL, 0) == 0);
    pthread_mutex_lock(&lock);
    phase = 2;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    CHECK(hak_debug_check_quiescent(NULL, 0) == 0);
}

TEST(under_report_policy_a_damaged_block_is_reported_counted_and_kept_out_of_use)
{
    char path[512], out[4096];
    test_program_path(path, sizeof path, "hardened_case");
    char *argv[] = {path, NULL};
    setenv("HAKMEM_INVALID_FREE", "report", 1);
    int status = test_run_program(argv, out, sizeof out);
    unsetenv("HAKMEM_INVALID_FREE");
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, out);
    CHECKF(strstr(out, "heap buffer overflow") && strstr(out, "ignored") &&
               strstr(out, "kept out of use"),
           "%s", out);
}

/* What a thread's quarantine holds at most, per kind of block: 1 MiB of slab blocks, 4 MiB of
 * page runs, 256 MiB of Large address space, and 256 blocks. The inner allocator still counts a
 * quarantined block as live: the snapshot's live bytes of each tier are what the quarantine
 * holds. Freeing far more than a budget holds the budget's worth, and something of it. */
static void check_quarantine_budget(size_t size, int count, uint64_t budget, const char *tier,
                                    uint64_t (*live)(const struct hak_stats *))
{
    void **blocks = malloc(sizeof *blocks * (size_t)count);
    CHECK(blocks != NULL);
    hak_thread_flush(); /* an empty quarantine */
    struct hak_stats s0, s1;
    hak_stats(&s0);
    for (int i = 0; i < count; i++) {
        blocks[i] = hak_malloc(size);
        CHECK(blocks[i] != NULL);
    }
    for (int i = 0; i < count; i++)
        hak_free(blocks[i]);
    hak_stats(&s1);
    uint64_t held = live(&s1) - live(&s0);
    CHECKF(held <= budget && held >= budget / 4,
           "%d freed %s of %zu bytes (%zu in all): the quarantine holds %llu bytes, its budget "
           "is %llu",
           count, tier, size, size * (size_t)count, (unsigned long long)held,
           (unsigned long long)budget);
    hak_thread_flush();
    hak_stats(&s1);
    CHECKF(live(&s1) == live(&s0), "after hak_thread_flush the quarantine still holds %llu bytes",
           (unsigned long long)(live(&s1) - live(&s0)));
    free(blocks);
}

static uint64_t slab_live(const struct hak_stats *s)
{
    uint64_t n = 0;
    for (int c = 0; c < HAK_NUM_CLASSES; c++)
        n += s->cls[c].live_blocks * s->cls[c].block_size;
    return n;
}
static uint64_t run_live(const struct hak_stats *s) { return s->page_run_live_bytes; }
static uint64_t large_live(const struct hak_stats *s) { return s->large_live_bytes; }

TEST(a_threads_quarantine_holds_at_most_its_budget_of_each_kind)
{
    check_quarantine_budget(16000, 300, 1 << 20, "slab blocks", slab_live);
    check_quarantine_budget(100 << 10, 120, 4 << 20, "page runs", run_live);
    check_quarantine_budget(8 << 20, 60, (uint64_t)256 << 20, "Large blocks", large_live);
}

TEST(a_threads_quarantine_holds_at_most_256_blocks)
{
    hak_thread_flush();
    struct hak_stats s0, s1;
    hak_stats(&s0);
    void *blocks[1000];
    for (int i = 0; i < 1000; i++)
        blocks[i] = hak_malloc(40);
    for (int i = 0; i < 1000; i++)
        hak_free(blocks[i]);
    hak_stats(&s1);
    int cls = hak_size_class(40 + 17); /* the block with its header and a canary byte */
    uint64_t held = s1.cls[cls].live_blocks - s0.cls[cls].live_blocks;
    CHECKF(held <= 256 && held >= 128, "1,000 freed 40-byte blocks: %llu held in quarantine",
           (unsigned long long)held);
    hak_thread_flush();
}

/* A zero-size block (a pointer into no-access memory) grows through realloc into a real block,
 * shrinks back to nothing, and frees as nothing. */
TEST(zero_size_blocks_grow_through_realloc_and_free_as_nothing)
{
    for (size_t n = 1; n < (4 << 20); n = n * 7 + 5) {
        char *z = hak_malloc(0);
        CHECK(z != NULL);
        char *p = hak_realloc(z, n);
        CHECKF(p != NULL && p != z && hak_usable_size(p) == n,
               "realloc of a zero-size block to %zu"
               " bytes: %p (usable %zu)",
               n, (void *)p, p ? hak_usable_size(p) : 0);
        memset(p, 0x33, n);
        CHECK(hak_debug_check_quiescent((void **)&p, 1) == 0);
        hak_free(p);
        char *y = hak_malloc(0);
        CHECK(hak_realloc(y, 0) == NULL); /* realloc to 0 frees: nothing is left of y */
        hak_free(hak_malloc(0));
    }
    CHECK(hak_debug_check_quiescent(NULL, 0) == 0);
}

/* A correct C++ program using every operator form the compiler and the standard library issue
 * (sized, aligned, nothrow, array with and without a cookie, containers, smart pointers) runs
 * under the hardened library with no report and the output it has without it. */
TEST(every_cxx_allocation_form_of_a_correct_program_runs_without_a_report)
{
    char path[512], lib[512], plain[256], under[4096];
    test_program_path(path, sizeof path, "allocation_forms_cxx");
    snprintf(lib, sizeof lib, "%s", path);
    for (int cut = 0; cut < 3; cut++) /* <build>/tests/programs/X -> <build> */
        *strrchr(lib, '/') = '\0';
    strcat(lib, "/libhakmem.so");
    char *argv[] = {path, NULL};
    int status = test_run_program(argv, plain, sizeof plain);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "without hakmem: status %#x: %s", status,
           plain);
    setenv("LD_PRELOAD", lib, 1);
    status = test_run_program(argv, under, sizeof under);
    unsetenv("LD_PRELOAD");
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(under, plain) == 0,
           "under %s: status %#x, output '%s' (without it: '%s')", lib, status, under, plain);
}
