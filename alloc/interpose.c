/* interpose.c — the malloc family, for LD_PRELOAD and static linking.
 *
 * Owns: the exported libc allocation symbols and their glibc-compatible edge cases (errno values,
 * alignment rules of each API). Promises: malloc and free inline the same fast paths as hak_malloc
 * and hak_free (in the hardened build: the hardened layer's checked paths, and C++'s operators
 * new and delete, whose family and size it checks). Must never: be linked into the sanitizer or
 * fuzz builds, where the sanitizer's runtime owns these symbols. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "fast_path.h"
#include "hakmem.h"

#ifdef HAK_HARDENED
#include "hardened.h"
#define entry_malloc(n) hk_hardened_alloc(n, 0, FAMILY_MALLOC)
#define entry_free(p) hk_hardened_free(p, FAMILY_MALLOC, HARDENED_ANY_SIZE, "free", CALLER)
#define entry_free_sized(p, n) hk_hardened_free(p, FAMILY_MALLOC, n, "free_sized", CALLER)
#define entry_aligned(a, n) hk_hardened_alloc(n, a, FAMILY_MALLOC)
#define entry_realloc(p, n) hk_hardened_realloc(p, n, CALLER)
#else
#include "realloc.h"
#define entry_malloc(n) alloc_inline(n)
#define entry_free(p) free_inline(p, ENTRY_CALLER)
#define entry_free_sized(p, n) ((void)(n), free_inline(p, ENTRY_CALLER))
#define entry_aligned(a, n) hk_alloc_aligned(a, n)
#define entry_realloc(p, n) hk_realloc_from(p, n, CALLER)
#endif
#define CALLER __builtin_return_address(0)

HAK_EXPORT void *malloc(size_t size) { return entry_malloc(size); }

HAK_EXPORT void free(void *ptr) { entry_free(ptr); }

/* C23: the size (and alignment) the block was allocated with; the hardened build checks it. */
HAK_EXPORT void free_sized(void *ptr, size_t size) { entry_free_sized(ptr, size); }

HAK_EXPORT void free_aligned_sized(void *ptr, size_t align, size_t size)
{
    (void)align;
    entry_free_sized(ptr, size);
}

HAK_EXPORT void *calloc(size_t count, size_t size) { return hak_calloc(count, size); }

HAK_EXPORT void *realloc(void *ptr, size_t size) { return entry_realloc(ptr, size); }

HAK_EXPORT void *reallocarray(void *ptr, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return entry_realloc(ptr, n);
}

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

HAK_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!is_power_of_two(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = entry_aligned(align, size);
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
    return entry_aligned(align, size);
}

HAK_EXPORT void *valloc(size_t size) { return entry_aligned(HAK_PAGE_SIZE, size); }

HAK_EXPORT void *pvalloc(size_t size)
{
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = (size + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1);
    return entry_aligned(HAK_PAGE_SIZE, n != 0 ? n : HAK_PAGE_SIZE);
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
HAK_EXPORT void cfree(void *ptr) { entry_free(ptr); }

#ifdef HAK_HARDENED
/* C++ operators new and delete (Itanium ABI names): the hardened build records which family
 * allocated a block and checks it, and the size, at delete. A failed new calls the program's
 * new-handler, then throws std::bad_alloc through libstdc++ when the program has it; the nothrow
 * forms return NULL at once (a handler that throws could not be caught here, in C). */
typedef void (*new_handler_fn)(void);
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

static void *new_block(size_t size, size_t align, enum hardened_family family, int nothrow)
{
    for (;;) {
        void *p = hk_hardened_alloc(size, align, family);
        if (p != NULL || nothrow)
            return p;
        new_handler_fn handler = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
        if (handler != NULL)
            handler();
        else if (_ZSt17__throw_bad_allocv)
            _ZSt17__throw_bad_allocv();
        else
            abort();
    }
}

#define NEW_OPERATOR(name, family, params, align, nothrow)                                         \
    HAK_EXPORT void *name params;                                                                  \
    HAK_EXPORT void *name params { return new_block(size, align, family, nothrow); }
#define DELETE_OPERATOR(name, family, params, size)                                                \
    HAK_EXPORT void name params;                                                                   \
    HAK_EXPORT void name params { hk_hardened_free(p, family, size, free_name_of(family), CALLER); }

static const char *free_name_of(enum hardened_family family)
{
    return family == FAMILY_NEW ? "delete" : "delete[]";
}

NEW_OPERATOR(_Znwm, FAMILY_NEW, (size_t size), 0, 0)
NEW_OPERATOR(_Znam, FAMILY_NEW_ARRAY, (size_t size), 0, 0)
NEW_OPERATOR(_ZnwmRKSt9nothrow_t, FAMILY_NEW, (size_t size, const void *nt), 0, ((void)nt, 1))
NEW_OPERATOR(_ZnamRKSt9nothrow_t, FAMILY_NEW_ARRAY, (size_t size, const void *nt), 0, ((void)nt, 1))
NEW_OPERATOR(_ZnwmSt11align_val_t, FAMILY_NEW, (size_t size, size_t al), al, 0)
NEW_OPERATOR(_ZnamSt11align_val_t, FAMILY_NEW_ARRAY, (size_t size, size_t al), al, 0)
NEW_OPERATOR(_ZnwmSt11align_val_tRKSt9nothrow_t, FAMILY_NEW,
             (size_t size, size_t al, const void *nt), al, ((void)nt, 1))
NEW_OPERATOR(_ZnamSt11align_val_tRKSt9nothrow_t, FAMILY_NEW_ARRAY,
             (size_t size, size_t al, const void *nt), al, ((void)nt, 1))

DELETE_OPERATOR(_ZdlPv, FAMILY_NEW, (void *p), HARDENED_ANY_SIZE)
DELETE_OPERATOR(_ZdaPv, FAMILY_NEW_ARRAY, (void *p), HARDENED_ANY_SIZE)
DELETE_OPERATOR(_ZdlPvm, FAMILY_NEW, (void *p, size_t n), n)
DELETE_OPERATOR(_ZdaPvm, FAMILY_NEW_ARRAY, (void *p, size_t n), n)
DELETE_OPERATOR(_ZdlPvRKSt9nothrow_t, FAMILY_NEW, (void *p, const void *nt),
                ((void)nt, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdaPvRKSt9nothrow_t, FAMILY_NEW_ARRAY, (void *p, const void *nt),
                ((void)nt, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdlPvSt11align_val_t, FAMILY_NEW, (void *p, size_t al),
                ((void)al, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdaPvSt11align_val_t, FAMILY_NEW_ARRAY, (void *p, size_t al),
                ((void)al, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdlPvmSt11align_val_t, FAMILY_NEW, (void *p, size_t n, size_t al), ((void)al, n))
DELETE_OPERATOR(_ZdlPvSt11align_val_tRKSt9nothrow_t, FAMILY_NEW,
                (void *p, size_t al, const void *nt), ((void)al, (void)nt, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdaPvSt11align_val_tRKSt9nothrow_t, FAMILY_NEW_ARRAY,
                (void *p, size_t al, const void *nt), ((void)al, (void)nt, HARDENED_ANY_SIZE))
DELETE_OPERATOR(_ZdaPvmSt11align_val_t, FAMILY_NEW_ARRAY, (void *p, size_t n, size_t al),
                ((void)al, n))
#endif
