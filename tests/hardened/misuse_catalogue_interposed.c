/* The hardened build catches the usual catalogue of heap misuse in every tier (Tiny, Mid, page
 * runs, Large): overflows and underflows of 1 byte, 32 bytes and 1 MiB by stores and by memcpy,
 * writes after free with and without reuse, memory left unzeroed, a freed block handed straight
 * back, access through a zero-size allocation, sized frees and deletes with the wrong size,
 * new/delete family mismatches, double and interior frees, and a forged free-list link. Every
 * case runs in a process of its own, through the interposed malloc family and C++ operators. */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hakmem.h"
#include "test.h"

/* C23 and the C++ operators (Itanium names), as a C++ program's calls reach them. */
void free_sized(void *p, size_t size);
void *_Znwm(size_t size);
void *_Znam(size_t size);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t size);

#define MiB ((size_t)1 << 20)

static const struct tier {
    const char *name;
    size_t size;
    int big;    /* page runs and Large: a guard page after the block */
    int sealed; /* Large: freed memory past the first page is no-access */
} tiers[] = {
    {"Tiny", 40, 0, 0}, {"Mid", 10000, 0, 0}, {"page run", 100000, 1, 0}, {"Large", 4 * MiB, 1, 1}};
#define TIERS (sizeof tiers / sizeof tiers[0])

/* Through volatile pointers, so the compiler keeps stores it could prove are misuse. */
static void *(*volatile memcpy_v)(void *, const void *, size_t) = memcpy;
/* Every store changes the byte it hits: a store of the value already there damages nothing, and
 * no check can see it (a fixed 'A' over a header byte that was 0x41 by chance made the 1-byte
 * underflow case fail one run in a few hundred). */
static void store_bytes(char *at, size_t len)
{
    volatile char *v = at;
    for (size_t i = 0; i < len; i++) {
        char c = (char)('A' + i % 26);
        v[i] = v[i] == c ? (char)(c ^ 0x20) : c;
    }
}
static char source[MiB + 64];

/* The compiler may drop a malloc whose block it sees freed unused (and a double free with it):
 * every case allocates through these. */
static void *alloc(size_t n) { return LAUNDER(malloc(LAUNDER(n))); }
static void *new_scalar(size_t n) { return LAUNDER(_Znwm(LAUNDER(n))); }
static void *new_array(size_t n) { return LAUNDER(_Znam(LAUNDER(n))); }

enum outcome { CLEAN, REPORT, FAULT, REPORT_OR_FAULT };

struct scenario {
    void (*run)(const struct tier *t, size_t len);
    const struct tier *tier;
    size_t len;
};

static void run_scenario(void *arg)
{
    const struct scenario *s = arg;
    s->run(s->tier, s->len);
}

/* Where a scenario names the block its report must be about (memory its child shares with the
 * parent: the address is the child's): 0 when it names none. */
static uintptr_t *reported_block;

/* Runs the scenario in a child: expect is what must end it; text, part of the report line. */
static void expect(const char *what, void (*run)(const struct tier *, size_t), const struct tier *t,
                   size_t len, enum outcome want, const char *text)
{
    static char err[8192];
    struct scenario s = {run, t, len};
    test_progress("%s, %s tier, %zu bytes: waiting for its child", what, t->name, len);
    if (reported_block == NULL) {
        reported_block = mmap(NULL, sizeof *reported_block, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CHECK(reported_block != MAP_FAILED);
    }
    *reported_block = 0;
    int status = test_run_child(run_scenario, &s, err, sizeof err);
    int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    int faulted =
        WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
    char block[48] = "";
    if (*reported_block != 0)
        snprintf(block, sizeof block, " block %p ", (void *)*reported_block);
    /* One line, then abort(); about the block the scenario named, if it named one. */
    int reported = aborted && strstr(err, "hakmem: ") && strstr(err, text) && strstr(err, block) &&
                   strchr(err, '\n') == err + strlen(err) - 1;
    switch (want) {
    case CLEAN:
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s (%s): status %#x: %s", what,
               t->name, status, err);
        break;
    case REPORT:
        CHECKF(reported, "%s (%s, %zu bytes): status %#x, want a one-line '%s' report%s%s: %s",
               what, t->name, len, status, text, block[0] ? " about" : "", block, err);
        break;
    case FAULT:
        CHECKF(faulted, "%s (%s, %zu bytes): status %#x, want a fault at once: %s", what, t->name,
               len, status, err);
        break;
    case REPORT_OR_FAULT:
        CHECKF(reported || faulted, "%s (%s, %zu bytes): status %#x, want '%s' or a fault: %s",
               what, t->name, len, status, text, err);
        break;
    }
}

