/* In the MSan variant, MemorySanitizer knows what hakmem hands out: a branch on a byte of a fresh
 * hak_malloc block that was never written, on the grown part of a realloc, or on a freed block is
 * reported as use-of-uninitialized-value in every tier; calloc memory and written bytes are not.
 * Each case runs in a child; the test reads the child's report. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

static char report[65536];

/* One size per tier: Tiny, Mid, an L25 page run, Large. */
static const size_t tier_sizes[] = {48, 5000, 100000, 3u << 20};

static void branch_on(volatile char *p)
{
    if (p[0] == 42) /* the use MSan reports: a branch on the value */
        _exit(5);
    _exit(0);
}

static void read_fresh_block(void *arg)
{
    size_t size = *(const size_t *)arg;
    char *volatile p = hak_malloc(size);
    p[1] = 1; /* written bytes are defined; byte 0 never was */
    branch_on(p);
}

static void read_grown_part(void *arg)
{
    size_t size = *(const size_t *)arg;
    char *volatile p = hak_malloc(size);
    memset(p, 7, size);
    char *volatile q = hak_realloc(p, size * 2);
    if (q[size - 1] != 7) /* the copied bytes keep their (defined) values */
        _exit(4);
    branch_on(q + size);
}

static void read_after_free(void *arg)
{
    size_t size = *(const size_t *)arg;
    char *volatile p = hak_malloc(size);
    memset(p, 9, size);
    hak_free(p);
    branch_on(p + 32); /* past the free-list words hakmem keeps in a free block */
}

static void defined_uses(void *arg)
{
    size_t size = *(const size_t *)arg;
    char *volatile z = hak_calloc(1, size);
    char *volatile p = hak_malloc(size);
    memset(p, 3, size);
    if (z[0] != 0 || z[size - 1] != 0 || p[size - 1] != 3)
        _exit(4);
    hak_free(z);
    hak_free(p);
    _exit(0);
}

static void expect_report(void (*fn)(void *), const char *what)
{
    for (size_t t = 0; t < sizeof tier_sizes / sizeof tier_sizes[0]; t++) {
        size_t size = tier_sizes[t];
        int status = test_run_child(fn, &size, report, sizeof report);
        CHECKF(!(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 5)),
               "%s of %zu bytes went unnoticed (status %#x)", what, size, status);
        CHECKF(strstr(report, "WARNING: MemorySanitizer: use-of-uninitialized-value"),
               "%s of %zu bytes: %s", what, size, report);
    }
}

TEST(a_never_written_byte_of_a_fresh_block_is_reported_in_every_tier)
{
    expect_report(read_fresh_block, "a read of a fresh block");
}

TEST(the_grown_part_of_a_realloc_is_uninitialized_in_every_tier)
{
    expect_report(read_grown_part, "a read of the grown part");
}

TEST(a_read_of_a_freed_block_is_reported_as_uninitialized_in_every_tier)
{
    expect_report(read_after_free, "a read after free");
}

TEST(calloc_memory_and_written_bytes_are_not_reported)
{
    for (size_t t = 0; t < sizeof tier_sizes / sizeof tier_sizes[0]; t++) {
        size_t size = tier_sizes[t];
        int status = test_run_child(defined_uses, &size, report, sizeof report);
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%zu bytes: status %#x: %s", size,
               status, report);
    }
}
