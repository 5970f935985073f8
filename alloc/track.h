/* track.h — every sanitizer and Valgrind hook of the allocator, in one place.
 *
 * Owns: telling AddressSanitizer and Valgrind's memcheck which bytes of hakmem memory a program
 * may touch (a block's requested bytes while it is live; nothing of free blocks, block tails,
 * uncarved slab memory or free page runs), telling MemorySanitizer which bytes hold defined values
 * (none of a fresh malloc block, all of a calloc block, none of a freed one), and the allocator's
 * own access to the words it keeps inside free blocks (the free-list link and the free mark).
 * Promises: with no HAK_TRACK_* defined every hook is an empty
 * inline function and every accessor a plain load or store, so release code is unchanged
 * (`make hooks-check` compares callgrind instruction counts with the hooks removed entirely).
 * Must never: allocate, lock, or be called with a pointer that is not block-aligned. */
#ifndef HAK_TRACK_H
#define HAK_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#ifdef HAK_HARDENED
#include "free_link.h"
#endif

#if defined(HAK_TRACK_ASAN) || defined(HAK_TRACK_VALGRIND) || defined(HAK_TRACK_MSAN)
#define HAK_TRACKING 1
#else
#define HAK_TRACKING 0
#endif

#if defined(HAK_TRACK_ASAN)

#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

/* ASan's own shadow values, so reports name the error as for its own heap. */
#define ASAN_HEAP_REDZONE 0xfa
#define ASAN_HEAP_FREED 0xfd

HAK_INLINE uint8_t *asan_shadow(const void *p)
{
    size_t scale, offset;
    __asan_get_shadow_mapping(&scale, &offset);
    return (uint8_t *)(((uintptr_t)p >> scale) + offset);
}

/* Set the shadow of [p, p+len) (both 8-byte aligned). Volatile stores: a memset here would be
 * ASan's checked memset, which refuses to write shadow memory. Never inlined, so the fuzz build's
 * coverage ignore list (which names functions) keeps its loop out of the fuzzer's signal. */
typedef uint64_t asan_shadow_chunk __attribute__((vector_size(16)));
static __attribute__((unused, noinline, no_sanitize("address"))) void
asan_fill(const void *p, size_t len, uint8_t value)
{
    volatile uint8_t *s = asan_shadow(p);
    size_t n = len >> 3, i = 0;
    uint64_t word = value * 0x0101010101010101ull;
    asan_shadow_chunk chunk = {word, word};
    for (; i < n && ((uintptr_t)(s + i) & 15); i++)
        s[i] = value;
    for (; i + 16 <= n; i += 16)
        *(volatile asan_shadow_chunk *)(s + i) = chunk;
    for (; i < n; i++)
        s[i] = value;
}

/* [p, p+size) addressable (the last granule partly, as ASan encodes it), the rest of the block
 * a heap redzone. */
static __attribute__((unused, no_sanitize("address"))) void track_alloc(void *p, size_t size,
                                                                        size_t usable)
{
    size_t whole = size & ~(size_t)7;
    asan_fill(p, whole, 0);
    size_t rest = whole;
    if (size & 7) {
        *(volatile uint8_t *)asan_shadow((char *)p + whole) = (uint8_t)(size & 7);
        rest += 8;
    }
    if (usable > rest)
        asan_fill((char *)p + rest, usable - rest, ASAN_HEAP_REDZONE);
}
HAK_INLINE void track_alloc_zeroed(void *p, size_t size, size_t usable)
{
    track_alloc(p, size, usable);
}
HAK_INLINE void track_free(void *p, size_t usable) { asan_fill(p, usable, ASAN_HEAP_FREED); }
/* An in-place realloc from old_size to size requested bytes (usable: the block's bytes now). */
HAK_INLINE void track_resize(void *p, size_t old_size, size_t size, size_t usable)
{
    (void)old_size;
    track_alloc(p, size, usable);
}
HAK_INLINE void track_noaccess(void *p, size_t len) { asan_fill(p, len, ASAN_HEAP_REDZONE); }
/* Clear the shadow of [p, p+len): whole shadow pages are given back to the OS (they read as zero
 * again), so the shadow of memory hakmem stopped using costs no resident memory (nor time in a
 * fork of the process); only the partial pages at the ends are written. */
