/* Options are read once, at initialization, from the environment, or from /proc/self/environ
 * when hakmem initializes before libc has set `environ` up. A value its row of option_table.h does
 * not accept (a word not among its words, a number outside its range or not a whole number at
 * all) keeps the default and is named once on stderr. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "hakmem.h"
#include "option_table.h"
#include "options.h"
#include "test.h"

#define ROW_VAR(id, var, flag, values, def, help) var,
#define ROW_VALUES(id, var, flag, values, def, help) values,
static const char *const row_var[] = {HAK_OPTION_TABLE(ROW_VAR)};
static const char *const row_values[] = {HAK_OPTION_TABLE(ROW_VALUES)};

/* hk_options_init() from the defaults, with what it printed on stderr in err. */
static void init_from_defaults(const struct hk_options *defaults, char *err, size_t len)
{
    char path[] = "/tmp/hakmem-options-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    int saved = dup(2);
    dup2(fd, 2);
    hk_options = *defaults;
    hk_options_init();
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, err, len - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* What a numeric option stored, in the row's unit; every numeric row must be known here. */
static uint64_t stored(enum hak_option_id id)
{
    switch (id) {
    case HAK_OPTION_EXTERNAL_GUARD_REPORT:
        return hk_options.guard_report_at;
    case HAK_OPTION_SEGMENT_CACHE:
        return hk_options.segment_cache;
    case HAK_OPTION_LARGE_CACHE_MB:
        return hk_options.large_cache_bytes >> 20;
    case HAK_OPTION_LARGE_PURGE_MS:
        return hk_options.large_purge_ms;
    case HAK_OPTION_WAIT_LIMIT_S:
        return hk_options.wait_limit_s;
    default:
        CHECKF(0, "%s is a number row this test does not know the field of", row_var[id]);
        return 0;
    }
}

TEST(every_numeric_option_takes_its_range_and_refuses_the_rest_naming_it)
{
    struct hk_options defaults = hk_options;
    int numeric = 0;
    for (int id = 0; id < HAK_OPTION_COUNT; id++) {
        if (!hak_option_is_number(row_values[id]))
            continue;
        numeric++;
        uint64_t lo, hi;
        const char *dots = strstr(row_values[id], "..");
        CHECKF(hak_option_digits(row_values[id], dots, &lo) &&
                   hak_option_digits(dots + 2, NULL, &hi) && lo <= hi && hi < UINT64_MAX,
               "%s: range %s", row_var[id], row_values[id]);
        hk_options = defaults;
        uint64_t before = stored((enum hak_option_id)id);
        char min[24], max[24], past[24];
        snprintf(min, sizeof min, "%" PRIu64, lo);
        snprintf(max, sizeof max, "%" PRIu64, hi);
        snprintf(past, sizeof past, "%" PRIu64, hi + 1);
        struct {
            const char *value;
            int taken;
        } cases[] = {
            {min, 1},
            {max, 1},
            {past, 0}, /* the range's ends, and one past it */
            {"0", lo == 0},
            {"4294967296", hi >= 4294967296u}, /* 2^32 */
            {"18446744073709551616", 0},       /* 2^64: does not fit */
            {"-1", 0},
            {"12x", 0},
            {" 5", 0},
            {"0x10", 0},
            {"+3", 0},
        };
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            char err[1024];
            setenv(row_var[id], cases[k].value, 1);
            init_from_defaults(&defaults, err, sizeof err);
            uint64_t got = stored((enum hak_option_id)id);
            if (cases[k].taken) {
                CHECKF(got == strtoull(cases[k].value, NULL, 10) && err[0] == '\0',
                       "%s=%s: stored %" PRIu64 ", said '%s'", row_var[id], cases[k].value, got,
                       err);
            } else {
                CHECKF(got == before && lines(err) == 1 && strstr(err, row_var[id]) &&
                           strstr(err, row_values[id]) && strstr(err, "refused"),
                       "%s=%s (range %s): stored %" PRIu64 " (default %" PRIu64 "), said '%s'",
                       row_var[id], cases[k].value, row_values[id], got, before, err);
            }
        }
        unsetenv(row_var[id]);
    }
    CHECK(numeric >= 5);
}

