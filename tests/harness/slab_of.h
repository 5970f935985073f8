/* slab_of.h — for tests that look inside the slab tier: the slab holding a block.
 *
 * Owns: nothing; one lookup the way the free path makes it. Promises: the slab of a live or free
 * slab block. Must never: be given a pointer that is not a slab block (the answer is then
 * meaningless). */
#ifndef HAK_TEST_SLAB_OF_H
#define HAK_TEST_SLAB_OF_H

#include <stdint.h>

#include "segment_map.h"
#include "slab.h"

static inline struct slab *slab_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return slab_of_address(a, segment_map_kind(a));
}

#endif
