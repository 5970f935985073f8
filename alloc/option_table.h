/* option_table.h — the one list of hakmem's HAKMEM_* environment options.
 *
 * Owns: every option's variable, its launcher flag, the values it accepts, its default and its
 * help line. Promises: the library (options.c) reads exactly these variables and the launcher
 * (bin/hakmem) accepts exactly these flags, both expanded from this list, and both match a value
 * against a row's words with hak_option_word. Must never: hold anything the library would have to
 * allocate for.
 *
 * X(id, variable, flag, values, default, help) — values: "a|b|c" one of the words, "MIN..MAX" a
 * whole decimal number in that range (the range of what the option stores: nothing is cut to
 * fit), "PATH" any text. A value the row does not accept is refused: the library keeps the
 * default and says so once on stderr, the launcher exits 2. */
#ifndef HAK_OPTION_TABLE_H
#define HAK_OPTION_TABLE_H

#include <stdint.h>
#include <string.h>

#define HAK_OPTION_TABLE(X)                                                                        \
    X(STATS, "HAKMEM_STATS", "stats", "0|1|text|json", "0",                                        \
      "statistics at exit: 1 or text for people, json for tools")                                  \
    X(STATS_FILE, "HAKMEM_STATS_FILE", "stats-file", "PATH", "stderr",                             \
      "write the statistics to PATH (%p: the process id) instead of stderr")                       \
    X(EXTERNAL_GUARD, "HAKMEM_EXTERNAL_GUARD", "guard", "contain|log|abort", "contain",            \
      "free or realloc of memory hakmem does not own: ignore it, log it, or abort")                \
    X(EXTERNAL_GUARD_REPORT, "HAKMEM_EXTERNAL_GUARD_REPORT", "guard-report", "0..4294967295",      \
      "100", "contained calls before the one-time report (0: never)")                              \
    X(INVALID_FREE, "HAKMEM_INVALID_FREE", "invalid-free", "abort|report", "abort",                \
      "double, interior or unallocated free of hakmem memory: abort, or report and count it")      \
    X(SEGMENT_CACHE, "HAKMEM_SEGMENT_CACHE", "segment-cache", "0..64", "8",                        \
      "free 4 MiB segments kept mapped for reuse")                                                 \
    X(LARGE_CACHE_MB, "HAKMEM_LARGE_CACHE_MB", "large-cache-mb", "0..1048576", "256",              \
      "MiB of touched, freed Large blocks kept for reuse")                                         \
    X(LARGE_PURGE_MS, "HAKMEM_LARGE_PURGE_MS", "large-purge-ms", "0..86400000", "1000",            \
      "age in ms at which cached Large pages go back to the OS (0: never)")                        \
    X(LARGE_HUGE_PAGES, "HAKMEM_LARGE_HUGE_PAGES", "large-huge-pages", "0|1", "1",                 \
      "back Large blocks with 2 MiB transparent huge pages where the kernel allows it")            \
    X(WAIT_LIMIT_S, "HAKMEM_WAIT_LIMIT_S", "wait-limit-s", "1..86400", "10",                       \
      "checking builds: seconds a wait on another thread may last before it aborts")

#define HAK_OPTION_ID(id, var, flag, values, def, help) HAK_OPTION_##id,
enum hak_option_id { HAK_OPTION_TABLE(HAK_OPTION_ID) HAK_OPTION_COUNT };
#undef HAK_OPTION_ID

/* Index of s among the '|'-separated words of a row's `values`, or -1. */
static inline int hak_option_word(const char *s, const char *values)
{
    if (s == NULL)
        return -1;
    size_t len = strlen(s);
    int index = 0;
    for (const char *w = values;; index++) {
        const char *end = strchr(w, '|');
        size_t wlen = end != NULL ? (size_t)(end - w) : strlen(w);
        if (wlen == len && strncmp(s, w, len) == 0)
            return index;
        if (end == NULL)
            return -1;
        w = end + 1;
    }
}

/* Whether a row takes a number ("MIN..MAX"). */
static inline int hak_option_is_number(const char *values) { return strstr(values, "..") != NULL; }

/* The digits [s, end) (end NULL: to the string's end) as a number; 0 if there are none, if
 * anything else is there (a sign, a space, a letter), or if they do not fit in 64 bits. */
static inline int hak_option_digits(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *c = s;
    for (; end != NULL ? c < end : *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return 0;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (c == s)
        return 0;
    *out = v;
    return 1;
}

/* s as a number a row of `values` "MIN..MAX" accepts (stored in *out), or 0. */
static inline int hak_option_number(const char *s, const char *values, uint64_t *out)
{
    const char *dots = strstr(values, "..");
    uint64_t lo, hi, v;
    if (s == NULL || dots == NULL || !hak_option_digits(values, dots, &lo) ||
        !hak_option_digits(dots + 2, NULL, &hi) || !hak_option_digits(s, NULL, &v) || v < lo ||
        v > hi)
        return 0;
    *out = v;
    return 1;
}

#endif
