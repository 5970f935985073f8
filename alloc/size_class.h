/* size_class.h — the size-class table of the Tiny and Mid tiers.
 *
 * Owns: the mapping request size -> class, and per-class block size, thread-cache capacity, refill
 * batch and slab kind. Promises: block_size(class_of(n)) >= n for every n <= HAK_MID_MAX; block
 * sizes are multiples of 16; the tables are filled by hk_size_class_init()
 * before any thread cache holds a block, so a lookup before initialization only ever reaches an
 * empty cache bin. Must never: allocate or depend on other allocator modules. */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include "config.h"
#include "hakmem.h"

#define HAK_CLASS_COUNT HAK_NUM_CLASSES
#define HAK_TINY_TABLE_LEN ((HAK_TINY_MAX >> 4) + 1)
#define HAK_MID_TABLE_LEN ((HAK_MID_MAX >> 7) + 1)

/* Remote frees a thread holds back per class: blocks that neither their owner nor anyone else can
 * use meanwhile, so the bound is in bytes (the owner carves fresh blocks in their place). */
#define REMOTE_BATCH_BYTES 4096u
#define REMOTE_BATCH_MAX 64u

struct size_class_info {
    uint32_t block_size;
    uint16_t cache_cap;   /* thread-cache bin capacity before a flush */
    uint16_t batch;       /* blocks moved per refill (at most) / kept per flush */
    uint8_t remote_batch; /* remote frees held back per compare-and-swap (REMOTE_BATCH_BYTES) */
    uint8_t slab_shift;   /* HAK_SMALL_SLAB_SHIFT or HAK_MEDIUM_SLAB_SHIFT */
};

extern uint8_t hk_class_tiny_table[HAK_TINY_TABLE_LEN] HAK_HIDDEN;
extern uint8_t hk_class_mid_table[HAK_MID_TABLE_LEN] HAK_HIDDEN;
extern struct size_class_info hk_class_info[HAK_CLASS_COUNT] HAK_HIDDEN;

HAK_HIDDEN void hk_size_class_init(void);

/* Class of a request of n bytes, n <= HAK_MID_MAX. The loads are atomic (plain byte loads on
 * x86) because a thread without a heap may look a class up while another initializes. */
HAK_INLINE unsigned size_class_of(size_t n)
{
    if (HAK_LIKELY(n <= HAK_TINY_MAX))
        return __atomic_load_n(&hk_class_tiny_table[(n + 15) >> 4], __ATOMIC_RELAXED);
    return __atomic_load_n(&hk_class_mid_table[(n + 127) >> 7], __ATOMIC_RELAXED);
}

HAK_INLINE size_t size_class_block_size(unsigned cls) { return hk_class_info[cls].block_size; }

#endif
