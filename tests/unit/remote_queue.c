/* Remote-free queue: whole-chain take, the arm/notify protocol, and no loss under contention. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "remote_queue.h"
#include "test.h"

struct node {
    void *link;
    uint64_t tag;
};

/* Nodes are hakmem blocks: in the Valgrind variant the queue's link accessors treat whatever
 * they link as free block memory. Kept referenced so nothing reads as leaked. */
static struct node *nodes[8];

static struct node *node(int i)
{
    test_keeps_blocks(); /* queued by hand, so the heap sees them as live */
    if (nodes[i] == NULL)
        nodes[i] = hak_malloc(sizeof(struct node));
    return nodes[i];
}

TEST(take_detaches_the_whole_chain_in_lifo_order_and_counts_it)
{
    remote_queue_t q = 0;
    uint32_t n = 99;
    CHECK(remote_queue_take(&q, &n) == NULL && n == 0);
    for (int i = 0; i < 4; i++)
        CHECK(!remote_queue_push(&q, node(i)));
    CHECK(remote_queue_nonempty(&q));
    CHECK(remote_queue_count(q) == 4);
    struct node *chain = remote_queue_take(&q, &n);
    CHECK(chain == node(3));
    CHECK(n == 4);
    CHECK(!remote_queue_nonempty(&q));
    CHECK(q == 0); /* the count goes with the chain */
    CHECK(remote_queue_take(&q, &n) == NULL && n == 0);
    uint32_t count = 0;
    for (struct node *p = chain; p; p = block_next(p))
        count++;
    CHECK(count == 4);
}

TEST(arm_succeeds_only_on_an_idle_empty_queue)
{
    remote_queue_t q = 0;
    CHECK(remote_queue_arm(&q));
    CHECK(!remote_queue_arm(&q)); /* already armed */
    CHECK(remote_queue_disarm(&q));
    CHECK(q == 0);
    remote_queue_push(&q, node(0));
    CHECK(!remote_queue_arm(&q)); /* not empty */
}

TEST(first_push_after_arm_must_notify_and_later_pushes_must_not)
{
    remote_queue_t q = 0;
    CHECK(remote_queue_arm(&q));
    CHECK(remote_queue_push(&q, node(0))); /* consumed the arm */
    CHECK((q & REMOTE_NOTIFYING) != 0);
    CHECK(!remote_queue_push(&q, node(1))); /* keeps NOTIFYING, no second notification */
    remote_queue_notify_done(&q);
    CHECK((q & REMOTE_BITS) == 0);
    CHECK(!remote_queue_disarm(&q)); /* the arm was consumed */
    uint32_t n;
    CHECK(remote_queue_take(&q, &n) == node(1) && n == 2);
}

TEST(take_keeps_the_notification_bits)
{
    remote_queue_t q = 0;
    CHECK(remote_queue_arm(&q));
    CHECK(remote_queue_push(&q, node(0)));
    uint32_t n;
    CHECK(remote_queue_take(&q, &n) == node(0) && n == 1);
    CHECK(q == REMOTE_NOTIFYING);
    remote_queue_notify_done(&q);
    CHECK(q == 0);
}

#define PRODUCERS 4
#define PER_PRODUCER 200000

static remote_queue_t shared_q;
static struct node **pool;
static int done_producers;

static void *producer(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        struct node *n = pool[id * PER_PRODUCER + (size_t)i];
        n->tag = id * PER_PRODUCER + (size_t)i;
        remote_queue_push(&shared_q, n);
    }
    __atomic_fetch_add(&done_producers, 1, __ATOMIC_RELEASE);
    return NULL;
}

TEST(concurrent_pushes_are_each_taken_exactly_once)
{
    size_t total = (size_t)PRODUCERS * PER_PRODUCER;
    pool = calloc(total, sizeof *pool);
    for (size_t i = 0; i < total; i++)
        pool[i] = hak_malloc(sizeof(struct node));
    unsigned char *seen = calloc(total, 1);
    pthread_t t[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, (void *)i);
    size_t taken = 0;
    for (;;) {
        int finished = __atomic_load_n(&done_producers, __ATOMIC_ACQUIRE) == PRODUCERS;
        uint32_t n, len = 0;
        for (struct node *p = remote_queue_take(&shared_q, &n); p; p = block_next(p)) {
            CHECKF(p->tag < total && !seen[p->tag], "node %llu taken twice or corrupt",
                   (unsigned long long)p->tag);
            seen[p->tag] = 1;
            taken++;
            len++;
        }
        /* The count is 16 bits wide (more than any slab's blocks): here it counts modulo 2^16. */
        CHECKF(n == len % 65536, "took a chain of %u nodes whose count says %u", len, n);
        if (finished && !remote_queue_nonempty(&shared_q))
            break;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    CHECKF(taken == total, "took %zu of %zu", taken, total);
    for (size_t i = 0; i < total; i++)
        hak_free(pool[i]);
    free(seen);
}
