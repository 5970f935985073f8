/* meta_alloc.c — bump-and-free-list pools for metadata objects. */
#include "meta_alloc.h"

#include <string.h>

#include "os_memory.h"

#define META_CHUNK ((size_t)1 << 20)

void *hk_meta_pool_alloc(struct meta_pool *pool)
{
    size_t size = (pool->object_size + HAK_CACHE_LINE - 1) & ~(size_t)(HAK_CACHE_LINE - 1);
    void *obj;
    hak_lock(&pool->lock);
    if (pool->free_list != NULL) {
        obj = pool->free_list;
        pool->free_list = *(void **)obj;
    } else {
        if (pool->bump == NULL || (size_t)(pool->end - pool->bump) < size) {
            size_t chunk = size > META_CHUNK ? size : META_CHUNK;
            char *mem = hk_os_map(chunk);
            if (mem == NULL) {
                hak_unlock(&pool->lock);
                return NULL;
            }
            pool->bump = mem;
            pool->end = mem + chunk;
        }
        obj = pool->bump;
        pool->bump += size;
    }
    hak_unlock(&pool->lock);
    memset(obj, 0, pool->object_size);
    return obj;
}

void hk_meta_pool_free(struct meta_pool *pool, void *obj)
{
    hak_lock(&pool->lock);
    *(void **)obj = pool->free_list;
    pool->free_list = obj;
    hak_unlock(&pool->lock);
}

void hk_meta_pool_fork_child(struct meta_pool *pool) { hak_lock_reinit(&pool->lock); }
