/* misuse.c — count invalid frees; the block stays untouched. */
#include "misuse.h"

static uint64_t count;

void misuse_invalid_free(enum misuse_kind kind, const void *p)
{
    (void)kind;
    (void)p;
    __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
}

uint64_t misuse_count(void) { return __atomic_load_n(&count, __ATOMIC_RELAXED); }
