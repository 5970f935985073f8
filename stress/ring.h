/* ring.h — a single-producer / single-consumer ring of parcels, for handing blocks between
 * stress threads at full speed (C11 atomics, no locks). */
#ifndef HAK_STRESS_RING_H
#define HAK_STRESS_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_SIZE 1024 /* power of two */

struct parcel {
    void *p;
    size_t size;
    uint32_t tag;
};

struct ring {
    size_t head __attribute__((aligned(64))); /* consumer */
    size_t tail __attribute__((aligned(64))); /* producer */
    struct parcel items[RING_SIZE];
};

static inline int ring_push(struct ring *r, struct parcel x)
{
    size_t t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    if (t - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == RING_SIZE)
        return 0;
    r->items[t & (RING_SIZE - 1)] = x;
    __atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
    return 1;
}

static inline int ring_pop(struct ring *r, struct parcel *out)
{
    size_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    if (h == __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE))
        return 0;
    *out = r->items[h & (RING_SIZE - 1)];
    __atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
    return 1;
}

#endif
