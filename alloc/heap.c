/* heap.c — owned-slab lists, refill and return of blocks, the owner's side of the remote-free
 * protocol (drain, park, notification), orphaning, the heap registry and its counters, fork. */
#include "heap.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "diag.h"
#include "list.h"
#include "meta_alloc.h"
#include "orphan_pool.h"
#include "page_run.h"
#include "remote_batch.h"
#include "slab_pool.h"
#include "thread_cache.h"

static pthread_key_t exit_key;
static HAK_TLS struct heap *current; /* the calling thread's heap, for the fork child */

struct heap hk_exit_heap = {
    .id = (uintptr_t)&hk_exit_heap,
    .lock = HAK_LOCK_INITIALIZER,
};

/* Lock order: registry_lock -> heap locks -> orphan pool -> slab pools -> segment cache. */
static hak_lock_t registry_lock = HAK_LOCK_INITIALIZER;
static struct heap *registry;
static struct heap_class_counters exited[HAK_CLASS_COUNT]; /* registry_lock */
static uint64_t threads_started, threads_exited;           /* registry_lock */
static uint32_t arena_heaps[PAGE_RUN_ARENAS];              /* registry_lock: live heaps per arena */
static struct meta_pool heap_pool = META_POOL_INITIALIZER(sizeof(struct heap));

/* Registry lock held: the page-run arena with the fewest live heaps (the lowest of those), so
 * threads that come and go reuse the arenas, and the free runs, of the threads before them
 * instead of spreading over every arena's segments. */
static uint32_t pick_arena(void)
{
    uint32_t best = 0;
    for (uint32_t k = 1; k < PAGE_RUN_ARENAS; k++)
        if (arena_heaps[k] < arena_heaps[best])
            best = k;
    arena_heaps[best]++;
    return best;
}

/* ---- slab lists (owner only) ---- */

static void list_push(struct slab_list *l, struct slab *s, uint8_t id)
{
    s->list = id;
    LIST_PUSH(&l->head, s, next, prev);
    l->count++;
}

static void list_remove(struct slab_list *l, struct slab *s)
{
    HAK_ASSERT(l->count > 0 && s->list != SLAB_LIST_NONE);
    LIST_REMOVE(&l->head, s, next, prev);
    s->list = SLAB_LIST_NONE;
    l->count--;
}

static void move_to_partial(struct heap *h, struct slab *s)
{
    list_remove(&h->full[s->cls], s);
    list_push(&h->partial[s->cls], s, SLAB_LIST_PARTIAL);
}

/* ---- draining, notification, release ---- */

static void heap_drain(struct heap *h, struct slab *s)
{
    uint32_t n = hk_slab_drain(s);
    if (n != 0) {
        counter_add(&h->counters[s->cls].drains, 1);
        counter_add(&h->counters[s->cls].drained, n);
    }
}

/* An empty slab goes back to the pool unless it is the class's last partial slab (kept to avoid
 * re-formatting on alloc/free oscillation) or a notification for it is still outstanding. */
static int can_release(const struct heap *h, const struct slab *s)
{
    return s->used == 0 && !s->notified && s->list == SLAB_LIST_PARTIAL &&
           h->partial[s->cls].count > 1;
}

static void release_slab(struct heap *h, struct slab *s)
{
    HAK_ASSERT(s->used == 0 && !s->notified && s->free_count * s->block_size == s->carved);
    list_remove(&h->partial[s->cls], s);
    remote_queue_wait_quiet(&slab_remote(s)->queue);
    hk_slab_pool_put(s);
}

static void collect_pending(struct heap *h)
{
    SCHED_POINT(HAK_SCHED_PENDING_TAKE, &h->pending);
    struct slab *s = __atomic_exchange_n(&h->pending, NULL, __ATOMIC_ACQUIRE);
    while (s != NULL) {
        struct slab *next = __atomic_load_n(&slab_remote(s)->pending_next, __ATOMIC_RELAXED);
        if (s->notified) {
            s->notified = 0;
            h->notified_count--;
        }
        if (s->list == SLAB_LIST_FULL)
            move_to_partial(h, s);
        heap_drain(h, s);
        if (can_release(h, s))
            release_slab(h, s);
        s = next;
    }
}

