/* lock.c — the wait watchdog of the checking builds: a lock or a spin wait that lasts
 * HAKMEM_WAIT_LIMIT_S seconds is reported and aborts. */
#include "lock.h"

#ifdef HAK_WAIT_WATCHDOG
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "options.h"

extern char **environ;

/* Every thread's stack, from gdb attached to this process (when gdb is installed): what the stuck
 * threads are doing is the first thing anyone needs. Nothing here may allocate (an allocator lock
 * may be the one held): the command is formatted on the stack and the child only execs. */
static void print_every_stack(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "command -v gdb >/dev/null 2>&1 && timeout -s KILL 30 gdb -p %d -batch -nx "
             "-ex 'thread apply all bt 30' 2>/dev/null | grep -E '^(Thread|#)' >&2",
             (int)getpid());
    hk_diag_print("hakmem: every thread's stack (gdb):\n");
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* let the child's gdb attach */
    /* posix_spawn, not fork: fork runs hakmem's own fork handlers, which take every allocator
     * lock, and the lock a stuck thread holds is often the very one this wait is about. */
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn)) static void waited_too_long(const char *what, const void *object)
{
    /* One report per process: threads stuck behind the first (often on the lock it holds) wait
     * here for its abort, so their own reports and debuggers do not cut its stacks short. */
    static int reporting;
    if (__atomic_exchange_n(&reporting, 1, __ATOMIC_ACQ_REL))
        for (;;)
            pause();
    char caller[160];
    hk_diag_print("hakmem: waited %u s for %s (%p) and nothing moved: a thread that should end the "
                  "wait is stuck, or the protocol is broken; aborting (called from %s)\n",
                  hk_options.wait_limit_s, what, object,
                  hk_diag_name_address(__builtin_return_address(0), caller, sizeof caller));
    print_every_stack();
    hk_diag_abort();
}

void hk_lock_wait(hak_lock_t *l)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += hk_options.wait_limit_s;
    int rc;
    while ((rc = pthread_mutex_timedlock(&l->mutex, &until)) == EINTR) {
    }
    if (rc == ETIMEDOUT)
        waited_too_long("an allocator lock held by another thread (or inherited held by a fork "
                        "child)",
                        l);
}

void hk_spin_wait_check(struct spin_wait *w, const char *what, const void *object)
{
    uint64_t now = now_ns();
    if (w->since_ns == 0)
        w->since_ns = now;
    else if (now - w->since_ns >= (uint64_t)hk_options.wait_limit_s * 1000000000u)
        waited_too_long(what, object);
}
#else
typedef int lock_watchdog_unused; /* release: waits are not bounded */
#endif
