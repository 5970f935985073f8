/* api.h — api.c's entry points, and which build owns their public names.
 *
 * Owns: the renaming that puts hardened.c between the program and api.c in the hardened build
 * (api.c then defines the hk_inner_* names, which hardened.c calls).
 * Promises: in every other build nothing is renamed, so the release entry points compile exactly
 * as before. Must never: be included after hakmem.h where it renames (its prototypes would keep
 * the public names). */
#ifndef HAK_API_H
#define HAK_API_H

#include <stddef.h>

#include "config.h"

#ifdef HAK_HARDENED
/* Only api.c, which defines the inner allocator's entry points, renames (hardened.c defines the
 * public names and calls these). */
#ifdef HAK_DEFINES_INNER_API
#define hak_malloc hk_inner_malloc
#define hak_free hk_inner_free
#define hak_calloc hk_inner_calloc
#define hak_realloc hk_inner_realloc
#define hak_aligned_alloc hk_inner_aligned_alloc
#define hak_usable_size hk_inner_usable_size
#define hak_thread_flush hk_inner_thread_flush
#define hak_collect hk_inner_collect
#define hak_debug_check_quiescent hk_inner_check_quiescent
#endif
#define WRAPPED_EXPORT HAK_HIDDEN

HAK_HIDDEN void *hk_inner_malloc(size_t size);
HAK_HIDDEN void hk_inner_free(void *ptr);
HAK_HIDDEN void *hk_inner_calloc(size_t count, size_t size);
HAK_HIDDEN void *hk_inner_realloc(void *ptr, size_t size);
HAK_HIDDEN void *hk_inner_aligned_alloc(size_t alignment, size_t size);
HAK_HIDDEN size_t hk_inner_usable_size(const void *ptr);
HAK_HIDDEN void hk_inner_thread_flush(void);
HAK_HIDDEN size_t hk_inner_collect(int give_back);
HAK_HIDDEN int hk_inner_check_quiescent(void *const *held, size_t n);

#else
#define WRAPPED_EXPORT HAK_EXPORT
#endif

#endif
