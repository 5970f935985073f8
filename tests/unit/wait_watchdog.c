/* In every build but release, a wait inside hakmem that nothing ends — a lock another thread
 * never releases, a notification that never finishes — is reported with what was awaited and
 * aborts after HAKMEM_WAIT_LIMIT_S seconds, instead of hanging. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"
#include "lock.h"
#include "remote_queue.h"
#include "test.h"

#ifdef HAK_WAIT_WATCHDOG
static hak_lock_t held = HAK_LOCK_INITIALIZER;

static void *hold_forever(void *arg)
{
    (void)arg;
    hak_lock(&held);
    for (;;)
        pause();
    return NULL;
}

static void lock_held_forever(void *arg)
{
    setenv("HAKMEM_WAIT_LIMIT_S", arg != NULL ? (const char *)arg : "1", 1);
    hak_free(hak_malloc(1)); /* options are read at initialization */
    pthread_t t;
    pthread_create(&t, NULL, hold_forever, NULL);
    usleep(100000);
    hak_lock(&held);
}

static void notification_never_finished(void *arg)
{
    setenv("HAKMEM_WAIT_LIMIT_S", arg != NULL ? (const char *)arg : "1", 1);
    hak_free(hak_malloc(1));
    remote_queue_t q = REMOTE_NOTIFYING; /* a notifier that stopped between push and done */
    remote_queue_wait_quiet(&q);
}

/* The report of a wait that nothing ends: one line naming what was awaited and the limit, then
 * every thread's stack (where a debugger can give them), then abort. */
static double seconds_until_abort(void (*scenario)(void *), const char *limit, const char *what)
{
    static char err[65536];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int status = test_run_child(scenario, (void *)limit, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "limit %s: status %#x: %s", limit,
           status, err);
    char want[64];
    snprintf(want, sizeof want, "hakmem: waited %s s for", limit);
    CHECKF(strstr(err, want) != NULL && strstr(err, what) != NULL, "limit %s: report: %.300s",
           limit, err);
    CHECKF(strstr(err, "every thread's stack"), "report: %s", err);
    if (system("command -v gdb >/dev/null 2>&1") == 0)
        CHECKF(strstr(err, "Thread 1") && strstr(err, "#0 "), "no stacks in: %s", err);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* The stacks printed after the report take the same time at both limits: the difference is the
 * limits' difference. */
static void check_limit(void (*scenario)(void *), const char *what)
{
    double one = seconds_until_abort(scenario, "1", what);
    double two = seconds_until_abort(scenario, "2", what);
    CHECKF(one >= 1.0 && two >= 2.0, "%s: aborted after %.2f s (limit 1) and %.2f s (limit 2)",
           what, one, two);
    CHECKF(two - one > 0.6 && two - one < 1.6,
           "%s: limit 2 aborted %.2f s after limit 1 did (%.2f s, %.2f s): expected about 1 s",
           what, two - one, one, two);
}

TEST(a_lock_never_released_is_reported_and_aborts_after_the_limit_in_seconds)
{
    check_limit(lock_held_forever, "an allocator lock held by another thread");
}

TEST(a_notification_never_finished_is_reported_and_aborts_after_the_limit_in_seconds)
{
    check_limit(notification_never_finished, "a remote free to finish notifying");
}
#endif /* release waits are not bounded: a debugger stopping a thread must not abort the others */
