/* external_guard.h — ExternalGuard: the last stop for pointers hakmem does not own.
 *
 * Owns: the handling of frees, reallocs and size queries of foreign pointers (another allocator's
 * blocks, the stack, private mappings, garbage), their counters, the per-call-site tally and the
 * one-time report. Policy HAKMEM_EXTERNAL_GUARD: contain (default: leak it, count it), log (also a
 * rate-limited line naming the pointer and the caller), abort (one line, then abort()).
 * Promises: never reads or writes the foreign memory, never makes a system call to probe it, and
 * under contain/log never crashes. Must never: see a pointer the segment map says is hakmem's. */
#ifndef HAK_EXTERNAL_GUARD_H
#define HAK_EXTERNAL_GUARD_H

#include "config.h"

HAK_HIDDEN void hk_external_guard_free(const void *p, const void *caller);
/* realloc of a foreign pointer: NULL with errno = EINVAL; the foreign block is untouched. */
HAK_HIDDEN void *hk_external_guard_realloc(const void *p, const void *caller);
/* malloc_usable_size of a foreign pointer: 0. */
HAK_HIDDEN size_t hk_external_guard_usable_size(const void *p);

/* ExternalGuard's statistics (external_guard_*) into out. */
struct hak_stats;
HAK_HIDDEN void hk_external_guard_stats(struct hak_stats *out);

HAK_HIDDEN void hk_external_guard_fork_prepare(void);
HAK_HIDDEN void hk_external_guard_fork_parent(void);
HAK_HIDDEN void hk_external_guard_fork_child(void);

#endif
