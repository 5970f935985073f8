/* aligned_case SHIFT_PAGES FIRST — the first hakmem calls of a fresh process: with the address
 * space shifted by SHIFT_PAGES pages of a private mapping (so the kernel places hakmem's first
 * mappings at a different alignment each run), make FIRST the first allocation ("aligned": an
 * over-aligned block; "large": a plain Large block, so over-aligned blocks that follow could be
 * cut from its reserve), then request every alignment from 4 KiB to 64 MiB for sizes in the page
 * run and Large tiers, keeping every block live. Prints "aligned N blocks" and exits 0, or names
 * the first misaligned block and exits 1. Linked with the hak_* API only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem.h"

#define MAX_BLOCKS 256

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long shift = atol(argv[1]);
    if (shift > 0 && mmap(NULL, (size_t)shift * 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        return 2;
    static void *held[MAX_BLOCKS];
    int n = 0;
    if (!strcmp(argv[2], "large"))
        held[n++] = hak_malloc((size_t)2 << 20);
    static const size_t sizes[] = {40000, 300000, ((size_t)1 << 20) + 1, (size_t)3 << 20,
                                   (size_t)9 << 20};
    for (size_t align = 4096; align <= ((size_t)64 << 20); align <<= 1)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && n < MAX_BLOCKS; i++) {
            char *p = hak_aligned_alloc(align, sizes[i]);
            if (p == NULL) {
                printf("hak_aligned_alloc(%zu, %zu) failed\n", align, sizes[i]);
                return 1;
            }
            if ((uintptr_t)p % align != 0) {
                printf("hak_aligned_alloc(%zu, %zu) = %p: not aligned (first call: %s, address "
                       "space shifted by %ld pages)\n",
                       align, sizes[i], (void *)p, argv[2], shift);
                return 1;
            }
            p[0] = 1;
            p[sizes[i] - 1] = 2;
            held[n++] = p;
        }
    for (int i = 0; i < n; i++)
        hak_free(held[i]);
    printf("aligned %d blocks\n", n);
    return 0;
}
