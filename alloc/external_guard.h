/* external_guard.h — ExternalGuard: the last stop for pointers hakmem does not own.
 *
 * Owns: the handling of frees, reallocs and size queries of foreign pointers (another allocator's
 * blocks, the stack, private mappings, garbage) and their counter. Promises: never reads or writes
 * the foreign memory and never crashes; by default the pointer is contained (leaked, not freed).
 * Must never: be reached by a pointer whose segment-map kind says it is ours. */
#ifndef HAK_EXTERNAL_GUARD_H
#define HAK_EXTERNAL_GUARD_H

#include "config.h"

HAK_HIDDEN void external_guard_free(const void *p);
/* realloc of a foreign pointer: NULL with errno = EINVAL; the foreign block is untouched. */
HAK_HIDDEN void *external_guard_realloc(const void *p);
HAK_HIDDEN uint64_t external_guard_hits(void);

#endif
