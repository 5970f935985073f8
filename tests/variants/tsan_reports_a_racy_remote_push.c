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

static void *push_racy(void *arg)
{
    (void)arg;
    for (int i = 0; i < PUSHES; i++)
        remote_queue_push_racy(&queue, hak_malloc(32));
    return NULL;
}

static void *push_atomic(void *arg)
{
    (void)arg;
    for (int i = 0; i < PUSHES; i++)
        remote_queue_push(&queue, hak_malloc(32));
    return NULL;
}

static void race(void *arg)
{
    void *(*fn)(void *) = arg;
    pthread_t t[2];
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