static void overflow_by_stores(const struct tier *t, size_t len)
{
    char *p = alloc(t->size);
    store_bytes(p + t->size, len);
    free(p);
}

static void overflow_by_memcpy(const struct tier *t, size_t len)
{
    char *p = alloc(t->size);
    memcpy_v(p + t->size, source, len);
    free(p);
}

TEST_TIMEOUT(overflows_past_a_block_are_caught_in_every_tier, 120)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("1-byte overflow by a store", overflow_by_stores, t, 1, REPORT, "overflow");
        expect("32-byte overflow by stores", overflow_by_stores, t, 32, REPORT_OR_FAULT,
               "overflow");
        expect("32-byte overflow by memcpy", overflow_by_memcpy, t, 32, REPORT_OR_FAULT,
               "overflow");
        /* Page runs and Large blocks end at a guard page: a long overflow faults at once. */
        expect("1 MiB overflow by stores", overflow_by_stores, t, MiB,
               t->big ? FAULT : REPORT_OR_FAULT, "overflow");
        expect("1 MiB overflow by memcpy", overflow_by_memcpy, t, MiB,
               t->big ? FAULT : REPORT_OR_FAULT, "overflow");
    }
}

static void underflow_by_stores(const struct tier *t, size_t len)
{
    char *p = alloc(t->size);
    store_bytes(p - len, len);
    free(p);
}

static void underflow_by_memcpy(const struct tier *t, size_t len)
{
    char *p = alloc(t->size);
    memcpy_v(p - len, source, len);
    free(p);
}

TEST_TIMEOUT(underflows_before_a_block_are_caught_in_every_tier, 120)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("1-byte underflow by a store", underflow_by_stores, t, 1, REPORT, "underflow");
        /* Before a page run or Large block lies the guard page of the block before it, or
         * unmapped memory, past its 16-byte header. */
        expect("32-byte underflow by stores", underflow_by_stores, t, 32,
               t->big ? REPORT_OR_FAULT : REPORT, "underflow");
        expect("32-byte underflow by memcpy", underflow_by_memcpy, t, 32,
               t->big ? REPORT_OR_FAULT : REPORT, "underflow");
        /* A megabyte before a block reaches other blocks, the segment header or unmapped
         * memory: it faults, or the header it overwrote is reported at the free. */
        expect("1 MiB underflow by stores", underflow_by_stores, t, MiB, REPORT_OR_FAULT,
               "underflow");
        expect("1 MiB underflow by memcpy", underflow_by_memcpy, t, MiB, REPORT_OR_FAULT,
               "underflow");
    }
}

/* Frees and allocates blocks of the same size until the quarantine has let the damaged block go
 * (random eviction: 6,000 rounds leave it there with probability below 1e-9). */
static void churn(size_t size)
{
    for (int i = 0; i < 6000; i++)
        free(alloc(size));
}

static void write_after_free_then_reuse(const struct tier *t, size_t offset)
{
    char *p = alloc(t->size);
    volatile char *freed = LAUNDER(p); /* kept for the deliberate write after free */
    free(p);
    freed[offset] = 'A';
    churn(t->size);
}

static void write_after_free_past_the_quarantine(const struct tier *t, size_t offset)
{
    char *p = alloc(t->size);
    volatile char *freed = LAUNDER(p);
    free(p);
    hak_thread_flush(); /* the quarantine lets it go: it is the inner allocator's again */
    freed[offset] = 'A';
    churn(t->size);
}

static void write_after_free_then_exit(const struct tier *t, size_t offset)
{
    char *p = alloc(t->size);
    volatile char *freed = LAUNDER(p); /* kept for the deliberate write after free */
    free(p);
    freed[offset] = 'A';
    exit(0); /* the quarantine is checked as the process ends */
}

