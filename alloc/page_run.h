/* page_run.h — the L25 tier: runs of 4 KiB pages inside page-run segments, for requests above
 * the Mid tier up to 1 MiB.
 *
 * Owns: page-run segments, their per-page run table, and the sharded arenas (each with its own
 * lock and size-binned free runs) that allocate from them. Freed runs coalesce with free
 * neighbours and are reused before a segment goes back to the segment cache.
 * Promises: every run starts on a page boundary (so alignments up to the page size are free, and
 * larger ones are carved on request); a free is validated against the run table under the arena
 * lock. Must never: hold an arena lock while taking another arena's. */
#ifndef HAK_PAGE_RUN_H
#define HAK_PAGE_RUN_H

#include "config.h"

#define PAGE_RUN_ARENAS 8

/* A run of at least size bytes aligned to align (a power of two); NULL with errno ENOMEM. */
HAK_HIDDEN void *hk_page_run_alloc(size_t size, size_t align, int zero, unsigned arena);
/* Free the run starting at p: returns -1 on success, otherwise the enum misuse_kind that p
 * represents (already free, inside a run, or never allocated); nothing is changed then. */
HAK_HIDDEN int hk_page_run_free(void *p);
/* -1 if p starts a live run, otherwise its enum misuse_kind. */
HAK_HIDDEN int hk_page_run_classify(const void *p);
/* The misuse kind of p in a page-run segment that went idle (the caller holds it in the segment
 * cache): a run that started at p was freed there, or nothing was. */
HAK_HIDDEN int hk_page_run_idle_classify(const void *p);
/* Bytes usable at a live run start, 0 otherwise. */
HAK_HIDDEN size_t hk_page_run_usable(const void *p);
/* Grow or shrink the run at p in place to hold size bytes: 1 on success, 0 if it must move,
 * -1 if p is not the start of a live run. */
HAK_HIDDEN int hk_page_run_resize(void *p, size_t size);

/* The page runs' statistics (page_run_* of HAK_STATS_FIELDS) into out. */
struct hak_stats;
HAK_HIDDEN void hk_page_run_stats(struct hak_stats *out);

/* The heap check's part (check.h): runs tile their segments and coalesce, the run tables agree;
 * adds the page-run segments to *segments. */
struct check;
HAK_HIDDEN void hk_page_run_check(struct check *c, uint64_t *segments);

HAK_HIDDEN void hk_page_run_init(void);
HAK_HIDDEN void hk_page_run_fork_prepare(void);
HAK_HIDDEN void hk_page_run_fork_parent(void);
HAK_HIDDEN void hk_page_run_fork_child(void);

#endif
