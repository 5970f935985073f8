/* In the valgrind variant, memcheck sees inside hakmem: a read after hak_free is an invalid
 * read, and a leaked hak_malloc block is "definitely lost"; a correct program is clean. */
#include <string.h>
#include <sys/wait.h>

#include "test.h"

static char out[65536];

static int memcheck(const char *bug)
{
    char prog[4096];
    test_program_path(prog, sizeof prog, "memcheck_case");
    char *argv[] = {"/usr/bin/valgrind",
                    "--error-exitcode=3",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    prog,
                    (char *)bug,
                    NULL};
    return test_run_program(argv, out, sizeof out);
}

TEST_TIMEOUT(memcheck_reports_an_invalid_read_after_hak_free, 120)
{
    int status = memcheck("read-after-free");
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %#x: %s", status, out);
    CHECKF(strstr(out, "Invalid read of size 1") && strstr(out, "inside a block of size 64 free'd"),
           "%s", out);
}

TEST_TIMEOUT(memcheck_reports_a_leaked_hak_malloc_block_as_definitely_lost, 120)
{
    int status = memcheck("leak");
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %#x: %s", status, out);
    CHECKF(strstr(out, "100 bytes in 1 blocks are definitely lost"), "%s", out);
}

TEST_TIMEOUT(memcheck_is_silent_on_a_correct_program, 120)
{
    int status = memcheck("clean");
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, out);
    CHECKF(strstr(out, "ERROR SUMMARY: 0 errors"), "%s", out);
}
