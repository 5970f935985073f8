/* options_case — read hakmem's options as at the very first malloc of a process, before libc
 * has set up `environ` (the dynamic loader's allocations): from /proc/self/environ. Prints the
 * values read. */
#include <stdio.h>

#include "options.h"

extern char **environ;

int main(void)
{
    char **saved = environ;
    environ = NULL;
    options_init();
    environ = saved;
    printf("segment_cache=%u external_guard=%u\n", hak_options.segment_cache,
           hak_options.external_guard);
    return 0;
}
