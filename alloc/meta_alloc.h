/* meta_alloc.h — memory for hakmem's own metadata (heap structures, registry tables).
 *
 * Owns: fixed-size object pools carved from OS mappings. Promises: never calls malloc (so it is
 * safe during initialization and from inside the allocator); freed objects are reused but their
 * memory is never unmapped, so a stale pointer to a metadata object stays readable. Must never:
 * serve user allocations. */
#ifndef HAK_META_ALLOC_H
#define HAK_META_ALLOC_H

#include "config.h"
#include "lock.h"

struct meta_pool {
    hak_lock_t lock;
    size_t object_size;
    void *free_list;
    char *bump, *end;
};

#define META_POOL_INITIALIZER(size)                                                                \
    {                                                                                              \
        HAK_LOCK_INITIALIZER, (size), NULL, NULL, NULL                                             \
    }

/* A zeroed object, or NULL (errno ENOMEM). */
HAK_HIDDEN void *hk_meta_pool_alloc(struct meta_pool *pool);
HAK_HIDDEN void hk_meta_pool_free(struct meta_pool *pool, void *obj);
HAK_HIDDEN void hk_meta_pool_fork_child(struct meta_pool *pool);

#endif
