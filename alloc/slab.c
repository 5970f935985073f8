/* slab.c — block bookkeeping inside one slab: formatting, carving, draining. */
#include "slab.h"

#include "diag.h"
#include "free_mark.h"
#include "os_memory.h"
#include "size_class.h"
#include "thread_cache.h"

void hk_slab_format(struct slab *s, unsigned cls)
{
    uint32_t bs = (uint32_t)size_class_block_size(cls);
    char *start = slab_start(s);
#ifdef HAK_HARDENED
    /* Hardened: blocks are handed out zero past their first 16 bytes; the links and marks of
     * another geometry's blocks would lie anywhere in the new ones. */
    if (s->block_size != 0 && s->block_size != bs)
        hk_os_purge(start, (size_t)(slab_limit(s) - start));
#endif
    size_t capacity = (size_t)(slab_limit(s) - start) / bs;
    s->cls = (uint16_t)cls;
    s->bin_off = (uint16_t)cache_bin_offset(cls);
    s->block_size = (uint16_t)bs;
    __atomic_store_n(&s->magic, slab_block_magic(bs), __ATOMIC_RELAXED);
    s->free = NULL;
    s->free_count = 0;
    s->used = 0;
    __atomic_store_n(&s->start_off, (uint32_t)(start - (char *)slab_segment_of(s)),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
    s->limit = (uint32_t)(capacity * bs);
    track_noaccess(start, s->limit); /* never-carved memory */
    s->notified = 0;
    s->list = SLAB_LIST_NONE;
    s->next = s->prev = NULL;
}

uint32_t hk_slab_drain(struct slab *s)
{
    uint32_t n;
    void *chain = remote_queue_take(&slab_remote(s)->queue, &n);
    if (chain == NULL)
        return 0;
    HAK_ASSERT(n <= s->used);
    if (s->free == NULL) {
        s->free = chain; /* the usual case (refill drains an exhausted slab): no walk */
    } else {
        void *tail = chain;
        while (block_next(tail) != NULL)
            tail = block_next(tail);
        block_set_next(tail, s->free);
        s->free = chain;
    }
    s->free_count = (uint16_t)(s->free_count + n);
    s->used = (uint16_t)(s->used - n);
    return n;
}

void *hk_slab_take(struct slab *s, uint32_t want, uint32_t up_to, uint32_t *count)
{
    uint32_t n = 0;
    void *head = NULL;
    if (s->free != NULL) {
        if (s->free_count <= up_to) {
            head = s->free;
            n = s->free_count;
            s->free = NULL;
        } else {
            head = s->free;
            void *last = head;
            for (n = 1; n < want; n++)
                last = block_next(last);
            s->free = block_next(last);
            block_set_next(last, NULL);
        }
        s->free_count = (uint16_t)(s->free_count - n);
    } else if (s->carved < s->limit) {
        /* Carve in address order so consecutive allocations are adjacent. */
        size_t bs = s->block_size;
        size_t avail = (s->limit - s->carved) / bs;
        char *b = (char *)slab_segment_of(s) + s->start_off + s->carved;
        /* Only the blocks that start in the page the first one starts in (one at least): carving
         * writes the first 16 bytes of every block, so this makes one page resident, where a
         * whole refill's worth (16 KiB) would be made resident for a class a program barely
         * uses, and every class's last carve would overshoot by as much. */
        size_t in_page = (HAK_PAGE_SIZE - ((uintptr_t)b & (HAK_PAGE_SIZE - 1)) + bs - 1) / bs;
        if (in_page < avail)
            avail = in_page;
        n = avail < want ? (uint32_t)avail : want;
        head = b;
        /* Carved blocks are free blocks like any other: they carry the free mark, so a free of
         * one that was never handed out is caught as a double free, and the heap check can
         * demand the mark of every free block. */
        for (uint32_t i = 1; i < n; i++, b += bs) {
            block_set_next(b, b + bs);
            block_mark_free(b);
        }
        block_set_next(b, NULL);
        block_mark_free(b);
        __atomic_store_n(&s->carved, s->carved + (uint32_t)(n * bs), __ATOMIC_RELAXED);
    }
    s->used = (uint16_t)(s->used + n);
    HAK_ASSERT(n <= (up_to > want ? up_to : want) &&
               (uint32_t)s->used * s->block_size <= s->carved);
    *count = n;
    return head;
}
