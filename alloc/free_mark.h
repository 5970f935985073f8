/* free_mark.h — the key word that marks a slab block as free.
 *
 * Owns: the second word of every free slab block (the first is the free-list link). A free block
 * carries a per-process random key there; handing a block out clears it. Promises: a free of a
 * block that still carries the key is a double free, except with probability 2^-64 per free when
 * user data happens to equal the key (no search confirms it: a free block may be in another
 * thread's remote-free batch, where its owner cannot look). Must never:
 * be applied to memory outside slabs (blocks are at least 16 bytes there). */
#ifndef HAK_FREE_MARK_H
#define HAK_FREE_MARK_H

#include "config.h"
#include "track.h"

extern uint64_t hk_free_key HAK_HIDDEN;

HAK_HIDDEN void hk_free_mark_init(void);

HAK_INLINE int block_is_marked_free(const void *p) { return block_mark_word(p) == hk_free_key; }
HAK_INLINE void block_mark_free(void *p) { block_set_mark_word(p, hk_free_key); }
HAK_INLINE void block_mark_live(void *p) { block_set_mark_word(p, 0); }

#endif