static __attribute__((unused, no_sanitize("address"))) void asan_clear(void *p, size_t len)
{
    uintptr_t s = (uintptr_t)asan_shadow(p), e = s + (len >> 3);
    uintptr_t ps = (s + HAK_PAGE_SIZE - 1) & ~(uintptr_t)(HAK_PAGE_SIZE - 1);
    uintptr_t pe = e & ~(uintptr_t)(HAK_PAGE_SIZE - 1);
    int saved = errno;
    int given_back = pe > ps && madvise((void *)ps, pe - ps, MADV_DONTNEED) == 0;
    errno = saved;
    if (!given_back) {
        asan_fill(p, len, 0);
        return;
    }
    asan_fill(p, (ps - s) << 3, 0);
    asan_fill((char *)p + ((pe - s) << 3), (e - pe) << 3, 0);
}
/* Memory going back to the OS: whoever maps it next must find a clean shadow. */
HAK_INLINE void track_unmapped(void *p, size_t len) { asan_clear(p, len); }
/* A cached segment taken for a new use: its old poisoning means nothing any more. */
HAK_INLINE void track_reset(void *p, size_t len) { asan_clear(p, len); }
/* The requested size, read back from the shadow: walk back over the tail's redzone granules
 * (the tail is short: under a page for runs and Large blocks, under a quarter of a slab block). */
static __attribute__((unused, no_sanitize("address", "coverage"))) size_t
track_requested(const void *p, size_t usable)
{
    const volatile uint8_t *first = asan_shadow(p);
    size_t g = usable >> 3;
    /* Eight granules at a time over the aligned middle of a long tail (Large blocks). */
    const uint64_t redzone8 = ASAN_HEAP_REDZONE * 0x0101010101010101ull;
    while (g > 0 && ((uintptr_t)(first + g) & 7) != 0 && first[g - 1] == ASAN_HEAP_REDZONE)
        g--;
    if (g >= 8 && ((uintptr_t)(first + g) & 7) == 0)
        while (g >= 8 && *(const volatile uint64_t *)(first + g - 8) == redzone8)
            g -= 8;
    while (g > 0 && first[g - 1] == ASAN_HEAP_REDZONE)
        g--;
    if (g == 0)
        return 0;
    uint8_t last = first[g - 1];
    return last >= 1 && last <= 7 ? (g - 1) * 8 + last : g * 8;
}

#define HAK_BLOCK_ACCESS static __attribute__((noinline, no_sanitize("address"), unused))

HAK_BLOCK_ACCESS void *block_next(const void *b) { return *(void *const *)b; }
HAK_BLOCK_ACCESS void block_set_next(void *b, void *next) { *(void **)b = next; }
HAK_BLOCK_ACCESS uint64_t block_mark_word(const void *b) { return ((const uint64_t *)b)[1]; }
HAK_BLOCK_ACCESS void block_set_mark_word(void *b, uint64_t v) { ((uint64_t *)b)[1] = v; }

#elif defined(HAK_TRACK_VALGRIND)

#include <valgrind/memcheck.h>

/* The bytes between the request and the block's end are no-access: track_requested finds the
 * request by where addressable bytes stop (a Large block's 2 MiB frame can end megabytes of
 * fresh, addressable mapping later). */
HAK_INLINE void track_alloc(void *p, size_t size, size_t usable)
{
    VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 0);
    if (usable > size)
        VALGRIND_MAKE_MEM_NOACCESS((char *)p + size, usable - size);
}
/* Memory known to read as zero (a fresh mapping): defined, not undefined. */
HAK_INLINE void track_alloc_zeroed(void *p, size_t size, size_t usable)
{
    VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 1);
    if (usable > size)
        VALGRIND_MAKE_MEM_NOACCESS((char *)p + size, usable - size);
}
HAK_INLINE void track_free(void *p, size_t usable)
{
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_NOACCESS(p, usable);
}
HAK_INLINE void track_noaccess(void *p, size_t len) { VALGRIND_MAKE_MEM_NOACCESS(p, len); }
HAK_INLINE void track_unmapped(void *p, size_t len) { (void)p, (void)len; }
HAK_INLINE void track_reset(void *p, size_t len) { VALGRIND_MAKE_MEM_UNDEFINED(p, len); }

