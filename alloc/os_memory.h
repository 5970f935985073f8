/* os_memory.h — every system call that maps, unmaps or returns memory to the OS.
 *
 * Owns: mmap/munmap/mremap/madvise use and their errno hygiene. Promises: callers' errno is left
 * untouched on success and is ENOMEM on a failed mapping; aligned mappings are trimmed so no
 * address space is wasted. Must never: be called from a fast path. */
#ifndef HAK_OS_MEMORY_H
#define HAK_OS_MEMORY_H

#include "config.h"

/* Fresh zero-filled read/write memory, page aligned; NULL (errno ENOMEM) on failure. */
HAK_HIDDEN void *hk_os_map(size_t size);
/* Like hk_os_map, with the start aligned to `align` (a power of two >= page size). */
HAK_HIDDEN void *hk_os_map_aligned(size_t size, size_t align);
/* Give [addr, addr + size) back, address space included. The range must be whole pages: in the
 * checking builds one that is not stops the process (it would stay mapped, counted as gone). */
HAK_HIDDEN void hk_os_unmap(void *addr, size_t size);
/* Ask the kernel to back [addr, addr + size) with transparent huge pages where it can (a no-op
 * where they are off); the range stays as it is otherwise. */
HAK_HIDDEN void hk_os_advise_huge_pages(void *addr, size_t size);
/* 1 if the kernel gives transparent huge pages to ranges that ask (its setting is not "never").
 * Reads sysfs: initialization only. */
HAK_HIDDEN int hk_os_huge_pages_available(void);
/* Give the pages back while keeping the range mapped (it reads as zero afterwards). */
HAK_HIDDEN void hk_os_purge(void *addr, size_t size);
/* Resize a mapping, moving it if needed; NULL on failure (the old mapping is intact). */
HAK_HIDDEN void *hk_os_remap(void *addr, size_t old_size, size_t new_size);

#ifndef NDEBUG
/* Fault injection for tests and the fuzzer (not in release builds): after n more successful
 * hk_os_map/hk_os_remap calls, every later one fails with ENOMEM as if the OS had refused; n < 0 turns
 * failures off again. */
HAK_HIDDEN void hk_os_memory_fail_after(long n);
#endif

#endif
