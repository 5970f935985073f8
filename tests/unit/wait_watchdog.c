/* In every build but release, a wait inside hakmem that nothing ends — a lock another thread
 * never releases, a notification that never finishes — is reported with what was awaited and
 * aborts after HAKMEM_WAIT_LIMIT_S seconds, instead of hanging. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
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
    (void)arg;
    setenv("HAKMEM_WAIT_LIMIT_S", "1", 1);
    hak_free(hak_malloc(1)); /* options are read at initialization */
    pthread_t t;
    pthread_create(&t, NULL, hold_forever, NULL);
    usleep(100000);
    hak_lock(&held);
}

static void notification_never_finished(void *arg)
{
    (void)arg;
    setenv("HAKMEM_WAIT_LIMIT_S", "1", 1);
    hak_free(hak_malloc(1));
    remote_queue_t q = REMOTE_NOTIFYING; /* a notifier that stopped between push and done */
    remote_queue_wait_quiet(&q);
}

static void expect_abort(void (*fn)(void *), const char *what)
{
    static char err[65536];
    int status = test_run_child(fn, NULL, err, sizeof err);
    CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x: %s", status, err);
    CHECKF(strstr(err, "hakmem: waited 1 s for") && strstr(err, what), "report: %s", err);
    /* Then every thread's stack, where a debugger can give them. */
    CHECKF(strstr(err, "every thread's stack"), "report: %s", err);
    if (system("command -v gdb >/dev/null 2>&1") == 0)
        CHECKF(strstr(err, "Thread 1") && strstr(err, "#0 "), "no stacks in: %s", err);
}

TEST(a_lock_never_released_is_reported_and_aborts)
{
    expect_abort(lock_held_forever, "an allocator lock held by another thread");
}

TEST(a_notification_never_finished_is_reported_and_aborts)
{
    expect_abort(notification_never_finished, "a remote free to finish notifying");
}
#endif /* release waits are not bounded: a debugger stopping a thread must not abort the others */
