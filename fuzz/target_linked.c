/* target_linked.c — the allocator under test is hakmem, linked into the program: every
 * capability, and calls that go straight to hak_*. The fuzz, sched, afl, msan and replay builds
 * of hakmem's own suite use this provider. */
#include "target.h"

struct alloc_target target;

void target_open(void)
{
    target = (struct alloc_target){
        .name = "hakmem (linked)",
        .malloc = hak_malloc,
        .free = hak_free,
        .calloc = hak_calloc,
        .realloc = hak_realloc,
        .aligned_alloc = hak_aligned_alloc,
        .usable_size = hak_usable_size,
        .stats = hak_stats,
        .stats_write = hak_stats_write,
        .check_quiescent = hak_debug_check_quiescent,
        .thread_flush = hak_thread_flush,
        .collect = hak_collect,
        .contains_misuse = 1,
        .refuse_memory = hak_debug_refuse_os_memory,
    };
}

/* Every check is on: nothing to say (hakmem's own runs print no target line). */
void target_describe(FILE *out) { (void)out; }
