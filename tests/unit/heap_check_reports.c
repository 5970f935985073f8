/* The heap checker reports each kind of damage it promises to find, with the line that names it:
 * each case breaks one invariant by hand (what a broken allocator path would leave behind) and
 * expects hak_debug_check_heap() to fail with the matching message. */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "free_mark.h"
#include "hakmem.h"
#include "heap.h"
#include "large.h"
#include "page_run_layout.h"
#include "remote_queue.h"
#include "segment.h"
#include "segment_map.h"
#include "slab.h"
#include "slab_of.h"
#include "test.h"
#include "thread_cache.h"

static char report[65536];

/* Every block a case allocates stays reachable from here: the damage means some are never freed
 * (the case's process ends with it), and memcheck must not call them lost. */
static void *volatile kept[64]; /* volatile: never read, but must be stored */
static unsigned nkept;

static void *kept_malloc(size_t size)
{
    void *p = hak_malloc(size);
    kept[nkept++ % 64] = p;
    return p;
}

/* Run the check (of a program at rest holding held[0..n) when n >= 0) with stderr captured into
 * report[]; returns its error count. */
static int check_capturing_held(void *const *held, long nheld)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    int saved = dup(2);
    dup2(fds[1], 2);
    int errors =
        nheld >= 0 ? hak_debug_check_quiescent(held, (size_t)nheld) : hak_debug_check_heap();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], report, sizeof report - 1);
    report[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    return errors;
}

static int check_capturing(void) { return check_capturing_held(NULL, -1); }

/* The checker (of a program at rest holding held[0..n), when n >= 0) must fail and say `what`. */
static void expect_held(const char *what, void *const *held, long n)
{
    test_skip_heap_check(); /* the damage stays: the case's process ends with it */
    int errors = check_capturing_held(held, n);
    CHECKF(errors > 0 && strstr(report, what) != NULL, "%d error(s); wanted \"%s\"; report: %s",
           errors, what, report);
}

static void expect(const char *what) { expect_held(what, NULL, -1); }

/* A block of class `size` handed back to its slab's free list (a flushed cache). */
static void *freed_block(size_t size, void **keep)
{
    void *a = kept_malloc(size);
    *keep = kept_malloc(size); /* keeps the slab from being released */
    hak_free(a);
    hak_thread_flush();
    return a;
}

/* A slab parked full (and armed): 4 KiB blocks fill a 64 KiB slab after 15 or 16 of them. */
static struct slab *parked_full_slab(void)
{
    void *held[64];
    for (int i = 0; i < 64; i++)
        held[i] = kept_malloc(4096);
    struct slab *full = NULL;
    for (int i = 0; i < 64 && full == NULL; i++)
        if (slab_of(held[i])->list == SLAB_LIST_FULL)
            full = slab_of(held[i]);
    CHECK(full != NULL);
    return full;
}

TEST(checker_passes_before_any_damage)
{
    void *keep;
    freed_block(64, &keep);
    CHECK(check_capturing() == 0);
    hak_free(keep);
}

TEST(free_list_pointer_outside_the_carved_blocks_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    struct slab *s = slab_of(a);
    block_set_next(a, (char *)slab_start(s) + s->carved + 64);
    expect("pointer outside the carved blocks in the free list");
}

TEST(free_list_pointer_inside_a_block_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    block_set_next(a, (char *)keep + 16);
    expect("pointer inside a block (not at its start) in the free list");
}

TEST(free_block_without_the_free_mark_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    block_mark_live(a);
    expect("without the free mark");
}

TEST(free_count_that_disagrees_with_the_list_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    slab_of(a)->free_count++;
    expect("free_count does not match the free list");
}

TEST(used_count_that_disagrees_with_the_blocks_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    slab_of(a)->used++;
    expect("used is");
}

TEST(carved_bytes_past_the_limit_are_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    struct slab *s = slab_of(a);
    s->carved = s->limit + 64;
    expect("geometry");
}

TEST(block_size_that_disagrees_with_the_class_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    slab_of(a)->block_size += 16;
    expect("class and block size disagree");
}

TEST(bin_offset_that_is_not_the_classs_bin_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    slab_of(a)->bin_off += sizeof(struct cache_bin); /* the next class's bin */
    expect("bin offset is not its class's bin");
}

