/* free_mark.c — the per-process free-block key. */
#include "free_mark.h"

#include "random_key.h"

uint64_t hk_free_key;

void hk_free_mark_init(void)
{
    uint64_t k;
    hk_random_key_words(&k, 1);
    /* Zero is what a live block carries; keep the key away from it and from small integers. */
    hk_free_key = k | ((uint64_t)1 << 63) | 1;
}
