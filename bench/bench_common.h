/* bench_common.h — timing, argument parsing and the result line shared by the benchmarks.
 *
 * Every bench prints one line "name key=value ... ops_per_sec=N peak_rss_kb=N" where one op is one malloc or
 * one free; the allocator under test is chosen from outside (LD_PRELOAD), so the binaries call
 * the plain malloc family. */
#ifndef HAK_BENCH_COMMON_H
#define HAK_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peak_rss.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "key=value" arguments, with defaults. */
static inline long bench_arg(int argc, char **argv, const char *key, long def)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return strtol(argv[i] + n + 1, NULL, 0);
    return def;
}

static inline uint64_t bench_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
