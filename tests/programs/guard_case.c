/* guard_case SOURCE OP [COUNT] — hand hakmem a pointer it does not own (SOURCE: libc, stack,
 * mmap, static, or large-range: a private mapping placed where a Large block of hakmem's was and
 * went back to the OS, inside an address range hakmem's map remembers as Large) through OP (free, realloc, usable_size), COUNT times (default 1). Linked with the
 * hak_* API only, so libc's malloc is glibc's. When still alive (contain and log policies), check
 * that the right ExternalGuard counter moved by COUNT, the foreign memory is untouched, and no
 * later hakmem allocation lands inside it; exit 0 and print "contained". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem.h"

static unsigned char static_area[4096];

/* Two call sites, so the one-time report has something to rank. */
__attribute__((noinline)) static void site_a(void *p) { hak_free(p); }
__attribute__((noinline)) static void site_b(void *p) { hak_free(p); }

/* A foreign mapping inside an address range that held a Large block: a 40 MiB block is mapped on
 * its own and, with the Large cache disabled (HAKMEM_LARGE_CACHE_MB=0, set by the caller), goes
 * back to the OS when freed; the foreign page lands 64 KiB into it, so it is neither a block
 * start nor inside a live block, and only the Large registry can tell it is not hakmem's. */
static unsigned char *large_range_mapping(size_t len)
{
    unsigned char *b = hak_malloc((size_t)40 << 20);
    if (b == NULL)
        return NULL;
    hak_free(b);
    hak_thread_flush(); /* the hardened build's quarantine holds a freed block until then */
    void *at =
        (void *)(((uintptr_t)b + 65536) & ~(uintptr_t)4095); /* hardened: b is past a header */
    void *p = mmap(at, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *source = argv[1], *op = argv[2];
    int count = argc > 3 ? atoi(argv[3]) : 1;
    unsigned char stack_area[4096];
    unsigned char *p;
    size_t len = 4096;
    if (!strcmp(source, "libc"))
        p = malloc(len);
    else if (!strcmp(source, "stack"))
        p = stack_area;
    else if (!strcmp(source, "mmap"))
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else if (!strcmp(source, "large-range"))
        p = large_range_mapping(len);
    else
        p = static_area;
    if (p == NULL)
        return 3;
    memset(p, 0x5c, len);
    struct hak_stats before, after;
    hak_stats(&before);
    for (int i = 0; i < count; i++) {
        void *target = p + (i % 4) * 16;
        if (!strcmp(op, "free")) {
            if (i % 3 == 0)
                site_b(target);
            else
                site_a(target);
        } else if (!strcmp(op, "realloc")) {
            if (hak_realloc(target, 100) != NULL)
                return 1;
        } else if (hak_usable_size(target) != 0) {
            return 1;
        }
    }
    hak_stats(&after);
    uint64_t moved = !strcmp(op, "free") ? after.external_guard_frees - before.external_guard_frees
                     : !strcmp(op, "realloc")
                         ? after.external_guard_reallocs - before.external_guard_reallocs
                         : after.external_guard_size_queries - before.external_guard_size_queries;
    if (moved != (uint64_t)count) {
        fprintf(stderr, "counter moved by %llu, expected %d\n", (unsigned long long)moved, count);
        return 1;
    }
    for (size_t k = 0; k < len; k++)
        if (p[k] != 0x5c) {
            fprintf(stderr, "foreign memory written at byte %zu\n", k);
            return 1;
        }
    for (int i = 0; i < 20000; i++) {
        unsigned char *q = hak_malloc((size_t)(i % 5000) + 1);
        if (q >= p && q < p + len) {
            fprintf(stderr, "allocation %p inside contained memory\n", (void *)q);
            return 1;
        }
    }
    if (!strcmp(source, "libc"))
        free(p); /* the program's own block, which hakmem refused to free */
    else if (!strcmp(source, "mmap") || !strcmp(source, "large-range"))
        munmap(p, len);
    printf("contained\n");
    return 0;
}
