/* fast_path.c — the slow paths behind the inline fast paths of fast_path.h: allocations the
 * thread cache cannot serve from a bin (refill, aligned, page runs and Large), and frees that are
 * not the owner's checked block (remote frees, misuse, other tiers, foreign pointers). */
#include "fast_path.h"

#include <errno.h>

#include "external_guard.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "misuse.h"
#include "page_run.h"
#include "segment.h"
#include "verdict.h"

/* Alignments above this go to dedicated mappings rather than fragmenting page-run segments. */
#define PAGE_RUN_MAX_ALIGN ((size_t)256 << 10)

static unsigned current_arena(void)
{
    struct heap *h = hk_thread_cache.heap;
    return h != NULL ? h->arena : 0;
}

void *hk_alloc_big(size_t size, size_t align, int zero)
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
        return hk_page_run_alloc(size, align, zero, current_arena());
    return hk_large_alloc(size, align, zero);
}

/* ExternalGuard's calls: a foreign pointer can be the process's first call, and the guard's
 * policy is an option. */
void hk_free_foreign(const void *p, const void *caller)
{
    hak_ensure_init();
    hk_external_guard_free(p, caller);
}

void *hk_realloc_foreign(const void *p, const void *caller)
{
    hak_ensure_init();
    return hk_external_guard_realloc(p, caller);
}

void hk_free_other(void *p, unsigned kind, const void *caller)
{
    if (p == NULL)
        return;
    caller = SLOW_PATH_CALLER(caller);
    int verdict;
    switch (kind) {
    case HAK_MAP_SLAB_MEDIUM:
        free_slab_address(slab_of_address((uintptr_t)p, HAK_MAP_SLAB_MEDIUM), p, caller);
        return;
    case HAK_MAP_PAGE_RUN:
        if ((verdict = hk_page_run_free(p)) >= 0)
            hk_misuse_report((enum misuse_kind)verdict, "free", p, hk_verdict_page_run_site,
                             caller);
        return;
    case HAK_MAP_LARGE:
        if (hk_large_free(p))
            return;
        if ((verdict = hk_large_classify(p)) >= 0)
            hk_misuse_report((enum misuse_kind)verdict, "free", p, hk_verdict_large_site, caller);
        else
            hk_free_foreign(p, caller);
        return;
    case HAK_MAP_IDLE:
        hk_misuse_report((enum misuse_kind)hk_verdict_idle(p), "free", p, hk_verdict_idle_site,
                         caller);
        return;
    default:
        hk_free_foreign(p, caller);
        return;
    }
}

/* A free of slab s's address p that is no live block (out of line: the report's arguments
 * need a stack frame the remote-free path does without). */
static HAK_NOINLINE void slab_free_misuse(int verdict, void *p, const struct slab *s,
                                          const void *caller)
{
    hk_misuse_report((enum misuse_kind)verdict, "free", p, verdict_slab_site(s), caller);
}

/* A checked live block of another thread's slab: into this thread's remote-free batch. */
HAK_INLINE void free_remote_block(struct slab *s, void *p)
{
    track_free(p, s->block_size);
    block_mark_free(p);
    remote_batch_add(s, p);
}

/* hk_free_not_owner's cheap checks failed: a pooled slab, not a carved block start, or the free
 * mark. Out of line, so the common path needs no stack frame. */
static HAK_NOINLINE void free_not_owner_suspect(struct slab *s, void *p, const void *caller)
{
    int verdict = verdict_slab(s, p);
    if (verdict >= 0) {
        slab_free_misuse(verdict, p, s, caller);
        return;
    }
    free_remote_block(s, p); /* the slab was reformatted or adopted meanwhile */
}

void hk_free_not_owner(struct slab *s, void *p, const void *caller)
{
    if (HAK_UNLIKELY(slab_owner(s) == SLAB_OWNER_FREE || !slab_is_block_start(s, (uintptr_t)p) ||
                     block_is_marked_free(p))) {
        free_not_owner_suspect(s, p, SLOW_PATH_CALLER(caller));
        return;
    }
    free_remote_block(s, p);
}

void hk_free_suspect(struct slab *s, void *p, const void *caller)
{
    /* A block carrying the free key is free: in a bin, a free list, a remote queue or another
     * thread's remote-free batch (which the owner cannot search), so the key is not confirmed by
     * a search — live blocks have it cleared when handed out, and user data equal to the
     * per-process random key is a 2^-64 event. */
    int verdict = verdict_slab(s, p);
    if (verdict >= 0) {
        slab_free_misuse(verdict, p, s, SLOW_PATH_CALLER(caller));
        return;
    }
    track_free(p, s->block_size);
    block_mark_free(p);
    if (!cache_push(s->cls, p))
        hk_cache_overflow(s->cls);
}

/* Allocate from class cls exactly (used by aligned allocation). */
static void *alloc_class(unsigned cls, size_t size)
{
    size_t bs = hk_class_info[cls].block_size;
    void *p = cache_pop(cls);
    if (p == NULL)
        return hk_cache_refill_as(bs, size);
    track_alloc(p, size, bs);
    return p;
}

void *hk_alloc_aligned(size_t align, size_t size)
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
                if (hk_class_info[c].block_size % align == 0)
                    return alloc_class(c, size);
        }
    }
    return hk_alloc_big(size != 0 ? size : 1, align, 0);
}