TEST_TIMEOUT(writes_after_free_are_caught_at_reuse_or_at_once_in_every_tier, 120)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("write after free at the first byte, then reuse", write_after_free_then_reuse, t, 0,
               REPORT, "write after free");
        /* Past the first page of a Large block, freed memory is no-access. */
        expect("write after free at the last byte, then reuse", write_after_free_then_reuse, t,
               t->size - 1, t->sealed ? FAULT : REPORT, "write after free");
        expect("write after free, no reuse before exit", write_after_free_then_exit, t, 0, REPORT,
               "write after free");
        /* Once out of the quarantine, slab blocks and page runs are checked when handed out
         * again; a Large block's range is unmapped or purged, not checked. */
        if (!t->sealed)
            expect("write after free past the quarantine, then reuse",
                   write_after_free_past_the_quarantine, t, t->size / 2, REPORT,
                   "write after free");
    }
}

static void zero_when_handed_out(const struct tier *t, size_t rounds)
{
    for (size_t r = 0; r < rounds; r++) {
        unsigned char *p = r % 2 ? LAUNDER(calloc(1, LAUNDER((size_t)t->size))) : alloc(t->size);
        for (size_t i = 0; i < t->size; i++)
            if (p[i] != 0) {
                fprintf(stderr, "round %zu: byte %zu of a new block is %#x\n", r, i, p[i]);
                exit(1);
            }
        memset(p, 0xab, t->size);
        free(p);
    }
}

static void zero_after_free(const struct tier *t, size_t len)
{
    unsigned char *p = alloc(t->size);
    memset(p, 0xab, t->size);
    volatile unsigned char *freed = LAUNDER(p); /* deliberately read after the free */
    free(p);
    for (size_t i = 0; i < len; i++)
        if (freed[i] != 0) {
            fprintf(stderr, "byte %zu of a freed block is %#x\n", i, freed[i]);
            exit(1);
        }
}

TEST_TIMEOUT(memory_is_zero_when_handed_out_and_after_free_in_every_tier, 120)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("zero when handed out", zero_when_handed_out, t, t->big ? 40 : 600, CLEAN, "");
        /* The first page of a freed Large block stays readable; the rest is not. */
        expect("zero after free", zero_after_free, t, t->sealed ? 4000 : t->size, CLEAN, "");
    }
}

static void not_handed_straight_back(const struct tier *t, size_t count)
{
    void *p = alloc(t->size);
    free(p);
    for (size_t i = 0; i < count; i++)
        if (alloc(t->size) == p) {
            fprintf(stderr, "the freed block came back at allocation %zu\n", i + 1);
            exit(1);
        }
}

TEST_TIMEOUT(a_freed_block_is_not_handed_straight_back_in_any_tier, 60)
{
    for (size_t i = 0; i < TIERS; i++)
        expect("freed block not reused at once", not_handed_straight_back, &tiers[i], 100, CLEAN,
               "");
}

static void zero_size_access(const struct tier *t, size_t write)
{
    (void)t;
    char *p = malloc(LAUNDER((size_t)0)), *q = malloc(LAUNDER((size_t)0));
    if (p == NULL || p == q || malloc_usable_size(p) != 0)
        exit(1);
    volatile char *v = LAUNDER(p);
    if (write)
        v[0] = 1;
    else
        (void)v[0];
    exit(0);
}

static void zero_size_new_access(const struct tier *t, size_t len)
{
    (void)t, (void)len;
    char *p = new_array(0);
    ((volatile char *)p)[0] = 1;
    exit(0);
}

static void zero_size_free_is_quiet(const struct tier *t, size_t len)
{
    (void)t, (void)len;
    for (int i = 0; i < 1000; i++)
        free(alloc(0));
    free(realloc(alloc(0), 10));
}

TEST(zero_size_allocations_point_into_no_access_memory)
{
    expect("write through malloc(0)", zero_size_access, &tiers[0], 1, FAULT, "");
    expect("read through malloc(0)", zero_size_access, &tiers[0], 0, FAULT, "");
    expect("write through new[0]", zero_size_new_access, &tiers[0], 0, FAULT, "");
    expect("malloc(0) freed and reallocated", zero_size_free_is_quiet, &tiers[0], 0, CLEAN, "");
}

static void free_sized_wrong(const struct tier *t, size_t delta)
{
    void *p = alloc(t->size);
    free_sized(p, t->size + delta);
}

static void free_sized_right(const struct tier *t, size_t len)
{
    (void)len;
    void *p = alloc(t->size);
    free_sized(p, t->size);
    p = new_scalar(t->size);
    _ZdlPvm(p, t->size);
}

static void sized_delete_wrong(const struct tier *t, size_t delta)
{
    void *p = new_scalar(t->size);
    _ZdlPvm(p, t->size - delta);
}

