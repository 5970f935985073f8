/* options_case — read hakmem's options as at the very first malloc of a process, before libc
 * has set up `environ` (the dynamic loader's allocations): from /proc/self/environ. Prints the
 * values read. With the argument "alloc" it also allocates (initializing hakmem), so that what
 * happens at its exit (the HAKMEM_STATS report) can be seen. */
#include <stdio.h>
#include <string.h>

#include "hakmem.h"
#include "options.h"

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "alloc") == 0)
        hak_free(hak_malloc(100));
    char **saved = environ;
    environ = NULL;
    hk_options_init();
    environ = saved;
    printf("segment_cache=%u external_guard=%u\n", hk_options.segment_cache,
           hk_options.external_guard);
    return 0;
}
