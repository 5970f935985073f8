/* A segment returned to the segment cache by one kind of use (slabs) and taken by another (page
 * runs, or slabs of the other geometry) starts clean: in the ASan and valgrind variants, the
 * shadow and definedness left by the old blocks must not trip the new headers (found by AFL++). */
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"
#include "test.h"

#define BLOCKS (3 * 65536) /* 12 MiB of 64-byte blocks: three slab segments */

TEST(segments_reused_across_kinds_start_clean)
{
    void **blocks = calloc(BLOCKS, sizeof *blocks);
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = hak_malloc(64);
        memset(blocks[i], 0x5a, 64);
    }
    struct hak_stats s;
    hak_stats(&s);
    uint64_t peak_segments = s.segments_peak;
    for (int i = 0; i < BLOCKS; i++)
        hak_free(blocks[i]);
    hak_thread_flush();
    hak_stats(&s);
    CHECKF(s.segments_cached > 0, "no slab segment went back to the cache (peak %llu)",
           (unsigned long long)peak_segments);
    /* Page runs and medium slabs now take those segments over. */
    void *runs[8], *mids[64];
    for (int i = 0; i < 8; i++) {
        runs[i] = hak_malloc(900000);
        memset(runs[i], 1, 900000);
    }
    for (int i = 0; i < 64; i++) {
        mids[i] = hak_malloc(20000);
        memset(mids[i], 2, 20000);
    }
    CHECK(hak_debug_check_heap() == 0);
    for (int i = 0; i < 8; i++)
        hak_free(runs[i]);
    for (int i = 0; i < 64; i++)
        hak_free(mids[i]);
    free(blocks);
}
