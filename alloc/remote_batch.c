/* remote_batch.c — remote-free batches pushed to their slabs' queues, and owner notification. */
#include "remote_batch.h"

#include "heap.h"
#include "remote_queue.h"
#include "sched_hook.h"
#include "slab.h"
#include "thread_cache.h"

static uint64_t unbatched_frees[HAK_CLASS_COUNT]; /* atomic */

/* Called by the pusher that consumed a slab's arm. The owner cannot abandon the slab while the
 * queue says NOTIFYING, so the heap read from `owner` stays valid until notify_done. */
static void notify_owner(struct slab *s)
{
    SCHED_POINT(HAK_SCHED_NOTIFY, &slab_remote(s)->queue);
    struct heap *h = (struct heap *)slab_owner(s);
    struct slab_remote *r = slab_remote(s);
    struct slab *head = __atomic_load_n(&h->pending, __ATOMIC_RELAXED);
    do {
        SCHED_POINT(HAK_SCHED_NOTIFY, &h->pending);
        __atomic_store_n(&r->pending_next, head, __ATOMIC_RELAXED);
    } while (
        !__atomic_compare_exchange_n(&h->pending, &head, s, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    remote_queue_notify_done(&r->queue);
}

static void batch_flush(struct remote_batch *b, int recount)
{
    struct slab *s = b->slab;
    if (s == NULL)
        return;
    uint32_t n = b->count;
    if (recount) {
        n = 0;
        for (void *p = b->head; p != NULL; p = block_next(p)) {
            b->tail = p;
            if (++n > REMOTE_BATCH_MAX)
                break; /* torn or cyclic: stop (the heap check will name the slab) */
        }
    }
    b->slab = NULL;
    if (n != 0 && remote_queue_push_chain(&slab_remote(s)->queue, b->head, b->tail, n))
        notify_owner(s);
    b->head = b->tail = NULL;
    b->count = 0;
}

void hk_remote_batches_flush(struct thread_cache *tc, int recount)
{
    /* Every refill calls this: visit the flagged batches only, not all the classes. */
    uint64_t mask = recount ? ~0ull >> (64 - HAK_CLASS_COUNT) : tc->batched;
    while (mask != 0) {
        batch_flush(&tc->batch[__builtin_ctzll(mask)], recount);
        mask &= mask - 1;
    }
    tc->batched = 0;
}

void hk_remote_batch_start(struct thread_cache *tc, struct slab *s, void *p)
{
    struct remote_batch *b = &tc->batch[s->cls];
    batch_flush(b, 0);
    tc->batched |= 1ull << s->cls;
    block_set_next(p, NULL);
    b->slab = s;
    b->head = b->tail = p;
    b->count = 1;
    b->limit = hk_class_info[s->cls].remote_batch;
    counter_add(&tc->heap->counters[s->cls].remote_frees, 1);
}

void hk_remote_free_unbatched(struct slab *s, void *p)
{
    unsigned cls = s->cls;
    if (remote_queue_push(&slab_remote(s)->queue, p))
        notify_owner(s);
    __atomic_fetch_add(&unbatched_frees[cls], 1, __ATOMIC_RELAXED);
}

uint64_t hk_remote_free_unbatched_count(unsigned cls)
{
    return __atomic_load_n(&unbatched_frees[cls], __ATOMIC_RELAXED);
}
