/* check.h — how each module takes part in hak_debug_check_heap(): reporting violations and
 * accounting for the blocks the program says it holds.
 *
 * Owns: the interface between heap_check.c (which runs a check and knows the program's held
 * blocks) and the per-module checkers (slab pool, page runs, Large, segments), each of which
 * verifies the invariants of the structures it owns; check.c, a leaf, reports and looks up held
 * blocks, so that the tiers' checkers depend on it and not on heap_check.c. Promises: a checker reads only; every
 * violation is one line naming the structure, what was expected and what was found. Must never:
 * be called while another thread is inside the allocator, or allocate through hakmem. */
#ifndef HAK_CHECK_H
#define HAK_CHECK_H

#include "config.h"

/* One run of a check: the violations found so far and, for a program at rest, the blocks it says
 * it holds (sorted). */
struct check {
    int errors;
    int has_held;
    uintptr_t *held;
    uint8_t *held_found; /* per held block: seen live */
    size_t nheld;
};

/* Violations printed per check; the rest are counted (and their number printed at the end). */
#define CHECK_REPORT_LIMIT 50

/* Report one violation ("hakmem heap check: " + the formatted text + newline). */
HAK_HIDDEN void check_fail(struct check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether the caller gave the list of every block it holds (a check of a program at rest). */
HAK_HIDDEN int check_has_held_list(const struct check *c);
/* With a held list: does the program hold the block starting at a (marking it accounted for)?
 * Without one: always 1 (nothing can be said). */
HAK_HIDDEN int check_held(struct check *c, uintptr_t a);

/* Module checkers: each verifies the structures it owns and reports through c. */
HAK_HIDDEN void slab_pool_check(struct check *c, uint64_t *segments);
HAK_HIDDEN void page_run_check(struct check *c, uint64_t *segments);
HAK_HIDDEN void large_check(struct check *c);
HAK_HIDDEN void segment_check(struct check *c, uint64_t slab_segments, uint64_t run_segments,
                              uint64_t large_mapped_bytes);

#endif
