/* realloc.c — realloc of every kind of pointer: in place where the block allows, else a move
 * that keeps the prefix; misuse and foreign pointers as free reports them. */
#include "realloc.h"

#include <errno.h>
#include <string.h>

#include "fast_path.h"
#include "large.h"
#include "page_run.h"
#include "segment.h"
#include "verdict.h"

/* realloc of something that is not a live block: report it and leave everything untouched. */
static void *realloc_misuse(int verdict, void *ptr, struct misuse_site where, const void *caller)
{
    hk_misuse_report((enum misuse_kind)verdict, "realloc", ptr, where, caller);
    errno = EINVAL;
    return NULL;
}

/* What a moving realloc keeps: the old block's bytes the program may read (its requested size
 * under a sanitizer, the usable size otherwise), up to the new size. */
static void copy_kept_prefix(void *q, const void *ptr, size_t old_usable, size_t size)
{
    size_t old = track_requested(ptr, old_usable);
    memcpy(q, ptr, old < size ? old : size);
}

/* In place when the block stays at least half used. */
HAK_INLINE int slab_block_fits(size_t size, size_t old)
{
    return size <= old && (size * 2 >= old || old <= 32);
}

/* Every realloc but one of the caller's own slab blocks (ptr not NULL, size in range): kept out
 * of line so the common path needs no stack frame. */
static HAK_NOINLINE void *realloc_other(void *ptr, size_t size, unsigned kind, const void *caller)
{
    size_t old;
    int verdict;
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address((uintptr_t)ptr, kind);
        if ((verdict = verdict_slab(s, ptr)) >= 0)
            return realloc_misuse(verdict, ptr, verdict_slab_site(s), caller);
        old = s->block_size;
        if (slab_block_fits(size, old)) {
            track_resize(ptr, track_requested(ptr, old), size, old);
            return ptr;
        }
    } else if (kind == HAK_MAP_PAGE_RUN) {
        if (size > HAK_MID_MAX && size <= HAK_PAGE_RUN_MAX) {
            size_t before = HAK_TRACKING ? track_requested(ptr, hk_page_run_usable(ptr)) : 0;
            if (hk_page_run_resize(ptr, size) > 0) {
                if (HAK_TRACKING)
                    track_resize(ptr, before, size, hk_page_run_usable(ptr));
                return ptr;
            }
        }
        if ((verdict = hk_page_run_classify(ptr)) >= 0)
            return realloc_misuse(verdict, ptr, hk_verdict_page_run_site, caller);
        old = hk_page_run_usable(ptr);
    } else if (kind == HAK_MAP_LARGE) {
        void *out;
        size_t before = HAK_TRACKING ? track_requested(ptr, hk_large_usable(ptr)) : 0;
        switch (hk_large_realloc(ptr, size, &out, &old)) {
        case LARGE_DONE: /* in place: tracking builds never remap */
            if (HAK_TRACKING)
                track_resize(out, before, size, hk_large_usable(out));
            return out;
        case LARGE_MOVE:
            break;
        case LARGE_NOT_OURS:
            if ((verdict = hk_large_classify(ptr)) >= 0)
                return realloc_misuse(verdict, ptr, hk_verdict_large_site, caller);
            return hk_realloc_foreign(ptr, caller);
        }
    } else if (kind == HAK_MAP_IDLE) {
        return realloc_misuse(hk_verdict_idle(ptr), ptr, hk_verdict_idle_site, caller);
    } else {
        return hk_realloc_foreign(ptr, caller);
    }
    void *q = alloc_inline(size);
    if (q == NULL)
        return NULL;
    copy_kept_prefix(q, ptr, old, size);
    free_inline(ptr, caller);
    return q;
}

/* The caller's own slab block ptr, checked, moves to a new block of size bytes (out of line: its
 * calls need a stack frame the in-place path does without). */
static HAK_NOINLINE void *realloc_move_owned(struct slab *s, void *ptr, size_t size)
{
    void *q = alloc_inline(size);
    if (q == NULL)
        return NULL;
    copy_kept_prefix(q, ptr, s->block_size, size);
    free_owned_block(s, ptr);
    return q;
}

void *hk_realloc_from(void *ptr, size_t size, const void *caller)
{
    if (ptr == NULL)
        return alloc_inline(size);
    if (size == 0) {
        free_inline(ptr, caller);
        return NULL;
    }
    if (size > HAK_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned kind = segment_map_kind((uintptr_t)ptr);
    if (HAK_LIKELY(kind >= HAK_MAP_SLAB_MIN)) {
        struct slab *s = slab_of_address((uintptr_t)ptr, kind);
        /* The owner's block, by the free fast path's checks, and its free after the copy. This
         * thread alone gives its slabs away (at exit), so s stays its own across the allocation
         * below, and the live block keeps s from being released. */
        if (HAK_LIKELY(slab_owner(s) == my_cache()->id && !owned_block_is_suspect(s, ptr))) {
            size_t old = s->block_size;
            if (slab_block_fits(size, old)) {
                track_resize(ptr, track_requested(ptr, old), size, old);
                return ptr;
            }
            return realloc_move_owned(s, ptr, size);
        }
    }
    return realloc_other(ptr, size, kind, caller);
}
