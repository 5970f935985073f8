/* free_mark.c — the per-process free-block key. */
#define _GNU_SOURCE
#include "free_mark.h"

#include <sys/random.h>
#include <time.h>

uint64_t hak_free_key;

void free_mark_init(void)
{
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&k;
    }
    /* Zero is what a live block carries; keep the key away from it and from small integers. */
    hak_free_key = k | ((uint64_t)1 << 63) | 1;
}
