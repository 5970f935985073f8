/* thread_cache.c — slow paths between a thread's bins and its heap, and a thread's first refill
 * (which initializes the allocator in the process's first one). */
#include "thread_cache.h"

#include <errno.h>

#include "heap.h"
#include "init.h"
#include "track.h"

HAK_TLS struct thread_cache hk_thread_cache;
uint16_t hk_bin_tiny_table[HAK_TINY_TABLE_LEN];
uint16_t hk_bin_mid_table[HAK_MID_TABLE_LEN];
static int bin_tables_ready; /* release after the tables are filled */

/* Before a thread's bins get their capacities: until then its bins are all empty, so a lookup in
 * unfilled tables (offset 0, class 0's bin) only ever reaches an empty bin and comes here. */
static void fill_bin_tables(void)
{
    if (__atomic_load_n(&bin_tables_ready, __ATOMIC_ACQUIRE))
        return;
    for (unsigned i = 0; i < HAK_TINY_TABLE_LEN; i++)
        __atomic_store_n(&hk_bin_tiny_table[i], (uint16_t)cache_bin_offset(hk_class_tiny_table[i]),
                         __ATOMIC_RELAXED);
    for (unsigned i = 0; i < HAK_MID_TABLE_LEN; i++)
        __atomic_store_n(&hk_bin_mid_table[i], (uint16_t)cache_bin_offset(hk_class_mid_table[i]),
                         __ATOMIC_RELAXED);
    __atomic_store_n(&bin_tables_ready, 1, __ATOMIC_RELEASE);
}

/* The calling thread's first refill: the allocator initialized, a heap, the bins' capacities. */
static struct heap *attach(struct thread_cache *tc)
{
    if (!hak_ensure_init())
        return NULL;
    fill_bin_tables();
    struct heap *h = hk_heap_attach(tc);
    if (h == NULL)
        return NULL;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        tc->bins[c].cap = hk_class_info[c].cache_cap;
        tc->bins[c].room = (int32_t)tc->bins[c].cap;
    }
    tc->heap = h;
    tc->id = h->id;
    hk_heap_register_exit(h); /* may allocate: the heap is already in place for that */
    return h;
}

static void publish(struct heap *h, unsigned cls, const struct cache_bin *b)
{
    __atomic_store_n(&h->counters[cls].allocs, b->allocs, __ATOMIC_RELAXED);
    __atomic_store_n(&h->counters[cls].cached, cache_bin_count(b), __ATOMIC_RELAXED);
}

static void *refill(size_t size);

void *hk_cache_refill_as(size_t class_size, size_t requested)
{
    void *p = refill(class_size);
    if (p != NULL)
        track_alloc(p, requested, size_class_block_size(size_class_of(class_size)));
    return p;
}

void *hk_cache_refill(size_t size) { return hk_cache_refill_as(size, size); }

static void *refill(size_t size)
{
    struct thread_cache *tc = &hk_thread_cache;
    struct heap *h = tc->heap;
    if (HAK_UNLIKELY(h == NULL)) {
        if (tc->exiting)
            return hk_heap_exit_alloc(size_class_of(size));
        if ((h = attach(tc)) == NULL)
            return NULL;
    }
    /* The class is computed here, after initialization: the caller's lookup may predate it. */
    unsigned cls = size_class_of(size);
    struct cache_bin *b = &tc->bins[cls];
    void *p = cache_pop(cls);
    if (p != NULL)
        return p;
    uint32_t n;
    hk_remote_batches_flush(tc, 0); /* a slow path anyway: other owners get their blocks */
    heap_lock(h);
    /* The bin is empty: a slab's whole free list fits when it is no longer than the cap. */
    p = hk_heap_alloc_chain(h, cls, hk_class_info[cls].batch, b->cap, &n);
    if (p != NULL) {
        b->head = block_next(p);
        block_mark_live(p);
        b->room = (int32_t)(b->cap - (n - 1));
        b->allocs++;
        counter_add(&h->counters[cls].refilled, n);
        counter_add(&h->counters[cls].refills, 1);
        publish(h, cls, b);
    }
    heap_unlock(h);
    return p;
}

void hk_cache_overflow(unsigned cls)
{
    struct thread_cache *tc = &hk_thread_cache;
    struct heap *h = tc->heap;
    struct cache_bin *b = &tc->bins[cls];
    /* Keep the most recently freed half (hot in cache), return the rest to the slabs. */
    uint32_t keep = hk_class_info[cls].batch;
    void *last = b->head;
    for (uint32_t i = 1; i < keep; i++)
        last = block_next(last);
    void *rest = block_next(last);
    block_set_next(last, NULL);
    b->room = (int32_t)(b->cap - keep);
    heap_lock(h);
    uint32_t n = hk_heap_return_chain(h, rest);
    counter_add(&h->counters[cls].flushed, n);
    counter_add(&h->counters[cls].flushes, 1);
    publish(h, cls, b);
    heap_unlock(h);
}

void hk_cache_flush_all(struct thread_cache *tc)
{
    struct heap *h = tc->heap;
    if (h == NULL)
        return;
    hk_remote_batches_flush(tc, 0);
    heap_lock(h);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct cache_bin *b = &tc->bins[c];
        if (b->head != NULL) {
            uint32_t n = hk_heap_return_chain(h, b->head);
            b->head = NULL;
            b->room = (int32_t)b->cap;
            counter_add(&h->counters[c].flushed, n);
            counter_add(&h->counters[c].flushes, 1);
        }
        publish(h, c, b);
    }
    heap_unlock(h);
}
