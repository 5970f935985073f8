/* stress_common.h — what every stress program shares: its time budget, fill patterns, failure
 * reporting and the verdict line.
 *
 * Stress programs run free (no determinism), at full speed, in any variant, through the hak_*
 * API. Each aims at one mechanism and verifies contents, not just survival: the first mismatch
 * prints what was expected and found and exits 1. The last line is "PASS <name> (...)" or
 * "FAIL <name>: ...". Duration: STRESS_SECONDS (default 5).
 *
 * Watchdog: every fill and check of a block is progress. A program that makes none for
 * STRESS_STALL_SECONDS (default 20), or runs 60 s past its duration, fails with what its main
 * thread was doing (stress_phase) and every thread's stack (gdb, when installed). */
#ifndef HAK_STRESS_COMMON_H
#define HAK_STRESS_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"

static const char *stress_name = "stress";

__attribute__((noreturn, format(printf, 1, 2))) static void stress_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("FAIL %s: %s\n", stress_name, msg);
    fflush(stdout);
    _exit(1);
}

static inline double stress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double stress_seconds(void)
{
    const char *s = getenv("STRESS_SECONDS");
    double v = s ? atof(s) : 5.0;
    return v > 0 ? v : 5.0;
}

/* ---- watchdog ---- */

static uint64_t stress_ticks; /* atomic: progress of any thread */
static char stress_doing[160] = "starting";

static inline void stress_tick(void) { __atomic_fetch_add(&stress_ticks, 1, __ATOMIC_RELAXED); }

/* What the main thread is doing now, for the watchdog's report. */
__attribute__((format(printf, 1, 2))) static inline void stress_phase(const char *fmt, ...)
{
    char doing[sizeof stress_doing];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(doing, sizeof doing, fmt, ap);
    va_end(ap);
    memcpy(stress_doing, doing, sizeof doing);
    stress_tick();
}

static void stress_stacks(void)
{
    if (system("command -v gdb >/dev/null 2>&1") != 0)
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "timeout -s KILL 30 gdb -p %d -batch -nx -ex 'thread apply all bt 25' 2>/dev/null | "
             "grep -E '^(Thread|#)' | sed 's/^/    /'",
             (int)getpid());
    printf("  stacks of every thread:\n");
    fflush(stdout);
    if (system(cmd) != 0)
        printf("  (gdb could not attach)\n");
}

static void *stress_watchdog(void *arg)
{
    double duration = *(double *)arg, start = stress_now(), last_change = start;
    double stall = getenv("STRESS_STALL_SECONDS") ? atof(getenv("STRESS_STALL_SECONDS")) : 20;
    uint64_t seen = 0;
    for (;;) {
        usleep(100000);
        double now = stress_now();
        uint64_t t = __atomic_load_n(&stress_ticks, __ATOMIC_RELAXED);
        if (t != seen) {
            seen = t;
            last_change = now;
        }
        const char *why = now - last_change > stall     ? "no progress for"
                          : now - start > duration + 60 ? "still running after"
                                                        : NULL;
        if (why == NULL)
            continue;
        printf("FAIL %s: %s %.0f s (of %.0f s planned); main thread was: %s\n", stress_name, why,
               now - (why[0] == 'n' ? last_change : start), duration, stress_doing);
        stress_stacks();
        fflush(stdout);
        _exit(1);
    }
    return NULL;
}

/* Start the watchdog; call first thing in main. */
static inline void stress_watchdog_start(void)
{
    static double duration;
    static pthread_t t;
    duration = stress_seconds();
    pthread_create(&t, NULL, stress_watchdog, &duration);
    pthread_detach(t);
}

static inline uint64_t stress_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline uint8_t stress_byte(const void *p, uint32_t tag, size_t i)
{
    return (uint8_t)(((uintptr_t)p >> 4) * 131u ^ tag * 0x9e37u ^ i * 7u);
}

/* Blocks above 16 KiB are stamped on their first and last 4 KiB only, to keep the load high. */
static inline void stress_fill(void *p, size_t n, uint32_t tag)
{
    unsigned char *b = p;
    stress_tick();
    if (n <= 16384) {
        for (size_t i = 0; i < n; i++)
            b[i] = stress_byte(p, tag, i);
        return;
    }
    for (size_t i = 0; i < 4096; i++) {
        b[i] = stress_byte(p, tag, i);
        b[n - 4096 + i] = stress_byte(p, tag, n - 4096 + i);
    }
}

/* Offset of the first byte that does not match, or SIZE_MAX. */
static inline size_t stress_damage(const void *p, size_t n, uint32_t tag)
{
    const unsigned char *b = p;
    stress_tick();
    if (n <= 16384) {
        for (size_t i = 0; i < n; i++)
            if (b[i] != stress_byte(p, tag, i))
                return i;
        return SIZE_MAX;
    }
    for (size_t i = 0; i < 4096; i++) {
        if (b[i] != stress_byte(p, tag, i))
            return i;
        if (b[n - 4096 + i] != stress_byte(p, tag, n - 4096 + i))
            return n - 4096 + i;
    }
    return SIZE_MAX;
}

static inline void stress_check(const void *p, size_t n, uint32_t tag, const char *what)
{
    size_t at = stress_damage(p, n, tag);
    if (at != SIZE_MAX)
        stress_fail("%s: block %p (%zu bytes, tag %u) damaged at byte %zu: %#x, expected %#x", what,
                    p, n, tag, at, ((const unsigned char *)p)[at], stress_byte(p, tag, at));
}

/* At the end, after every thread is joined and every block freed: the full heap check, which
 * must find nothing out (a block the allocator lost, a slab parked where nobody looks, pages or
 * mappings nothing explains). */
static inline void stress_end_check(void)
{
    stress_phase("the heap check at the end");
    hak_thread_flush();
#ifdef STRESS_INTERPOSED
    int errors = hak_debug_check_heap(); /* libc's own blocks are hakmem's too */
#else
    int errors = hak_debug_check_quiescent(NULL, 0);
#endif
    if (errors != 0)
        stress_fail("the heap check at the end found %d violation(s) with every block freed (lines "
                    "above): the allocator lost or misplaced memory",
                    errors);
}

#endif
