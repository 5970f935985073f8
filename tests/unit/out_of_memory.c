/* Out of memory has one answer in every tier: NULL with errno ENOMEM (realloc leaving the old
 * block as it was), nothing half-made left behind, and everything working again once the OS
 * gives memory. The OS's refusal is injected at every mapping call of a workload in turn (a
 * sweep over the failure points), and the heap check accounts for every block after each. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "hakmem.h"
#include "options.h"
#include "os_memory.h"
#include "test.h"

#ifndef NDEBUG
enum { SLOTS = 16 };

struct outcome {
    void *p[SLOTS];
    size_t size[SLOTS];
    unsigned refused; /* requests answered NULL/ENOMEM */
};

static void fill(void *p, size_t n, int v) { memset(p, v, n < 4096 ? n : 4096); }

static int filled(const void *p, size_t n, int v)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < (n < 4096 ? n : 4096); i++)
        if (b[i] != (unsigned char)v)
            return 0;
    return 1;
}

/* One request: a block, or NULL with ENOMEM (anything else fails the case). */
static void take(struct outcome *o, unsigned slot, void *p, size_t n)
{
    if (p == NULL) {
        CHECKF(errno == ENOMEM, "slot %u (%zu bytes): NULL with errno %d", slot, n, errno);
        o->refused++;
        return;
    }
    fill(p, n, (int)slot + 1);
    o->p[slot] = p;
    o->size[slot] = n;
}

/* Every tier, every allocating entry point, including the growth of a Large block. */
static void workload(struct outcome *o)
{
    static const size_t sizes[] = {16, 1000, 20000, 100 << 10, 600 << 10, 3 << 20, 40 << 20};
    unsigned slot = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++, slot++) {
        errno = 0;
        take(o, slot, hak_malloc(sizes[i]), sizes[i]);
    }
    errno = 0;
    take(o, slot, hak_calloc(1, 5 << 20), 5 << 20);
    slot++;
    errno = 0;
    take(o, slot, hak_aligned_alloc(2 << 20, 1 << 20), 1 << 20);
    slot++;
    errno = 0;
    take(o, slot, hak_aligned_alloc(64 << 10, 200 << 10), 200 << 10);
    slot++;
    /* Growing: a refused realloc leaves the block as it was. */
    static const unsigned grow[] = {5, 4, 1};
    static const size_t to[] = {9 << 20, 2 << 20, 300 << 10};
    for (size_t i = 0; i < sizeof grow / sizeof *grow; i++) {
        unsigned k = grow[i];
        if (o->p[k] == NULL)
            continue;
        errno = 0;
        void *q = hak_realloc(o->p[k], to[i]);
        if (q == NULL) {
            CHECKF(errno == ENOMEM && filled(o->p[k], o->size[k], (int)k + 1),
                   "refused realloc of slot %u: errno %d, contents %s", k, errno,
                   filled(o->p[k], o->size[k], (int)k + 1) ? "kept" : "changed");
            o->refused++;
            continue;
        }
        CHECKF(filled(q, o->size[k], (int)k + 1), "realloc of slot %u lost its contents", k);
        o->p[k] = q;
        o->size[k] = to[i];
        fill(q, to[i], (int)k + 1);
    }
}

static void release(struct outcome *o)
{
    for (unsigned k = 0; k < SLOTS; k++)
        if (o->p[k] != NULL) {
            CHECKF(filled(o->p[k], o->size[k], (int)k + 1), "slot %u changed", k);
            hak_free(o->p[k]);
        }
}

/* One failure point, in a fresh child (its caches as cold as at start): exits with the number
 * of requests refused, or fails. */
static void round_refusing_after(void *arg)
{
    long after = *(long *)arg;
    struct outcome o;
    memset(&o, 0, sizeof o);
    hk_os_memory_fail_after(after);
    workload(&o);
    hk_os_memory_fail_after(-1);
    release(&o);
    hak_thread_flush();
    CHECKF(hak_debug_check_quiescent(NULL, 0) == 0,
           "heap check failed after refusing the mapping call %ld (above)", after);
    test_exit_child(o.refused < 100 ? (int)o.refused : 100);
}