TEST(owned_slab_on_none_of_its_owners_lists_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    h->partial[s->cls].head = NULL;
    h->partial[s->cls].count = 0;
    expect("on none of its owner's lists");
}

TEST(slab_list_count_that_disagrees_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    ((struct heap *)slab_owner(s))->partial[s->cls].count++;
    expect("partial list holds");
}

TEST(slab_whose_owner_field_names_another_heap_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    slab_set_owner(s, SLAB_OWNER_ORPHAN);
    expect("has another owner, class, list state or back link");
}

TEST(notified_count_that_disagrees_is_reported)
{
    void *p = kept_malloc(64);
    ((struct heap *)slab_owner(slab_of(p)))->notified_count++;
    expect("slabs are marked notified, its count says");
}

TEST(slab_marked_notified_but_not_on_the_pending_stack_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    s->notified = 1;
    ((struct heap *)slab_owner(s))->notified_count++;
    expect("marked notified but is not on the pending stack");
}

TEST(pending_stack_with_a_slab_of_another_owner_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    slab_set_owner(s, SLAB_OWNER_ORPHAN);
    h->pending = s;
    expect("pending stack holds slab");
}

TEST(slab_twice_on_the_pending_stack_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    slab_remote(s)->pending_next = s;
    h->pending = s;
    expect("twice on its owner's pending stack");
}

TEST(armed_slab_off_the_full_list_is_reported)
{
    void *p = kept_malloc(64);
    slab_remote(slab_of(p))->queue |= REMOTE_ARMED;
    expect("slab off the full list is still armed");
}

TEST(notification_left_in_flight_is_reported)
{
    void *p = kept_malloc(64);
    slab_remote(slab_of(p))->queue |= REMOTE_NOTIFYING;
    expect("still says NOTIFYING");
}

TEST(parked_full_slab_neither_armed_nor_pending_is_reported)
{
    struct slab *full = parked_full_slab();
    CHECK(check_capturing() == 0);
    slab_remote(full)->queue &= ~REMOTE_ARMED;
    expect("neither armed nor on the pending stack");
}

TEST(thread_cache_count_that_disagrees_is_reported)
{
    void *p = kept_malloc(64);
    hak_free(p); /* into this thread's cache */
    hk_thread_cache.bins[size_class_of(64)].room--;
    expect("thread cache holds");
}

TEST(thread_cache_holding_a_block_of_another_class_is_reported)
{
    void *p = kept_malloc(48);
    void *q = kept_malloc(64); /* goes into the 48-byte bin below */
    hak_free(p);
    struct cache_bin *b = &hk_thread_cache.bins[size_class_of(48)];
    block_mark_free(q);
    block_set_next(q, b->head);
    b->head = q;
    b->room--;
    expect("a thread cache holds a block of a slab of another owner or class");
}

TEST(thread_cache_holding_memory_outside_every_slab_is_reported)
{
    static uint64_t outside[4];
    hak_free(kept_malloc(64));
    struct cache_bin *b = &hk_thread_cache.bins[size_class_of(64)];
    block_set_next(outside, b->head);
    b->head = outside;
    b->room--;
    expect("which is in no slab segment");
}

TEST(counters_that_disagree_with_the_slabs_are_reported)
{
    void *p = kept_malloc(64);
    ((struct heap *)slab_owner(slab_of(p)))->counters[size_class_of(64)].refilled += 3;
    expect("the counters say");
}

TEST(heap_of_a_thread_that_no_longer_exists_is_reported)
{
    void *p = kept_malloc(64);
    ((struct heap *)slab_owner(slab_of(p)))->tid = 0x3fffffff; /* beyond pid_max */
    expect("which no longer exists");
}

TEST(pooled_slab_not_reset_is_reported)
{
    /* A 512 KiB-slab class leaves the other slabs of its segment in the pool. */
    void *p = kept_malloc(20000);
    struct slab_segment *seg = slab_segment_of(p);
    struct slab *pooled = NULL;
    for (unsigned i = 0; i < seg->nslabs && pooled == NULL; i++)
        if (slab_owner(&seg->slabs[i]) == SLAB_OWNER_FREE)
            pooled = &seg->slabs[i];
    CHECK(pooled != NULL);
    pooled->used = 3;
    expect("pooled slab");
}

