/* hardened.h — the hardened build's checks around every block (HAK_HARDENED only).
 *
 * Owns: each block's header and canaries, zeroing on free and its verification at reuse, the
 * per-thread quarantine, the guard page after page runs and Large blocks, the no-access region
 * that zero-size allocations point into, and the check of a free's family (malloc, new, new[])
 * and size. Promises: a block is laid out as [canary fill][header][user bytes][canary fill] inside
 * one inner block (plus a guard page for page runs and Large blocks); every byte handed out is
 * zero; every finding is one line naming the kind, the block, its size and the caller, then
 * abort(), or under HAKMEM_INVALID_FREE=report the damaged block is kept out of use for good.
 * Must never: be compiled into another build, or give the inner allocator a pointer it did not
 * hand out. */
#ifndef HAK_HARDENED_H
#define HAK_HARDENED_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum hardened_family { FAMILY_MALLOC, FAMILY_NEW, FAMILY_NEW_ARRAY };
#define HARDENED_ANY_SIZE SIZE_MAX

/* align: a power of two (callers validate), 0 or up to 16 for the default. NULL with ENOMEM. */
HAK_HIDDEN void *hk_hardened_alloc(size_t size, size_t align, enum hardened_family family);
/* size: the size a sized free passes, or HARDENED_ANY_SIZE. */
HAK_HIDDEN void hk_hardened_free(void *p, enum hardened_family family, size_t size, const char *op,
                                 const void *caller);
HAK_HIDDEN void *hk_hardened_realloc(void *p, size_t size, const void *caller);
/* The requested size of a live block (what the program may touch); 0 for zero-size and invalid
 * pointers of ours. */
HAK_HIDDEN size_t hk_hardened_usable_size(const void *p);
/* Hand the calling thread's quarantine back to the inner allocator (op and caller: the call that
 * asked, named in a report on a block written after its free). */
HAK_HIDDEN void hk_hardened_quarantine_flush(const char *op, const void *caller);

#endif