/* The bytes memcheck lets the program address: a binary search with GET_VBITS, which reports
 * unaddressable memory by its result instead of as an error. */
HAK_INLINE size_t track_requested(const void *p, size_t usable)
{
    if (!RUNNING_ON_VALGRIND)
        return usable;
    unsigned char vbits[64];
    size_t lo = 0, hi = usable; /* [0, lo) addressable; [hi, usable) not */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2, from = mid - 1;
        if (VALGRIND_GET_VBITS((const char *)p + from, vbits, 1) == 3)
            hi = mid - 1;
        else
            lo = mid;
    }
    return lo;
}
HAK_INLINE void track_resize(void *p, size_t old_size, size_t size, size_t usable)
{
    (void)usable;
    VALGRIND_RESIZEINPLACE_BLOCK(p, old_size, size, 0);
}

/* The allocator's words in free blocks are made accessible just for the access. */
#define HAK_BLOCK_ACCESS static inline __attribute__((unused))

HAK_BLOCK_ACCESS void *block_next(const void *b)
{
    VALGRIND_MAKE_MEM_DEFINED(b, sizeof(void *));
    void *n = *(void *const *)b;
    VALGRIND_MAKE_MEM_NOACCESS(b, sizeof(void *));
    return n;
}
HAK_BLOCK_ACCESS void block_set_next(void *b, void *next)
{
    VALGRIND_MAKE_MEM_UNDEFINED(b, sizeof(void *));
    *(void **)b = next;
    VALGRIND_MAKE_MEM_NOACCESS(b, sizeof(void *));
}
/* The mark word is also read on live blocks (the double-free check), which may be addressable
 * only in part (a 9-byte request in a 16-byte block): save and restore each byte's state. */
HAK_BLOCK_ACCESS uint64_t block_mark_word(const void *b)
{
    unsigned char vbits[8];
    int addressable[8];
    const char *w = (const char *)b + 8;
    for (int i = 0; i < 8; i++)
        addressable[i] = VALGRIND_GET_VBITS(w + i, &vbits[i], 1) == 1;
    VALGRIND_MAKE_MEM_DEFINED(w, 8);
    uint64_t v = *(const uint64_t *)w;
    for (int i = 0; i < 8; i++) {
        if (addressable[i])
            VALGRIND_SET_VBITS(w + i, &vbits[i], 1);
        else
            VALGRIND_MAKE_MEM_NOACCESS(w + i, 1);
    }
    return v;
}
HAK_BLOCK_ACCESS void block_set_mark_word(void *b, uint64_t v)
{
    uint64_t *w = (uint64_t *)b + 1;
    VALGRIND_MAKE_MEM_UNDEFINED(w, 8);
    *w = v;
    VALGRIND_MAKE_MEM_NOACCESS(w, 8);
}

#elif defined(HAK_TRACK_MSAN)

#include <sanitizer/msan_interface.h>

/* MemorySanitizer tracks definedness, not addressability: a fresh block is undefined (a read of a
 * byte never written is reported where the value is used), a zeroed block defined, a freed block
 * undefined again (a stale read after free is an uninitialized read). */
HAK_INLINE void track_alloc(void *p, size_t size, size_t usable)
{
    /* The whole block: realloc copies up to the usable size, which must not launder a tail
     * written by an earlier use into defined bytes of the new block. */
    (void)size;
    __msan_allocated_memory(p, usable);
}
HAK_INLINE void track_alloc_zeroed(void *p, size_t size, size_t usable)
{
    (void)usable;
    __msan_unpoison(p, size);
}
HAK_INLINE void track_free(void *p, size_t usable) { __msan_poison(p, usable); }
/* An in-place realloc keeps the old bytes' state; the grown part is undefined. */
HAK_INLINE void track_resize(void *p, size_t old_size, size_t size, size_t usable)
{
    (void)size;
    if (usable > old_size)
        __msan_allocated_memory((char *)p + old_size, usable - old_size);
}
HAK_INLINE void track_noaccess(void *p, size_t len) { (void)p, (void)len; }
/* Memory going back to the OS, or a cached segment taken for a new use: hakmem initializes its
 * headers itself; clean shadow keeps the old use's states from leaking into the new one. */
