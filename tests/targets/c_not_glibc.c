/* c_not_glibc.c — glibc's malloc with two choices C leaves open made the other way: realloc(p, 0)
 * frees p and returns a new block of size 0 (not NULL), and aligned_alloc refuses a size that is
 * not a multiple of the alignment (NULL, EINVAL), as C11 allows. tests/target_check.sh loads it
 * to hold the suite's promise: glibc's behaviour is checked by default, and strict C
 * (HAKMEM_FUZZ_STRICT_C=1) accepts both. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern size_t malloc_usable_size(void *);

__attribute__((visibility("default"))) void *malloc(size_t size) { return __libc_malloc(size); }

__attribute__((visibility("default"))) void free(void *p) { __libc_free(p); }

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
    return __libc_calloc(n, size);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t size)
{
    if (p != NULL && size == 0) {
        __libc_free(p);
        return __libc_malloc(0);
    }
    return __libc_realloc(p, size);
}

__attribute__((visibility("default"))) void *aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || size % alignment != 0) {
        errno = EINVAL;
        return NULL;
    }
    return __libc_memalign(alignment, size);
}
