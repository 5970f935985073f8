/* race_sched.c — the race scheduler: PCT-style priorities over hakmem's scheduling points. */
#define _GNU_SOURCE
#include "race_sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "target.h"
#ifdef HAK_SCHED
#include "hakmem_sched.h"
const int sched_deterministic = 1;
#else
const int sched_deterministic = 0;
#endif

/* Consecutive spin points after which every participant is taken to be waiting for something
 * no participant will do (a deadlock or a livelock), and scheduling points one race may take. */
#define SPIN_LIMIT 200000
#define STEP_LIMIT 20000000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* One condition per participant, so that a switch wakes the one thread whose turn it is (a
 * shared one woke every participant at every switch, each only to wait again: most of a sched
 * replay's time went to those wake-ups), and one for the race's end. */
static pthread_cond_t turn[SCHED_MAX_THREADS];
static pthread_cond_t all_left = PTHREAD_COND_INITIALIZER;
static unsigned participants, left; /* bit masks of participant ids */
static int current = -1;            /* the participant allowed to run (sched build) */
static int64_t prio[SCHED_MAX_THREADS];
static int64_t lowest;         /* next demoted priority: below every other */
static int64_t highest;        /* next promoted priority: above every other */
static uint64_t rng;           /* the schedule's own stream, for random switches */
static unsigned switch_period; /* 0: PCT only; else a random switch every ~this many points */
static uint64_t change_at[3];
static uint64_t steps, spin_run;
static unsigned last_point[SCHED_MAX_THREADS];
static const void *last_object[SCHED_MAX_THREADS];
static uint64_t last_step[SCHED_MAX_THREADS];
static __thread int my_id = -1;
int sched_trace;
static pthread_key_t exit_key;

const char *const sched_point_names[SCHED_POINT_KINDS] = {
    "push",        "take",         "queue_load", "arm",  "disarm", "notify",
    "notify_done", "pending_take", "owner",      "lock", "spin",   "thread_exit",
};
uint64_t (*sched_pairs)[SCHED_POINT_KINDS];
#ifdef HAK_SCHED
_Static_assert(HAK_SCHED_POINTS == SCHED_POINT_KINDS, "a name for every scheduling point");
/* The same pairs as coverage for libFuzzer (its extra counters; an unused section elsewhere): an
 * input whose races reach a pair no earlier input reached is kept and mutated further, so the
 * search goes after new interleavings of the protocol, not only new code. */
static uint64_t hook_calls; /* atomic: every call of the hook, in a race or not */
__attribute__((section("__libfuzzer_extra_counters"),
               used)) static uint8_t pair_coverage[SCHED_POINT_KINDS * SCHED_POINT_KINDS];
#endif

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The highest-priority participant still in the race, or -1. Under mu. */
static int pick(void)
{
    int best = -1;
    for (int i = 0; i < SCHED_MAX_THREADS; i++)
        if ((participants & ~left) & (1u << i))
            if (best < 0 || prio[i] > prio[best])
                best = i;
    return best;
}

/* Give the turn to participant next (-1: nobody is left to run). Under mu. */
static void hand_turn_to(int next)
{
    current = next;
    if (next >= 0)
        pthread_cond_signal(&turn[next]);
}

/* Who is where, for a report. Under mu. */
static void describe(char *buf, size_t len)
{
    size_t n =
        (size_t)snprintf(buf, len, "after %llu scheduling points:", (unsigned long long)steps);
    for (int i = 0; i < SCHED_MAX_THREADS && n < len; i++) {
        if (!((participants & ~left) & (1u << i)))
            continue;
        if (last_step[i] == 0)
            n += (size_t)snprintf(buf + n, len - n, " thread %d has not reached a point;", i);
        else
            n += (size_t)snprintf(
                buf + n, len - n, " thread %d last at %s(%p) (point %llu);", i,
                last_point[i] < SCHED_POINT_KINDS ? sched_point_names[last_point[i]] : "?",
                last_object[i], (unsigned long long)last_step[i]);
    }
}

#ifdef HAK_SCHED
static void stuck(const char *what)
{
    char why[768];
    describe(why, sizeof why);
    fprintf(stderr, "hakmem ops: check failed in a race: %s %s\n", what, why);
    fflush(stderr);
    abort();
}

/* Called by hakmem before every synchronization step. */
static void hook(unsigned point, const void *object)
{
    int me = my_id;
    __atomic_fetch_add(&hook_calls, 1, __ATOMIC_RELAXED);
    if (me < 0)
        return; /* not a participant of a running race */
    pthread_mutex_lock(&mu);
    steps++;
    last_point[me] = point;
    last_object[me] = object;
    last_step[me] = steps;
    if (sched_trace)
        fprintf(stderr, "         %6llu  thread %d  %s(%p)\n", (unsigned long long)steps, me,
                sched_point_names[point], object);
    if (point == HAK_SCHED_SPIN) {
        /* Waiting: let every other participant go first. */
        prio[me] = lowest--;
        if (++spin_run > SPIN_LIMIT)
            stuck("every participant waits and none can move (a deadlock or a livelock)");
    } else {
        spin_run = 0;
    }
    for (int i = 0; i < 3; i++)
        if (steps == change_at[i])
            prio[me] = lowest--;
    if (switch_period != 0 && point != HAK_SCHED_SPIN && splitmix(&rng) % switch_period == 0) {
        /* Random-walk schedules: now and then the next point goes to any participant. */
        unsigned live = participants & ~left, n = (unsigned)__builtin_popcount(live);
        unsigned k = (unsigned)(splitmix(&rng) % n);
        for (int i = 0; i < SCHED_MAX_THREADS; i++)
            if ((live & (1u << i)) && k-- == 0)
                prio[i] = highest++;
    }
    if (steps > STEP_LIMIT)
        stuck("the race ran past its step budget (a livelock?)");
    int next = pick();
    if (next != me) {
        if (last_step[next] != 0 && last_object[next] == object && point < SCHED_POINT_KINDS &&
            last_point[next] < SCHED_POINT_KINDS) {
            if (pair_coverage[point * SCHED_POINT_KINDS + last_point[next]] < 255)
                pair_coverage[point * SCHED_POINT_KINDS + last_point[next]]++;
            if (sched_pairs != NULL)
                __atomic_fetch_add(&sched_pairs[point][last_point[next]], 1, __ATOMIC_RELAXED);
        }
        hand_turn_to(next);
        while (current != me)
            pthread_cond_wait(&turn[me], &mu);
    }
    pthread_mutex_unlock(&mu);
}
#endif