TEST(pool_free_mask_that_disagrees_with_the_owners_is_reported)
{
    void *p = kept_malloc(20000);
    struct slab_segment *seg = slab_segment_of(p);
    seg->free_mask ^= 1ull << slab_index(slab_of(p));
    expect("the pool's free mask but its owner is");
}

TEST(segment_whose_map_entry_names_another_kind_is_reported)
{
    void *p = kept_malloc(64);
    hk_segment_map_set((uintptr_t)slab_segment_of(p), HAK_MAP_PAGE_RUN);
    expect("ownership map says kind");
}

TEST(map_entry_for_a_segment_hakmem_does_not_hold_is_reported)
{
    hak_free(kept_malloc(64));
    static char somewhere[1];
    hk_segment_map_set((uintptr_t)somewhere, HAK_MAP_SLAB_SMALL);
    expect("ownership map marks");
}

TEST(mapped_bytes_nothing_explains_are_reported)
{
    hak_free(kept_malloc(64));
    hk_segment_note_mapped(4096);
    expect("bytes are mapped, but");
}

TEST(held_list_naming_a_block_twice_is_reported)
{
    void *p = kept_malloc(64);
    void *held[] = {p, p};
    test_skip_heap_check();
    CHECK(hak_debug_check_quiescent(held, 2) > 0);
    hak_free(p);
}

/* ---- slabs and heaps, beyond the cases above ---- */

static struct slab_segment *segment_with_pooled_slabs(void)
{
    void *p = kept_malloc(20000); /* a 512 KiB-slab class: the segment's other slabs are pooled */
    struct slab_segment *seg = slab_segment_of(p);
    CHECK(seg->free_slabs > 0);
    return seg;
}

TEST(heap_list_pointing_outside_every_slab_segment_is_reported)
{
    static struct slab fake[2];
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    h->full[s->cls].head = &fake[1];
    h->full[s->cls].count = 1;
    expect("which is in no slab segment");
}

TEST(slab_on_its_owners_list_twice_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    struct slab *first = h->partial[s->cls].head;
    CHECK(first == s && s->next == NULL);
    s->next = s; /* the list runs through s twice: its count is then short too */
    h->partial[s->cls].count = 2;
    expect("slab on a heap's partial list has another owner");
}

TEST(block_in_a_free_list_and_a_remote_queue_at_once_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    struct slab *s = slab_of(a);
    remote_queue_t *q = &slab_remote(s)->queue;
    uintptr_t word = __atomic_load_n(q, __ATOMIC_RELAXED);
    CHECK(remote_queue_chain(word) == NULL);
    void *b = kept_malloc(64); /* a live block, put on the queue with a's next link */
    block_mark_free(b);
    block_set_next(b, a);
    *q = remote_queue_count_plus(0, 2) | (word & REMOTE_BITS) | (uintptr_t)b;
    expect("block appears twice");
}

TEST(remote_queue_count_that_disagrees_with_its_chain_is_reported)
{
    void *keep = kept_malloc(64);
    void *b = kept_malloc(64);
    struct slab *s = slab_of(b);
    block_mark_free(b);
    block_set_next(b, NULL);
    remote_queue_t *q = &slab_remote(s)->queue;
    *q = remote_queue_count_plus(0, 3) | (*q & REMOTE_BITS) | (uintptr_t)b;
    (void)keep;
    expect("remote queue holds 1 blocks, its count says 3");
}

TEST(many_lost_blocks_are_counted_in_one_line)
{
    void *held[8];
    for (int i = 0; i < 8; i++)
        held[i] = kept_malloc(96);
    expect_held("blocks lost in all", held, 2); /* six of them are not in the program's hands */
}

TEST(more_blocks_cached_than_handed_out_is_reported)
{
    void *keep = kept_malloc(64), *a = kept_malloc(64);
    hak_free(a); /* into this thread's cache */
    slab_of(a)->used = 0;
    (void)keep;
    expect("more blocks cached or queued than the slab has handed out");
}

TEST(remote_batch_without_a_slab_holding_blocks_is_reported)
{
    void *p = kept_malloc(64);
    struct remote_batch *rb = &hk_thread_cache.batch[size_class_of(64)];
    CHECK(rb->slab == NULL);
    rb->head = rb->tail = p;
    rb->count = 1;
    expect("an empty remote-free batch holds");
}

