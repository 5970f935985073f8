/* The Large tier's cache of free ranges: blocks are whole 2 MiB frames starting on one, a block is
 * cut from a bigger cached range (its tail stays cached), freed blocks rejoin adjacent cached
 * ranges, blocks come from shared reserves, touched cached bytes past the budget are purged, touched
 * bytes never exceed the live peak where huge pages make faults cheap, a block bigger than every
 * cached range extends a freed one in place, and hundreds of live blocks stay registered. Each
 * reuse is visible in hak_stats: a cache hit, and no more bytes mapped from the OS than the reuse
 * leaves missing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"
#include "track.h"

#define MiB ((size_t)1 << 20)

/* Whether Large blocks get huge pages: HAKMEM_LARGE_HUGE_PAGES is not 0 (it is on by default) and
 * the kernel's setting is anything but "[never]". */
static int huge_frames_expected(void)
{
    const char *option = getenv("HAKMEM_LARGE_HUGE_PAGES");
    if (option != NULL && strcmp(option, "0") == 0)
        return 0;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char text[128] = "";
    if (f == NULL)
        return 0;
    int ok = fgets(text, sizeof text, f) != NULL && strstr(text, "[never]") == NULL;
    fclose(f);
    return ok;
}

static uint64_t mapped_bytes(void)
{
    struct hak_stats s;
    hak_stats(&s);
    return s.mapped_bytes;
}

static uint64_t large_cache_hits(void)
{
    struct hak_stats s;
    hak_stats(&s);
    return s.large_cache_hits;
}

/* The grain of Large blocks: 2 MiB frames with huge pages, else pages. */
static size_t frame(void) { return huge_frames_expected() ? 2 * MiB : 4096; }

/* Every Large block, cut from a reserve or mapped alone, starts on a frame boundary and spans
 * whole frames (tracking builds may report just the requested size): a huge page never holds
 * parts of two blocks, or of a block and a free range. */
TEST(large_blocks_are_whole_frames_starting_on_one)
{
    const size_t FRAME = frame();
    static const size_t sizes[] = {MiB + 1, 3 * MiB, 5 * MiB + 4096, 6 * MiB, 40 * MiB + 1};
    char *blocks[sizeof sizes / sizeof sizes[0]];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        blocks[k] = hak_malloc(sizes[k]);
        CHECK(blocks[k] != NULL);
        size_t frames = (sizes[k] + FRAME - 1) / FRAME * FRAME, usable = hak_usable_size(blocks[k]);
        CHECKF((uintptr_t)blocks[k] % FRAME == 0, "%zu-byte block at %p", sizes[k],
               (void *)blocks[k]);
        CHECKF(usable >= sizes[k] && usable <= frames, "%zu-byte block: %zu usable", sizes[k],
               usable);
        memset(blocks[k], 0x5c, usable);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        hak_free(blocks[k]);
    CHECK(hak_debug_check_heap() == 0);
}

TEST(large_block_is_cut_from_a_bigger_cached_mapping_and_rejoins_its_tail)
{
    const size_t head_bytes = (2 * MiB + 100 + frame() - 1) / frame() * frame();
    char *whole = hak_malloc(12 * MiB);
    CHECK(whole != NULL);
    memset(whole, 0x11, 12 * MiB);
    hak_free(whole);
    uint64_t mapped = mapped_bytes(), hits = large_cache_hits();

    char *head = hak_malloc(2 * MiB + 100);
    char *tail = hak_malloc(3 * MiB);
    CHECKF(head == whole, "2 MiB block at %p, not at the cached 12 MiB mapping %p", (void *)head,
           (void *)whole);
    CHECKF(tail == whole + head_bytes, "3 MiB block at %p, not in the cached tail at %p",
           (void *)tail, (void *)(whole + head_bytes));
    CHECK(large_cache_hits() == hits + 2);
    CHECKF(mapped_bytes() == mapped, "mapped bytes grew from %llu to %llu",
           (unsigned long long)mapped, (unsigned long long)mapped_bytes());
    CHECK(hak_usable_size(head) >= 2 * MiB + 100 && hak_usable_size(head) <= head_bytes);
    memset(head, 0x22, 2 * MiB + 100);
    memset(tail, 0x33, 3 * MiB);

    hak_free(tail);
    hak_free(head);
    char *again = hak_malloc(12 * MiB);
    CHECKF(again == whole, "12 MiB block at %p: the freed pieces did not rejoin at %p",
           (void *)again, (void *)whole);
    CHECK(mapped_bytes() == mapped);
    hak_free(again);
    CHECK(hak_debug_check_heap() == 0);
}

