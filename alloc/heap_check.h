/* heap_check.h — the full heap check (hak_debug_check_heap, hak_debug_check_quiescent).
 *
 * Owns: the walk over every heap, thread cache, remote-free batch, orphan and pooled slab that
 * accounts for each carved block exactly once, the per-class counter accounting, and the calls to
 * each tier's own checker (check.h). Promises: reads only (its scratch memory is its own mapping);
 * each violation is one line on stderr. Must never: run while another thread is inside the
 * allocator, or allocate through hakmem. */
#ifndef HAK_HEAP_CHECK_H
#define HAK_HEAP_CHECK_H

#include <stddef.h>

#include "config.h"

/* Run the check of an initialized allocator; with has_held, held[0..nheld) are every block the
 * program holds, and nothing else may be out. Returns the number of violations. */
HAK_HIDDEN int hk_heap_check_run(void *const *held, size_t nheld, int has_held);

#endif
