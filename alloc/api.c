/* api.c — the hak_* entry points and the slow paths behind the inline fast paths. */
#include <errno.h>
#include <string.h>

#define HAK_DEFINES_INNER_API
#include "inner_api.h"

#include "external_guard.h"
#include "fast_path.h"
#include "free_mark.h"
#include "hakmem.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "misuse.h"
#include "page_run.h"
#include "segment.h"
#include "track.h"

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

static struct misuse_site slab_site(const struct slab *s)
{
    return (struct misuse_site){s->block_size <= HAK_TINY_MAX ? "Tiny" : "Mid", s->cls,
                                s->block_size};
}

static const struct misuse_site page_run_site = {"L25 page runs", -1, 0};
static const struct misuse_site large_site = {"Large", -1, 0};
static const struct misuse_site idle_site = {"an idle segment", -1, 0};

/* Why a pointer into slab s is not a freeable block: -1 if it is one (live, as far as cheap
 * checks can tell), else its enum misuse_kind. Valid from any thread. */
/* A slab back in the pool keeps its last geometry and its blocks' free marks until it is formatted
 * again: a block start there that still carries the mark was freed twice. The reads may race with
 * a thread taking the slab; they choose only which misuse is reported. */
static int pooled_slab_verdict(const struct slab *s, const void *p)
{
    uint64_t magic = __atomic_load_n(&s->magic, __ATOMIC_RELAXED);
    uint32_t off = (uint32_t)((uintptr_t)p & HAK_SEGMENT_MASK) -
                   __atomic_load_n(&s->start_off, __ATOMIC_RELAXED);
    if (magic != 0 && (char *)p >= slab_start(s) && (char *)p + 16 <= slab_limit(s) &&
        (uint64_t)off * magic < ((uint64_t)1 << 31) && block_is_marked_free(p))
        return MISUSE_DOUBLE_FREE;
    return MISUSE_NOT_ALLOCATED;
}

static int slab_verdict(const struct slab *s, const void *p)
{
    if (slab_owner(s) == SLAB_OWNER_FREE)
        return pooled_slab_verdict(s, p);
    if (!slab_is_block_start(s, (uintptr_t)p)) {
        uint32_t off = (uint32_t)((uintptr_t)p & HAK_SEGMENT_MASK) - s->start_off;
        return off < slab_carved(s) ? MISUSE_INTERIOR : MISUSE_NOT_ALLOCATED;
    }
    return block_is_marked_free(p) ? MISUSE_DOUBLE_FREE : -1;
}

/* A pointer into a segment that went idle: what its former tier's stale tables say it was. */
static int idle_verdict(const void *p)
{
    unsigned former = segment_idle_hold(p);
    int verdict = MISUSE_NOT_ALLOCATED;
    if (former == HAK_MAP_PAGE_RUN)
        verdict = page_run_idle_classify(p);
    else if (former >= HAK_MAP_SLAB_MIN)
        verdict = pooled_slab_verdict(slab_of_address((uintptr_t)p, former), p);
    if (former != HAK_MAP_NONE)
        segment_idle_unhold();
    return verdict;
}

void free_other(void *p, unsigned kind, const void *caller)
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
        if ((verdict = page_run_free(p)) >= 0)
            misuse_report((enum misuse_kind)verdict, "free", p, page_run_site, caller);
        return;
    case HAK_MAP_LARGE:
        if (large_free(p))
            return;
        if ((verdict = large_classify(p)) >= 0)
            misuse_report((enum misuse_kind)verdict, "free", p, large_site, caller);
        else
            external_guard_free(p, caller);
        return;
    case HAK_MAP_IDLE:
        misuse_report((enum misuse_kind)idle_verdict(p), "free", p, idle_site, caller);
        return;
    default:
        external_guard_free(p, caller);
        return;
    }
}

/* A free of slab s's address p that is no live block (out of line: the report's arguments
 * need a stack frame the remote-free path does without). */