TEST(large_blocks_come_from_one_reserve_and_freed_pages_are_reused)
{
    char *a = hak_malloc(6 * MiB);
    uint64_t mapped = mapped_bytes();
    char *b = hak_malloc(5 * MiB); /* no new mapping: cut from a's reserve */
    CHECK(b == a + 6 * MiB);
    CHECK(mapped_bytes() == mapped);
    memset(a, 0x44, 6 * MiB);
    hak_free(a);
    char *c = hak_calloc(1, 6 * MiB); /* a's touched pages again: zeroed by calloc */
    CHECK(c == a);
    for (size_t i = 0; i < 6 * MiB; i += 4093)
        CHECK(c[i] == 0);
    CHECK(mapped_bytes() == mapped);
    hak_free(b);
    hak_free(c);
    CHECK(hak_debug_check_heap() == 0);
}

/* A block bigger than every cached range is built on the largest freed (touched) block that the
 * untouched space next to it (the rest of its reserve) can extend in place: that block's pages
 * serve the new one (its old contents show it), nothing new is mapped, only the untouched part
 * faults; calloc zeroes what was reused. */
TEST(large_block_bigger_than_any_cached_range_extends_a_freed_block_in_place)
{
    char *a = hak_malloc(10 * MiB); /* cut from a 64 MiB reserve: 54 MiB stay cached, untouched */
    CHECK(a != NULL);
    memset(a, 0x5a, 10 * MiB);
    hak_free(a);
    struct hak_stats s0, s1;
    hak_stats(&s0);
    char *b = hak_malloc(16 * MiB);
    CHECK(b != NULL);
    hak_stats(&s1);
    CHECKF(b == a, "the 16 MiB block is at %p, not on the freed block at %p", (void *)b, (void *)a);
    CHECK(s1.large_extends == s0.large_extends + 1);
    CHECK(s1.large_cache_hits == s0.large_cache_hits + 1);
    CHECKF(s1.mapped_bytes == s0.mapped_bytes, "mapped bytes grew by %lld",
           (long long)(s1.mapped_bytes - s0.mapped_bytes));
#if !HAK_TRACKING
    CHECKF(b[0] == 0x5a && b[10 * MiB - 1] == 0x5a,
           "the 16 MiB block did not reuse the freed 10 MiB block's pages");
#endif
    memset(b, 0x6b, 16 * MiB);
    hak_free(b);
    char *c = hak_calloc(1, 20 * MiB);
    CHECK(c == a);
    for (size_t i = 0; i < 20 * MiB; i += 4093)
        CHECKF(c[i] == 0, "calloc'ed byte %zu is %#x", i, (unsigned)(unsigned char)c[i]);
    CHECK(c[20 * MiB - 1] == 0);
    hak_free(c);
    CHECK(hak_debug_check_heap() == 0);
}

/* Touched cached bytes are bounded: past HAKMEM_LARGE_CACHE_MB the excess goes back to the OS
 * (address space included), and what stays is served first. */
TEST(large_cache_gives_back_touched_bytes_past_its_budget)
{
    setenv("HAKMEM_LARGE_CACHE_MB", "8", 1); /* read once, at this process's first allocation */
    char *a = hak_malloc(12 * MiB);
    memset(a, 0x66, 12 * MiB);
    uint64_t mapped = mapped_bytes();
    hak_free(a); /* 12 MiB touched and freed: the last 4 MiB go back */
    CHECKF(mapped_bytes() == mapped - 4 * MiB, "mapped %llu, expected %llu",
           (unsigned long long)mapped_bytes(), (unsigned long long)(mapped - 4 * MiB));
    char *touched = hak_malloc(8 * MiB);
    CHECK(touched == a);
    CHECK(mapped_bytes() == mapped - 4 * MiB);
#if !defined(HAK_TRACK_VALGRIND) && !defined(HAK_TRACK_MSAN) /* uninitialized reads, rightly */
    CHECKF(touched[0] == 0x66 && touched[8 * MiB - 1] == 0x66, "touched pages within budget lost");
#endif
    hak_free(touched);
}

