/* api.c — the hak_* entry points. */
#include <errno.h>
#include <string.h>

#define HAK_DEFINES_INNER_API
#include "api.h"

#include "external_guard.h"
#include "fast_path.h"
#include "hakmem.h"
#include "heap.h"
#include "heap_check.h"
#include "init.h"
#include "large.h"
#include "page_run.h"
#include "realloc.h"
#include "reclaim.h"
#include "segment.h"
#include "stats.h"
#include "verdict.h"

WRAPPED_EXPORT void *hak_malloc(size_t size) { return alloc_inline(size); }

WRAPPED_EXPORT void hak_free(void *ptr) { free_inline(ptr, ENTRY_CALLER); }

WRAPPED_EXPORT void *hak_calloc(size_t count, size_t size)
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
    return hk_alloc_big(n, 0, 1);
}

WRAPPED_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return hk_alloc_aligned(alignment, size);
}

WRAPPED_EXPORT size_t hak_usable_size(const void *ptr)
{
    if (ptr == NULL)
        return 0;
    unsigned kind = segment_map_kind((uintptr_t)ptr);
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address((uintptr_t)ptr, kind);
        return verdict_slab(s, ptr) < 0 ? track_requested(ptr, s->block_size) : 0;
    }
    /* Under a sanitizer, the usable size is what the program may touch: the requested size. */
    if (kind == HAK_MAP_PAGE_RUN)
        return track_requested(ptr, hk_page_run_usable(ptr));
    if (kind == HAK_MAP_LARGE) {
        size_t n = hk_large_usable(ptr);
        if (n != 0)
            return track_requested(ptr, n);
        /* Not a live block: misuse of ours (inside a block, freed) or, as for any address the
         * registry does not know, foreign memory that happens to lie in a Large range. */
        return hk_large_classify(ptr) >= 0 ? 0 : hk_external_guard_usable_size(ptr);
    }
    if (kind == HAK_MAP_IDLE)
        return 0;
    return hk_external_guard_usable_size(ptr);
}

WRAPPED_EXPORT void *hak_realloc(void *ptr, size_t size)
{
    return hk_realloc_from(ptr, size, __builtin_return_address(0));
}

WRAPPED_EXPORT void hak_thread_flush(void)
{
    struct thread_cache *tc = &hk_thread_cache;
    if (tc->heap == NULL)
        return;
    hk_cache_flush_all(tc);
}

WRAPPED_EXPORT size_t hak_collect(int give_back)
{
    struct thread_cache *tc = &hk_thread_cache;
    if (tc->heap != NULL) {
        hk_cache_flush_all(tc);
        hk_heap_collect(tc->heap);
    }
    return give_back ? hk_reclaim_cached_address_space() : 0;
}

HAK_EXPORT int hak_debug_check_heap(void)
{
    if (!hak_ensure_init())
        return 0;
    return hk_heap_check_run(NULL, 0, 0);
}

WRAPPED_EXPORT int hak_debug_check_quiescent(void *const *held, size_t n)
{
    if (!hak_ensure_init())
        return 0;
    return hk_heap_check_run(held, n, 1);
}

HAK_EXPORT const char *hak_version(void) { return HAKMEM_VERSION_STRING; }

HAK_EXPORT void hak_stats(struct hak_stats *out)
{
    hak_ensure_init();
    hk_stats_collect(out);
}

HAK_EXPORT void hak_stats_print(int fd)
{
    hak_ensure_init();
    hk_stats_print(fd);
}

HAK_EXPORT void hak_stats_write(int fd, int format)
{
    hak_ensure_init();
    hk_stats_write(fd, format);
}

HAK_EXPORT size_t hak_class_block_size(int cls)
{
    if (cls < 0 || cls >= HAK_CLASS_COUNT)
        return 0;
    hak_ensure_init();
    return hk_class_info[cls].block_size;
}

HAK_EXPORT int hak_size_class(size_t size)
{
    if (size > HAK_MID_MAX)
        return -1;
    hak_ensure_init();
    return (int)size_class_of(size);
}
