/* misuse.h — invalid frees of hakmem's own memory: interior pointers, blocks that are not live.
 *
 * Owns: the classification and counting of misuse of hakmem memory. Promises: a reported misuse
 * changes no allocator state (nothing that belongs to anyone else is lost). Must never: be
 * confused with ExternalGuard, which handles memory that is not hakmem's at all. */
#ifndef HAK_MISUSE_H
#define HAK_MISUSE_H

#include "config.h"

enum misuse_kind {
    MISUSE_NOT_LIVE, /* points at hakmem memory that holds no live block (freed slab, idle segment)
                      */
    MISUSE_INTERIOR, /* points inside a block, not at its start */
};

HAK_HIDDEN void misuse_invalid_free(enum misuse_kind kind, const void *p);
HAK_HIDDEN uint64_t misuse_count(void);

#endif
