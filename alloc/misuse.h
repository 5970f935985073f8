/* misuse.h — invalid frees of hakmem's own memory.
 *
 * Owns: the kinds of misuse (double free, interior pointer, never-allocated memory), their
 * counters, and policy HAKMEM_INVALID_FREE: abort (default: one line naming the kind, the pointer
 * and the size class, then abort(), like glibc's "free(): double free detected") or report (one
 * rate-limited line, count it, ignore the call). Promises: a reported misuse changes no allocator
 * state, so nothing that belongs to anyone else is lost. Must never: handle memory that is not
 * hakmem's at all (that is ExternalGuard's). */
#ifndef HAK_MISUSE_H
#define HAK_MISUSE_H

#include "config.h"

enum misuse_kind {
    MISUSE_DOUBLE_FREE,   /* the block is already free */
    MISUSE_INTERIOR,      /* points inside a block or run, not at its start */
    MISUSE_NOT_ALLOCATED, /* hakmem memory never handed out, or holding no live block */
    /* Found by the hardened build only: */
    MISUSE_OVERFLOW,         /* the canary after a block changed */
    MISUSE_UNDERFLOW,        /* the header or canary before a block changed */
    MISUSE_WRITE_AFTER_FREE, /* a freed block changed before it was handed out again */
    MISUSE_KIND_MISMATCH,    /* malloc / new / new[] freed by another family's call */
    MISUSE_SIZE_MISMATCH,    /* a sized free (free_sized, sized delete) with another size */
    MISUSE_KINDS
};

/* Where the pointer lies, for the diagnostic: tier name, size class (-1 if none), block bytes. */
struct misuse_site {
    const char *tier;
    int cls;
    size_t block_size;
};

/* `op` is the API call ("free", "realloc"). Returns only under the report policy. */
HAK_HIDDEN void hk_misuse_report(enum misuse_kind kind, const char *op, const void *p,
                                 struct misuse_site where, const void *caller);
/* The same with a detail after the site (the block's size, the byte that changed). */
HAK_HIDDEN void hk_misuse_report_detail(enum misuse_kind kind, const char *op, const void *p,
                                        struct misuse_site where, const void *caller,
                                        const char *detail);
HAK_HIDDEN uint64_t hk_misuse_count(enum misuse_kind kind);
/* The misuse statistics (invalid_frees: every kind, the hardened build's too; double_frees,
 * interior_frees, unallocated_frees) into out. */
struct hak_stats;
HAK_HIDDEN void hk_misuse_stats(struct hak_stats *out);

#endif
