/* stats.h — the statistics snapshot and its reports.
 *
 * Owns: gathering every module's counters into one struct hak_stats, and writing it as text or
 * JSON. Promises: printing never allocates (a stack buffer, few write(2) calls), so it is safe at
 * exit and inside a signal-free allocator call. Must never: initialize the allocator (the public
 * entry points in api.c do, before calling here) or be on a fast path. */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "config.h"
#include "hakmem.h"

/* hak_stats(): the snapshot, of an initialized allocator. */
HAK_HIDDEN void hk_stats_collect(struct hak_stats *out);
/* hak_stats_print() and hak_stats_write(). */
HAK_HIDDEN void hk_stats_print(int fd);
HAK_HIDDEN void hk_stats_write(int fd, int format);
/* The HAKMEM_STATS report, in its format, to HAKMEM_STATS_FILE or stderr. */
HAK_HIDDEN void hk_stats_report_at_exit(void);

#endif