static void leave(int id)
{
    pthread_mutex_lock(&mu);
    left |= 1u << id;
    hand_turn_to(pick());
    if (left == participants)
        pthread_cond_broadcast(&all_left);
    pthread_mutex_unlock(&mu);
}

static void leave_at_exit(void *value)
{
    /* Runs after hakmem's own thread-exit destructor: its key was created first. */
    int id = (int)(intptr_t)value - 1;
    my_id = -1;
    leave(id);
}

#ifdef HAK_SCHED
static void *free_one(void *block)
{
    hak_free(block);
    return NULL;
}

/* A race interleaves allocator steps only if hakmem calls the hook: one remote free (a block of
 * this thread freed by another, a push onto its slab's queue) must reach it, or no schedule of
 * any input explores anything (a per-input check cannot tell: a race may touch no shared state). */
static void check_hook_is_called(void)
{
    uint64_t before = __atomic_load_n(&hook_calls, __ATOMIC_RELAXED);
    pthread_t t;
    if (pthread_create(&t, NULL, free_one, hak_malloc(48)) != 0 || pthread_join(t, NULL) != 0) {
        fprintf(stderr, "hakmem ops: cannot start the scheduler's probe thread\n");
        abort();
    }
    if (__atomic_load_n(&hook_calls, __ATOMIC_RELAXED) == before) {
        fprintf(stderr, "hakmem ops: a remote free went through no scheduling point: hakmem does "
                        "not call the sched build's hook, so no interleaving would be explored\n");
        abort();
    }
}
#endif

void sched_setup(void)
{
    /* hakmem creates its thread key when it initializes; ours must come later, so that glibc
     * (which runs destructors in key order) tears the heap down before the participant leaves. */
    target.free(target.malloc(1));
    for (int i = 0; i < SCHED_MAX_THREADS; i++)
        pthread_cond_init(&turn[i], NULL);
    pthread_key_create(&exit_key, leave_at_exit);
#ifdef HAK_SCHED
    hak_sched_set_hook(hook);
    check_hook_is_called();
#endif
}

void sched_begin(unsigned mask, const uint8_t seed[4], uint32_t salt)
{
    uint64_t s = ((uint64_t)seed[0] | (uint64_t)seed[1] << 8 | (uint64_t)seed[2] << 16 |
                  (uint64_t)seed[3] << 24) ^
                 ((uint64_t)salt * 0x9e3779b97f4a7c15ull);
    pthread_mutex_lock(&mu);
    participants = mask;
    left = 0;
    steps = spin_run = 0;
    lowest = -1;
    memset(last_step, 0, sizeof last_step);
    /* Distinct initial priorities, then up to three change points within a horizon of 16 to
     * 512 scheduling points, where the running thread drops below all others. Everything comes
     * from the seed's stream, so a salt changes every part of the schedule. */
    for (int i = 0; i < SCHED_MAX_THREADS; i++)
        prio[i] = (int64_t)((splitmix(&s) % 1000000) * SCHED_MAX_THREADS + (uint64_t)i) + 1;
    uint64_t horizon = 16u << (splitmix(&s) % 6);
    unsigned changes = (unsigned)(splitmix(&s) % 4);
    /* One schedule in three is a random walk instead: PCT's few change points find bugs that
     * need a deep reordering, frequent random switches the ones that need a switch at one
     * particular step. */
    switch_period = splitmix(&s) % 3 == 0 ? 2u << (splitmix(&s) % 4) : 0;
    rng = splitmix(&s);
    highest = (int64_t)1000000 * SCHED_MAX_THREADS + 1;
    for (unsigned i = 0; i < 3; i++)
        change_at[i] = i < changes ? 1 + splitmix(&s) % horizon : 0;
    hand_turn_to(pick());
    pthread_mutex_unlock(&mu);
}

void sched_enter(unsigned id)
{
    my_id = (int)id;
#ifdef HAK_SCHED
    pthread_mutex_lock(&mu);
    while (current != (int)id)
        pthread_cond_wait(&turn[id], &mu);
    pthread_mutex_unlock(&mu);
#endif
}

void sched_leave(void)
{
    int id = my_id;
    my_id = -1;
    leave(id);
}

void sched_leave_at_exit(unsigned id) { pthread_setspecific(exit_key, (void *)(intptr_t)(id + 1)); }

int sched_wait(double timeout_s, char *why, size_t len)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    int rc = 0;
    pthread_mutex_lock(&mu);
    while (left != participants && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&all_left, &mu, &until);
    int done = left == participants;
    if (!done)
        describe(why, len);
    pthread_mutex_unlock(&mu);
    return done ? 0 : -1;
}

uint64_t sched_steps(void)
{
    pthread_mutex_lock(&mu);
    uint64_t n = steps;
    pthread_mutex_unlock(&mu);
    return n;
}
