/* stuck_without_signals.c — a malloc that never returns from a request of 4321 bytes and takes no
 * signal while it waits, as a program under ThreadSanitizer stuck in a loop that makes no call
 * looks (TSan holds the alarm back); it sleeps rather than spins, so the wait costs no CPU. Every other request is glibc's. tests/target_check.sh loads
 * it to hold the replay's promise: a program that stops answering, even its own alarm, is killed
 * and reported with the op it was stuck at. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define STUCK_SIZE 4321

__attribute__((visibility("default"))) void *malloc(size_t size)
{
    if (size == STUCK_SIZE) {
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        for (;;)
            sleep(1); /* no signal can end it: every one is blocked (SIGKILL aside) */
    }
    return __libc_malloc(size);
}

__attribute__((visibility("default"))) void free(void *p) { __libc_free(p); }

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
    return __libc_calloc(n, size);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t size)
{
    return __libc_realloc(p, size);
}

__attribute__((visibility("default"))) void *aligned_alloc(size_t alignment, size_t size)
{
    return __libc_memalign(alignment, size);
}
