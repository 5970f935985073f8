/* In the TSan variant, a deliberately racy remote-free push (plain loads and stores instead of
 * the compare-and-swap; compiled only into this test) is reported as a data race, while the real
 * push, exercised the same way, is not. */
#define HAK_RACY_REMOTE_PUSH_FOR_TEST
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include "hakmem.h"
#include "remote_queue.h"
#include "test.h"

static char report[65536];
static remote_queue_t queue;

#define PUSHES 20000

/* Both pushers are alive at once: a thread that ran to its end before the other started could
 * hand its ThreadSanitizer slot on, and accesses from one slot are never a race (seen flaky on a
 * loaded machine: no report, 0.02 s). The barrier orders only what comes before it. The blocks
 * are allocated before it, too: an allocation can take a lock, and a lock taken by both threads
 * orders one's pushes before the other's whenever the scheduler runs them one after the other
 * (seen flaky again with the barrier alone). After the barrier the threads share nothing but the
 * queue. */
static pthread_barrier_t both_started;
static void *blocks[2][PUSHES];

static void **allocate_then_wait(void)
{
    static int next;
    void **mine = blocks[__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 2];
    for (int i = 0; i < PUSHES; i++)
        mine[i] = hak_malloc(32);
    pthread_barrier_wait(&both_started);
    return mine;
}

static void *push_racy(void *arg)
{
    (void)arg;
    void **mine = allocate_then_wait();
    for (int i = 0; i < PUSHES; i++)
        remote_queue_push_racy(&queue, mine[i]);
    return NULL;
}

static void *push_atomic(void *arg)
{
    (void)arg;
    void **mine = allocate_then_wait();
    for (int i = 0; i < PUSHES; i++)
        remote_queue_push(&queue, mine[i]);
    return NULL;
}

static void race(void *arg)
{
    void *(*fn)(void *) = arg;
    pthread_t t[2];
    pthread_barrier_init(&both_started, NULL, 2);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, fn, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint32_t n;
    remote_queue_take(&queue, &n);
}

TEST(racy_remote_push_is_reported_as_a_data_race)
{
    int status = test_run_child(race, (void *)push_racy, report, sizeof report);
    CHECKF(strstr(report, "WARNING: ThreadSanitizer: data race"), "status %#x: %s", status, report);
    CHECK(strstr(report, "remote_queue_push_racy"));
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST(atomic_remote_push_is_not_reported)
{
    int status = test_run_child(race, (void *)push_atomic, report, sizeof report);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strstr(report, "ThreadSanitizer"),
           "status %#x: %s", status, report);
}
