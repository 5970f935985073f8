/* size_class.h — the size-class table of the Tiny and Mid tiers.
 *
 * Owns: the mapping request size -> class, and per-class block size, thread-cache capacity, refill
 * batch and slab kind. Promises: block_size(class_of(n)) >= n for every n <= HAK_MID_MAX; block
 * sizes are multiples of 16 except the 8-byte class; the tables are filled by size_class_init()
 * before any thread cache holds a block, so a lookup before initialization only ever reaches an
 * empty cache bin. Must never: allocate or depend on other allocator modules. */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include "config.h"
#include "hakmem.h"

#define HAK_CLASS_COUNT HAK_NUM_CLASSES
#define HAK_TINY_TABLE_LEN ((HAK_TINY_MAX >> 3) + 1)
#define HAK_MID_TABLE_LEN ((HAK_MID_MAX >> 7) + 1)

struct size_class_info {
    uint32_t block_size;
    uint16_t cache_cap; /* thread-cache bin capacity before a flush */
    uint16_t batch;     /* blocks moved per refill / kept per flush */
    uint8_t slab_shift; /* HAK_SMALL_SLAB_SHIFT or HAK_MEDIUM_SLAB_SHIFT */
    uint64_t magic_div; /* ceil(2^48 / block_size): offset / block_size without a division */
};

extern uint8_t hak_class_tiny_table[HAK_TINY_TABLE_LEN] HAK_HIDDEN;
extern uint8_t hak_class_mid_table[HAK_MID_TABLE_LEN] HAK_HIDDEN;
extern struct size_class_info hak_class_info[HAK_CLASS_COUNT] HAK_HIDDEN;

HAK_HIDDEN void size_class_init(void);

/* Class of a request of n bytes, n <= HAK_MID_MAX. */
HAK_INLINE unsigned size_class_of(size_t n)
{
    if (HAK_LIKELY(n <= HAK_TINY_MAX))
        return hak_class_tiny_table[(n + 7) >> 3];
    return hak_class_mid_table[(n + 127) >> 7];
}

HAK_INLINE size_t size_class_block_size(unsigned cls) { return hak_class_info[cls].block_size; }

/* offset / block_size for an offset inside one slab: exact, and the product cannot overflow
 * because offsets stay below the slab size (2^16 for classes <= 4 KiB, 2^19 above). */
HAK_INLINE uint32_t size_class_block_index(unsigned cls, size_t offset)
{
    return (uint32_t)(((uint64_t)offset * hak_class_info[cls].magic_div) >> 48);
}

#endif
