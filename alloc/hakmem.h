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

/* The statistics, one list each: X(field, group, label, what it counts). It is the only place a
 * statistic is written down: the structs below, the text report (hak_stats_print: one line per
 * group, "group: label value, ..."; classes as a table), the JSON members (the field names,
 * schema_version 1: members are only ever added) and the table of docs/design.md (which
 * tests/docs_check.sh holds to this list) all come from it. */
// clang-format off
#define HAK_CLASS_STATS_FIELDS(X)                                                                 \
    X(block_size, "class", "size", "the class's block size in bytes")                             \
    X(allocs, "class", "allocs", "blocks handed to callers")                                      \
    X(frees, "class", "frees", "blocks given back by callers (local and remote)")                 \
    X(remote_frees, "class", "remote", "frees by a thread that does not own the block's slab")    \
    X(drains, "class", "drains", "remote queues taken by the slab's owner")                       \
    X(drained, "class", "drained", "blocks moved from remote queues to free lists")               \
    X(refills, "class", "refills", "thread-cache misses (slow-path allocations)")                 \
    X(flushes, "class", "flushes", "thread-cache overflows returned to slabs")                    \
    X(live_blocks, "class", "live", "allocs - frees")

#define HAK_STATS_FIELDS(X)                                                                       \
    X(allocs, "slabs", "allocs", "slab blocks handed to callers, every class")                    \
    X(frees, "slabs", "frees", "slab blocks given back, every class")                             \
    X(remote_frees, "slabs", "remote frees", "frees of slab blocks by a thread not the owner")    \
    X(drains, "slabs", "drains", "remote queues taken by their owners")                           \
    X(drained, "slabs", "drained", "blocks moved from remote queues to free lists")               \
    X(refills, "slabs", "refills", "thread-cache misses (slow-path allocations)")                 \
    X(flushes, "slabs", "flushes", "thread-cache overflows returned to slabs")                    \
    X(cache_hits, "slabs", "cache hits", "allocations the thread cache served without a slow path") \
    X(live_bytes, "live", "bytes", "bytes in blocks handed out, every tier (block-size granularity)") \
    X(page_run_allocs, "page runs", "allocs", "page runs handed out (32 KiB to 1 MiB)")           \
    X(page_run_frees, "page runs", "frees", "page runs given back")                               \
    X(page_run_live_bytes, "page runs", "live bytes", "bytes in live page runs")                  \
    X(large_allocs, "large", "allocs", "Large blocks handed out (above 1 MiB)")                   \
    X(large_frees, "large", "frees", "Large blocks given back")                                   \
    X(large_live_bytes, "large", "live bytes", "bytes in live Large blocks")                      \
    X(large_cache_hits, "large", "cache hits", "Large blocks cut from cached freed ranges")        \
    X(large_remaps, "large", "remaps", "Large blocks moved by mremap")                            \
    X(large_extends, "large", "extends", "Large blocks built on a freed block and the untouched range after it") \
    X(large_trimmed_bytes, "large", "trimmed bytes", "touched cached bytes given back to stay under the live peak") \
    X(segments_mapped, "segments", "mapped", "4 MiB segments held from the OS")                   \
    X(segments_peak, "segments", "peak", "most segments held at once")                            \
    X(segments_cached, "segments", "cached", "free segments kept mapped for reuse")               \
    X(mapped_bytes, "segments", "mapped bytes", "bytes held from the OS: segments and Large mappings") \
    X(peak_mapped_bytes, "segments", "peak mapped bytes", "most bytes held from the OS at once")  \
    X(slabs_orphaned, "orphans", "slabs orphaned", "slabs left with live blocks by exiting threads") \
    X(slabs_adopted, "orphans", "adopted", "orphaned slabs taken by another thread")               \
    X(slabs_reclaimed, "orphans", "reclaimed", "orphaned slabs pooled once all their blocks came back") \
    X(threads_started, "threads", "started", "threads that got a heap")                            \
    X(threads_exited, "threads", "exited", "threads whose heap was retired")                      \
    X(external_guard_hits, "external guard", "hits", "frees and reallocs of pointers hakmem does not own (contained: never freed or read)") \
    X(external_guard_frees, "external guard", "frees", "frees among them")                        \
    X(external_guard_reallocs, "external guard", "reallocs", "reallocs among them")               \
    X(external_guard_size_queries, "external guard", "size queries", "usable-size calls on such pointers") \
    X(invalid_frees, "invalid frees", "all", "frees and reallocs of hakmem memory that is no live block, every kind") \
    X(double_frees, "invalid frees", "double", "the block was already free")                      \
    X(interior_frees, "invalid frees", "interior", "a pointer inside a block or run")              \
    X(unallocated_frees, "invalid frees", "not allocated", "memory never handed out, or holding no live block")
// clang-format on

#define HAK_STATS_STRUCT_FIELD(field, group, label, what) uint64_t field;
struct hak_class_stats {
    HAK_CLASS_STATS_FIELDS(HAK_STATS_STRUCT_FIELD)
};

struct hak_stats {
    HAK_STATS_FIELDS(HAK_STATS_STRUCT_FIELD)
    struct hak_class_stats cls[HAK_NUM_CLASSES];
};
#undef HAK_STATS_STRUCT_FIELD

/* Snapshot of the counters. Exact for the calling thread and for exited threads; other live
 * threads contribute what they published at their last slow path or hak_thread_flush(). */
void hak_stats(struct hak_stats *out);
/* Print the snapshot in the HAKMEM_STATS=1 format to the given file descriptor. */
void hak_stats_print(int fd);
/* The same snapshot as text (HAK_STATS_TEXT, as hak_stats_print) or as one JSON object
 * (HAK_STATS_JSON; its members are HAK_STATS_FIELDS', "schema_version" 1) followed by a newline. */
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
