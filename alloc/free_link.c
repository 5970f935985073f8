/* free_link.c — the per-process key of the hardened build's free-list links. */
#include "free_link.h"

#include "diag.h"
#include "random_key.h"

uint64_t hk_link_key;

void hk_free_link_init(void)
{
    uint64_t k;
    hk_random_key_words(&k, 1);
    /* Random low bits too: a link forged without the key fails the alignment test 15 times in
     * 16 before any other. */
    hk_link_key = k;
}

void hk_free_link_corrupt(const void *block, uintptr_t stored)
{
    hk_diag_print("hakmem: heap corruption: the free-list link in free block %p was overwritten "
                  "(stored %#lx decodes to %#lx); aborting\n",
                  block, (unsigned long)stored,
                  (unsigned long)(stored ^ hk_link_key ^ (uintptr_t)block));
    hk_diag_abort();
}