TEST_TIMEOUT(every_refused_mapping_gives_null_and_enomem_and_loses_nothing, 120)
{
    unsigned points = 0, refused = 0, clean_in_a_row = 0;
    for (long after = 0;; after++) {
        CHECKF(after < 1000, "the workload still hit a refusal after %ld successful maps", after);
        static char err[1 << 16];
        int status = test_run_child(round_refusing_after, &after, err, sizeof err);
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) <= 100,
               "refusing the mapping call %ld: status %#x: %s", after, status, err);
        points++;
        refused += (unsigned)WEXITSTATUS(status);
        /* Three failure points in a row with nothing refused: the workload has no more
         * mapping calls to refuse (one refusal absorbed by a retry does not end the sweep). */
        clean_in_a_row = WEXITSTATUS(status) == 0 ? clean_in_a_row + 1 : 0;
        if (clean_in_a_row == 3)
            break;
    }
    CHECKF(points > 5 && refused >= points - 1, "%u failure points, %u refusals", points, refused);
    printf("  %u failure points, %u requests refused\n", points, refused);
    /* Memory comes back: the same workload succeeds in full here, too. */
    struct outcome o;
    memset(&o, 0, sizeof o);
    workload(&o);
    CHECK(o.refused == 0);
    release(&o);
}
#endif

/* Bytes of address space this process has mapped (from /proc/self/statm). */
static size_t mapped_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * 4096;
}

enum { CAGE_BLOCKS = 65536 };
static void *cage[CAGE_BLOCKS];

/* In a child under an address-space limit 96 MiB above what it has mapped: fill the room with
 * `fill`-byte blocks, free them all (their address space stays in hakmem's caches), then ask for
 * 60 MiB in `need`-byte blocks, which another tier must map: more than fits beside what either
 * cache may keep (the Large cache 256 MiB of touched ranges, the segment cache 8 segments). Exits
 * 0, or fails naming the tier. */
static void caches_give_way_under_a_limit(void *arg)
{
    const size_t *sizes = arg, fill = sizes[0], need = sizes[1];
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = mapped_now() + ((size_t)96 << 20);
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    int n = 0;
    void *p;
    while (n < CAGE_BLOCKS && (p = hak_malloc(fill)) != NULL)
        cage[n++] = p;
    CHECKF(n < CAGE_BLOCKS && errno == ENOMEM, "%d blocks of %zu bytes, then errno %d", n, fill,
           errno);
    for (int i = 0; i < n; i++)
        hak_free(cage[i]);
    hak_thread_flush();
    size_t got = 0;
    for (n = 0; got < ((size_t)60 << 20); n++, got += need) {
        errno = 0;
        cage[n] = hak_malloc(need);
        CHECKF(cage[n] != NULL,
               "%zu-byte blocks fail (errno %d) after %zu bytes, although the %zu-byte blocks "
               "freed before left their address space in hakmem's caches",
               need, errno, got, fill);
    }
    while (n > 0)
        hak_free(cage[--n]);
    test_exit_child(0);
}

/* What one tier keeps cached is given back when another tier's mapping is refused, and the
 * mapping is retried: freed Large ranges make room for slab segments and the reverse. */
TEST(a_tier_refused_a_mapping_gets_the_other_tiers_cached_address_space)
{
    if (TEST_UNDER_SANITIZER) /* their shadow memory needs address space */
        return;
    static const size_t large_then_slab[2] = {(size_t)3 << 20, 3000};
    static const size_t slab_then_large[2] = {3000, (size_t)3 << 20};
    static char err[1 << 14];
    int status =
        test_run_child(caches_give_way_under_a_limit, (void *)large_then_slab, err, sizeof err);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "slab blocks after Large: %s", err);
    status =
        test_run_child(caches_give_way_under_a_limit, (void *)slab_then_large, err, sizeof err);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "Large blocks after slabs: %s", err);
}
