/* misuse.c — diagnose, count and (by default) abort on invalid frees of hakmem memory. */
#include "misuse.h"

#include <stdlib.h>

#include "diag.h"
#include "hakmem.h"
#include "options.h"

#define REPORT_FIRST                                                                               \
    16 /* under the report policy: every event up to this many, then powers of 2                   \
        */

static uint64_t counts[MISUSE_KINDS];

static const char *const what[MISUSE_KINDS] = {
    [MISUSE_DOUBLE_FREE] = "double free detected",
    [MISUSE_INTERIOR] = "invalid pointer (inside a block, not at its start)",
    [MISUSE_NOT_ALLOCATED] = "invalid pointer (memory not allocated)",
    [MISUSE_OVERFLOW] = "heap buffer overflow (the canary after the block changed)",
    [MISUSE_UNDERFLOW] = "heap buffer underflow (the header or canary before the block changed)",
    [MISUSE_WRITE_AFTER_FREE] = "write after free (a freed block changed before its reuse)",
    [MISUSE_KIND_MISMATCH] = "mismatched deallocation",
    [MISUSE_SIZE_MISMATCH] = "size mismatch",
};

void hk_misuse_report(enum misuse_kind kind, const char *op, const void *p,
                      struct misuse_site where, const void *caller)
{
    hk_misuse_report_detail(kind, op, p, where, caller, "");
}

void hk_misuse_report_detail(enum misuse_kind kind, const char *op, const void *p,
                             struct misuse_site where, const void *caller, const char *detail)
{
    uint64_t n = __atomic_add_fetch(&counts[kind], 1, __ATOMIC_RELAXED);
    int abort_now = hk_options.invalid_free == INVALID_FREE_ABORT;
    if (!abort_now && n > REPORT_FIRST && (n & (n - 1)) != 0)
        return;
    char cls[64] = "";
    if (where.cls >= 0)
        hk_diag_name_class(cls, sizeof cls, where.cls, where.block_size);
    char name[256];
    hk_diag_print("hakmem: %s(): %s: %p in %s%s%s, called from %s%s\n", op, what[kind], p,
                  where.tier, cls, detail, hk_diag_name_address(caller, name, sizeof name),
                  abort_now ? "" : "; ignored (HAKMEM_INVALID_FREE=report)");
    if (abort_now)
        hk_diag_abort();
}

uint64_t hk_misuse_count(enum misuse_kind kind)
{
    return __atomic_load_n(&counts[kind], __ATOMIC_RELAXED);
}

void hk_misuse_stats(struct hak_stats *out)
{
    out->double_frees = hk_misuse_count(MISUSE_DOUBLE_FREE);
    out->interior_frees = hk_misuse_count(MISUSE_INTERIOR);
    out->unallocated_frees = hk_misuse_count(MISUSE_NOT_ALLOCATED);
    out->invalid_frees = 0;
    for (int k = 0; k < MISUSE_KINDS; k++)
        out->invalid_frees += hk_misuse_count((enum misuse_kind)k);
}
