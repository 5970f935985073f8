/* check.h — how each module takes part in hak_debug_check_heap(): reporting violations and
 * accounting for the blocks the program says it holds.
 *
 * Owns: the interface between heap_check.c (which runs a check and knows the program's held
 * blocks) and the per-module checkers (slab pool, page runs, Large, segments, each declared in
 * its module's header), each of which verifies the invariants of the structures it owns; check.c, a leaf, reports and looks up held
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
HAK_HIDDEN void hk_check_fail(struct check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether the caller gave the list of every block it holds (a check of a program at rest). */
HAK_HIDDEN int hk_check_has_held_list(const struct check *c);
/* With a held list: does the program hold the block starting at a (marking it accounted for)?
 * Without one: always 1 (nothing can be said). */
HAK_HIDDEN int hk_check_held(struct check *c, uintptr_t a);

#endif
