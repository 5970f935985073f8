/* remote_batch.h — the freeing thread's side of the remote-free protocol.
 *
 * Owns: the per-class batches in which a thread holds its frees of blocks of slabs other threads
 * own, pushing each batch onto its slab's remote queue with one compare-and-swap, and the
 * notification of a parked slab's owner (its pending stack) when a push consumes the slab's arm.
 * Also the frees of threads without a heap, which are pushed one by one. Promises: a block in a
 * batch is in no other place (it is counted as a remote free when it joins); every batch is pushed
 * on the thread's next refill, by hak_thread_flush and at thread exit; a notifier never touches
 * the owner's lists, only its pending stack. Must never: take a lock, or touch a slab's free
 * list or counts (those are the owner's). */
#ifndef HAK_REMOTE_BATCH_H
#define HAK_REMOTE_BATCH_H

#include "config.h"

struct slab;
struct thread_cache;

/* Remote frees held back to be pushed with one compare-and-swap: up to the class's remote_batch
 * (at most REMOTE_BATCH_MAX) blocks of one slab another thread owns, linked through their first
 * words (head is the newest). A thread holds one batch per size class, flushed when it frees a
 * block of another slab of that class, when it is full, on the thread's next refill, by
 * hak_thread_flush and at thread exit. The batches live in the thread's cache, where the inline
 * append (thread_cache.h) reaches them through %fs. */
struct remote_batch {
    struct slab *slab; /* NULL: empty */
    void *head, *tail;
    uint32_t count;
    uint32_t limit; /* the class's remote_batch, copied when the batch starts: the inline append
                     * compares two words of one line instead of indexing the class table */
};

/* Push tc's batch for s's class and start a new one holding p (counted as a remote free). */
HAK_HIDDEN void hk_remote_batch_start(struct thread_cache *tc, struct slab *s, void *p);
/* Push every remote-free batch of tc onto its slab's remote queue (recount: walk them rather than
 * trust their counts and tc->batched, for batches a fork may have cut in the middle of an
 * update). */
HAK_HIDDEN void hk_remote_batches_flush(struct thread_cache *tc, int recount);
/* A thread without a heap (and so without batches, which no exit handler could flush): free
 * block p of slab s at once. */
HAK_HIDDEN void hk_remote_free_unbatched(struct slab *s, void *p);
/* Blocks of class cls freed that way, for the statistics and the heap check. */
HAK_HIDDEN uint64_t hk_remote_free_unbatched_count(unsigned cls);

#endif
