/* foreign_free — a cross-thread load with frees of memory hakmem does not own mixed in (libc
 * blocks, stack addresses, private mappings), in the default contain mode: every foreign free is
 * counted, the foreign memory stays untouched, and the load's blocks stay intact. */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include "ring.h"
#include "stress_common.h"

#define PAIRS 2

static struct ring rings[PAIRS];
static int stop, done_producing;
static uint64_t foreign_frees; /* atomic */
static unsigned char *mapping;
static void *libc_blocks[64];

static void foreign_free(uint64_t r)
{
    unsigned char stack_area[64];
    memset(stack_area, 0x3c, sizeof stack_area);
    switch (r % 3) {
    case 0:
        hak_free(libc_blocks[r % 64]);
        break;
    case 1:
        hak_free(stack_area + 16);
        break;
    default:
        hak_free(mapping + 64 * (r % 64));
        break;
    }
    for (size_t i = 0; i < sizeof stack_area; i++)
        if (stack_area[i] != 0x3c)
            stress_fail("a contained free wrote to the stack");
    __atomic_fetch_add(&foreign_frees, 1, __ATOMIC_RELAXED);
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 99 + (uint64_t)id;
    uint32_t tag = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t r = stress_rand(&rng);
        if (r % 16 == 0)
            foreign_free(r >> 8);
        size_t n = 1 + r % 3000;
        void *p = hak_malloc(n);
        stress_fill(p, n, ++tag);
        while (!ring_push(&rings[id], (struct parcel){p, n, tag})) {
            if (__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
                hak_free(p);
                goto done;
            }
            sched_yield();
        }
    }
done:
    __atomic_fetch_add(&done_producing, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *consumer(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 5 + (uint64_t)id;
    struct parcel x;
    for (;;) {
        if (ring_pop(&rings[id], &x)) {
            stress_check(x.p, x.size, x.tag, "passed between threads");
            hak_free(x.p);
            uint64_t r = stress_rand(&rng);
            if (r % 16 == 0)
                foreign_free(r >> 8);
        } else if (__atomic_load_n(&done_producing, __ATOMIC_ACQUIRE) == PAIRS &&
                   !ring_pop(&rings[id], &x)) {
            break;
        } else {
            sched_yield();
        }
    }
    return NULL;
}

int main(void)
{
    stress_name = "foreign_free";
    stress_watchdog_start();
    mapping = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(mapping, 0x7e, 4096);
    for (int i = 0; i < 64; i++) {
        libc_blocks[i] = malloc(32);
        memset(libc_blocks[i], 0x5d, 32);
    }
    struct hak_stats before, after;
    hak_stats(&before);
    pthread_t t[2 * PAIRS];
    for (intptr_t i = 0; i < PAIRS; i++) {
        pthread_create(&t[i], NULL, producer, (void *)i);
        pthread_create(&t[PAIRS + i], NULL, consumer, (void *)i);
    }
    usleep((useconds_t)(stress_seconds() * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    for (int i = 0; i < 2 * PAIRS; i++)
        pthread_join(t[i], NULL);
    hak_stats(&after);
    uint64_t counted = after.external_guard_frees - before.external_guard_frees;
    uint64_t made = __atomic_load_n(&foreign_frees, __ATOMIC_RELAXED);
    if (counted != made)
        stress_fail("%llu foreign frees, ExternalGuard counted %llu", (unsigned long long)made,
                    (unsigned long long)counted);
    for (int i = 0; i < 4096; i++)
        if (mapping[i] != 0x7e)
            stress_fail("contained frees wrote to the private mapping");
    for (int i = 0; i < 64; i++) {
        for (int k = 0; k < 32; k++)
            if (((unsigned char *)libc_blocks[i])[k] != 0x5d)
                stress_fail("contained frees wrote to a libc block");
        free(libc_blocks[i]);
    }
    munmap(mapping, 4096);
    stress_end_check();
    printf("PASS foreign_free (%llu foreign frees contained and counted under cross-thread load)\n",
           (unsigned long long)made);
    return 0;
}