TEST(remote_batch_for_a_slab_not_marked_batched_is_reported)
{
    void *p = kept_malloc(64);
    struct remote_batch *rb = &hk_thread_cache.batch[size_class_of(64)];
    rb->slab = slab_of(p);
    block_mark_free(p);
    block_set_next(p, NULL);
    rb->head = rb->tail = p;
    rb->count = 1;
    expect("which is not marked as batched");
}

TEST(remote_batch_whose_count_disagrees_is_reported)
{
    void *p = kept_malloc(64);
    unsigned k = size_class_of(64);
    struct remote_batch *rb = &hk_thread_cache.batch[k];
    rb->slab = slab_of(p);
    hk_thread_cache.batched |= 1ull << k;
    block_mark_free(p);
    block_set_next(p, NULL);
    rb->head = rb->tail = p;
    rb->count = 2;
    expect("remote-free batch does not match its count or tail");
}

TEST(thread_cache_holding_a_cycle_is_reported)
{
    void *p = kept_malloc(64), *q = kept_malloc(64);
    hak_free(p);
    hak_free(q);
    struct cache_bin *b = &hk_thread_cache.bins[size_class_of(64)];
    CHECK(b->head == q && block_next(q) == p);
    block_set_next(p, q);
    expect("block appears twice");
}

TEST(orphaned_slab_with_notification_bits_is_reported)
{
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    struct heap *h = (struct heap *)slab_owner(s);
    h->partial[s->cls].head = NULL;
    h->partial[s->cls].count = 0;
    slab_set_owner(s, SLAB_OWNER_ORPHAN);
    s->list = SLAB_LIST_ORPHAN;
    slab_remote(s)->queue |= REMOTE_ARMED;
    expect("orphaned slab is not on the orphan list");
    CHECK(strstr(report, "orphaned slab's remote queue carries notification bits") != NULL);
}

TEST(more_violations_than_the_report_limit_are_counted)
{
    static char nowhere[60];
    void *held[60];
    for (int i = 0; i < 60; i++)
        held[i] = &nowhere[i]; /* none of them a block */
    expect_held("60 violations in all", held, 60);
}

TEST(slab_whose_start_offset_is_not_its_slab_start_is_reported)
{
    /* Moved down by one block, its limit recomputed to match: only the start itself is wrong. */
    void *p = kept_malloc(64);
    struct slab *s = slab_of(p);
    uint32_t slab_bytes = (uint32_t)(slab_limit(s) - (char *)slab_segment_of(s));
    s->start_off += s->block_size;
    s->limit = (slab_bytes - s->start_off) / s->block_size * s->block_size;
    if (s->carved > s->limit)
        s->carved = s->limit;
    expect("geometry");
}

TEST(slab_whose_blocks_run_past_its_end_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->limit += slab_of(p)->block_size;
    expect("geometry");
}

TEST(free_list_pointer_into_another_segment_is_reported)
{
    static uint64_t elsewhere[4];
    void *keep;
    void *a = freed_block(64, &keep);
    block_set_next(a, &elsewhere[2]);
    expect("pointer outside the carved blocks in the free list");
}

TEST(free_list_pointer_before_the_slabs_first_block_is_reported)
{
    void *keep;
    void *a = freed_block(64, &keep);
    block_set_next(a, (char *)slab_segment_of(a) + 64); /* the segment header */
    expect("pointer outside the carved blocks in the free list");
}

TEST(carved_bytes_that_are_not_whole_blocks_are_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->carved += 1;
    expect("geometry");
}

TEST(slab_listed_under_another_class_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->cls = (uint16_t)hak_size_class(4096);
    expect("slab on a heap's partial list has another owner, class");
}

TEST(slab_with_a_wrong_limit_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->limit -= 64;
    expect("geometry");
}

TEST(slab_with_a_wrong_block_start_magic_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->magic += 1;
    expect("geometry");
}

TEST(slab_of_a_class_beyond_the_table_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->cls = 250; /* still on its list: the class bound itself must catch it */
    expect("class and block size disagree");
}

TEST(slab_on_a_list_with_the_wrong_list_state_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->list = SLAB_LIST_FULL;
    expect("slab on a heap's partial list has another owner, class, list state");
}

