/* options.c — reads the HAKMEM_* environment once; a value its row does not accept is refused
 * (one line on stderr) and the default kept.
 *
 * The first allocation can come from the dynamic loader before libc has set up `environ`; then the
 * environment is read from /proc/self/environ instead, so options hold from the very first call. */
#define _GNU_SOURCE
#include "options.h"

#include "diag.h"
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

#define OPTION_NAME(id, var, flag, values, def, help) var,
#define OPTION_VALUES(id, var, flag, values, def, help) values,
#define OPTION_DEFAULT(id, var, flag, values, def, help) def,
static const char *const option_var[] = {HAK_OPTION_TABLE(OPTION_NAME)};
static const char *const option_values[] = {HAK_OPTION_TABLE(OPTION_VALUES)};
static const char *const option_default[] = {HAK_OPTION_TABLE(OPTION_DEFAULT)};

/* The option's value, NULL when it is not set (an empty value is not set either). */
static const char *option(enum hak_option_id id)
{
    const char *s = lookup(option_var[id]);
    return s != NULL && *s != '\0' ? s : NULL;
}

/* A set value the row does not accept: one line (the default stays). */
static void refuse(enum hak_option_id id, const char *s)
{
    hk_diag_print("hakmem: %s=%.40s%s refused: %s %s; keeping the default, %s\n", option_var[id], s,
                  strlen(s) > 40 ? "..." : "",
                  hak_option_is_number(option_values[id]) ? "not a whole number in" : "not one of",
                  option_values[id], option_default[id]);
}

/* A word row: the index of the value's word, or -1 (not set, or refused). */
static int option_choice(enum hak_option_id id)
{
    const char *s = option(id);
    int k = hak_option_word(s, option_values[id]);
    if (s != NULL && k < 0)
        refuse(id, s);
    return k;
}

/* A number row: 1 with the value in *out, or 0 (not set, or refused). */
static int option_number(enum hak_option_id id, uint64_t *out)
{
    const char *s = option(id);
    if (s == NULL)
        return 0;
    if (hak_option_number(s, option_values[id], out))
        return 1;
    refuse(id, s);
    return 0;
}

void hk_options_init(void)
{
    if (environ == NULL)
        load_proc_environ();
    uint64_t v;
    static const unsigned stats_levels[] = {0, HAK_STATS_TEXT, HAK_STATS_TEXT, HAK_STATS_JSON};
    int k = option_choice(HAK_OPTION_STATS); /* 0|1|text|json */
    if (k >= 0)
        hk_options.stats = stats_levels[k];
    const char *file = option(HAK_OPTION_STATS_FILE);
    if (file != NULL)
        hk_options.stats_file = file;
    /* The ranges of option_table.h fit the fields (tests/unit/options_parse.c stores each
     * maximum and reads it back). */
    if (option_number(HAK_OPTION_SEGMENT_CACHE, &v))
        hk_options.segment_cache = (unsigned)v;
    if (option_number(HAK_OPTION_LARGE_CACHE_MB, &v))
        hk_options.large_cache_bytes = (size_t)v << 20;
    if (option_number(HAK_OPTION_LARGE_PURGE_MS, &v))
        hk_options.large_purge_ms = v;
    k = option_choice(HAK_OPTION_LARGE_HUGE_PAGES); /* 0|1 */
    if (k >= 0)
        hk_options.large_huge_pages = (unsigned)k;
    if (hk_options.large_huge_pages && !hk_os_huge_pages_available())
        hk_options.large_huge_pages = 0; /* the Large tier's trade-offs assume them: see large.c */
    if (option_number(HAK_OPTION_WAIT_LIMIT_S, &v))
        hk_options.wait_limit_s = (unsigned)v;
    k = option_choice(HAK_OPTION_EXTERNAL_GUARD); /* contain|log|abort */
    if (k >= 0)
        hk_options.external_guard = (unsigned)k;
    if (option_number(HAK_OPTION_EXTERNAL_GUARD_REPORT, &v))
        hk_options.guard_report_at = v;
    k = option_choice(HAK_OPTION_INVALID_FREE); /* abort|report */
    if (k >= 0)
        hk_options.invalid_free = (unsigned)k;
}
