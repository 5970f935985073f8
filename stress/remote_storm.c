/* remote_storm — producers allocate and stamp blocks of every tier and pass them through rings
 * to consumers, which verify and free them: every free is remote, at full speed. */
#include <pthread.h>
#include <sched.h>

#include "ring.h"
#include "stress_common.h"

#define PRODUCERS 2
#define CONSUMERS 2

static struct ring rings[PRODUCERS][CONSUMERS];
static int stop, producers_done;
static uint64_t passed[CONSUMERS];

static size_t pick(uint64_t *rng)
{
    uint64_t r = stress_rand(rng);
    if (r % 100 == 0)
        return 32768 + r % 200000; /* page runs */
    if (r % 10 == 0)
        return 1025 + r % 31000; /* Mid */
    return 1 + r % 1024;         /* Tiny */
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 0x1234567ull * (uint64_t)(id + 1);
    uint32_t tag = 0;
    int c = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        size_t n = pick(&rng);
        void *p = hak_malloc(n);
        if (!p)
            stress_fail("hak_malloc(%zu) failed", n);
        stress_fill(p, n, ++tag);
        struct parcel x = {p, n, tag};
        while (!ring_push(&rings[id][c], x)) {
            if (__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
                stress_check(p, n, tag, "unsent");
                hak_free(p);
                goto done;
            }
            sched_yield();
        }
        c = (c + 1) % CONSUMERS;
    }
done:
    __atomic_fetch_add(&producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *consumer(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct parcel x;
    int last_pass = 0;
    for (;;) {
        int got = 0;
        for (int p = 0; p < PRODUCERS; p++)
            while (ring_pop(&rings[p][id], &x)) {
                stress_check(x.p, x.size, x.tag, "received");
                hak_free(x.p);
                passed[id]++;
                got = 1;
            }
        if (!got) {
            /* Once every producer is done, one more pass: a parcel pushed just before the last
             * producer finished must not be left in a ring (it would leak). */
            if (last_pass)
                break;
            if (__atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) == PRODUCERS)
                last_pass = 1;
            else
                sched_yield();
        }
    }
    return NULL;
}

int main(void)
{
    stress_name = "remote_storm";
    stress_watchdog_start();
    struct hak_stats before, after;
    hak_stats(&before);
    pthread_t t[PRODUCERS + CONSUMERS];
    for (intptr_t i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, (void *)i);
    for (intptr_t i = 0; i < CONSUMERS; i++)
        pthread_create(&t[PRODUCERS + i], NULL, consumer, (void *)i);
    usleep((useconds_t)(stress_seconds() * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        pthread_join(t[i], NULL);
    hak_stats(&after);
    uint64_t total = 0;
    for (int i = 0; i < CONSUMERS; i++)
        total += passed[i];
    uint64_t remote = after.remote_frees - before.remote_frees;
    if (total == 0 || remote == 0)
        stress_fail("no cross-thread traffic (%llu blocks, %llu remote frees)",
                    (unsigned long long)total, (unsigned long long)remote);
    stress_end_check();
    printf("PASS remote_storm (%llu blocks verified and freed remotely; %llu remote frees, %llu "
           "drains)\n",
           (unsigned long long)total, (unsigned long long)remote,
           (unsigned long long)(after.drains - before.drains));
    return 0;
}
