/* options.c — reads the HAKMEM_* environment once.
 *
 * The first allocation can come from the dynamic loader before libc has set up `environ`; then the
 * environment is read from /proc/self/environ instead, so options hold from the very first call. */
#define _GNU_SOURCE
#include "options.h"

#include "hakmem.h"
#include "option_table.h"
#include "os_memory.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hk_options hk_options = {
    .stats = 0,
    .stats_file = NULL,
    .external_guard = GUARD_CONTAIN,
    .guard_report_at = 100,
    .invalid_free = INVALID_FREE_ABORT,
    .segment_cache = 8,
    .large_cache_bytes = (size_t)256 << 20,
    .large_purge_ms = 1000,
    .large_huge_pages = 1,
    .wait_limit_s = 10,
};

extern char **environ;

static char proc_environ[16384];
static size_t proc_environ_len;

static void load_proc_environ(void)
{
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n;
    while (proc_environ_len < sizeof proc_environ - 1 &&
           (n = read(fd, proc_environ + proc_environ_len,
                     sizeof proc_environ - 1 - proc_environ_len)) > 0)
        proc_environ_len += (size_t)n;
    close(fd);
}

static const char *lookup(const char *name)
{
    size_t len = strlen(name);
    if (environ != NULL) {
        for (char **e = environ; *e != NULL; e++)
            if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
                return *e + len + 1;
        return NULL;
    }
    for (size_t i = 0; i < proc_environ_len; i += strlen(proc_environ + i) + 1)
        if (strncmp(proc_environ + i, name, len) == 0 && proc_environ[i + len] == '=')
            return proc_environ + i + len + 1;
    return NULL;
}

static int parse_unsigned(const char *s, unsigned long *out)
{
    if (s == NULL || *s == '\0')
        return 0;
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > (1ul << 40))
            return 0;
    }
    *out = v;
    return 1;
}

#define OPTION_NAME(id, var, flag, values, def, help) var,
#define OPTION_VALUES(id, var, flag, values, def, help) values,
static const char *const option_var[] = {HAK_OPTION_TABLE(OPTION_NAME)};
static const char *const option_values[] = {HAK_OPTION_TABLE(OPTION_VALUES)};

static const char *option(enum hak_option_id id) { return lookup(option_var[id]); }

static int option_choice(enum hak_option_id id)
{
    return hak_option_word(option(id), option_values[id]);
}

void hk_options_init(void)
{
    if (environ == NULL)
        load_proc_environ();
    unsigned long v;
    static const unsigned stats_levels[] = {0, HAK_STATS_TEXT, HAK_STATS_TEXT, HAK_STATS_JSON};
    int k = option_choice(HAK_OPTION_STATS); /* 0|1|text|json */
    if (k >= 0)
        hk_options.stats = stats_levels[k];
    const char *file = option(HAK_OPTION_STATS_FILE);
    if (file != NULL && *file != '\0')
        hk_options.stats_file = file;
    if (parse_unsigned(option(HAK_OPTION_SEGMENT_CACHE), &v))
        hk_options.segment_cache = (unsigned)v;
    if (parse_unsigned(option(HAK_OPTION_LARGE_CACHE_MB), &v))
        hk_options.large_cache_bytes = (size_t)v << 20;
    if (parse_unsigned(option(HAK_OPTION_LARGE_PURGE_MS), &v))
        hk_options.large_purge_ms = v;
    k = option_choice(HAK_OPTION_LARGE_HUGE_PAGES); /* 0|1 */
    if (k >= 0)
        hk_options.large_huge_pages = (unsigned)k;
    if (hk_options.large_huge_pages && !hk_os_huge_pages_available())
        hk_options.large_huge_pages = 0; /* the Large tier's trade-offs assume them: see large.c */
    if (parse_unsigned(option(HAK_OPTION_WAIT_LIMIT_S), &v) && v > 0)
        hk_options.wait_limit_s = (unsigned)v;
    k = option_choice(HAK_OPTION_EXTERNAL_GUARD); /* contain|log|abort */
    if (k >= 0)
        hk_options.external_guard = (unsigned)k;
    if (parse_unsigned(option(HAK_OPTION_EXTERNAL_GUARD_REPORT), &v))
        hk_options.guard_report_at = v;
    k = option_choice(HAK_OPTION_INVALID_FREE); /* abort|report */
    if (k >= 0)
        hk_options.invalid_free = (unsigned)k;
}