static HAK_NOINLINE void slab_free_misuse(int verdict, void *p, const struct slab *s,
                                          const void *caller)
{
    misuse_report((enum misuse_kind)verdict, "free", p, slab_site(s), caller);
}

/* A checked live block of another thread's slab: into this thread's remote-free batch. */
HAK_INLINE void free_remote_block(struct slab *s, void *p)
{
    track_free(p, s->block_size);
    block_mark_free(p);
    remote_batch_add(s, p);
}

/* free_not_owner's cheap checks failed: a pooled slab, not a carved block start, or the free
 * mark. Out of line, so the common path needs no stack frame. */
static HAK_NOINLINE void free_not_owner_suspect(struct slab *s, void *p, const void *caller)
{
    int verdict = slab_verdict(s, p);
    if (verdict >= 0) {
        slab_free_misuse(verdict, p, s, caller);
        return;
    }
    free_remote_block(s, p); /* the slab was reformatted or adopted meanwhile */
}

void free_not_owner(struct slab *s, void *p, const void *caller)
{
    if (HAK_UNLIKELY(slab_owner(s) == SLAB_OWNER_FREE || !slab_is_block_start(s, (uintptr_t)p) ||
                     block_is_marked_free(p))) {
        free_not_owner_suspect(s, p, SLOW_PATH_CALLER(caller));
        return;
    }
    free_remote_block(s, p);
}

void free_suspect(struct slab *s, void *p, const void *caller)
{
    /* A block carrying the free key is free: in a bin, a free list, a remote queue or another
     * thread's remote-free batch (which the owner cannot search), so the key is not confirmed by
     * a search — live blocks have it cleared when handed out, and user data equal to the
     * per-process random key is a 2^-64 event. */
    int verdict = slab_verdict(s, p);
    if (verdict >= 0) {
        slab_free_misuse(verdict, p, s, SLOW_PATH_CALLER(caller));
        return;
    }
    track_free(p, s->block_size);
    block_mark_free(p);
    if (!cache_push(s->cls, p))
        cache_overflow(s->cls);
}

/* Allocate from class cls exactly (used by aligned allocation). */
static void *alloc_class(unsigned cls, size_t size)
{
    size_t bs = hak_class_info[cls].block_size;
    void *p = cache_pop(cls);
    if (p == NULL)
        return cache_refill_as(bs, size);
    track_alloc(p, size, bs);
    return p;
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
                    return alloc_class(c, size);
        }
    }
    return alloc_big(size != 0 ? size : 1, align, 0);
}

HAK_HIDDEN void *hak_aligned_internal(size_t align, size_t size)
{
    return aligned_alloc_internal(align, size);
}

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
    return alloc_big(n, 0, 1);
}

WRAPPED_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_alloc_internal(alignment, size);
}

WRAPPED_EXPORT size_t hak_usable_size(const void *ptr)
{
    if (ptr == NULL)
        return 0;
    unsigned kind = segment_map_kind((uintptr_t)ptr);
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address((uintptr_t)ptr, kind);
        return slab_verdict(s, ptr) < 0 ? track_requested(ptr, s->block_size) : 0;
    }
    /* Under a sanitizer, the usable size is what the program may touch: the requested size. */
    if (kind == HAK_MAP_PAGE_RUN)
        return track_requested(ptr, page_run_usable(ptr));
    if (kind == HAK_MAP_LARGE) {
        size_t n = large_usable(ptr);
        if (n != 0)
            return track_requested(ptr, n);
        /* Not a live block: misuse of ours (inside a block, freed) or, as for any address the
         * registry does not know, foreign memory that happens to lie in a Large range. */
        return large_classify(ptr) >= 0 ? 0 : external_guard_usable_size(ptr);
    }
    if (kind == HAK_MAP_IDLE)
        return 0;
    return external_guard_usable_size(ptr);
}

