/* random_key.c — key material for the per-process keys. */
#define _GNU_SOURCE
#include "random_key.h"

#include <sys/random.h>
#include <time.h>

void hk_random_key_words(uint64_t *out, size_t n)
{
    if (getrandom(out, n * sizeof *out, GRND_NONBLOCK) == (ssize_t)(n * sizeof *out))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)out ^
                 (uint64_t)ts.tv_sec;
    for (size_t i = 0; i < n; i++) { /* splitmix64 steps: distinct words from one seed */
        x += 0x9e3779b97f4a7c15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        out[i] = z ^ (z >> 31);
    }
}