/* s (partial, no free block) is parked on the full list, armed so the next remote free tells us.
 * Fails when the queue is not idle: blocks arrived, or a notification is finishing. */
static int park_full(struct heap *h, struct slab *s)
{
    HAK_ASSERT(!slab_has_free(s) && s->list == SLAB_LIST_PARTIAL);
    if (!s->notified && !remote_queue_arm(&slab_remote(s)->queue))
        return 0;
    list_remove(&h->partial[s->cls], s);
    list_push(&h->full[s->cls], s, SLAB_LIST_FULL);
    return 1;
}

/* A full slab gets free blocks from its owner: withdraw the arm, or learn that a notification
 * was delivered (then the slab will come through the pending stack). */
static void unpark(struct heap *h, struct slab *s)
{
    if (!s->notified && !remote_queue_disarm(&slab_remote(s)->queue)) {
        s->notified = 1;
        h->notified_count++;
    }
    move_to_partial(h, s);
}

/* An empty slab of the geometry: pooled; else, before growing, orphans whose blocks have all
 * been freed turned back into pool slabs; else from a new segment. */
static struct slab *take_empty_slab(unsigned slab_shift)
{
    struct slab *s = hk_slab_pool_take(slab_shift);
    if (s != NULL)
        return s;
    struct slab *reclaimed = hk_orphan_pool_reclaim();
    if (reclaimed != NULL) {
        while (reclaimed != NULL) {
            struct slab *next = reclaimed->next;
            reclaimed->next = NULL;
            hk_slab_pool_put(reclaimed);
            reclaimed = next;
        }
        if ((s = hk_slab_pool_take(slab_shift)) != NULL)
            return s;
    }
    return hk_slab_pool_grow(slab_shift);
}

static struct slab *acquire_slab(struct heap *h, unsigned cls)
{
    struct slab *s = hk_orphan_pool_take(cls);
    if (s == NULL) {
        s = take_empty_slab(hk_class_info[cls].slab_shift);
        if (s == NULL)
            return NULL;
        hk_slab_format(s, cls);
    }
    SCHED_POINT(HAK_SCHED_OWNER, &slab_remote(s)->queue);
    slab_set_owner(s, h->id);
    s->notified = 0;
    list_push(&h->partial[cls], s, SLAB_LIST_PARTIAL);
    return s;
}

/* ---- refill and return ---- */

