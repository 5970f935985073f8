/* oom — under a low RLIMIT_AS, allocations in every tier fail cleanly (NULL with errno ENOMEM, no
 * crash), blocks obtained before stay intact, and after freeing three quarters of them
 * allocation works again in every tier: the allocator gives back what it caches and recovers.
 * Then address space one tier caches must serve the others: freed Large blocks (cached) must not
 * keep slab segments from being mapped, nor cached segments Large blocks. Repeats for the time
 * budget. */
#include <errno.h>
#include <sys/resource.h>

#include "stress_common.h"

#define MAX_BLOCKS 200000

static void *blocks[MAX_BLOCKS];
static size_t sizes[MAX_BLOCKS];

/* Fill the address space with blocks of `fill` bytes, free them all (their memory stays in
 * hakmem's caches), then allocate `want` bytes in blocks of `need` bytes, which need fresh
 * mappings: hakmem must give the cached memory back to get them. */
static void caches_give_way(size_t fill, size_t need, size_t want, const char *what)
{
    int n = 0;
    void *p;
    while (n < MAX_BLOCKS && (p = hak_malloc(fill)) != NULL)
        blocks[n++] = p;
    if (n == MAX_BLOCKS)
        stress_fail("the address-space limit was never reached with %zu-byte blocks", fill);
    for (int i = 0; i < n; i++)
        hak_free(blocks[i]);
    hak_thread_flush();
    size_t got = 0;
    n = 0;
    while (got < want) {
        errno = 0;
        if ((p = hak_malloc(need)) == NULL)
            stress_fail(
                "%s: %zu-byte blocks fail (errno %d) after %zu bytes, although the %zu-byte "
                "blocks freed before left their address space in hakmem's caches",
                what, need, errno, got, fill);
        blocks[n++] = p;
        got += need;
    }
    for (int i = 0; i < n; i++)
        hak_free(blocks[i]);
    hak_thread_flush();
}

static long vm_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void)
{
    stress_name = "oom";
    stress_watchdog_start();
    /* Room for 192 MiB more than the process has mapped now. */
    struct rlimit lim;
    rlim_t limit = (rlim_t)(vm_kb() + 192 * 1024) * 1024;
    lim.rlim_cur = lim.rlim_max = limit;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        stress_fail("setrlimit failed");
    static const size_t tier[] = {48, 3000, 100000, 3 << 20};
    double end = stress_now() + stress_seconds();
    long rounds = 0, failures = 0;
    do {
        int n = 0;
        /* Fill memory until every tier has failed at least once. */
        int failed[4] = {0};
        for (int i = 0; n < MAX_BLOCKS && !(failed[0] && failed[1] && failed[2] && failed[3]);
             i++) {
            size_t size = tier[i % 4];
            errno = 0;
            void *p = hak_malloc(size);
            if (p == NULL) {
                if (errno != ENOMEM)
                    stress_fail("failed allocation of %zu bytes set errno %d, not ENOMEM", size,
                                errno);
                failed[i % 4] = 1;
                failures++;
                continue;
            }
            stress_fill(p, size, (uint32_t)n);
            blocks[n] = p;
            sizes[n++] = size;
        }
        if (!(failed[0] && failed[1] && failed[2] && failed[3]))
            stress_fail("the address-space limit was never reached (%d blocks)", n);
        /* Free three blocks in four (every tier gives memory back); every tier must work again. */
        for (int i = 0; i < n; i++) {
            stress_check(blocks[i], sizes[i], (uint32_t)i, "held at the limit");
            if (i % 4 != 0)
                hak_free(blocks[i]);
        }
        hak_thread_flush();
        for (int t = 0; t < 4; t++) {
            void *p = hak_malloc(tier[t]);
            if (p == NULL)
                stress_fail("no recovery: %zu bytes still fail after freeing 3/4", tier[t]);
            hak_free(p);
        }
        for (int i = 0; i < n; i += 4) {
            stress_check(blocks[i], sizes[i], (uint32_t)i, "kept across the recovery");
            hak_free(blocks[i]);
        }
        hak_thread_flush();
        caches_give_way((size_t)3 << 20, 3000, (size_t)96 << 20, "slab segments after Large");
        caches_give_way(3000, (size_t)3 << 20, (size_t)96 << 20, "Large blocks after slabs");
        rounds++;
    } while (stress_now() < end);
    stress_end_check();
    printf("PASS oom (%ld rounds to the address-space limit and back; %ld allocations failed "
           "cleanly with ENOMEM)\n",
           rounds, failures);
    return 0;
}
