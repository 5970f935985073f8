/* os_memory.c — thin, errno-preserving wrappers over the memory system calls. */
#define _GNU_SOURCE
#include "os_memory.h"

#include <errno.h>
#include <sys/mman.h>

void *os_map(size_t size)
{
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    return p;
}

void *os_map_aligned(size_t size, size_t align)
{
    if (align <= HAK_PAGE_SIZE)
        return os_map(size);
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    /* Over-map, then cut the misaligned head and the unused tail. */
    char *raw = os_map(size + align);
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

void os_unmap(void *addr, size_t size)
{
    int saved = errno;
    munmap(addr, size);
    errno = saved;
}

void os_purge(void *addr, size_t size)
{
    int saved = errno;
    madvise(addr, size, MADV_DONTNEED);
    errno = saved;
}

void *os_remap(void *addr, size_t old_size, size_t new_size)
{
    int saved = errno;
    void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    return p;
}