TEST(slab_with_a_wrong_back_link_is_reported)
{
    void *p = kept_malloc(64);
    slab_of(p)->prev = slab_of(p);
    expect("back link");
}

TEST(slab_on_both_of_its_owners_lists_is_reported)
{
    /* Full of 4 KiB blocks, then also listed as partial. */
    struct slab *full = parked_full_slab();
    struct heap *h = (struct heap *)slab_owner(full);
    struct slab *tail = h->partial[full->cls].head;
    CHECK(tail != NULL);
    while (tail->next != NULL)
        tail = tail->next;
    tail->next = full; /* its back link names the full list's neighbour: reported either way */
    h->partial[full->cls].count++;
    expect("slab is on two lists");
}

TEST(pending_stack_with_a_slab_outside_every_segment_is_reported)
{
    static struct slab fake[2];
    void *p = kept_malloc(64);
    ((struct heap *)slab_owner(slab_of(p)))->pending = &fake[1];
    expect("pending stack holds slab");
}

TEST(parked_slab_both_armed_and_pending_is_reported)
{
    struct slab *full = parked_full_slab();
    struct heap *h = (struct heap *)slab_owner(full);
    slab_remote(full)->pending_next = h->pending;
    h->pending = full;
    expect("armed and on the pending stack at once");
}

TEST(thread_cache_longer_than_its_capacity_is_reported)
{
    void *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = kept_malloc(64);
    for (int i = 0; i < 4; i++)
        hak_free(p[i]);
    hk_thread_cache.bins[size_class_of(64)].cap = 1;
    expect("thread cache holds more than its capacity 1");
}

TEST(empty_remote_batch_with_a_count_is_reported)
{
    hak_free(kept_malloc(64));
    hk_thread_cache.batch[size_class_of(64)].count = 5;
    expect("an empty remote-free batch holds (nil) (count 5)");
}

/* A remote-free batch of one block of p's slab, filed under class k. */
static struct remote_batch *batch_of_one(void *p, unsigned k, struct slab *s)
{
    struct remote_batch *rb = &hk_thread_cache.batch[k];
    rb->slab = s;
    hk_thread_cache.batched |= 1ull << k;
    block_mark_free(p);
    block_set_next(p, NULL);
    rb->head = rb->tail = p;
    rb->count = 1;
    return rb;
}

TEST(remote_batch_over_its_class_byte_bound_is_reported)
{
    /* 1 KiB blocks: REMOTE_BATCH_BYTES holds 4 of them, this batch 5. */
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = kept_malloc(1024);
    unsigned k = size_class_of(1024); /* after the first allocation: the tables exist */
    CHECK(hk_class_info[k].remote_batch < 5);
    struct remote_batch *rb = batch_of_one(p[4], k, slab_of(p[4]));
    for (int i = 3; i >= 0; i--) {
        CHECK(slab_of(p[i]) == rb->slab);
        block_mark_free(p[i]);
        block_set_next(p[i], rb->head);
        rb->head = p[i];
        rb->count++;
    }
    expect("remote-free batch holds more than its class's bound");
}

TEST(remote_batch_for_a_slab_of_another_class_is_reported)
{
    void *p = kept_malloc(64);
    batch_of_one(p, size_class_of(64) + 1, slab_of(p));
    expect("which is of another class");
}

TEST(remote_batch_for_a_pooled_slab_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    unsigned i = (unsigned)__builtin_ctzll(seg->free_mask);
    void *p = kept_malloc(64);
    batch_of_one(p, size_class_of(64), &seg->slabs[i]);
    expect("which is pooled");
}

TEST(remote_batch_for_memory_outside_every_segment_is_reported)
{
    static struct slab fake[2];
    void *p = kept_malloc(64);
    batch_of_one(p, size_class_of(64), &fake[1]);
    expect("which is in no slab segment");
}

TEST(remote_batch_whose_tail_is_not_its_end_is_reported)
{
    void *p = kept_malloc(64), *q = kept_malloc(64);
    struct remote_batch *rb = batch_of_one(p, size_class_of(64), slab_of(p));
    block_set_next(p, q);
    block_mark_free(q);
    block_set_next(q, NULL);
    rb->count = 2; /* the count is right, the tail is not */
    expect("remote-free batch does not match its count or tail");
}

