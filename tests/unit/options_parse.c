/* Options are read once, at initialization, from the environment, or from /proc/self/environ
 * when hakmem initializes before libc has set `environ` up; malformed values keep the default. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "diag.h"
#include "hakmem.h"
#include "options.h"
#include "test.h"

TEST(well_formed_values_are_taken_and_malformed_ones_keep_the_default)
{
    setenv("HAKMEM_SEGMENT_CACHE", "3", 1);
    setenv("HAKMEM_LARGE_CACHE_MB", "12x", 1);            /* not a number */
    setenv("HAKMEM_LARGE_PURGE_MS", "99999999999999", 1); /* past 2^40 */
    setenv("HAKMEM_EXTERNAL_GUARD", "log", 1);
    setenv("HAKMEM_INVALID_FREE", "sometimes", 1); /* not a choice */
    setenv("HAKMEM_STATS", "", 1);                 /* empty */
    setenv("HAKMEM_WAIT_LIMIT_S", "0", 1);         /* zero is not a limit */
    struct hk_options defaults = hk_options;
    hk_options_init();
    CHECK(hk_options.segment_cache == 3);
    CHECK(hk_options.large_cache_bytes == defaults.large_cache_bytes);
    CHECK(hk_options.large_purge_ms == defaults.large_purge_ms);
    CHECK(hk_options.external_guard == GUARD_LOG);
    CHECK(hk_options.invalid_free == defaults.invalid_free);
    CHECK(hk_options.stats == defaults.stats);
    CHECK(hk_options.wait_limit_s == defaults.wait_limit_s);
}

TEST(options_are_read_from_proc_when_environ_is_not_set_up_yet)
{
    /* A fresh process whose initial environment has the variables reads them from /proc. */
    char path[4096], out[512];
    test_program_path(path, sizeof path, "options_case");
    setenv("HAKMEM_SEGMENT_CACHE", "5", 1);
    setenv("HAKMEM_EXTERNAL_GUARD", "abort", 1);
    char *argv[] = {path, NULL};
    int status = test_run_program(argv, out, sizeof out);
    CHECKF(status == 0 && strstr(out, "segment_cache=5 external_guard=2"), "status %#x: %s", status,
           out);
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
