/* free_link.c — the per-process key of the hardened build's free-list links. */
#include "free_link.h"

#include "diag.h"
#include "random_key.h"

uint64_t hak_link_key;

void free_link_init(void)
{
    uint64_t k;
    random_key_words(&k, 1);
    /* Random low bits too: a link forged without the key fails the alignment test 15 times in
     * 16 before any other. */
    hak_link_key = k;
}

void free_link_corrupt(const void *block, uintptr_t stored)
{
    diag_print("hakmem: heap corruption: the free-list link in free block %p was overwritten "
               "(stored %#lx decodes to %#lx); aborting\n",
               block, (unsigned long)stored,
               (unsigned long)(stored ^ hak_link_key ^ (uintptr_t)block));
    diag_abort();
}
