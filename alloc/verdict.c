/* verdict.c — what a pointer that is no live block is: double free, interior, never allocated. */
#include "verdict.h"

#include <errno.h>

#include "fast_path.h"
#include "large.h"
#include "page_run.h"
#include "segment.h"
#include "segment_map.h"

const struct misuse_site hk_verdict_page_run_site = {"L25 page runs", -1, 0};
const struct misuse_site hk_verdict_large_site = {"Large", -1, 0};
const struct misuse_site hk_verdict_idle_site = {"an idle segment", -1, 0};

/* The reads may race with a thread taking the slab; they choose only which misuse is reported. */
int hk_verdict_pooled_slab(const struct slab *s, const void *p)
{
    uint64_t magic = __atomic_load_n(&s->magic, __ATOMIC_RELAXED);
    uint32_t off = (uint32_t)((uintptr_t)p & HAK_SEGMENT_MASK) -
                   __atomic_load_n(&s->start_off, __ATOMIC_RELAXED);
    if (magic != 0 && (char *)p >= slab_start(s) && (char *)p + 16 <= slab_limit(s) &&
        (uint64_t)off * magic < ((uint64_t)1 << 31) && block_is_marked_free(p))
        return MISUSE_DOUBLE_FREE;
    return MISUSE_NOT_ALLOCATED;
}

int hk_verdict_idle(const void *p)
{
    unsigned former = hk_segment_idle_hold(p);
    int verdict = MISUSE_NOT_ALLOCATED;
    if (former == HAK_MAP_PAGE_RUN)
        verdict = hk_page_run_idle_classify(p);
    else if (former >= HAK_MAP_SLAB_MIN)
        verdict = hk_verdict_pooled_slab(slab_of_address((uintptr_t)p, former), p);
    if (former != HAK_MAP_NONE)
        hk_segment_idle_unhold();
    return verdict;
}

#ifdef HAK_HARDENED
/* The live block that contains p, in any tier, where p may be a hardened user pointer: one at
 * 16 bytes or at a power of two (its alignment) past a block start. */
void *hk_verdict_block_of(const void *p, size_t *usable)
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
        size_t n =
            kind == HAK_MAP_PAGE_RUN ? hk_page_run_usable((void *)b) : hk_large_usable((void *)b);
        if (n != 0) {
            *usable = n;
            return (void *)b;
        }
    }
    return NULL;
}

struct misuse_site hk_verdict_site(const void *b)
{
    unsigned kind = segment_map_kind((uintptr_t)b);
    if (kind >= HAK_MAP_SLAB_MIN)
        return verdict_slab_site(slab_of_address((uintptr_t)b, kind));
    return kind == HAK_MAP_PAGE_RUN ? hk_verdict_page_run_site : hk_verdict_large_site;
}
#endif
