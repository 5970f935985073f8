/* alignment_sweep — every aligned API across alignments 2^0..2^21 and sizes in every tier, from
 * several threads at once: each block is aligned, holds its size, and stays intact until freed.
 * Built with the malloc family (release) it also sweeps posix_memalign, aligned_alloc, memalign,
 * valloc and pvalloc; with the hak_* API only, hak_aligned_alloc. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>

#include "stress_common.h"

#define THREADS 3

static int stop;
static uint64_t allocated; /* atomic */

static const size_t sizes[] = {0,       1,    15,   16,    17,    100,    1000,     1024,
                               1025,    4096, 5000, 32768, 32769, 100000, 1u << 20, (1u << 20) + 1,
                               3u << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

#ifdef STRESS_INTERPOSED
#define APIS 6
#else
#define APIS 1
#endif

static void *aligned(int api, size_t align, size_t size, size_t *effective)
{
    *effective = align;
    switch (api) {
    case 0:
        return hak_aligned_alloc(align, size);
#ifdef STRESS_INTERPOSED
    case 1: {
        void *p = NULL;
        if (align < sizeof(void *))
            align = *effective = sizeof(void *);
        return posix_memalign(&p, align, size) == 0 ? p : NULL;
    }
    case 2:
        return aligned_alloc(align, size);
    case 3:
        return memalign(align, size);
    case 4:
        *effective = 4096;
        return valloc(size);
    default:
        *effective = 4096;
        return pvalloc(size);
#endif
    }
    return NULL;
}

static void *sweep(void *arg)
{
    uint64_t rng = 4242 + (uint64_t)(intptr_t)arg;
    uint64_t count = 0;
    void *held[8] = {0};
    size_t held_n[8];
    uint32_t held_tag[8];
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t r = stress_rand(&rng);
        int api = (int)(r % APIS);
        size_t align = (size_t)1 << ((r >> 8) % 22);
        size_t size = sizes[(r >> 16) % NSIZES], effective;
        unsigned char *p = aligned(api, align, size, &effective);
        if (p == NULL)
            stress_fail("api %d: %zu bytes aligned to %zu failed", api, size, align);
        if (((uintptr_t)p & (effective - 1)) != 0 || ((uintptr_t)p & 15) != 0)
            stress_fail("api %d: %p is not aligned to %zu", api, (void *)p, effective);
        if (hak_usable_size(p) < size)
            stress_fail("api %d: usable %zu < %zu", api, hak_usable_size(p), size);
        int slot = (int)((r >> 24) % 8);
        if (held[slot]) {
            stress_check(held[slot], held_n[slot], held_tag[slot], "aligned block");
            hak_free(held[slot]);
        }
        stress_fill(p, size, (uint32_t)count);
        held[slot] = p, held_n[slot] = size, held_tag[slot] = (uint32_t)count;
        count++;
    }
    for (int i = 0; i < 8; i++)
        if (held[i]) {
            stress_check(held[i], held_n[i], held_tag[i], "aligned block");
            hak_free(held[i]);
        }
    __atomic_fetch_add(&allocated, count, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    stress_name = "alignment_sweep";
    stress_watchdog_start();
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, sweep, (void *)i);
    usleep((useconds_t)(stress_seconds() * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    stress_end_check();
    printf("PASS alignment_sweep (%llu aligned blocks from %d API(s), alignments 1 B - 2 MiB, %d "
           "threads)\n",
           (unsigned long long)__atomic_load_n(&allocated, __ATOMIC_RELAXED), APIS, THREADS);
    return 0;
}