/* With huge pages (faults 512 times fewer), touched bytes, live and cached, never exceed the most
 * live bytes the program has had: a block that faults new pages makes the oldest touched cached
 * range give back as much (its end, whole frames); without them the cache keeps it. */
TEST(large_touched_bytes_never_exceed_the_live_peak_with_huge_pages)
{
    char *a = hak_malloc(8 * MiB);
    char *spacer = hak_malloc(2 * MiB); /* live, keeps a and b apart */
    char *b = hak_malloc(8 * MiB);
    CHECK(a != NULL && spacer != NULL && b != NULL);
    memset(a, 0x21, 8 * MiB);
    memset(b, 0x22, 8 * MiB);
    hak_free(a);
    hak_free(b); /* live 2 MiB, live peak 18 MiB, 16 MiB touched and cached */
    struct hak_stats s0, s1;
    hak_stats(&s0);
    /* No touched range fits 12 MiB: b is extended in place, faulting 4 MiB it never had. */
    char *c = hak_malloc(12 * MiB);
    CHECKF(c == b, "the 12 MiB block is at %p, not on b at %p", (void *)c, (void *)b);
    memset(c, 0x23, 12 * MiB);
    hak_stats(&s1);
    uint64_t trimmed = s1.large_trimmed_bytes - s0.large_trimmed_bytes;
    int64_t unmapped = (int64_t)s0.mapped_bytes - (int64_t)s1.mapped_bytes;
    if (huge_frames_expected()) { /* live 14 MiB, touched 22 MiB: a's last 4 MiB go back */
        CHECKF(trimmed == 4 * MiB && unmapped == (int64_t)(4 * MiB),
               "trimmed %llu bytes, unmapped %lld, not a's last 4 MiB", (unsigned long long)trimmed,
               (long long)unmapped);
        char *front = hak_malloc(4 * MiB);
        CHECKF(front == a, "a's touched front is not reused: 4 MiB block at %p", (void *)front);
#if !HAK_TRACKING
        CHECK(front[0] == 0x21 && front[4 * MiB - 1] == 0x21);
#endif
        hak_free(front);
    } else {
        CHECKF(trimmed == 0 && unmapped == 0, "without huge pages: trimmed %llu, unmapped %lld",
               (unsigned long long)trimmed, (long long)unmapped);
    }
    hak_free(c);
    hak_free(spacer);
    CHECK(hak_debug_check_heap() == 0);
}

/* Memory a program stopped using goes back with time, not only past the size bound. */
TEST(large_cache_gives_back_ranges_freed_longer_ago_than_the_purge_age)
{
    setenv("HAKMEM_LARGE_PURGE_MS", "50", 1); /* read once, at this process's first allocation */
    char *a = hak_malloc(4 * MiB);
    char *spacer = hak_malloc(2 * MiB); /* keeps a's range apart from the reserve's tail */
    memset(a, 0x77, 4 * MiB);
    hak_free(a);
    uint64_t mapped = mapped_bytes();
    char *again = hak_malloc(4 * MiB); /* at once: a's touched pages, still cached */
    CHECK(again == a);
    hak_free(again);
    usleep(200 * 1000);
    hak_free(hak_malloc(2 * MiB)); /* the first Large call after the age gives a's range back */
    CHECKF(mapped_bytes() == mapped - 4 * MiB, "mapped %llu, expected %llu",
           (unsigned long long)mapped_bytes(), (unsigned long long)(mapped - 4 * MiB));
    hak_free(spacer);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i + 1 < n; i += 4096)
        p[i] = (unsigned char)(seed + i / 4096);
    p[n - 1] = (unsigned char)(seed ^ 0xa5);
}

/* Where the first of the bytes fill(p, n, seed) wrote below `upto` differs, or -1. */
static long differs_below(const unsigned char *p, size_t n, size_t upto, unsigned seed)
{
    for (size_t i = 0; i + 1 < n && i < upto; i += 4096)
        if (p[i] != (unsigned char)(seed + i / 4096))
            return (long)i;
    return n - 1 >= upto || p[n - 1] == (unsigned char)(seed ^ 0xa5) ? -1 : (long)(n - 1);
}

static long differs(const unsigned char *p, size_t n, unsigned seed)
{
    return differs_below(p, n, n, seed);
}

/* A Large block that realloc grows (mremap where it can, a copy where not) or shrinks: its usable
 * size covers the new size, it keeps the bytes of the old one, the live-byte count follows it,
 * its old place holds nothing of it (a block allocated there does not overlap it), and it frees
 * as the size it has now. */
