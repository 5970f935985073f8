/* fork() while other threads allocate leaves the child a consistent allocator: it can allocate,
 * free its parent's blocks (owned by threads that do not exist in the child), start threads,
 * and exit cleanly; the parent carries on unaffected. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

static int stop;   /* atomic */
static int paused; /* atomic: the parent waits for a child */
static void *shared_blocks[4][256];

static void *churn(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned s = (unsigned)id + 1;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        if (__atomic_load_n(&paused, __ATOMIC_RELAXED)) {
            usleep(200);
            continue;
        }
        s = s * 1103515245u + 12345u;
        int k = (int)((s >> 8) % 256);
        size_t n = 8 + (s >> 16) % ((s & 15) == 0 ? 100000 : 600);
        void *old = __atomic_exchange_n(&shared_blocks[id][k], NULL, __ATOMIC_ACQ_REL);
        hak_free(old);
        void *p = hak_malloc(n);
        memset(p, id, n < 32 ? n : 32);
        __atomic_store_n(&shared_blocks[id][k], p, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        void *p = hak_malloc((size_t)(i % 3000) + 1);
        hak_free(p);
    }
    return NULL;
}

/* The hardened build pays two mprotect calls (under the process's mmap lock) for every page run
 * the four threads cycle through, which makes each fork four times slower: fewer forks there.
 * Its quarantine discards every freed Large block, so each Large block of the child's work is
 * faulted in afresh (with one in every round, 1.4 s a child and 23 s of the hardened suite): one
 * in every 8 rounds there. The rounds stay 50, more blocks than the quarantine's 256 slots, so
 * that blocks leave it in the child too. */
#ifdef HAK_HARDENED
#define FORKS 16
#define LARGE_EVERY 8
#else
#define FORKS 40
#define LARGE_EVERY 1
#endif

static int child_work(void)
{
    /* Blocks of every tier, contents checked. */
    size_t sizes[] = {1, 100, 1000, 9000, 40000, 300000, 3 << 20};
    for (int r = 0; r < 50; r++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            if (sizes[i] == 3 << 20 && r % LARGE_EVERY != 0)
                continue;
            unsigned char *p = hak_malloc(sizes[i]);
            if (!p)
                return 2;
            memset(p, (int)i, sizes[i]);
            for (size_t k = 0; k < sizes[i]; k += 97)
                if (p[k] != (unsigned char)i)
                    return 3;
            hak_free(p);
        }
    /* Free blocks of the parent's threads (their heaps were retired in the child). */
    for (int id = 0; id < 4; id++)
        for (int k = 0; k < 256; k++) {
            void *p = __atomic_exchange_n(&shared_blocks[id][k], NULL, __ATOMIC_ACQ_REL);
            hak_free(p);
        }
    /* Sanitizer runtimes cannot start threads after a multithreaded fork: TSan does not support
     * it, and ASan's own allocator can be left locked by a parent thread (seen: the child's new
     * threads blocked in ASan's allocator inside pthread_getattr_np, twice in ~15 runs). */
    if (!TEST_UNDER_SANITIZER) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, child_thread, NULL);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
    }
    /* The child's heap holds together: the parent's other threads left no heap behind (their
     * slabs were orphaned or pooled), and counters and slabs agree. The blocks those threads
     * held in registers at the fork are out for good, so nothing more exact can be demanded. */
    hak_thread_flush();
    return hak_debug_check_heap() == 0 ? 0 : 4;
}

static int initialized;    /* relaxed on purpose: no ordering the fork could lean on */
static int first_may_exit; /* atomic */

static void *first_allocation(void *arg)
{
    (void)arg;
    /* This thread initializes hakmem, with a call that takes no lock afterwards: nothing the
     * forking thread locks later carries this thread's setup over to it. */
    CHECK(hak_size_class(24) >= 0);
    __atomic_store_n(&initialized, 1, __ATOMIC_RELAXED);
    while (!__atomic_load_n(&first_may_exit, __ATOMIC_RELAXED))
        usleep(100);
    return NULL;
}

