/* interpose.c — the malloc family, for LD_PRELOAD and static linking.
 *
 * Owns: the exported libc allocation symbols and their glibc-compatible edge cases (errno values,
 * alignment rules of each API). Promises: malloc and free inline the same fast paths as hak_malloc
 * and hak_free. Must never: be linked into the sanitizer or fuzz builds, where the sanitizer's
 * runtime owns these symbols. */
#include <errno.h>
#include <stddef.h>

#include "fast_path.h"
#include "hakmem.h"

HAK_HIDDEN void *hak_aligned_internal(size_t align, size_t size);
HAK_HIDDEN void *hak_realloc_from(void *ptr, size_t size, const void *caller);

HAK_EXPORT void *malloc(size_t size) { return alloc_inline(size); }

HAK_EXPORT void free(void *ptr) { free_inline(ptr, ENTRY_CALLER); }

HAK_EXPORT void *calloc(size_t count, size_t size) { return hak_calloc(count, size); }

HAK_EXPORT void *realloc(void *ptr, size_t size)
{
    return hak_realloc_from(ptr, size, __builtin_return_address(0));
}

HAK_EXPORT void *reallocarray(void *ptr, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc_from(ptr, n, __builtin_return_address(0));
}

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

HAK_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!is_power_of_two(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = hak_aligned_internal(align, size);
    if (p == NULL) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

/* C17: the alignment must be a power of two (glibc >= 2.38 agrees); otherwise EINVAL. */
HAK_EXPORT void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }

/* glibc rounds a non-power-of-two alignment up to the next power of two. */
HAK_EXPORT void *memalign(size_t align, size_t size)
{
    if (align > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_power_of_two(align))
        align = align <= 1 ? 1 : (size_t)1 << (sizeof(size_t) * 8 - (size_t)__builtin_clzl(align));
    return hak_aligned_internal(align, size);
}

HAK_EXPORT void *valloc(size_t size) { return hak_aligned_internal(HAK_PAGE_SIZE, size); }

HAK_EXPORT void *pvalloc(size_t size)
{
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = (size + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1);
    return hak_aligned_internal(HAK_PAGE_SIZE, n != 0 ? n : HAK_PAGE_SIZE);
}

HAK_EXPORT size_t malloc_usable_size(void *ptr) { return hak_usable_size(ptr); }

/* glibc's: 1 if memory went back to the OS. The pad (memory to keep at the top of glibc's heap)
 * has no meaning here. */
HAK_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    return hak_collect(1) > 0;
}

/* Obsolete alias some old programs still call. */
HAK_EXPORT void cfree(void *ptr) { free_inline(ptr, ENTRY_CALLER); }
