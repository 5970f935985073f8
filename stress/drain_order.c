/* drain_order — one owner thread allocates from one class as fast as it can while the other
 * threads free its blocks remotely at the highest rate: the owner drains its slabs' remote queues
 * all the time. Aimed at the block-in-exactly-one-place invariant: a block handed out while still
 * in a remote queue or twice on a free list is overwritten while live, and its freer sees it. */
#include <pthread.h>
#include <sched.h>

#include "ring.h"
#include "stress_common.h"

#define FREERS 3
#define SIZE 48 /* one Tiny class */

static struct ring rings[FREERS];
static int stop, owner_done;
static uint64_t freed[FREERS];

static void *owner(void *arg)
{
    (void)arg;
    uint32_t tag = 0;
    uint64_t rng = 77;
    int k = 0;
    struct parcel mine[64] = {{0}};
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        void *p = hak_malloc(SIZE);
        if (!p)
            stress_fail("hak_malloc failed");
        stress_fill(p, SIZE, ++tag);
        /* Some blocks the owner keeps for a while and frees itself (local frees). */
        if (stress_rand(&rng) % 8 == 0) {
            struct parcel *m = &mine[tag % 64];
            if (m->p) {
                stress_check(m->p, SIZE, m->tag, "kept by the owner");
                hak_free(m->p);
            }
            *m = (struct parcel){p, SIZE, tag};
            continue;
        }
        struct parcel x = {p, SIZE, tag};
        while (!ring_push(&rings[k], x)) {
            if (__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
                stress_check(p, SIZE, tag, "unsent");
                hak_free(p);
                goto done;
            }
            sched_yield();
        }
        k = (k + 1) % FREERS;
    }
done:
    for (int i = 0; i < 64; i++)
        if (mine[i].p) {
            stress_check(mine[i].p, SIZE, mine[i].tag, "kept by the owner");
            hak_free(mine[i].p);
        }
    __atomic_store_n(&owner_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *freer(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct parcel x;
    for (;;) {
        if (ring_pop(&rings[id], &x)) {
            stress_check(x.p, x.size, x.tag, "before its remote free");
            hak_free(x.p);
            freed[id]++;
        } else if (__atomic_load_n(&owner_done, __ATOMIC_ACQUIRE)) {
            if (!ring_pop(&rings[id], &x))
                break;
            stress_check(x.p, x.size, x.tag, "before its remote free");
            hak_free(x.p);
            freed[id]++;
        } else {
            sched_yield();
        }
    }
    return NULL;
}

int main(void)
{
    stress_name = "drain_order";
    stress_watchdog_start();
    struct hak_stats before, after;
    hak_stats(&before);
    pthread_t o, f[FREERS];
    for (intptr_t i = 0; i < FREERS; i++)
        pthread_create(&f[i], NULL, freer, (void *)i);
    pthread_create(&o, NULL, owner, NULL);
    usleep((useconds_t)(stress_seconds() * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    pthread_join(o, NULL);
    for (int i = 0; i < FREERS; i++)
        pthread_join(f[i], NULL);
    hak_stats(&after);
    uint64_t total = 0;
    for (int i = 0; i < FREERS; i++)
        total += freed[i];
    /* All classes: the hardened build serves SIZE from a larger one (its header and canary). */
    uint64_t drains = after.drains - before.drains;
    if (total == 0 || drains == 0)
        stress_fail("no drains (%llu remote frees)", (unsigned long long)total);
    stress_end_check();
    printf("PASS drain_order (%llu blocks freed remotely into the owner's slabs, %llu drains of "
           "%llu blocks)\n",
           (unsigned long long)total, (unsigned long long)drains,
           (unsigned long long)(after.drained - before.drained));
    return 0;
}
