/* orphan_pool.c — lists of orphaned slabs, adoption and reclamation. */
#include "orphan_pool.h"

#include "check.h"
#include "hakmem.h"
#include "list.h"
#include "size_class.h"

static hak_lock_t lock = HAK_LOCK_INITIALIZER;
static struct slab *lists[HAK_CLASS_COUNT];
static uint32_t counts[HAK_CLASS_COUNT]; /* atomic reads without the lock, as a hint */
static uint64_t total, orphaned, adopted, reclaimed;

static void unlink_locked(struct slab *s)
{
    LIST_REMOVE(&lists[s->cls], s, next, prev);
    __atomic_store_n(&counts[s->cls], counts[s->cls] - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&total, total - 1, __ATOMIC_RELAXED);
}

void hk_orphan_pool_put(struct slab *s)
{
    s->list = SLAB_LIST_ORPHAN;
    hak_lock(&lock);
    LIST_PUSH(&lists[s->cls], s, next, prev);
    __atomic_store_n(&counts[s->cls], counts[s->cls] + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&total, total + 1, __ATOMIC_RELAXED);
    orphaned++;
    hak_unlock(&lock);
}

struct slab *hk_orphan_pool_take(unsigned cls)
{
    if (__atomic_load_n(&counts[cls], __ATOMIC_RELAXED) == 0)
        return NULL;
    hak_lock(&lock);
    struct slab *s = lists[cls];
    if (s != NULL) {
        unlink_locked(s);
        adopted++;
        s->list = SLAB_LIST_NONE;
    }
    hak_unlock(&lock);
    return s;
}

struct slab *hk_orphan_pool_reclaim(void)
{
    if (__atomic_load_n(&total, __ATOMIC_RELAXED) == 0)
        return NULL;
    struct slab *empty = NULL;
    unsigned n = 0;
    hak_lock(&lock);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        struct slab *s = lists[c];
        while (s != NULL) {
            struct slab *next = s->next;
            hk_slab_drain(s);
            if (s->used == 0) {
                unlink_locked(s);
                s->next = empty;
                empty = s;
                n++;
            }
            s = next;
        }
    }
    reclaimed += n;
    hak_unlock(&lock);
    return empty;
}

void hk_orphan_pool_stats(struct hak_stats *out)
{
    hak_lock(&lock);
    out->slabs_orphaned = orphaned;
    out->slabs_adopted = adopted;
    out->slabs_reclaimed = reclaimed;
    hak_unlock(&lock);
}

void hk_orphan_pool_check(struct check *c, void (*fn)(struct slab *, void *), void *arg)
{
    uint64_t sum = 0;
    hak_lock(&lock);
    for (unsigned k = 0; k < HAK_CLASS_COUNT; k++) {
        uint32_t n = 0;
        for (struct slab *s = lists[k], *prev = NULL; s != NULL && n <= counts[k];
             prev = s, s = s->next, n++) {
            if (s->prev != prev)
                hk_check_fail(c, "orphan list of class %u: broken back link at slab %p", k,
                              (void *)s);
            if (slab_owner(s) != SLAB_OWNER_ORPHAN || s->list != SLAB_LIST_ORPHAN || s->cls != k)
                hk_check_fail(
                    c, "orphan list of class %u holds slab %p (owner %#lx, list %u, class %u)", k,
                    (void *)s, (unsigned long)slab_owner(s), (unsigned)s->list, (unsigned)s->cls);
            fn(s, arg);
        }
        if (n != counts[k])
            hk_check_fail(c, "orphan list of class %u holds %u slabs, its count says %u", k, n,
                          counts[k]);
        sum += n;
    }
    if (sum != total)
        hk_check_fail(c, "orphan lists hold %llu slabs, the total says %llu",
                      (unsigned long long)sum, (unsigned long long)total);
    hak_unlock(&lock);
}

void hk_orphan_pool_fork_prepare(void) { hak_lock(&lock); }
void hk_orphan_pool_fork_parent(void) { hak_unlock(&lock); }
void hk_orphan_pool_fork_child(void) { hak_lock_reinit(&lock); }
