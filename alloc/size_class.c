/* size_class.c — builds the size-class tables once at initialization. */
#include "size_class.h"

uint8_t hk_class_tiny_table[HAK_TINY_TABLE_LEN];
uint8_t hk_class_mid_table[HAK_MID_TABLE_LEN];
struct size_class_info hk_class_info[HAK_CLASS_COUNT];

/* Bytes of blocks a thread may cache per class: enough to absorb alloc/free bursts, small enough
 * that many threads do not hoard memory. */
#define CACHE_BUDGET_BYTES 32768u
#define CACHE_CAP_MIN 4u
#define CACHE_CAP_MAX 128u

/* 16..128 in steps of 16, then four classes per doubling up to 32 KiB: at most 25 % internal
 * fragmentation above 128 bytes, and 16-byte alignment everywhere. The smallest block has room
 * for the free-list link and the free mark. */
static uint32_t class_size(unsigned cls)
{
    if (cls < 8)
        return 16 * (cls + 1);
    unsigned k = cls - 8;            /* 0.. */
    uint32_t base = 128u << (k / 4); /* start of this doubling */
    return base + (base / 4) * (k % 4 + 1);
}

void hk_size_class_init(void)
{
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct size_class_info *ci = &hk_class_info[c];
        uint32_t bs = class_size(c);
        uint32_t cap = CACHE_BUDGET_BYTES / bs;
        if (cap < CACHE_CAP_MIN)
            cap = CACHE_CAP_MIN;
        if (cap > CACHE_CAP_MAX)
            cap = CACHE_CAP_MAX;
        ci->block_size = bs;
        ci->cache_cap = (uint16_t)cap;
        ci->batch = (uint16_t)(cap / 2);
        uint32_t held = REMOTE_BATCH_BYTES / bs;
        ci->remote_batch = (uint8_t)(held < 1                  ? 1
                                     : held > REMOTE_BATCH_MAX ? REMOTE_BATCH_MAX
                                                               : held);
        ci->slab_shift = bs <= HAK_SMALL_CLASS_MAX ? HAK_SMALL_SLAB_SHIFT : HAK_MEDIUM_SLAB_SHIFT;
    }
    unsigned c = 0;
    for (unsigned i = 0; i < HAK_TINY_TABLE_LEN; i++) {
        while (hk_class_info[c].block_size < i * 16)
            c++;
        __atomic_store_n(&hk_class_tiny_table[i], (uint8_t)c, __ATOMIC_RELAXED);
    }
    c = 0;
    for (unsigned i = 0; i < HAK_MID_TABLE_LEN; i++) {
        while (hk_class_info[c].block_size < i * 128)
            c++;
        __atomic_store_n(&hk_class_mid_table[i], (uint8_t)c, __ATOMIC_RELAXED);
    }
}
