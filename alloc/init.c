/* init.c — one-time setup, fork handling, statistics at exit. */
#include "init.h"

#include <unistd.h>

#include "external_guard.h"
#include "free_mark.h"
#ifdef HAK_HARDENED
#include "free_link.h"
#endif
#include "heap.h"
#include "large.h"
#include "options.h"
#include "orphan_pool.h"
#include "page_run.h"
#include "reclaim.h"
#include "segment.h"
#include "size_class.h"
#include "slab_pool.h"
#include "stats.h"

/* 0: not started; 2: ready; (pid << 2) | 1: being initialized by a thread of process pid. */
long hk_init_state;
/* Set while this thread registers the fork handlers: the allocator already works for it. */
static HAK_TLS bool registering_fork_handlers;

/* Set (release) by the initializing thread just before it registers the fork handlers; read
 * (acquire) first thing in fork_prepare. glibc orders the registration before any fork that runs
 * the handlers, but with a lock ThreadSanitizer cannot see: without this pair it reports the
 * initializer's lock setup as racing with a fork by another thread. */
static int fork_handlers_armed;

/* Prepare takes every lock in the global order; the child reinitializes them, then tears down the
 * heaps of threads that do not exist in it. */
static void fork_prepare(void)
{
    (void)__atomic_load_n(&fork_handlers_armed, __ATOMIC_ACQUIRE);
    hk_heap_fork_prepare();
    hk_orphan_pool_fork_prepare();
    hk_slab_pool_fork_prepare();
    hk_page_run_fork_prepare();
    hk_large_fork_prepare();
    hk_segment_fork_prepare();
    hk_external_guard_fork_prepare();
}

static void fork_parent(void)
{
    hk_external_guard_fork_parent();
    hk_segment_fork_parent();
    hk_large_fork_parent();
    hk_page_run_fork_parent();
    hk_slab_pool_fork_parent();
    hk_orphan_pool_fork_parent();
    hk_heap_fork_parent();
}

static void fork_child(void)
{
    hk_external_guard_fork_child();
    hk_segment_fork_child();
    hk_large_fork_child();
    hk_page_run_fork_child();
    hk_slab_pool_fork_child();
    hk_orphan_pool_fork_child();
    hk_heap_fork_child();
}

bool hk_init_slow(void)
{
    long expected = 0, running = ((long)getpid() << 2) | 1;
    if (__atomic_compare_exchange_n(&hk_init_state, &expected, running, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        /* Nothing here may allocate: a recursive malloc would find the state "running". */
        hk_options_init();
        hk_free_mark_init();
#ifdef HAK_HARDENED
        hk_free_link_init();
#endif
        hk_size_class_init();
        hk_heap_init();
        hk_page_run_init();
        hk_reclaim_register(hk_segment_cache_drop);
        hk_reclaim_register(hk_large_cache_drop);
        /* Other threads keep waiting until the fork handlers are in place: a fork by one of them
         * before that would copy a lock held by a third thread into a child that never gets it
         * back. pthread_atfork may allocate; this thread's allocations go through (see below). */
        registering_fork_handlers = true;
        __atomic_store_n(&fork_handlers_armed, 1, __ATOMIC_RELEASE);
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        registering_fork_handlers = false;
        __atomic_store_n(&hk_init_state, 2, __ATOMIC_RELEASE);
        return true;
    }
    if (registering_fork_handlers)
        return true;
    long seen;
    struct spin_wait w = SPIN_WAIT_INIT;
    while ((seen = __atomic_load_n(&hk_init_state, __ATOMIC_ACQUIRE)) != 2) {
        /* A fork during another thread's initialization leaves the child "running" with no
         * thread to finish it: the child starts over (the fork handlers are not registered). */
        if (seen != 0 && (seen >> 2) != (long)getpid()) {
            __atomic_compare_exchange_n(&hk_init_state, &seen, 0, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
            return hk_init_slow();
        }
        if (seen == 0)
            return hk_init_slow();
        spin_wait(&w, "another thread to finish initializing hakmem", &hk_init_state);
    }
    return true;
}

__attribute__((destructor)) static void print_stats_at_exit(void)
{
    if (__atomic_load_n(&hk_init_state, __ATOMIC_ACQUIRE) == 2 && hk_options.stats)
        hk_stats_report_at_exit();
}