TEST(large_blocks_that_realloc_grows_or_shrinks_keep_their_bytes_size_and_count)
{
    static const size_t pairs[][2] = {{3 * MiB, 9 * MiB},     {MiB + 1, 64 * MiB},
                                      {40 * MiB, 41 * MiB},   {9 * MiB, 3 * MiB},
                                      {8 * MiB, 7 * MiB + 1}, {2 * MiB + 4096, 2 * MiB + 8192}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        size_t from = pairs[k][0], to = pairs[k][1];
        struct hak_stats s0, s1;
        hak_stats(&s0);
        unsigned char *p = hak_malloc(from);
        CHECK(p != NULL);
        fill(p, from, (unsigned)k);
        unsigned char *q = hak_realloc(p, to);
        CHECKF(q != NULL, "realloc of %zu to %zu bytes failed", from, to);
        size_t usable = hak_usable_size(q), kept = from < to ? from : to;
        CHECKF(usable >= to, "%zu -> %zu bytes: usable size %zu", from, to, usable);
        long at = differs_below(q, from, kept, (unsigned)k);
        CHECKF(at < 0, "%zu -> %zu bytes: the kept prefix differs at byte %ld", from, to, at);
        fill(q, usable, 100 + (unsigned)k);
        hak_stats(&s1);
        /* Tracking builds report the requested size as usable; the tier counts whole frames. */
        uint64_t grew = s1.large_live_bytes - s0.large_live_bytes;
        CHECKF(HAK_TRACKING ? grew >= to && grew < to + 2 * MiB + 4096 : grew == usable,
               "%zu -> %zu bytes: live Large bytes grew by %llu, the block's usable size is %zu",
               from, to, (unsigned long long)grew, usable);
        unsigned char *r = hak_malloc(from); /* may take the old place */
        CHECK(r != NULL);
        fill(r, hak_usable_size(r), 200 + (unsigned)k);
        at = differs(q, usable, 100 + (unsigned)k);
        CHECKF(at < 0, "%zu -> %zu bytes: a block allocated after the realloc overwrote byte %ld",
               from, to, at);
        void *held[2] = {q, r};
        CHECK(hak_debug_check_quiescent(held, 2) == 0);
        hak_free(q);
        at = differs(r, hak_usable_size(r), 200 + (unsigned)k);
        CHECKF(at < 0, "%zu -> %zu bytes: freeing the grown block overwrote byte %ld of another",
               from, to, at);
        hak_free(r);
        hak_stats(&s1);
        CHECKF(s1.large_live_bytes == s0.large_live_bytes,
               "%zu -> %zu bytes: %lld live Large bytes left after both frees", from, to,
               (long long)(s1.large_live_bytes - s0.large_live_bytes));
    }
}

/* Hundreds of Large blocks live at once: the registry that maps a block to its size grows with
 * them (it starts at 256 entries), and every block stays found (its usable size), freed once and
 * unregistered. Untouched, they cost address space only. */
TEST_TIMEOUT(hundreds_of_live_large_blocks_are_each_registered_and_found, 10)
{
    enum { N = 700 };
    static void *blocks[N];
    struct hak_stats before, after;
    hak_stats(&before);
    for (int i = 0; i < N; i++) {
        blocks[i] = hak_malloc(MiB + 4096 * (size_t)(i % 7 + 1));
        CHECKF(blocks[i] != NULL, "Large block %d of %d refused", i, N);
    }
    for (int i = 0; i < N; i++)
        CHECKF(hak_usable_size(blocks[i]) >= MiB + 4096 * (size_t)(i % 7 + 1),
               "block %d (%p): usable size %zu", i, blocks[i], hak_usable_size(blocks[i]));
    for (int i = 0; i < N; i += 2)
        hak_free(blocks[i]);
    for (int i = 1; i < N; i += 2)
        CHECKF(hak_usable_size(blocks[i]) >= MiB, "block %d lost after its neighbours were freed",
               i);
    for (int i = 1; i < N; i += 2)
        hak_free(blocks[i]);
    hak_stats(&after);
    CHECKF(after.live_bytes == before.live_bytes, "live %llu vs %llu",
           (unsigned long long)after.live_bytes, (unsigned long long)before.live_bytes);
    CHECK(hak_debug_check_heap() == 0);
}