TEST(a_word_option_given_another_word_keeps_its_default_and_says_so_once)
{
    struct hk_options defaults = hk_options;
    char err[1024];
    setenv("HAKMEM_EXTERNAL_GUARD", "log", 1);
    setenv("HAKMEM_INVALID_FREE", "sometimes", 1); /* not a choice */
    setenv("HAKMEM_STATS", "", 1);                 /* empty: not set, nothing to say */
    init_from_defaults(&defaults, err, sizeof err);
    CHECK(hk_options.external_guard == GUARD_LOG);
    CHECK(hk_options.invalid_free == defaults.invalid_free);
    CHECK(hk_options.stats == defaults.stats);
    CHECKF(lines(err) == 1 && strstr(err, "HAKMEM_INVALID_FREE=sometimes refused") &&
               strstr(err, "abort|report"),
           "said '%s'", err);
    unsetenv("HAKMEM_INVALID_FREE"); /* hakmem's own initialization would say it again */
}

TEST(a_wait_limit_of_2_to_the_32_seconds_is_refused_not_cut_to_zero)
{
    struct hk_options defaults = hk_options;
    char err[1024];
    setenv("HAKMEM_WAIT_LIMIT_S", "4294967296", 1);
    setenv("HAKMEM_SEGMENT_CACHE", "4294967299", 1); /* would wrap to 3 in 32 bits */
    init_from_defaults(&defaults, err, sizeof err);
    CHECK(hk_options.wait_limit_s == defaults.wait_limit_s && hk_options.wait_limit_s > 0);
    CHECK(hk_options.segment_cache == defaults.segment_cache);
    CHECKF(lines(err) == 2 && strstr(err, "HAKMEM_WAIT_LIMIT_S=4294967296 refused") &&
               strstr(err, "1..86400"),
           "said '%s'", err);
    unsetenv("HAKMEM_WAIT_LIMIT_S");
    unsetenv("HAKMEM_SEGMENT_CACHE");
}

TEST(options_are_read_from_proc_when_environ_is_not_set_up_yet)
{
    /* A fresh process whose initial environment has the variables reads them from /proc, and
     * leaves no file descriptor open for it. */
    char path[4096], out[512];
    test_program_path(path, sizeof path, "options_case");
    setenv("HAKMEM_SEGMENT_CACHE", "5", 1);
    setenv("HAKMEM_EXTERNAL_GUARD", "abort", 1);
    char *argv[] = {path, NULL};
    int status = test_run_program(argv, out, sizeof out);
    CHECKF(status == 0 && strstr(out, "segment_cache=5 external_guard=2 fds_left=0"),
           "status %#x: %s", status, out);
}

TEST(statistics_are_printed_at_exit_when_asked_for)
{
    char path[4096], out[8192];
    test_program_path(path, sizeof path, "options_case");
    char *argv[] = {path, "alloc", NULL};
    setenv("HAKMEM_STATS", "1", 1);
    int status = test_run_program(argv, out, sizeof out);
    CHECKF(status == 0 && strstr(out, "hakmem statistics\n") && strstr(out, "\nlarge: allocs "),
           "status %#x: %s", status, out);
    unsetenv("HAKMEM_STATS");
    status = test_run_program(argv, out, sizeof out);
    CHECKF(status == 0 && strstr(out, "hakmem statistics") == NULL, "status %#x: %s", status, out);
}

TEST(addresses_are_named_by_module_and_symbol_or_shown_raw)
{
    char buf[256];
    hk_diag_name_address((const void *)hak_malloc, buf, sizeof buf);
    CHECKF(strstr(buf, "options_parse") != NULL || strstr(buf, "hak_malloc") != NULL, "%s", buf);
    hk_diag_name_address(NULL, buf, sizeof buf);
    CHECKF(strcmp(buf, "(unknown)") == 0, "%s", buf); /* a report whose caller is not known */
    hk_diag_name_address((const void *)LAUNDER((uintptr_t)0x10000), buf,
                         sizeof buf); /* no module */
    CHECKF(strncmp(buf, "0x", 2) == 0, "%s", buf);
}