void *hk_heap_alloc_chain(struct heap *h, unsigned cls, uint32_t want, uint32_t up_to,
                          uint32_t *count)
{
    SCHED_POINT(HAK_SCHED_QUEUE_LOAD, &h->pending);
    if (__atomic_load_n(&h->pending, __ATOMIC_RELAXED) != NULL)
        collect_pending(h);
    struct spin_wait w = SPIN_WAIT_INIT;
    for (;;) {
        struct slab *s = h->partial[cls].head;
        if (s == NULL && (s = acquire_slab(h, cls)) == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        /* Drain when the free list is used up (before carving fresh blocks): the queue then
         * collects longer chains, so its contended line and the walk over blocks other cores
         * just wrote are paid once per many blocks, not once per refill. */
        if (s->free == NULL && remote_queue_nonempty(&slab_remote(s)->queue))
            heap_drain(h, s);
        void *chain = hk_slab_take(s, want, up_to, count);
        if (chain != NULL)
            return chain;
        /* Parking fails only while remote frees arrive: the next round drains them. */
        if (!park_full(h, s)) {
            remote_queue_wait_quiet(&slab_remote(s)->queue);
            spin_wait(&w, "a slab with no free block that can be neither parked nor drained", s);
        }
    }
}

uint32_t hk_heap_return_chain(struct heap *h, void *chain)
{
    uint32_t n = 0;
    while (chain != NULL) {
        void *b = chain;
        chain = block_next(b);
        struct slab *s = slab_of_address((uintptr_t)b, slab_segment_of(b)->slab_shift - 6u);
        HAK_ASSERT(slab_owner(s) == h->id);
        slab_put_block(s, b);
        n++;
        if (s->list == SLAB_LIST_FULL)
            unpark(h, s);
        else if (s->used == 0 && can_release(h, s))
            release_slab(h, s);
    }
    return n;
}

void *hk_heap_exit_alloc(unsigned cls)
{
    struct heap *h = &hk_exit_heap;
    uint32_t n;
    heap_lock(h);
    void *p = hk_heap_alloc_chain(h, cls, 1, 1, &n);
    if (p != NULL) {
        block_mark_live(p);
        counter_add(&h->counters[cls].allocs, 1);
        counter_add(&h->counters[cls].refilled, 1);
    }
    heap_unlock(h);
    return p;
}

/* ---- attach, teardown ---- */

/* The registry is kept in address order, so fork's prepare handler takes the heap locks in one
 * global order (ThreadSanitizer checks lock order across forks too). */
static void registry_insert(struct heap *h)
{
    struct heap *prev = NULL, *next = registry;
    while (next != NULL && next < h) {
        prev = next;
        next = next->reg_next;
    }
    LIST_INSERT_AFTER(&registry, prev, h, reg_next, reg_prev);
}

static void registry_remove(struct heap *h) { LIST_REMOVE(&registry, h, reg_next, reg_prev); }

struct heap *hk_heap_attach(struct thread_cache *tc)
{
    hak_lock(&registry_lock);
    struct heap *h = hk_meta_pool_alloc(&heap_pool);
    if (h != NULL) {
        h->id = (uintptr_t)h;
        h->cache = tc;
        hak_lock_reinit(&h->lock);
        h->arena = pick_arena();
        h->tid = (int32_t)syscall(SYS_gettid);
        registry_insert(h);
        threads_started++;
    }
    hak_unlock(&registry_lock);
    return h;
}

/* Return every cached block, walking each bin to its end (counts may be stale after fork). */
static void return_bins(struct heap *h, struct thread_cache *tc)
{
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct cache_bin *b = &tc->bins[c];
        uint32_t n = hk_heap_return_chain(h, b->head);
        b->head = NULL;
        b->room = (int32_t)b->cap;
        counter_add(&h->counters[c].flushed, n);
        __atomic_store_n(&h->counters[c].allocs, b->allocs, __ATOMIC_RELAXED);
        __atomic_store_n(&h->counters[c].cached, 0, __ATOMIC_RELAXED);
    }
}

void hk_heap_collect(struct heap *h)
{
    heap_lock(h);
    if (__atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) != NULL)
        collect_pending(h);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct slab *next;
        for (struct slab *s = h->partial[c].head; s != NULL; s = next) {
            next = s->next;
            if (remote_queue_nonempty(&slab_remote(s)->queue))
                heap_drain(h, s);
            if (s->used == 0 && !s->notified)
                release_slab(h, s);
        }
    }
    heap_unlock(h);
}

