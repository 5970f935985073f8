/* Every alignment promise holds whatever the address space looks like: each case is a fresh
 * process (tests/programs/aligned_case) whose first hakmem mappings land at a different offset,
 * so a path that aligns only when the kernel happens to place memory aligned fails somewhere. */
#include <string.h>
#include <sys/wait.h>

#include "hakmem.h"
#include "test.h"

TEST_TIMEOUT(over_aligned_blocks_are_aligned_in_fresh_processes_at_any_address, 120)
{
    char path[4096];
    test_program_path(path, sizeof path, "aligned_case");
    static const char *const firsts[] = {"aligned", "large"};
    /* Shifts of 1 to 1023 pages move the next mapping through every 4 KiB offset class that
     * matters for alignments up to 4 MiB; the powers of two reach the larger ones. */
    static const char *const shifts[] = {"0", "1", "3", "255", "511", "1023", "1537", "4095"};
    for (size_t f = 0; f < 2; f++)
        for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
            test_progress("aligned_case %s %s", shifts[s], firsts[f]);
            char *argv[] = {path, (char *)shifts[s], (char *)firsts[f], NULL};
            char out[1024];
            int status = test_run_program(argv, out, sizeof out);
            CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "aligned "),
                   "aligned_case %s %s: status %#x: %s", shifts[s], firsts[f], status, out);
        }
}
