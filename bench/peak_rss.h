/* peak_rss.h — the calling process's peak resident set, for the benchmarks' result lines.
 *
 * Read from the process itself (VmHWM) rather than from the parent's rusage: a child forked by
 * the bench runner inherits the runner's resident size in ru_maxrss, which would hide the
 * allocator's own footprint under the runner's. Returns 0 where /proc is unavailable. */
#ifndef HAK_BENCH_PEAK_RSS_H
#define HAK_BENCH_PEAK_RSS_H

#include <stdio.h>
#include <string.h>

static inline long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    long kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0) {
            sscanf(line + 6, "%ld", &kb);
            break;
        }
    fclose(f);
    return kb;
}

#endif
