/* free_link.c — the per-process key of the hardened build's free-list links. */
#define _GNU_SOURCE
#include "free_link.h"

#include <sys/random.h>
#include <time.h>

#include "diag.h"

uint64_t hak_link_key;

void free_link_init(void)
{
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k = (uint64_t)ts.tv_nsec * 0xbf58476d1ce4e5b9ull ^ (uint64_t)(uintptr_t)&k;
    }
    /* Random low bits too: a link forged without the key fails the alignment test 15 times in
     * 16 before any other. */
    hak_link_key = k;
}

void free_link_corrupt(const void *block, uintptr_t stored)
{
    diag_print("hakmem: heap corruption: the free-list link in free block %p was overwritten "
               "(stored %#lx decodes to %#lx); aborting\n",
               block, (unsigned long)stored,
               (unsigned long)(stored ^ hak_link_key ^ (uintptr_t)block));
    diag_abort();
}