/* Every slab of h goes back to the pool (no live block) or to the orphan pool. */
static void teardown(struct heap *h)
{
    SCHED_POINT(HAK_SCHED_THREAD_EXIT, h);
    if (h->cache != NULL) {
        hk_remote_batches_flush(h->cache, 1);
        return_bins(h, h->cache);
    }
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++)
        while (h->full[c].head != NULL)
            unpark(h, h->full[c].head);
    /* unpark() waited out every notifier, so all notifications are on the pending stack now. */
    for (;;) {
        SCHED_POINT(HAK_SCHED_QUEUE_LOAD, &h->pending);
        if (h->notified_count == 0 && __atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) == NULL)
            break;
        collect_pending(h);
    }
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct slab *s;
        while ((s = h->partial[c].head) != NULL) {
            list_remove(&h->partial[c], s);
            heap_drain(h, s);
            remote_queue_wait_quiet(&slab_remote(s)->queue);
            if (s->used == 0) {
                hk_slab_pool_put(s);
            } else {
                SCHED_POINT(HAK_SCHED_OWNER, &slab_remote(s)->queue);
                slab_set_owner(s, SLAB_OWNER_ORPHAN);
                hk_orphan_pool_put(s);
            }
        }
    }
}

static void merge_exited(const struct heap *h)
{
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        const struct heap_class_counters *a = &h->counters[c];
        struct heap_class_counters *t = &exited[c];
        t->allocs += a->allocs;
        t->cached += a->cached;
        t->refilled += a->refilled;
        t->flushed += a->flushed;
        t->refills += a->refills;
        t->flushes += a->flushes;
        t->remote_frees += a->remote_frees;
        t->drains += a->drains;
        t->drained += a->drained;
    }
}

/* Registry lock held. */
static void retire(struct heap *h)
{
    heap_lock(h);
    teardown(h);
    heap_unlock(h);
    registry_remove(h);
    arena_heaps[h->arena % PAGE_RUN_ARENAS]--;
    merge_exited(h);
    threads_exited++;
    hk_meta_pool_free(&heap_pool, h);
}

/* The exit key's destructor: the thread's batches, bins and slabs go back, and later allocations
 * by other destructors of this thread use the shared exit heap. */
static void thread_exit(void *arg)
{
    struct heap *h = arg;
    struct thread_cache *tc = h->cache;
    hak_lock(&registry_lock);
    retire(h);
    hak_unlock(&registry_lock);
    current = NULL;
    memset(tc->bins, 0, sizeof tc->bins);
    tc->heap = NULL;
    tc->id = 0;
    tc->exiting = 1;
}

void hk_heap_init(void) { pthread_key_create(&exit_key, thread_exit); }

void hk_heap_register_exit(struct heap *h)
{
    current = h;
    pthread_setspecific(exit_key, h);
}

/* ---- statistics ---- */

static void add_counters(struct heap_class_counters *sum, const struct heap *h)
{
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        const struct heap_class_counters *a = &h->counters[c];
        sum[c].allocs += __atomic_load_n(&a->allocs, __ATOMIC_RELAXED);
        sum[c].cached += __atomic_load_n(&a->cached, __ATOMIC_RELAXED);
        sum[c].refilled += __atomic_load_n(&a->refilled, __ATOMIC_RELAXED);
        sum[c].flushed += __atomic_load_n(&a->flushed, __ATOMIC_RELAXED);
        sum[c].refills += __atomic_load_n(&a->refills, __ATOMIC_RELAXED);
        sum[c].flushes += __atomic_load_n(&a->flushes, __ATOMIC_RELAXED);
        sum[c].remote_frees += __atomic_load_n(&a->remote_frees, __ATOMIC_RELAXED);
        sum[c].drains += __atomic_load_n(&a->drains, __ATOMIC_RELAXED);
        sum[c].drained += __atomic_load_n(&a->drained, __ATOMIC_RELAXED);
    }
}