TEST(pooled_slab_on_a_heap_list_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    struct slab *pooled = &seg->slabs[__builtin_ctzll(seg->free_mask)];
    void *p = kept_malloc(64);
    struct heap *h = (struct heap *)slab_owner(slab_of(p));
    h->full[pooled->cls].head = pooled;
    h->full[pooled->cls].count = 1;
    expect("pooled slab is still on a heap or orphan list");
}

/* ---- orphaned slabs (a thread that exited holding blocks) ---- */

static void *orphan_block;

static void *leave_a_block(void *arg)
{
    (void)arg;
    orphan_block = hak_malloc(64);
    return NULL;
}

static struct slab *orphaned_slab(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, leave_a_block, NULL) == 0);
    pthread_join(t, NULL);
    kept[nkept++ % 64] = orphan_block;
    struct slab *s = slab_of(orphan_block);
    CHECK(slab_owner(s) == SLAB_OWNER_ORPHAN && s->list == SLAB_LIST_ORPHAN);
    CHECK(check_capturing() == 0);
    return s;
}

TEST(orphaned_slab_also_on_a_heap_list_is_reported)
{
    struct slab *s = orphaned_slab();
    void *p = kept_malloc(1000); /* another class: the orphan is not adopted */
    struct heap *h = (struct heap *)slab_owner(slab_of(p));
    s->prev = NULL;
    s->next = NULL;
    h->full[s->cls].head = s;
    h->full[s->cls].count = 1;
    expect("slab on a heap's full list has another owner");
    CHECK(strstr(report, "slab is on two lists") != NULL);
}

TEST(orphan_list_entry_with_an_owner_is_reported)
{
    struct slab *s = orphaned_slab();
    void *p = kept_malloc(1000); /* another class: the orphan is not adopted */
    slab_set_owner(s, slab_owner(slab_of(p)));
    expect("holds slab");
}

TEST(orphan_list_entry_of_another_class_is_reported)
{
    orphaned_slab()->cls += 1;
    expect("holds slab");
}

TEST(orphan_list_entry_with_the_wrong_list_state_is_reported)
{
    orphaned_slab()->list = SLAB_LIST_PARTIAL;
    expect("holds slab");
}

TEST(orphan_list_entry_with_a_wrong_back_link_is_reported)
{
    struct slab *s = orphaned_slab();
    s->prev = s;
    expect("broken back link at slab");
}

/* ---- the slab pool ---- */

TEST(pooled_slab_with_a_remote_queue_word_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    unsigned i = (unsigned)__builtin_ctzll(seg->free_mask);
    seg->remote[i].queue = REMOTE_ARMED;
    expect("has a remote queue word");
}

TEST(pooled_slab_count_that_disagrees_is_reported)
{
    segment_with_pooled_slabs()->free_slabs++;
    expect("slabs are pooled, its count says");
}

TEST(free_mask_bit_past_the_segments_slabs_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    seg->free_mask |= 1ull << 63;
    expect("free mask has bit 63 past its");
}

TEST(segment_with_a_wrong_slab_count_is_reported)
{
    segment_with_pooled_slabs()->nslabs--;
    expect("has slab shift");
}

TEST(pool_listed_segment_with_no_free_slab_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    seg->free_slabs = 0;
    expect("is listed with no free slab");
}

TEST(pooled_slab_with_a_free_list_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    seg->slabs[__builtin_ctzll(seg->free_mask)].free_count = 2;
    expect("was not reset");
}

TEST(segment_in_the_wrong_slab_pool_is_reported)
{
    segment_with_pooled_slabs()->slab_shift++;
    expect("has slab shift");
}

TEST(broken_back_link_in_the_segment_list_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    seg->all_prev = seg;
    expect("slab segments: broken back link");
}

TEST(broken_back_link_in_the_pool_list_is_reported)
{
    struct slab_segment *seg = segment_with_pooled_slabs();
    seg->pool_prev = seg;
    expect("slab pool: broken back link");
}

/* ---- page runs ---- */

static struct run_segment *run_segment_of(void *p)
{
    return (struct run_segment *)((uintptr_t)p & ~HAK_SEGMENT_MASK);
}

static size_t run_page_of(void *p) { return ((uintptr_t)p & HAK_SEGMENT_MASK) >> HAK_PAGE_SHIFT; }

