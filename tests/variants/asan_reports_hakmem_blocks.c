/* In the ASan variant, AddressSanitizer sees inside hakmem: a use-after-free of a hak_malloc
 * block and a write one byte past a 40-byte request (inside its 48-byte slot) are reported with
 * ASan's own error kinds. Each bug runs in a child; the test reads the child's report. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

static char report[65536];

static void use_after_free(void *arg)
{
    (void)arg;
    char *volatile p = hak_malloc(64);
    memset(p, 1, 64);
    hak_free(p);
    volatile char c = ((volatile char *)p)[10]; /* read of freed memory */
    (void)c;
}

static void overflow_past_request(void *arg)
{
    (void)arg;
    char *volatile p = hak_malloc(40);
    if (hak_class_block_size(hak_size_class(40)) != 48)
        _exit(3); /* the premise: the slot is larger than the request */
    p[39] = 1;    /* the last requested byte is fine */
    p[40] = 1;    /* one past the request, still inside the slot */
}

static void in_bounds_use(void *arg)
{
    (void)arg;
    char *volatile p = hak_malloc(40);
    memset(p, 7, 40);
    char *volatile q = hak_realloc(p, 4000);
    if (q[39] != 7)
        _exit(4);
    memset(q, 0, 4000);
    hak_free(q);
}

TEST(use_after_free_of_a_64_byte_block_is_reported_as_heap_use_after_free)
{
    int status = test_run_child(use_after_free, NULL, report, sizeof report);
    CHECKF(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the bug went unnoticed");
    CHECKF(strstr(report, "ERROR: AddressSanitizer: heap-use-after-free"), "%s", report);
    CHECK(strstr(report, "READ of size 1"));
}

TEST(write_one_byte_past_a_40_byte_request_is_reported_as_heap_buffer_overflow)
{
    int status = test_run_child(overflow_past_request, NULL, report, sizeof report);
    CHECKF(!(WIFEXITED(status) && WEXITSTATUS(status) == 3),
           "40-byte requests are not in a 48-byte class");
    CHECKF(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the bug went unnoticed");
    CHECKF(strstr(report, "ERROR: AddressSanitizer: heap-buffer-overflow"), "%s", report);
    CHECK(strstr(report, "WRITE of size 1"));
}

TEST(correct_use_of_requested_bytes_is_not_reported)
{
    int status = test_run_child(in_bounds_use, NULL, report, sizeof report);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, report);
}