void hk_heap_stats(struct hak_stats *out)
{
    struct heap_class_counters sum[HAK_CLASS_COUNT];
    /* The calling thread's own bins are exact; publish them first. */
    struct heap *self = current;
    if (self != NULL) {
        const struct thread_cache *tc = self->cache;
        for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
            __atomic_store_n(&self->counters[c].allocs, tc->bins[c].allocs, __ATOMIC_RELAXED);
            __atomic_store_n(&self->counters[c].cached, cache_bin_count(&tc->bins[c]),
                             __ATOMIC_RELAXED);
        }
    }
    hak_lock(&registry_lock);
    memcpy(sum, exited, sizeof sum);
    for (struct heap *h = registry; h != NULL; h = h->reg_next)
        add_counters(sum, h);
    add_counters(sum, &hk_exit_heap);
    out->threads_started = threads_started;
    out->threads_exited = threads_exited;
    hak_unlock(&registry_lock);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct hak_class_stats *o = &out->cls[c];
        const struct heap_class_counters *a = &sum[c];
        uint64_t remote = a->remote_frees + hk_remote_free_unbatched_count(c);
        /* A block leaves a bin by allocation or flush and enters by refill or a local free. */
        int64_t local = (int64_t)(a->cached + a->allocs + a->flushed) - (int64_t)a->refilled;
        o->block_size = hk_class_info[c].block_size;
        o->allocs = a->allocs;
        o->frees = (local > 0 ? (uint64_t)local : 0) + remote;
        o->remote_frees = remote;
        o->drains = a->drains;
        o->drained = a->drained;
        o->refills = a->refills;
        o->flushes = a->flushes;
        o->live_blocks = o->allocs > o->frees ? o->allocs - o->frees : 0;
    }
}

void hk_heap_for_each(void (*fn)(struct heap *, void *), void *arg)
{
    hak_lock(&registry_lock);
    for (struct heap *h = registry; h != NULL; h = h->reg_next)
        fn(h, arg);
    fn(&hk_exit_heap, arg);
    hak_unlock(&registry_lock);
}

void hk_heap_exited_totals(uint64_t *refilled, uint64_t *flushed, uint64_t *remote)
{
    hak_lock(&registry_lock);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        refilled[c] += exited[c].refilled;
        flushed[c] += exited[c].flushed;
        remote[c] += exited[c].remote_frees + hk_remote_free_unbatched_count(c);
    }
    hak_unlock(&registry_lock);
}

/* ---- fork ---- */

void hk_heap_fork_prepare(void)
{
    hak_lock(&registry_lock);
    heap_lock(&hk_exit_heap);
    for (struct heap *h = registry; h != NULL; h = h->reg_next)
        heap_lock(h);
}

void hk_heap_fork_parent(void)
{
    for (struct heap *h = registry; h != NULL; h = h->reg_next)
        heap_unlock(h);
    heap_unlock(&hk_exit_heap);
    hak_unlock(&registry_lock);
}

/* In the child only the forking thread exists: a notifier may have died between its push and
 * notify_done, so notification state is reset wholesale. Slabs stay where they are; pending
 * notifications are dropped and every full slab is treated as partial (it is drained on use). */
static void normalize_after_fork(struct heap *h)
{
    __atomic_store_n(&h->pending, NULL, __ATOMIC_RELAXED);
    h->notified_count = 0;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        while (h->full[c].head != NULL)
            move_to_partial(h, h->full[c].head);
        for (struct slab *s = h->partial[c].head; s != NULL; s = s->next) {
            __atomic_fetch_and(&slab_remote(s)->queue, ~REMOTE_BITS, __ATOMIC_RELAXED);
            s->notified = 0;
        }
    }
}

void hk_heap_fork_child(void)
{
    struct heap *self = current;
    hak_lock_reinit(&registry_lock);
    hak_lock_reinit(&hk_exit_heap.lock);
    hk_meta_pool_fork_child(&heap_pool);
    normalize_after_fork(&hk_exit_heap);
    if (self != NULL)
        self->tid = (int32_t)syscall(SYS_gettid); /* the child's thread has an id of its own */
    struct heap *h = registry;
    while (h != NULL) {
        struct heap *next = h->reg_next;
        hak_lock_reinit(&h->lock);
        normalize_after_fork(h);
        if (h != self)
            retire(h); /* its thread does not exist in the child */
        h = next;
    }
}