HAK_INLINE void track_unmapped(void *p, size_t len) { __msan_unpoison(p, len); }
HAK_INLINE void track_reset(void *p, size_t len) { __msan_unpoison(p, len); }
HAK_INLINE size_t track_requested(const void *p, size_t usable)
{
    (void)p;
    return usable;
}

/* The allocator reads the mark word of live blocks (the double-free check), which the program may
 * never have written: those reads must neither be reported nor make the result undefined. */
#define HAK_BLOCK_ACCESS static __attribute__((noinline, no_sanitize("memory"), unused))

HAK_BLOCK_ACCESS void *block_next(const void *b) { return *(void *const *)b; }
HAK_BLOCK_ACCESS void block_set_next(void *b, void *next) { *(void **)b = next; }
HAK_BLOCK_ACCESS uint64_t block_mark_word(const void *b) { return ((const uint64_t *)b)[1]; }
HAK_BLOCK_ACCESS void block_set_mark_word(void *b, uint64_t v) { ((uint64_t *)b)[1] = v; }

#else

HAK_INLINE void track_alloc(void *p, size_t size, size_t usable)
{
    (void)p, (void)size, (void)usable;
}
HAK_INLINE void track_alloc_zeroed(void *p, size_t size, size_t usable)
{
    (void)p, (void)size, (void)usable;
}
HAK_INLINE void track_free(void *p, size_t usable) { (void)p, (void)usable; }
HAK_INLINE void track_resize(void *p, size_t old_size, size_t size, size_t usable)
{
    (void)p, (void)old_size, (void)size, (void)usable;
}
HAK_INLINE void track_noaccess(void *p, size_t len) { (void)p, (void)len; }
HAK_INLINE void track_unmapped(void *p, size_t len) { (void)p, (void)len; }
HAK_INLINE void track_reset(void *p, size_t len) { (void)p, (void)len; }
HAK_INLINE size_t track_requested(const void *p, size_t usable)
{
    (void)p;
    return usable;
}

#ifdef HAK_HARDENED
HAK_INLINE void *block_next(const void *b) { return free_link_decode(b, *(const uintptr_t *)b); }
HAK_INLINE void block_set_next(void *b, void *next) { *(uintptr_t *)b = free_link_encode(b, next); }
#else
HAK_INLINE void *block_next(const void *b) { return *(void *const *)b; }
HAK_INLINE void block_set_next(void *b, void *next) { *(void **)b = next; }
#endif
HAK_INLINE uint64_t block_mark_word(const void *b) { return ((const uint64_t *)b)[1]; }
HAK_INLINE void block_set_mark_word(void *b, uint64_t v) { ((uint64_t *)b)[1] = v; }

#endif

/* `make hooks-check` builds release once more with the hook calls removed by the preprocessor. */
#if defined(HAK_NO_TRACK_HOOKS)
#define track_alloc(p, size, usable) ((void)sizeof(p), (void)sizeof(size), (void)sizeof(usable))
#define track_alloc_zeroed(p, size, usable)                                                        \
    ((void)sizeof(p), (void)sizeof(size), (void)sizeof(usable))
#define track_free(p, usable) ((void)sizeof(p), (void)sizeof(usable))
#define track_resize(p, old_size, size, usable)                                                    \
    ((void)sizeof(p), (void)sizeof(old_size), (void)sizeof(size), (void)sizeof(usable))
#define track_noaccess(p, len) ((void)sizeof(p), (void)sizeof(len))
#define track_unmapped(p, len) ((void)sizeof(p), (void)sizeof(len))
#define track_reset(p, len) ((void)sizeof(p), (void)sizeof(len))
#endif

#endif
