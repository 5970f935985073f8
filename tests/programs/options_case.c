/* options_case — read hakmem's options as at the very first malloc of a process, before libc
 * has set up `environ` (the dynamic loader's allocations): from /proc/self/environ. Prints the
 * values read, and how many file descriptors reading them left open. With the argument "alloc"
 * it also allocates (initializing hakmem), so that what happens at its exit (the HAKMEM_STATS
 * report) can be seen. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "hakmem.h"
#include "options.h"

extern char **environ;

/* Open file descriptors (the directory's own counted both times alike). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "alloc") == 0)
        hak_free(hak_malloc(100));
    char **saved = environ;
    int fds = open_fds();
    environ = NULL;
    hk_options_init();
    environ = saved;
    printf("segment_cache=%u external_guard=%u fds_left=%d\n", hk_options.segment_cache,
           hk_options.external_guard, open_fds() - fds);
    return 0;
}
