/* external_guard.c — contain, log or abort on foreign pointers; tally call sites. */
#include "external_guard.h"

#include <errno.h>
#include <stdlib.h>

#include "diag.h"
#include "hakmem.h"
#include "lock.h"
#include "options.h"

#define SITES 16
#define LOG_FIRST 16 /* log every event up to this many, then only at powers of two */

struct site {
    const void *caller;
    uint64_t count;
};

static uint64_t frees, reallocs, size_queries;
static hak_lock_t site_lock = HAK_LOCK_INITIALIZER;
static struct site sites[SITES];
static int reported;

/* Count the call site; a full table evicts its rarest entry (the counts are a guide, not exact). */
static void tally(const void *caller)
{
    hak_lock(&site_lock);
    int slot = -1, rarest = 0;
    for (int i = 0; i < SITES; i++) {
        if (sites[i].caller == caller || sites[i].count == 0) {
            slot = i;
            break;
        }
        if (sites[i].count < sites[rarest].count)
            rarest = i;
    }
    if (slot < 0) {
        slot = rarest;
        sites[slot].count = 0;
    }
    sites[slot].caller = caller;
    sites[slot].count++;
    hak_unlock(&site_lock);
}

static void report_once(uint64_t total)
{
    struct site top[SITES];
    hak_lock(&site_lock);
    if (reported) {
        hak_unlock(&site_lock);
        return;
    }
    reported = 1;
    for (int i = 0; i < SITES; i++)
        top[i] = sites[i];
    hak_unlock(&site_lock);
    /* Selection by count, largest first; 16 entries. */
    for (int i = 0; i < SITES; i++)
        for (int j = i + 1; j < SITES; j++)
            if (top[j].count > top[i].count) {
                struct site t = top[i];
                top[i] = top[j];
                top[j] = t;
            }
    hk_diag_print(
        "hakmem: ExternalGuard report: %llu frees/reallocs of pointers hakmem does not own "
        "were contained (leaked, not freed); top call sites:\n",
        (unsigned long long)total);
    for (int i = 0; i < 5 && top[i].count > 0; i++) {
        char name[256];
        hk_diag_print("hakmem:   %8llu  %s\n", (unsigned long long)top[i].count,
                      hk_diag_name_address(top[i].caller, name, sizeof name));
    }
}

static void handle(const char *op, const void *p, const void *caller, uint64_t n)
{
    tally(caller);
    unsigned policy = hk_options.external_guard;
    if (policy != GUARD_CONTAIN &&
        (policy == GUARD_ABORT || n <= LOG_FIRST || (n & (n - 1)) == 0)) {
        char name[256];
        hk_diag_print(
            "hakmem: ExternalGuard: %s(%p): pointer not allocated by hakmem, called from %s; "
            "%s\n",
            op, p, hk_diag_name_address(caller, name, sizeof name),
            policy == GUARD_ABORT ? "aborting (HAKMEM_EXTERNAL_GUARD=abort)" : "contained");
        if (policy == GUARD_ABORT)
            hk_diag_abort();
    }
    uint64_t total =
        __atomic_load_n(&frees, __ATOMIC_RELAXED) + __atomic_load_n(&reallocs, __ATOMIC_RELAXED);
    if (hk_options.guard_report_at != 0 && total >= hk_options.guard_report_at)
        report_once(total);
}

void hk_external_guard_free(const void *p, const void *caller)
{
    handle("free", p, caller, __atomic_add_fetch(&frees, 1, __ATOMIC_RELAXED));
}

void *hk_external_guard_realloc(const void *p, const void *caller)
{
    handle("realloc", p, caller, __atomic_add_fetch(&reallocs, 1, __ATOMIC_RELAXED));
    errno = EINVAL;
    return NULL;
}

size_t hk_external_guard_usable_size(const void *p)
{
    (void)p;
    __atomic_fetch_add(&size_queries, 1, __ATOMIC_RELAXED);
    return 0;
}

void hk_external_guard_stats(struct hak_stats *out)
{
    out->external_guard_frees = __atomic_load_n(&frees, __ATOMIC_RELAXED);
    out->external_guard_reallocs = __atomic_load_n(&reallocs, __ATOMIC_RELAXED);
    out->external_guard_size_queries = __atomic_load_n(&size_queries, __ATOMIC_RELAXED);
    out->external_guard_hits = out->external_guard_frees + out->external_guard_reallocs;
}

void hk_external_guard_fork_prepare(void) { hak_lock(&site_lock); }
void hk_external_guard_fork_parent(void) { hak_unlock(&site_lock); }
void hk_external_guard_fork_child(void) { hak_lock_reinit(&site_lock); }