/* realloc of something that is not a live block: report it and leave everything untouched. */
static void *realloc_misuse(int verdict, void *ptr, struct misuse_site where, const void *caller)
{
    misuse_report((enum misuse_kind)verdict, "realloc", ptr, where, caller);
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
        if ((verdict = slab_verdict(s, ptr)) >= 0)
            return realloc_misuse(verdict, ptr, slab_site(s), caller);
        old = s->block_size;
        if (slab_block_fits(size, old)) {
            track_resize(ptr, track_requested(ptr, old), size, old);
            return ptr;
        }
    } else if (kind == HAK_MAP_PAGE_RUN) {
        if (size > HAK_MID_MAX && size <= HAK_PAGE_RUN_MAX) {
            size_t before = HAK_TRACKING ? track_requested(ptr, page_run_usable(ptr)) : 0;
            if (page_run_resize(ptr, size) > 0) {
                if (HAK_TRACKING)
                    track_resize(ptr, before, size, page_run_usable(ptr));
                return ptr;
            }
        }
        if ((verdict = page_run_classify(ptr)) >= 0)
            return realloc_misuse(verdict, ptr, page_run_site, caller);
        old = page_run_usable(ptr);
    } else if (kind == HAK_MAP_LARGE) {
        void *out;
        size_t before = HAK_TRACKING ? track_requested(ptr, large_usable(ptr)) : 0;
        switch (large_realloc(ptr, size, &out, &old)) {
        case LARGE_DONE: /* in place: tracking builds never remap */
            if (HAK_TRACKING)
                track_resize(out, before, size, large_usable(out));
            return out;
        case LARGE_MOVE:
            break;
        case LARGE_NOT_OURS:
            if ((verdict = large_classify(ptr)) >= 0)
                return realloc_misuse(verdict, ptr, large_site, caller);
            return external_guard_realloc(ptr, caller);
        }
    } else if (kind == HAK_MAP_IDLE) {
        return realloc_misuse(idle_verdict(ptr), ptr, idle_site, caller);
    } else {
        return external_guard_realloc(ptr, caller);
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

static void *realloc_internal(void *ptr, size_t size, const void *caller)
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

WRAPPED_EXPORT void *hak_realloc(void *ptr, size_t size)
{
    return realloc_internal(ptr, size, __builtin_return_address(0));
}

HAK_HIDDEN void *hak_realloc_from(void *ptr, size_t size, const void *caller)
{
    return realloc_internal(ptr, size, caller);
}

WRAPPED_EXPORT void hak_thread_flush(void)
{
    struct thread_cache *tc = &hak_thread_cache;
    if (tc->heap == NULL)
        return;
    cache_flush_all(tc);
}

WRAPPED_EXPORT size_t hak_collect(int give_back)
{
    struct thread_cache *tc = &hak_thread_cache;
    if (tc->heap != NULL) {
        cache_flush_all(tc);
        heap_collect(tc->heap);
    }
    return give_back ? segment_cache_drop() + large_cache_drop() : 0;
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

#ifdef HAK_HARDENED
/* The live block that contains p, in any tier, where p may be a hardened user pointer: one at
 * 16 bytes or at a power of two (its alignment) past a block start. */
void *inner_block_of(const void *p, size_t *usable)
{
    uintptr_t a = (uintptr_t)p;
    unsigned kind = segment_map_kind(a);
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address(a, kind);
        if (slab_owner(s) == SLAB_OWNER_FREE)
            return NULL;
        uintptr_t start = (uintptr_t)slab_start(s);
        if (a < start || a - start >= __atomic_load_n(&s->carved, __ATOMIC_ACQUIRE))
            return NULL;
        /* floor(off / block_size) as the high half of off * ceil(2^64 / block_size): exact for
         * offsets inside a slab (below 2^32), and no division. */
        uint64_t index = (uint64_t)(((unsigned __int128)(a - start) * s->magic) >> 64);
        char *b = (char *)start + index * s->block_size;
        if (block_is_marked_free(b))
            return NULL;
        *usable = s->block_size;
        return b;
    }
    if (kind != HAK_MAP_PAGE_RUN && kind != HAK_MAP_LARGE)
        return NULL;
    /* Runs and Large blocks start on page boundaries: only offsets that reach one are tried, and
     * for a run only inside its own segment (the run table of another is not this one's). */
    uintptr_t lowest = kind == HAK_MAP_PAGE_RUN ? (a & ~HAK_SEGMENT_MASK) + HAK_PAGE_SIZE : 1;
    for (unsigned k = 4; k < 48 && (a & (((uintptr_t)1 << k) - 1)) == 0; k++) {
        uintptr_t b = a - ((uintptr_t)1 << k);
        if (b < lowest || b > a)
            break;
        if ((b & (HAK_PAGE_SIZE - 1)) != 0)
            continue;
        size_t n = kind == HAK_MAP_PAGE_RUN ? page_run_usable((void *)b) : large_usable((void *)b);
        if (n != 0) {
            *usable = n;
            return (void *)b;
        }
    }
    return NULL;
}

/* What a pointer that starts no hardened block is: the verdict on the block it would follow by
 * 16 bytes if that block was freed, else the verdict on the pointer itself; foreign pointers go
 * to ExternalGuard (realloc's answer is returned). */
void *inner_report_invalid(void *p, const char *op, const void *caller)
{
    int is_realloc = op[0] == 'r';
    uintptr_t a = (uintptr_t)p;
    unsigned kind = segment_map_kind(a);
    void *before = (char *)p - 16;
    int verdict = MISUSE_NOT_ALLOCATED;
    struct misuse_site where = idle_site;
    if (kind >= HAK_MAP_SLAB_MIN) {
        struct slab *s = slab_of_address(a, kind);
        where = slab_site(s);
        uintptr_t start = (uintptr_t)slab_start(s);
        verdict = a >= start + 16 ? slab_verdict(s, before) : MISUSE_NOT_ALLOCATED;
        if (verdict != MISUSE_DOUBLE_FREE && (verdict = slab_verdict(s, p)) < 0)
            verdict = MISUSE_INTERIOR;
    } else if (kind == HAK_MAP_PAGE_RUN) {
        where = page_run_site;
        verdict = (a & (HAK_PAGE_SIZE - 1)) == 16 ? page_run_classify(before) : -1;
        if (verdict != MISUSE_DOUBLE_FREE && (verdict = page_run_classify(p)) < 0)
            verdict = MISUSE_INTERIOR;
    } else if (kind == HAK_MAP_LARGE) {
        where = large_site;
        verdict = (a & (HAK_PAGE_SIZE - 1)) == 16 ? large_classify(before) : -1;
        if (verdict != MISUSE_DOUBLE_FREE)
            verdict = large_usable(p) != 0 ? MISUSE_INTERIOR : large_classify(p);
        if (verdict < 0)
            return is_realloc ? external_guard_realloc(p, caller)
                              : (external_guard_free(p, caller), NULL);
    } else if (kind == HAK_MAP_IDLE) {
        verdict = idle_verdict(before);
        if (verdict != MISUSE_DOUBLE_FREE)
            verdict = idle_verdict(p);
    } else {
        return is_realloc ? external_guard_realloc(p, caller)
                          : (external_guard_free(p, caller), NULL);
    }
    misuse_report((enum misuse_kind)verdict, op, p, where, caller);
    errno = EINVAL;
    return NULL;
}

struct misuse_site inner_site(const void *b)
{
    unsigned kind = segment_map_kind((uintptr_t)b);
    if (kind >= HAK_MAP_SLAB_MIN)
        return slab_site(slab_of_address((uintptr_t)b, kind));
    return kind == HAK_MAP_PAGE_RUN ? page_run_site : large_site;
}
#endif
