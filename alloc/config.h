/* config.h — compile-time geometry and portability macros shared by every allocator module.
 *
 * Owns: the address-space geometry (segment, page and slab sizes, tier limits) and the small
 * attribute macros used on fast paths. Promises: every constant here is a power of two where the
 * code relies on masking. Must never: hold run-time state or anything tunable (run-time knobs live
 * in options.h, read once). */
#ifndef HAK_CONFIG_H
#define HAK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Segments are the unit taken from the OS; their header sits at the aligned base so that
 * segment = ptr & ~HAK_SEGMENT_MASK without touching the pointed-to memory. */
#define HAK_SEGMENT_SHIFT 22
#define HAK_SEGMENT_SIZE ((size_t)1 << HAK_SEGMENT_SHIFT)
#define HAK_SEGMENT_MASK (HAK_SEGMENT_SIZE - 1)

/* User space on x86-64 Linux without 5-level paging hints: mmap never returns higher addresses. */
#define HAK_ADDRESS_BITS 47

#define HAK_PAGE_SHIFT 12
#define HAK_PAGE_SIZE ((size_t)1 << HAK_PAGE_SHIFT)
#define HAK_CACHE_LINE 64

/* Slab geometry: a segment holds slabs of one size, chosen by the segment kind. */
#define HAK_SMALL_SLAB_SHIFT 16  /* 64 KiB slabs: classes up to 4 KiB */
#define HAK_MEDIUM_SLAB_SHIFT 19 /* 512 KiB slabs: classes above 4 KiB up to 32 KiB */
#define HAK_MAX_SLABS_PER_SEGMENT (HAK_SEGMENT_SIZE >> HAK_SMALL_SLAB_SHIFT)

/* Tier limits (requested size, inclusive). */
#define HAK_TINY_MAX 1024
#define HAK_SMALL_CLASS_MAX 4096 /* largest block size served from 64 KiB slabs */
#define HAK_MID_MAX 32768
#define HAK_PAGE_RUN_MAX ((size_t)1 << 20) /* L25: page runs up to 1 MiB */

/* Anything above this is refused with ENOMEM: it cannot be mapped and size arithmetic on it
 * would overflow. */
#define HAK_MAX_REQUEST ((size_t)PTRDIFF_MAX - HAK_SEGMENT_SIZE)

#define HAK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE static inline __attribute__((always_inline))
#define HAK_NOINLINE __attribute__((noinline))
#define HAK_HIDDEN __attribute__((visibility("hidden")))
#define HAK_EXPORT __attribute__((visibility("default")))
#define HAK_TLS __thread __attribute__((tls_model("initial-exec")))

#endif
