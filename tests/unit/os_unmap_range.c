/* Giving memory back: a range that is not whole pages is a bug in hakmem (munmap refuses it with
 * EINVAL and the mapping stays while the counters say it is gone), so the checking builds stop
 * at it with a diagnostic instead of leaking it silently; whole-page ranges go back, and the
 * caller's errno survives either way. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "os_memory.h"
#include "test.h"

static void unmap_half_a_page(void *arg)
{
    (void)arg;
    char *p = hk_os_map(2 * HAK_PAGE_SIZE);
    CHECK(p != NULL);
    hk_os_unmap(p + 100, HAK_PAGE_SIZE); /* not page aligned: EINVAL */
    test_exit_child(0);
}

TEST(unmapping_a_range_that_is_not_whole_pages_stops_a_checking_build)
{
    static char err[4096];
    int status = test_run_child(unmap_half_a_page, NULL, err, sizeof err);
#ifdef HAK_DEBUG
    CHECKF(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0),
           "the misaligned unmap went unnoticed (status %#x)", status);
    CHECKF(strstr(err, "internal assertion failed") != NULL && strstr(err, "EINVAL") != NULL,
           "no diagnostic naming the refused unmap: %s", err);
#else
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, err);
#endif
}

TEST(whole_pages_go_back_and_errno_is_kept)
{
    char *p = hk_os_map(3 * HAK_PAGE_SIZE);
    CHECK(p != NULL);
    p[0] = p[2 * HAK_PAGE_SIZE] = 1;
    errno = EAGAIN;
    hk_os_unmap(p, 3 * HAK_PAGE_SIZE);
    CHECK(errno == EAGAIN);
    unsigned char vec;
    CHECKF(mincore(p, HAK_PAGE_SIZE, &vec) == -1 && errno == ENOMEM, "the range is still mapped");
}
