/* api.c — the hak_* entry points and the slow paths behind the inline fast paths. */
#include <errno.h>
#include <string.h>

#include "external_guard.h"
#include "fast_path.h"
#include "hakmem.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "misuse.h"
#include "page_run.h"

/* Alignments above this go to dedicated mappings rather than fragmenting page-run segments. */
#define PAGE_RUN_MAX_ALIGN ((size_t)256 << 10)

static unsigned current_arena(void)
{
    struct heap *h = hak_thread_cache.heap;
    return h != NULL ? h->arena : 0;
}

void *alloc_big(size_t size, size_t align, int zero)
{
    if (HAK_UNLIKELY(size > HAK_MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!hak_ensure_init())
        return NULL;
    if (align < HAK_PAGE_SIZE)
        align = HAK_PAGE_SIZE; /* runs and mappings are page aligned anyway */
    if (size <= HAK_PAGE_RUN_MAX && align <= PAGE_RUN_MAX_ALIGN)
        return page_run_alloc(size, align, zero, current_arena());
    return large_alloc(size, align, zero);
}

void free_other(void *p, unsigned kind)
{
    if (p == NULL)
        return;
    switch (kind) {
    case HAK_MAP_PAGE_RUN:
        if (!page_run_free(p))
            misuse_invalid_free(MISUSE_INTERIOR, p);
        return;
    case HAK_MAP_LARGE:
        if (large_free(p))
            return;
        if (large_contains_interior(p))
            misuse_invalid_free(MISUSE_INTERIOR, p);
        else
            external_guard_free(p);
        return;
    case HAK_MAP_IDLE:
        misuse_invalid_free(MISUSE_NOT_LIVE, p);
        return;
    default:
        external_guard_free(p);
        return;
    }
}

void free_not_owner(struct slab *s, void *p)
{
    if (slab_owner(s) == SLAB_OWNER_FREE) {
        misuse_invalid_free(MISUSE_NOT_LIVE, p);
        return;
    }
    heap_free_remote(s, p);
}

/* Allocate from class cls exactly (used by aligned allocation). */
static void *alloc_class(unsigned cls)
{
    void *p = cache_pop(&hak_thread_cache.bins[cls]);
    if (p != NULL)
        return p;
    return cache_refill(hak_class_info[cls].block_size);
}

static void *aligned_alloc_internal(size_t align, size_t size)
{
    if (align <= 8)
        return alloc_inline(size);
    if (align <= 16)
        return alloc_inline(size < 16 ? 16 : size);
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= HAK_PAGE_SIZE) {
        /* A class whose block size is a multiple of align has every block aligned: slabs start
         * on page boundaries. */
        size_t n = (size < align ? align : size + align - 1) & ~(align - 1);
        if (n <= HAK_MID_MAX) {
            if (!hak_ensure_init())
                return NULL;
            for (unsigned c = size_class_of(n); c < HAK_CLASS_COUNT; c++)
                if (hak_class_info[c].block_size % align == 0)
                    return alloc_class(c);
        }
    }
    return alloc_big(size != 0 ? size : 1, align, 0);
}

HAK_HIDDEN void *hak_aligned_internal(size_t align, size_t size)
{
    return aligned_alloc_internal(align, size);
}

HAK_EXPORT void *hak_malloc(size_t size) { return alloc_inline(size); }

HAK_EXPORT void hak_free(void *ptr) { free_inline(ptr); }

HAK_EXPORT void *hak_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    if (n <= HAK_MID_MAX) {
        void *p = alloc_inline(n);
        if (p != NULL)
            memset(p, 0, n);
        return p;
    }
    return alloc_big(n, 0, 1);
}

HAK_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_alloc_internal(alignment, size);
}

/* Usable size of a block of ours given its map kind; 0 for pointers that are not a block start. */
static size_t block_usable(const void *p, unsigned kind)
{
    uintptr_t a = (uintptr_t)p;
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address(a, kind);
        if (slab_owner(s) == SLAB_OWNER_FREE)
            return 0;
        size_t off = (size_t)((char *)p - slab_start(s));
        if ((char *)p < slab_start(s) ||
            (size_t)size_class_block_index(s->cls, off) * s->block_size != off)
            return 0;
        return s->block_size;
    }
    if (kind == HAK_MAP_PAGE_RUN)
        return page_run_usable(p);
    if (kind == HAK_MAP_LARGE)
        return large_usable(p);
    return 0;
}

HAK_EXPORT size_t hak_usable_size(const void *ptr)
{
    if (ptr == NULL)
        return 0;
    return block_usable(ptr, segment_map_kind((uintptr_t)ptr));
}

HAK_EXPORT void *hak_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return alloc_inline(size);
    if (size == 0) {
        free_inline(ptr);
        return NULL;
    }
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned kind = segment_map_kind((uintptr_t)ptr);
    size_t old;
    if (kind >= HAK_MAP_SLAB_MIN) {
        old = block_usable(ptr, kind);
        if (old == 0) {
            misuse_invalid_free(MISUSE_INTERIOR, ptr);
            errno = EINVAL;
            return NULL;
        }
        if (size <= old && (size * 2 >= old || old <= 32))
            return ptr;
    } else if (kind == HAK_MAP_PAGE_RUN) {
        if (size > HAK_MID_MAX && size <= HAK_PAGE_RUN_MAX) {
            int r = page_run_resize(ptr, size);
            if (r > 0)
                return ptr;
        }
        old = page_run_usable(ptr);
        if (old == 0) {
            misuse_invalid_free(MISUSE_INTERIOR, ptr);
            errno = EINVAL;
            return NULL;
        }
    } else if (kind == HAK_MAP_LARGE) {
        void *out;
        switch (large_realloc(ptr, size, &out, &old)) {
        case LARGE_DONE:
            return out;
        case LARGE_FAILED:
            return NULL;
        case LARGE_MOVE:
            break;
        case LARGE_NOT_OURS:
            if (large_contains_interior(ptr)) {
                misuse_invalid_free(MISUSE_INTERIOR, ptr);
                errno = EINVAL;
                return NULL;
            }
            return external_guard_realloc(ptr);
        }
    } else if (kind == HAK_MAP_IDLE) {
        misuse_invalid_free(MISUSE_NOT_LIVE, ptr);
        errno = EINVAL;
        return NULL;
    } else {
        return external_guard_realloc(ptr);
    }
    void *q = alloc_inline(size);
    if (q == NULL)
        return NULL;
    memcpy(q, ptr, old < size ? old : size);
    free_inline(ptr);
    return q;
}

HAK_EXPORT void hak_thread_flush(void)
{
    struct thread_cache *tc = &hak_thread_cache;
    if (tc->heap == NULL)
        return;
    cache_flush_all(tc);
}

HAK_EXPORT size_t hak_class_block_size(int cls)
{
    if (cls < 0 || cls >= HAK_CLASS_COUNT)
        return 0;
    hak_ensure_init();
    return hak_class_info[cls].block_size;
}

HAK_EXPORT int hak_size_class(size_t size)
{
    if (size > HAK_MID_MAX)
        return -1;
    hak_ensure_init();
    return (int)size_class_of(size);
}