TEST(page_run_segment_whose_map_entry_names_another_kind_is_reported)
{
    void *p = kept_malloc(100 << 10);
    hk_segment_map_set((uintptr_t)run_segment_of(p), HAK_MAP_LARGE);
    expect("page-run segment");
    CHECK(strstr(report, "ownership map says kind 1") != NULL);
}

TEST(page_run_segment_naming_another_arena_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->arena += 1;
    expect("is listed in arena");
}

TEST(page_run_header_page_with_a_mark_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->pages[0].head = RUN_USED;
    expect("header page 0 carries a run mark");
}

TEST(page_run_start_without_its_mark_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->pages[run_page_of(p)].head = RUN_NONE;
    expect("no run starts at page");
}

TEST(page_run_end_mark_that_disagrees_is_reported)
{
    void *p = kept_malloc(100 << 10);
    struct run_page *first = &run_segment_of(p)->pages[run_page_of(p)];
    first[first->len - 1].tail = RUN_FREE;
    expect("ends with mark");
}

TEST(page_inside_a_run_with_a_mark_is_reported)
{
    void *p = kept_malloc(100 << 10);
    struct run_page *first = &run_segment_of(p)->pages[run_page_of(p)];
    CHECK(first->len >= 3);
    first[1].head = RUN_USED;
    expect("carries a mark");
}

TEST(broken_back_link_in_an_arenas_segment_list_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->prev = run_segment_of(p);
    expect("broken back link at segment");
}

TEST(cached_segment_whose_map_entry_is_not_idle_is_reported)
{
    /* Runs over three segments, all freed: the arena keeps one wholly free segment and gives
     * the others to the segment cache. */
    enum { RUNS = 3 * (HAK_SEGMENT_SIZE / (600 << 10)) + 3 };
    void *runs[RUNS];
    for (int i = 0; i < RUNS; i++)
        runs[i] = hak_malloc(600 << 10);
    for (int i = 0; i < RUNS; i++)
        hak_free(runs[i]);
    uintptr_t cached = 0;
    for (int i = 0; i < RUNS && cached == 0; i++)
        if (segment_map_kind((uintptr_t)run_segment_of(runs[i])) == HAK_MAP_IDLE)
            cached = (uintptr_t)run_segment_of(runs[i]);
    CHECK(cached != 0);
    hk_segment_map_set(cached, HAK_MAP_LARGE);
    expect("cached segment");
}

TEST(page_run_of_length_zero_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->pages[run_page_of(p)].len = 0;
    expect("no run starts at page");
}

TEST(page_run_longer_than_its_segment_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->pages[run_page_of(p)].len = RUN_SEGMENT_PAGES;
    expect("no run starts at page");
}

TEST(page_run_whose_end_names_another_length_is_reported)
{
    void *p = kept_malloc(100 << 10);
    struct run_page *first = &run_segment_of(p)->pages[run_page_of(p)];
    first[first->len - 1].len += 1;
    expect("ends with mark");
}

TEST(page_inside_a_run_with_an_end_mark_is_reported)
{
    void *p = kept_malloc(100 << 10);
    struct run_page *first = &run_segment_of(p)->pages[run_page_of(p)];
    first[1].tail = RUN_USED;
    expect("carries a mark");
}

/* A free run in its arena's bin (freed between two live runs, so it does not coalesce). */
static struct run_page *binned_free_run(void)
{
    void *a = kept_malloc(100 << 10), *b = kept_malloc(100 << 10), *c = kept_malloc(100 << 10);
    (void)a, (void)c;
    hak_free(b);
    struct run_page *pg = &run_segment_of(b)->pages[run_page_of(b)];
    CHECK(pg->head == RUN_FREE);
    CHECK(check_capturing() == 0);
    return pg;
}

TEST(binned_free_run_with_a_wrong_back_link_is_reported)
{
    struct run_page *pg = binned_free_run();
    pg->prev = pg;
    expect("holds page");
}

TEST(binned_free_run_marked_used_is_reported)
{
    struct run_page *pg = binned_free_run();
    pg->head = pg[pg->len - 1].tail = RUN_USED;
    expect("holds page");
}

