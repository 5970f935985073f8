/* options.h — every HAKMEM_* environment option, in one struct.
 *
 * Owns: the parsed values of option_table.h's options (names, accepted values and defaults are
 * in that table). Promises: the environment is read exactly once, during initialization, before
 * any option is consulted; afterwards options are plain loads. A value outside its row's words or
 * range keeps the default, and is named once on stderr with what the row accepts.
 * Must never: call getenv (or read anything) after initialization, and never allocate. */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include "config.h"

/* In the order of their words in option_table.h. */
enum external_guard_policy { GUARD_CONTAIN, GUARD_LOG, GUARD_ABORT };
enum invalid_free_policy { INVALID_FREE_ABORT, INVALID_FREE_REPORT };

struct hk_options {
    unsigned stats;            /* HAKMEM_STATS: 0, or HAK_STATS_TEXT / HAK_STATS_JSON at exit */
    const char *stats_file;    /* HAKMEM_STATS_FILE: where (NULL: stderr); %p is the pid */
    unsigned external_guard;   /* HAKMEM_EXTERNAL_GUARD: contain | log | abort */
    uint64_t guard_report_at;  /* HAKMEM_EXTERNAL_GUARD_REPORT: hits before the one-time report */
    unsigned invalid_free;     /* HAKMEM_INVALID_FREE: abort | report */
    unsigned segment_cache;    /* HAKMEM_SEGMENT_CACHE: warm free segments kept (count) */
    size_t large_cache_bytes;  /* HAKMEM_LARGE_CACHE_MB: touched freed Large bytes kept */
    uint64_t large_purge_ms;   /* HAKMEM_LARGE_PURGE_MS: age at which they are purged (0: never) */
    unsigned large_huge_pages; /* HAKMEM_LARGE_HUGE_PAGES, and the kernel has them: 1 or 0 */
    unsigned wait_limit_s;     /* HAKMEM_WAIT_LIMIT_S: checking builds abort a wait this long */
};

extern struct hk_options hk_options HAK_HIDDEN;

HAK_HIDDEN void hk_options_init(void);

#endif