TEST_TIMEOUT(sized_frees_and_deletes_with_another_size_are_reported_in_every_tier, 60)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("free_sized with one byte more", free_sized_wrong, t, 1, REPORT, "size mismatch");
        expect("sized delete with 8 bytes less", sized_delete_wrong, t, 8, REPORT, "size mismatch");
        expect("free_sized and sized delete with the right size", free_sized_right, t, 0, CLEAN,
               "");
    }
}

static void new_array_deleted_as_scalar(const struct tier *t, size_t len)
{
    (void)len;
    _ZdlPv(new_array(t->size));
}
static void new_deleted_as_array(const struct tier *t, size_t len)
{
    (void)len;
    _ZdaPv(new_scalar(t->size));
}
static void malloc_deleted(const struct tier *t, size_t len)
{
    (void)len;
    _ZdlPv(alloc(t->size));
}
static void new_freed(const struct tier *t, size_t len)
{
    (void)len;
    free(new_scalar(t->size));
}

TEST_TIMEOUT(new_and_delete_of_another_family_are_reported_in_every_tier, 60)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("new[] then delete", new_array_deleted_as_scalar, t, 0, REPORT,
               "allocated by new[], freed by delete");
        expect("new then delete[]", new_deleted_as_array, t, 0, REPORT,
               "allocated by new, freed by delete[]");
        expect("malloc then delete", malloc_deleted, t, 0, REPORT,
               "allocated by malloc, freed by delete");
        expect("new then free", new_freed, t, 0, REPORT, "allocated by new, freed by free");
    }
}

static void double_free(const struct tier *t, size_t len)
{
    (void)len;
    char *p = alloc(t->size);
    void *again = LAUNDER(p);
    free(p);
    free(again);
}

static void interior_free_of_a_freed_block(const struct tier *t, size_t offset)
{
    char *p = alloc(t->size);
    char *inside = LAUNDER(p + offset);
    free(p);
    free(inside); /* past the first page of a freed Large block: no-access, not read */
}

static void interior_free(const struct tier *t, size_t offset)
{
    char *p = alloc(t->size);
    free(p + offset);
}

TEST_TIMEOUT(double_and_interior_frees_are_reported_in_every_tier, 60)
{
    for (size_t i = 0; i < TIERS; i++) {
        const struct tier *t = &tiers[i];
        expect("double free", double_free, t, 0, REPORT, "double free");
        expect("free inside a block", interior_free, t, 16, REPORT, "inside a block");
        expect("free inside a freed block", interior_free_of_a_freed_block, t, t->big ? 8192 : 16,
               REPORT, "inside a block");
    }
}

/* A forged link in a free block's link word (the 16 bytes before where its user bytes were): the
 * next allocations must stop at it, and the report must be about that block. One about another
 * block means the forged link was followed and something else tripped later. to_a_free_block:
 * the forger knows the encoding but not the key, and makes the link point at another free block
 * of the same slab (then reachable twice), as the encoding without its key would store it;
 * otherwise an underflow from a neighbour plants a plain pointer there. */
static void forge_link(const struct tier *t, int to_a_free_block)
{
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = alloc(t->size);
    char *q = keep[32];
    volatile uintptr_t *freed = LAUNDER((uintptr_t *)q);
    uintptr_t block = (uintptr_t)LAUNDER(q) - 16, target = (uintptr_t)LAUNDER(keep[40]) - 16;
    if (to_a_free_block)
        free(keep[40]);
    free(q);
    hak_thread_flush(); /* out of the quarantine and the thread cache, onto its slab's list */
    *reported_block = block;
    freed[-2] = to_a_free_block ? target ^ block : (uintptr_t)source;
    for (int i = 0; i < 4000; i++)
        if (alloc(t->size) == NULL)
            exit(1);
}

static void forged_link(const struct tier *t, size_t len)
{
    (void)len;
    forge_link(t, 0);
}

static void forged_link_without_the_key(const struct tier *t, size_t len)
{
    (void)len;
    forge_link(t, 1);
}

TEST(a_forged_free_list_link_is_detected_not_followed)
{
    for (size_t i = 0; i < 2; i++) { /* the slab tiers keep free lists in their blocks */
        expect("forged free-list link", forged_link, &tiers[i], 0, REPORT, "free-list link");
        expect("free-list link forged without the key", forged_link_without_the_key, &tiers[i], 0,
               REPORT, "free-list link");
    }
}