/* The first fork of a thread that has never called hakmem, right after another thread
 * initialized it: the fork handlers (registered by that thread) take every lock, including page
 * run locks nobody has used yet. Nothing but glibc's atfork registry orders the setup before the
 * fork, so under TSan this checks that hakmem makes that ordering visible. */
TEST_TIMEOUT(fork_right_after_another_thread_initialized_gives_a_working_child, 60)
{
    pthread_t t;
    pthread_create(&t, NULL, first_allocation, NULL);
    test_progress("waiting for the other thread's first allocation");
    while (!__atomic_load_n(&initialized, __ATOMIC_RELAXED))
        usleep(100);
    pid_t pid = fork();
    if (pid == 0) {
        void *p = hak_malloc(100000), *q = hak_malloc(40);
        int bad = p == NULL || q == NULL;
        hak_free(p);
        hak_free(q);
        test_exit_child(bad || hak_debug_check_heap() != 0);
    }
    CHECK(pid > 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    __atomic_store_n(&first_may_exit, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
}

TEST_TIMEOUT(fork_while_threads_allocate_gives_a_working_child, 120)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    for (int f = 0; f < FORKS; f++) {
        test_progress("fork %d of %d while 4 threads allocate: waiting for the child", f + 1,
                      FORKS);
        usleep(2000);
        pid_t pid = fork();
        if (pid == 0)
            test_exit_child(child_work());
        CHECK(pid > 0);
        /* The fork is what races with the threads; the child's checks need not share the CPUs
         * with four of them (it took 1.5 s a fork in the hardened build, most of the suite's
         * time). They go on between forks. */
        __atomic_store_n(&paused, 1, __ATOMIC_RELAXED);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        __atomic_store_n(&paused, 0, __ATOMIC_RELAXED);
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", f, status);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    test_progress("joining the 4 allocating threads");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int id = 0; id < 4; id++)
        for (int k = 0; k < 256; k++)
            hak_free(shared_blocks[id][k]);
}

static void *free_foreign_until_stopped(void *arg)
{
    (void)arg;
    static long other[8];
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
        hak_free(LAUNDER((void *)&other[3]));
    return NULL;
}

/* A fork child whose first calls free pointers hakmem does not own: ExternalGuard contains and
 * counts them in the child as in any process (its own lock was reset for the child), and the
 * child goes on allocating. Each child has a few seconds: a guard left locked by the fork would
 * hang it. */
static int foreign_frees_in_child(void)
{
    alarm(10);
    struct hak_stats s0, s1;
    hak_stats(&s0);
    long on_stack[4];
    static long in_data[4];
    hak_free(LAUNDER((void *)&on_stack[1]));
    hak_free(LAUNDER((void *)&in_data[2]));
    void *r = hak_realloc(LAUNDER((void *)&in_data[0]), 64);
    hak_stats(&s1);
    void *p = hak_malloc(200), *q = hak_malloc(300000);
    int ok = r == NULL && s1.external_guard_frees == s0.external_guard_frees + 2 &&
             s1.external_guard_reallocs == s0.external_guard_reallocs + 1 && p != NULL && q != NULL;
    hak_free(p);
    hak_free(q);
    return ok && hak_debug_check_heap() == 0 ? 0 : 1;
}

TEST_TIMEOUT(a_fork_child_contains_foreign_frees_and_goes_on_allocating, 60)
{
    hak_free(hak_malloc(10));
    /* In a child forked while another thread is inside ExternalGuard's bookkeeping. */
    for (int round = 0; round < 20; round++) {
        test_progress("fork %d of 20 while another thread frees foreign pointers", round + 1);
        __atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, free_foreign_until_stopped, NULL) == 0);
        usleep(2000);
        pid_t pid = fork();
        if (pid == 0)
            test_exit_child(foreign_frees_in_child());
        CHECK(pid > 0);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        pthread_join(t, NULL);
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "fork %d: the child freeing foreign pointers ended with status %#x (signal %d: "
               "14 is its alarm, a hang)",
               round + 1, status, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
}
