/* test.h — the minimal test harness shared by every test binary.
 *
 * Each TEST(name) registers a case; test_main runs each case in its own child process (so a crash,
 * an abort or a leak of allocator state stays inside that case) under a time limit, and prints
 * "PASS name" or "FAIL name: why". A case that outlives its limit, or reports progress and then
 * stops (TEST_STALL_SECONDS, default 20), fails with its last progress note and every thread's
 * stack. TEST_NOFORK=1 runs cases in-process (for gdb / valgrind). TEST_FILTER=substring runs only
 * matching cases. */
#ifndef HAK_TEST_H
#define HAK_TEST_H

#include <stdio.h>
#include <stdlib.h>

typedef void (*test_fn)(void);

void test_register(const char *name, test_fn fn, unsigned timeout_s);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define TEST_TIMEOUT(name, seconds)                                                                \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        test_register(#name, name, seconds);                                                       \
    }                                                                                              \
    static void name(void)

#define TEST(name) TEST_TIMEOUT(name, 30)

/* Progress of a long case: a note saying what it is doing (shown if it stops), or a bare tick.
 * Cheap enough for every round of a loop. */
void test_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_tick(void);

/* After each case the harness runs the full heap check in the case's process, and, unless the
 * case says it keeps blocks on purpose, demands that nothing is out (everything was freed). */
void test_keeps_blocks(void);
/* For cases that corrupt the heap on purpose (the checker's own tests). */
void test_skip_heap_check(void);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "%s", #cond);                                            \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                                            \
    } while (0)

/* Hide a value from the optimizer, so deliberate misuse (freeing a stack address, impossible
 * sizes) reaches the allocator instead of being diagnosed or folded at compile time. */
#define LAUNDER(x)                                                                                 \
    ({                                                                                             \
        __typeof__(x) launder_v_ = (x);                                                            \
        __asm__ volatile("" : "+r"(launder_v_));                                                   \
        launder_v_;                                                                                \
    })

/* Sanitizer runtimes add shadow memory to RSS: memory bounds are checked only without them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_UNDER_SANITIZER 1
#endif
#endif
#ifndef TEST_UNDER_SANITIZER
#define TEST_UNDER_SANITIZER 0
#endif
#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif
#ifndef TEST_UNDER_TSAN
#define TEST_UNDER_TSAN 0
#endif

/* End a forked child without running the parent's atexit handlers, but with its coverage
 * profile written in the coverage build (a child's lines count too). */
void test_exit_child(int code) __attribute__((noreturn));

/* Resident set size of this process, in KiB (from /proc/self/status). */
long test_rss_kb(void);
long test_peak_rss_kb(void);
/* A pattern derived from seed and position, to prove that a block's bytes survived (realloc). */
void test_fill_pattern(unsigned char *p, size_t n, unsigned seed);
int test_pattern_holds(const unsigned char *p, size_t n, unsigned seed);
/* Seconds since an arbitrary start, monotonic. */
double test_now(void);
/* Run fn(arg) in a child process; returns its wait status. If `err` is not NULL, the child's
 * stderr is captured there (NUL-terminated, truncated to len). */
int test_run_child(void (*fn)(void *), void *arg, char *err, size_t len);
/* Run a program (argv[0] a path) in a child; returns its wait status, output captured as above. */
int test_run_program(char *const argv[], char *out, size_t len);
/* The path of a helper program built next to the tests: <build>/tests/programs/<name>. */
void test_program_path(char *buf, size_t len, const char *name);

#endif
