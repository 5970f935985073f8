/* inner_api.h — which build owns the public names of the malloc family.
 *
 * Owns: the renaming that puts hardened.c between the program and api.c in the hardened build.
 * Promises: in every other build nothing is renamed, so the release entry points compile exactly
 * as before. Must never: be included after hakmem.h where it renames (its prototypes would keep
 * the public names). */
#ifndef HAK_INNER_API_H
#define HAK_INNER_API_H

#include <stddef.h>

#include "config.h"
#include "misuse.h"

#ifdef HAK_HARDENED
/* Only api.c and heap_check.c, which define the inner allocator, rename (hardened.c defines the
 * public names and calls these). */
#ifdef HAK_DEFINES_INNER_API
#define hak_malloc inner_malloc
#define hak_free inner_free
#define hak_calloc inner_calloc
#define hak_realloc inner_realloc
#define hak_aligned_alloc inner_aligned_alloc
#define hak_usable_size inner_usable_size
#define hak_thread_flush inner_thread_flush
#define hak_collect inner_collect
#define hak_debug_check_quiescent inner_check_quiescent
#endif
#define WRAPPED_EXPORT HAK_HIDDEN

HAK_HIDDEN void *inner_malloc(size_t size);
HAK_HIDDEN void inner_free(void *ptr);
HAK_HIDDEN void *inner_aligned_alloc(size_t alignment, size_t size);
HAK_HIDDEN size_t inner_usable_size(const void *ptr);
HAK_HIDDEN void inner_thread_flush(void);
HAK_HIDDEN size_t inner_collect(int give_back);
HAK_HIDDEN int inner_check_quiescent(void *const *held, size_t n);

#else
#define WRAPPED_EXPORT HAK_EXPORT
#endif

#endif
