/* Per-process keys: the free-block key and the key material hakmem draws (the hardened build's
 * link key and canary secrets come from it too) differ from one process to the next and from one
 * word to the next. */
#include <stdio.h>

#include "test.h"

/* The free-block key is random per process (a program's data cannot be made to carry it, and
 * runs do not mark blocks alike), and so is every word of key material. */
TEST(every_process_has_its_own_random_free_key)
{
    char path[4096], a[128], b[128];
    test_program_path(path, sizeof path, "key_case");
    char *argv[] = {path, NULL};
    CHECK(test_run_program(argv, a, sizeof a) == 0);
    CHECK(test_run_program(argv, b, sizeof b) == 0);
    unsigned long long ka, kb, a0, a1, b0, b1;
    CHECKF(sscanf(a, "%llx %llx %llx", &ka, &a0, &a1) == 3 &&
               sscanf(b, "%llx %llx %llx", &kb, &b0, &b1) == 3,
           "key_case printed '%s' and '%s'", a, b);
    CHECKF(ka != kb && a0 != b0 && a1 != b1 && a0 != a1 && b0 != b1,
           "two processes: keys %llx and %llx, words %llx %llx and %llx %llx", ka, kb, a0, a1, b0,
           b1);
    CHECK((ka >> 63) == 1 && (ka & 1) == 1); /* far from zero, which live blocks carry */
}
