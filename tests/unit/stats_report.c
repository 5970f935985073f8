/* The statistics reports say what hak_stats() says: the JSON report is one object (schema 1) whose
 * counters are the snapshot's, the text report has a line per tier, and the report at exit goes
 * to HAKMEM_STATS_FILE with %p expanded, or says in one line why it could not. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"
#include "init.h"
#include "options.h"
#include "stats.h"
#include "test.h"

static char out[1 << 16];

/* hak_stats_write(format) into out[]. */
static void report_into_buffer(int format)
{
    char path[] = "/tmp/hakmem-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    hak_stats_write(fd, format);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    CHECK(n > 0);
    out[n] = '\0';
}

/* The unsigned value of member "name" in the JSON report, or -1 if it is not there. */
static long long json_member(const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\": ", name);
    const char *at = strstr(out, key);
    return at == NULL ? -1 : strtoll(at + strlen(key), NULL, 10);
}

static unsigned occurrences(const char *text, const char *what)
{
    unsigned n = 0;
    for (const char *at = strstr(text, what); at != NULL; at = strstr(at + 1, what))
        n++;
    return n;
}

TEST(json_report_is_one_object_with_the_snapshot_counters)
{
    void *small[100], *run = hak_malloc(100 << 10), *large = hak_malloc(8 << 20);
    for (int i = 0; i < 100; i++)
        small[i] = hak_malloc(64);
    struct hak_stats s;
    hak_stats(&s);
    report_into_buffer(HAK_STATS_JSON);
    CHECKF(strncmp(out,
                   "{\"schema\": \"hakmem-stats\", \"schema_version\": 1, \"hakmem_version\": \"",
                   67) == 0,
           "%.120s", out);
    CHECKF(strstr(out, hak_version()) != NULL && strcmp(hak_version(), HAKMEM_VERSION_STRING) == 0,
           "%.120s", out);
    size_t len = strlen(out);
    CHECKF(strcmp(out + len - 3, "]}\n") == 0 && occurrences(out, "\n") == 1,
           "not one line ending the object: ...%s", out + (len > 40 ? len - 40 : 0));
    CHECK(occurrences(out, "{") == occurrences(out, "}"));
    CHECK(occurrences(out, "{\"class\": ") == HAK_NUM_CLASSES);
    /* Nothing allocated between the snapshot and the report: the tiers' counters are equal. */
    CHECK(json_member("large_allocs") == (long long)s.large_allocs && s.large_allocs >= 1);
    CHECK(json_member("page_run_allocs") == (long long)s.page_run_allocs && s.page_run_allocs >= 1);
    CHECK(json_member("segments_mapped") == (long long)s.segments_mapped);
    CHECK(json_member("live_bytes") >= (long long)(8 << 20));
    CHECK(json_member("pid") == (long long)getpid());
    /* Every member of HAK_STATS_FIELDS, with the snapshot's value (nothing changed between), and
     * nothing else: schema, schema_version, hakmem_version, pid and classes besides, and each
     * class's number and nine members. */
    int members = 0;
#define MEMBER_EQUALS_SNAPSHOT(f, group, label, what)                                              \
    CHECKF(json_member(#f) == (long long)s.f, "member %s: %lld, snapshot %llu", #f,                \
           json_member(#f), (unsigned long long)s.f);                                              \
    members++;
    HAK_STATS_FIELDS(MEMBER_EQUALS_SNAPSHOT)
    CHECK(members >= 37 &&
          occurrences(out, "\": ") == (unsigned)(members + 5) + HAK_NUM_CLASSES * (1 + 9));
    for (int i = 0; i < 100; i++)
        hak_free(small[i]);
    hak_free(run);
    hak_free(large);
}

TEST(text_report_has_a_line_per_group_with_the_snapshot_counters)
{
    void *p = hak_malloc(40), *large = hak_malloc(3 << 20);
    struct hak_stats s;
    hak_stats(&s);
    report_into_buffer(HAK_STATS_TEXT);
    static const char *const lines[] = {"hakmem statistics\n",  "\nslabs: allocs ",
                                        "\npage runs: allocs ", "\nlarge: allocs ",
                                        "\nsegments: ",         "\nthreads: "};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        CHECKF(strstr(out, lines[i]) != NULL, "no \"%s\" in: %s", lines[i], out);
        /* Each group's line: "group: label value, label value, ..." in the table's order. */
#define TEXT_HAS(f, g, label, what)                                                                \
    {                                                                                              \
        char want[160];                                                                            \
        const char *line = strstr(out, "\n" g ": ");                                               \
        snprintf(want, sizeof want, "%s %llu", label, (unsigned long long)s.f);                    \
        const char *end = line != NULL ? strchr(line + 1, '\n') : NULL;                            \
        const char *at = line != NULL ? strstr(line, want) : NULL;                                 \
        CHECKF(at != NULL && at < end, "no \"%s\" on the %s line: %s", want, g, out);              \
    }
    HAK_STATS_FIELDS(TEXT_HAS)
    hak_free(p);
    hak_free(large);
}

static char dir[64];

static void report_at_exit_as_json(void *file)
{
    setenv("HAKMEM_STATS", "json", 1);
    setenv("HAKMEM_STATS_FILE", file, 1);
    hk_options_init();
    hk_stats_report_at_exit();
}

TEST(report_at_exit_goes_to_the_file_named_with_the_pid)
{
    strcpy(dir, "/tmp/hakmem-stats-dir-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char pattern[128];
    snprintf(pattern, sizeof pattern, "%s/run.%%p.100%%%%.json", dir);
    char err[4096];
    int status = test_run_child(report_at_exit_as_json, pattern, err, sizeof err);
    CHECKF(status == 0 && err[0] == '\0', "status %#x: %s", status, err);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    unsigned files = 0;
    char name[256] = "";
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            files++;
            snprintf(name, sizeof name, "%s", e->d_name);
        }
    closedir(d);
    long pid = 0;
    int used = 0;
    CHECKF(files == 1 && sscanf(name, "run.%ld.100%%.json%n", &pid, &used) == 1 &&
               name[used] == '\0' && pid > 0 && pid != (long)getpid(),
           "%u file(s), last %s", files, name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    ssize_t n = read(fd, out, sizeof out - 1);
    close(fd);
    unlink(path);
    rmdir(dir);
    CHECK(n > 0);
    out[n] = '\0';
    CHECKF(strncmp(out, "{\"schema\": \"hakmem-stats\"", 25) == 0 && json_member("pid") == pid,
           "%.100s", out);
}

static void report_at_exit_as_text(void *arg)
{
    (void)arg;
    setenv("HAKMEM_STATS", "text", 1);
    unsetenv("HAKMEM_STATS_FILE");
    hk_options_init();
    hk_options.stats_file = NULL;
    hk_stats_report_at_exit();
}

TEST(report_at_exit_without_a_file_goes_to_stderr)
{
    char err[1 << 14];
    int status = test_run_child(report_at_exit_as_text, NULL, err, sizeof err);
    CHECKF(status == 0 && strncmp(err, "hakmem statistics\n", 18) == 0, "status %#x: %.200s",
           status, err);
}

TEST(unwritable_stats_file_is_one_line_on_stderr)
{
    char err[4096];
    int status =
        test_run_child(report_at_exit_as_json, "/nonexistent-dir/stats.json", err, sizeof err);
    CHECKF(status == 0 && occurrences(err, "\n") == 1 &&
               strstr(err, "hakmem: cannot write statistics to /nonexistent-dir/stats.json") !=
                   NULL,
           "status %#x: %s", status, err);
    /* A pattern whose expansion does not fit a path is refused the same way. */
    static char longest[5000];
    memset(longest, 'p', sizeof longest - 1);
    status = test_run_child(report_at_exit_as_json, longest, err, sizeof err);
    CHECKF(status == 0 && strstr(err, "File name too long") != NULL, "status %#x: %s", status, err);
}
