/* external_guard.c — contain foreign pointers and count them. */
#include "external_guard.h"

#include <errno.h>

static uint64_t hits;

void external_guard_free(const void *p)
{
    (void)p;
    __atomic_fetch_add(&hits, 1, __ATOMIC_RELAXED);
}

void *external_guard_realloc(const void *p)
{
    external_guard_free(p);
    errno = EINVAL;
    return NULL;
}

uint64_t external_guard_hits(void) { return __atomic_load_n(&hits, __ATOMIC_RELAXED); }
