/* hakmem.h — the public API of the hakmem allocator.
 *
 * Owns: the hak_* entry points and the statistics snapshot type. Promises: the same semantics as
 * the glibc malloc family (see README), callable before any explicit initialization and from any
 * thread. Must never: expose internal types; everything here is stable for users and tests. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version: the only place it is written (the Makefile's soname and pkg-config files, the
 * launcher and the statistics all read it from here). */
#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 9
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_VERSION_STRING "0.9.0"
/* "MAJOR.MINOR.PATCH" of the library actually loaded (which may differ from the header). */
const char *hak_version(void);

/* Number of slab size classes (Tiny and Mid tiers). */
#define HAK_NUM_CLASSES 40

void *hak_malloc(size_t size);
void hak_free(void *ptr);
void *hak_calloc(size_t count, size_t size);
void *hak_realloc(void *ptr, size_t size);
/* Any power-of-two alignment; NULL with errno = EINVAL for other alignments. */
void *hak_aligned_alloc(size_t alignment, size_t size);
/* Bytes usable at ptr (>= the requested size); 0 for NULL and for pointers hakmem does not own. */
size_t hak_usable_size(const void *ptr);
/* Return every block cached by the calling thread to its slab, push its remote-free batch to the
 * owners' queues, and publish its counters. */
void hak_thread_flush(void);
/* Give back what the calling thread holds and does not use: its cache is flushed, and every slab
 * of its with no live block returns to the shared pool (a slab is otherwise kept per class for
 * reuse). Other threads' heaps are theirs to collect. With give_back, the segment cache (idle
 * segments) and the cached Large ranges are also unmapped (the one empty segment the slab pool
 * and each page-run arena keep for reuse stays); returns the bytes given back to the OS then (0
 * otherwise). malloc_trim() calls hak_collect(1). */
size_t hak_collect(int give_back);

/* Block size of a size class, and the class a request of `size` bytes is served from
 * (-1 above the Mid tier). Exposed so tests and tools can reason about slots. */
size_t hak_class_block_size(int cls);
int hak_size_class(size_t size);

struct hak_class_stats {
    uint64_t block_size;
    uint64_t allocs;       /* blocks handed to callers */
    uint64_t frees;        /* blocks given back by callers (local + remote) */
    uint64_t remote_frees; /* frees by a thread that does not own the block's slab */
    uint64_t drains;       /* remote queues taken by an owner */
    uint64_t drained;      /* blocks moved from remote queues to free lists */
    uint64_t refills;      /* thread-cache misses (slow-path allocations) */
    uint64_t flushes;      /* thread-cache overflows returned to slabs */
    uint64_t live_blocks;  /* allocs - frees */
};

struct hak_stats {
    uint64_t allocs, frees, remote_frees, drains, drained, refills, flushes;
    uint64_t cache_hits; /* allocations served by the thread cache without a slow path */
    uint64_t live_bytes; /* bytes in blocks currently handed out (block-size granularity) */
    uint64_t page_run_allocs, page_run_frees, page_run_live_bytes;
    uint64_t large_allocs, large_frees, large_live_bytes, large_cache_hits, large_remaps;
    uint64_t
        large_extends; /* Large blocks built on a freed block and the untouched range after it */
    uint64_t large_trimmed_bytes; /* touched cached bytes given back to stay under the live peak */
    uint64_t segments_mapped, segments_peak, segments_cached;
    uint64_t mapped_bytes, peak_mapped_bytes; /* segments + large mappings held from the OS */
    uint64_t slabs_orphaned, slabs_adopted, slabs_reclaimed;
    uint64_t threads_started, threads_exited;
    /* ExternalGuard: calls on pointers hakmem does not own (contained: never freed or read). */
    uint64_t external_guard_hits; /* frees + reallocs */
    uint64_t external_guard_frees, external_guard_reallocs, external_guard_size_queries;
    /* Misuse of hakmem memory (free or realloc): */
    uint64_t invalid_frees;     /* all kinds */
    uint64_t double_frees;      /* the block was already free */
    uint64_t interior_frees;    /* a pointer inside a block or run */
    uint64_t unallocated_frees; /* memory never handed out (or holding no live block) */
    struct hak_class_stats cls[HAK_NUM_CLASSES];
};

/* Snapshot of the counters. Exact for the calling thread and for exited threads; other live
 * threads contribute what they published at their last slow path or hak_thread_flush(). */
void hak_stats(struct hak_stats *out);
/* Print the snapshot in the HAKMEM_STATS=1 format to the given file descriptor. */
void hak_stats_print(int fd);
/* The same snapshot as text (HAK_STATS_TEXT, as hak_stats_print) or as one JSON object
 * (HAK_STATS_JSON; schema in README, "schema_version" 1) followed by a newline. */
#define HAK_STATS_TEXT 1
#define HAK_STATS_JSON 2
void hak_stats_write(int fd, int format);

/* Full heap check: every slab block is in exactly one place (a caller's hands, one thread cache,
 * its slab's free list, its slab's remote queue, one thread's remote-free batch, or never
 * carved); links are in range, aligned and acyclic; free blocks carry the free mark; every slab is on the list its state names (a
 * parked full slab armed or notified, an orphan adoptable, an empty slab pooled); the per-class
 * counters agree with what the slabs say is out; page runs tile their segments and coalesce; the
 * Large registry and cache agree with their counters; and every mapped byte is explained by
 * segments and Large mappings. Each violation is printed to stderr; returns their number. Call it
 * only while no other thread is inside the allocator (for example between a fuzz driver's
 * steps, or after joining every worker). */
int hak_debug_check_heap(void);

/* The same, plus a full accounting for a program at rest: `held` lists every block the program
 * (all its threads) still holds, n of them (NULL, 0: none). Every other block must be free — a
 * slab block in a thread cache, a free list, a remote queue or a remote-free batch; no page run
 * or Large block live — and every listed pointer must be a live block. A block the allocator lost is reported with its
 * slab. */
int hak_debug_check_quiescent(void *const *held, size_t n);

/* Fault injection, for tests and fuzzers: after `after` more successful requests for memory
 * from the OS (mmap, mremap), hakmem is refused every later one as if the OS were out of memory,
 * until called again with after < 0. Allocations then fail with NULL and ENOMEM, and must lose
 * nothing. Returns 0, or -1 with errno ENOSYS in release builds, which never refuse. */
int hak_debug_refuse_os_memory(long after);

#ifdef __cplusplus
}
#endif
#endif
