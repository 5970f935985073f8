/* Carving fresh blocks from a slab: a refill carves only the blocks that start in the page its
 * first block starts in, so a size class a program uses for a block or two makes one page of its
 * slab resident, not a whole refill's worth (16 KiB of 1.5 KiB blocks); blocks still come out in
 * address order, and carving goes on where the last refill stopped. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "hakmem.h"
#include "segment_map.h"
#include "size_class.h"
#include "slab.h"
#include "slab_of.h"
#include "test.h"

#define SIZE 1400 /* the 1536-byte class: used by nothing else in this process */

/* Pages of [from, to) that are resident, by mincore(2). */
static size_t resident_pages(const char *from, const char *to)
{
    uintptr_t lo = (uintptr_t)from & ~(uintptr_t)(HAK_PAGE_SIZE - 1);
    size_t pages = ((uintptr_t)to - lo + HAK_PAGE_SIZE - 1) / HAK_PAGE_SIZE;
    unsigned char vec[1024];
    if (pages > sizeof vec || mincore((void *)lo, pages * HAK_PAGE_SIZE, vec) != 0)
        return (size_t)-1;
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n;
}

TEST(a_class_used_for_one_block_makes_one_page_of_its_slab_resident)
{
    /* Residency is counted in 4 KiB pages: a transparent huge page ("always" on some systems)
     * would make the whole slab resident at the first write to its segment. */
    CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
    char *p = hak_malloc(SIZE);
    CHECK(p != NULL);
    struct slab *s = slab_of(p);
    CHECK(s->block_size == 1536);
    CHECKF(p == slab_start(s), "the first block %p is not the slab's start %p", (void *)p,
           (void *)slab_start(s));
    /* 0, 1536 and 3072 start in the first page. */
    CHECKF(s->carved == 3 * s->block_size, "one malloc carved %u bytes", s->carved);
    size_t resident = resident_pages(slab_start(s), slab_limit(s));
    CHECKF(resident == 1, "%zu pages of the slab are resident after one malloc", resident);

    /* Two from the bin, then refills of the 3 blocks starting in the second page (4608, 6144,
     * 7680) and the 2 starting in the third (9216, 10752): 8 carved, 3 pages resident. */
    char *q[6];
    for (int i = 0; i < 6; i++) {
        q[i] = hak_malloc(SIZE);
        memset(q[i], 0x5a, SIZE);
        CHECKF(q[i] == p + (size_t)(i + 1) * s->block_size, "block %d at %p, not at %p", i + 1,
               (void *)q[i], (void *)(p + (size_t)(i + 1) * s->block_size));
    }
    CHECKF(s->carved == 8 * s->block_size, "7 mallocs carved %u bytes, not 8 blocks", s->carved);
    resident = resident_pages(slab_start(s), slab_limit(s));
    CHECKF(resident == 3, "%zu pages resident for 7 blocks of 1536 bytes (10.5 KiB)", resident);
    CHECK(hak_debug_check_heap() == 0);
    for (int i = 0; i < 6; i++)
        hak_free(q[i]);
    hak_free(p);
}
