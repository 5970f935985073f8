/* os_memory.c — thin, errno-preserving wrappers over the memory system calls. */
#define _GNU_SOURCE
#include "os_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diag.h"
#include "hakmem.h"

#ifndef NDEBUG
static long maps_before_failure = -1; /* atomic; < 0: no failure injected */

void hk_os_memory_fail_after(long n)
{
    __atomic_store_n(&maps_before_failure, n, __ATOMIC_RELAXED);
}

/* Whether this mapping call is to fail (the injected refusal). */
static int injected_failure(void)
{
    long n = __atomic_load_n(&maps_before_failure, __ATOMIC_RELAXED);
    while (n > 0 && !__atomic_compare_exchange_n(&maps_before_failure, &n, n - 1, 1,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return n == 0;
}
#else
static int injected_failure(void) { return 0; }
#endif

HAK_EXPORT int hak_debug_refuse_os_memory(long after)
{
#ifndef NDEBUG
    hk_os_memory_fail_after(after);
    return 0;
#else
    (void)after;
    errno = ENOSYS;
    return -1;
#endif
}

void *hk_os_map(size_t size)
{
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    return p;
}

void *hk_os_map_aligned(size_t size, size_t align)
{
    if (align <= HAK_PAGE_SIZE)
        return hk_os_map(size);
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    /* Over-map, then cut the misaligned head and the unused tail. */
    char *raw = hk_os_map(size + align);
    if (raw == NULL)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)raw;
    size_t tail = align - head;
    if (head != 0)
        munmap(raw, head);
    if (tail != 0)
        munmap((char *)start + size, tail);
    errno = saved;
    return (void *)start;
}

void hk_os_unmap(void *addr, size_t size)
{
    int saved = errno;
    int failed = munmap(addr, size) != 0;
    /* EINVAL is a range hakmem got wrong (not whole pages, or empty): the mapping would stay,
     * counted as given back, and leak silently. ENOMEM (a split past vm.max_map_count) is the
     * system's answer, not a bug. */
    HAK_ASSERT(!failed || errno != EINVAL);
    (void)failed;
    errno = saved;
}

int hk_os_huge_pages_available(void)
{
    int saved = errno,
        fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
    char text[128];
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0)
        close(fd);
    errno = saved;
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return strstr(text, "[never]") == NULL;
}

void hk_os_advise_huge_pages(void *addr, size_t size)
{
    int saved = errno;
    madvise(addr, size, MADV_HUGEPAGE);
    errno = saved;
}

void hk_os_purge(void *addr, size_t size)
{
    int saved = errno;
    madvise(addr, size, MADV_DONTNEED);
    errno = saved;
}

void *hk_os_remap(void *addr, size_t old_size, size_t new_size)
{
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    return p;
}