TEST(free_page_count_that_disagrees_is_reported)
{
    void *p = kept_malloc(100 << 10);
    run_segment_of(p)->free_pages += 1;
    expect("pages in free runs, its count says");
}

TEST(free_runs_left_uncoalesced_are_reported)
{
    /* Two neighbouring runs; the second is made to look free beside the free first one. */
    void *a = kept_malloc(100 << 10), *b = kept_malloc(100 << 10);
    void *guard = kept_malloc(100 << 10); /* keeps a free run from forming after b */
    (void)guard;
    struct run_segment *seg = run_segment_of(a);
    CHECK(run_segment_of(b) == seg &&
          run_page_of(b) == run_page_of(a) + seg->pages[run_page_of(a)].len);
    hak_free(a);
    struct run_page *pb = &seg->pages[run_page_of(b)];
    pb->head = pb[pb->len - 1].tail = RUN_FREE;
    expect("touches the free run before it");
}

/* ---- Large blocks and the program's held list ---- */

TEST(large_block_the_program_does_not_hold_is_reported)
{
    void *p = kept_malloc(8 << 20);
    void *small = kept_malloc(64);
    void *held[] = {small};
    expect_held("is live but the program does not hold it", held, 1);
    CHECK(strstr(report, "Large block") != NULL);
    (void)p;
}

TEST(large_block_whose_map_entry_is_wrong_is_reported)
{
    void *p = kept_malloc(8 << 20);
    hk_segment_map_set((uintptr_t)p, HAK_MAP_IDLE);
    expect("Large block");
    CHECK(strstr(report, "ownership map says kind 3") != NULL);
}

#ifndef NDEBUG /* the Large tier's debug view is not in release builds */
/* A live Large block, and a cached range (a freed block) beside it. */
static struct hk_large_debug_view large_damage(void **live, void **freed)
{
    *freed = hak_malloc(8 << 20);
    *live = kept_malloc(8 << 20);
    hak_free(*freed);
    struct hk_large_debug_view v;
    hk_large_debug_view(*live, *freed, &v);
    CHECK(v.block_size != NULL && v.range_addr != NULL);
    CHECK(check_capturing() == 0);
    return v;
}

TEST(large_block_of_no_whole_pages_is_reported)
{
    void *live, *freed;
    *large_damage(&live, &freed).block_size += 1;
    expect("not whole pages");
    CHECK(strstr(report, "its counters say") != NULL); /* and the bytes no longer add up */
}

TEST(large_live_bytes_counter_that_disagrees_is_reported)
{
    void *live, *freed;
    *large_damage(&live, &freed).live_bytes += 4096;
    expect("Large registry holds");
}

TEST(large_cached_range_of_no_whole_pages_is_reported)
{
    void *live, *freed;
    *large_damage(&live, &freed).range_size += 1;
    expect("is not whole pages");
    CHECK(strstr(report, "Large cache holds") != NULL);
    CHECK(strstr(report, "mapped bytes, but live blocks") != NULL);
}

TEST(large_cached_range_over_a_live_block_is_reported)
{
    void *live, *freed;
    struct hk_large_debug_view v = large_damage(&live, &freed);
    *v.range_addr = (uintptr_t)live;
    expect("overlaps live block");
}

TEST(large_cached_ranges_that_overlap_are_reported)
{
    /* Two freed blocks with a live one between them: two cached ranges. */
    void *first = hak_malloc(8 << 20), *between = kept_malloc(8 << 20),
         *second = hak_malloc(8 << 20);
    hak_free(first);
    hak_free(second);
    struct hk_large_debug_view a, b;
    hk_large_debug_view(between, first, &a);
    hk_large_debug_view(between, second, &b);
    CHECK(a.range_addr != NULL && b.range_addr != NULL && a.range_addr != b.range_addr);
    CHECK(check_capturing() == 0);
    *b.range_addr = *a.range_addr;
    expect("Large cache ranges");
}

TEST(large_cache_bytes_counter_that_disagrees_is_reported)
{
    void *live, *freed;
    *large_damage(&live, &freed).cache_bytes -= 4096;
    expect("Large cache holds");
}

#endif

TEST(held_block_that_is_not_live_is_reported)
{
    void *p = kept_malloc(64), *q = kept_malloc(64);
    hak_free(q);
    void *held[] = {p, q};
    expect_held("but it is not a live block", held, 2);
}
