/* fork_stress — fork again and again while other threads allocate and free: every child must
 * find a consistent allocator, verify the blocks it inherited, allocate and free in every tier,
 * and exit cleanly within its time limit. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "stress_common.h"

#define WORKERS 3
#define SLOTS 128

struct slot {
    void *p;
    size_t n;
    uint32_t tag;
    pthread_mutex_t lock;
};

static struct slot slots[WORKERS][SLOTS];
static int stop;

static void *churn(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = (uint64_t)id * 7919 + 3;
    uint32_t tag = (uint32_t)id << 24;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t r = stress_rand(&rng);
        struct slot *s = &slots[id][r % SLOTS];
        size_t n = r % 50 == 0 ? 1 + (r >> 8) % 300000 : 1 + (r >> 8) % 2000;
        void *p = hak_malloc(n);
        if (!p)
            stress_fail("hak_malloc failed");
        stress_fill(p, n, ++tag);
        pthread_mutex_lock(&s->lock);
        if (s->p) {
            stress_check(s->p, s->n, s->tag, "replaced");
            hak_free(s->p);
        }
        s->p = p, s->n = n, s->tag = tag;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* In the child: the lock of a slot may have been held by a thread that does not exist here, so
 * the slots are read without it; a slot being written at the fork is skipped. */
static int child(void)
{
    alarm(20);
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < SLOTS; k++) {
            struct slot *s = &slots[w][k];
            if (pthread_mutex_trylock(&s->lock) != 0)
                continue;
            if (s->p) {
                stress_check(s->p, s->n, s->tag, "inherited by a fork child");
                hak_free(s->p);
                s->p = NULL;
            }
        }
    static const size_t sizes[] = {1, 64, 1000, 5000, 30000, 200000, 3 << 20};
    for (int r = 0; r < 20; r++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = hak_malloc(sizes[i]);
            if (!p)
                return 2;
            stress_fill(p, sizes[i], (uint32_t)i);
            stress_check(p, sizes[i], (uint32_t)i, "allocated in a fork child");
            hak_free(p);
        }
    return hak_debug_check_heap() == 0 ? 0 : 3;
}

int main(void)
{
    stress_name = "fork_stress";
    stress_watchdog_start();
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < SLOTS; k++)
            pthread_mutex_init(&slots[w][k].lock, NULL);
    pthread_t t[WORKERS];
    for (intptr_t i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    double end = stress_now() + stress_seconds();
    long forks = 0;
    while (stress_now() < end) {
        usleep(5000);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        if (pid < 0)
            stress_fail("fork failed");
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            stress_fail("fork child %ld ended with status %#x", forks, status);
        forks++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    stress_phase("joining the threads");
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < SLOTS; k++)
            if (slots[w][k].p) {
                stress_check(slots[w][k].p, slots[w][k].n, slots[w][k].tag, "at the end");
                hak_free(slots[w][k].p);
            }
    stress_end_check();
    printf("PASS fork_stress (%ld forks while %d threads allocated; every child verified its "
           "blocks and exited cleanly)\n",
           forks, WORKERS);
    return 0;
}
