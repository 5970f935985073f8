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
#include "segment.h"
#include "segment_map.h"
#include "slab.h"
#include "test.h"

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

/* Run the check with stderr captured into report[]; returns its error count. */
static int check_capturing(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    int saved = dup(2);
    dup2(fds[1], 2);
    int errors = hak_debug_check_heap();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], report, sizeof report - 1);
    report[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    return errors;
}

/* The checker must fail and say `what`. */
static void expect(const char *what)
{
    test_skip_heap_check(); /* the damage stays: the case's process ends with it */
    int errors = check_capturing();
    CHECKF(errors > 0 && strstr(report, what) != NULL, "%d error(s); wanted \"%s\"; report: %s",
           errors, what, report);
}

static struct slab *slab_of(void *p)
{
    uintptr_t a = (uintptr_t)p;
    return slab_of_address(a, segment_map_kind(a));
}

/* A block of class `size` handed back to its slab's free list (a flushed cache). */
static void *freed_block(size_t size, void **keep)
{
    void *a = kept_malloc(size);
    *keep = kept_malloc(size); /* keeps the slab from being released */
    hak_free(a);
    hak_thread_flush();
    return a;
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
    /* 4 KiB blocks: a 64 KiB slab fills after 15 or 16 of them and is parked full, armed. */
    void *held[64];
    for (int i = 0; i < 64; i++)
        held[i] = kept_malloc(4096);
    struct slab *full = NULL;
    for (int i = 0; i < 64 && full == NULL; i++)
        if (slab_of(held[i])->list == SLAB_LIST_FULL)
            full = slab_of(held[i]);
    CHECK(full != NULL);
    CHECK(check_capturing() == 0);
    slab_remote(full)->queue &= ~REMOTE_ARMED;
    expect("neither armed nor on the pending stack");
}

TEST(thread_cache_count_that_disagrees_is_reported)
{
    void *p = kept_malloc(64);
    hak_free(p); /* into this thread's cache */
    hak_thread_cache.bins[size_class_of(64)].room--;
    expect("thread cache holds");
}

TEST(thread_cache_holding_a_block_of_another_class_is_reported)
{
    void *p = kept_malloc(48);
    void *q = kept_malloc(64); /* goes into the 48-byte bin below */
    hak_free(p);
    struct cache_bin *b = &hak_thread_cache.bins[size_class_of(48)];
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
    struct cache_bin *b = &hak_thread_cache.bins[size_class_of(64)];
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
    segment_map_set((uintptr_t)slab_segment_of(p), HAK_MAP_PAGE_RUN);
    expect("ownership map says kind");
}

TEST(map_entry_for_a_segment_hakmem_does_not_hold_is_reported)
{
    hak_free(kept_malloc(64));
    static char somewhere[1];
    segment_map_set((uintptr_t)somewhere, HAK_MAP_SLAB_SMALL);
    expect("ownership map marks");
}

TEST(mapped_bytes_nothing_explains_are_reported)
{
    hak_free(kept_malloc(64));
    segment_note_mapped(4096);
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
