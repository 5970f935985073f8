/* stats.c — one snapshot of every module's counters (hak_stats()), and its printed forms (text
 * for people, JSON for tools), at exit to the file HAKMEM_STATS_FILE names. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "external_guard.h"
#include "hakmem.h"
#include "heap.h"
#include "large.h"
#include "misuse.h"
#include "options.h"
#include "orphan_pool.h"
#include "page_run.h"
#include "segment.h"
#include "stats.h"

void hk_stats_collect(struct hak_stats *out)
{
    memset(out, 0, sizeof *out);
    hk_heap_stats(out);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        const struct hak_class_stats *s = &out->cls[c];
        out->allocs += s->allocs;
        out->frees += s->frees;
        out->remote_frees += s->remote_frees;
        out->drains += s->drains;
        out->drained += s->drained;
        out->refills += s->refills;
        out->flushes += s->flushes;
        out->cache_hits += s->allocs > s->refills ? s->allocs - s->refills : 0;
        out->live_bytes += s->live_blocks * s->block_size;
    }
    hk_page_run_stats(out);
    hk_large_stats(out);
    hk_segment_stats(out);
    hk_orphan_pool_stats(out);
    hk_external_guard_stats(out);
    hk_misuse_stats(out);
    out->live_bytes += out->page_run_live_bytes + out->large_live_bytes;
}

/* The report is formatted into a stack buffer and written in few large writes: printing must not
 * allocate, and a report that is one write (it fits the buffer) is not interleaved with other
 * output to the same file. */
struct report {
    int fd;
    size_t used;
    char buf[4096];
};

static void report_flush(struct report *r)
{
    size_t done = 0;
    while (done < r->used) {
        ssize_t w = write(r->fd, r->buf + done, r->used - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    r->used = 0;
}

static void say(struct report *r, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (r->used + len > sizeof r->buf)
        report_flush(r);
    memcpy(r->buf + r->used, line, len);
    r->used += len;
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

/* Schema version 1: {"schema": "hakmem-stats", "schema_version": 1, "hakmem_version": "M.m.p",
 * "pid": N, <every HAK_STATS_FIELDS member>: N, "classes": [{"class": N, <every
 * HAK_CLASS_STATS_FIELDS member>: N}, ...]} — every slab class, in class order. */
static void write_json(struct report *r, const struct hak_stats *s)
{
    say(r,
        "{\"schema\": \"hakmem-stats\", \"schema_version\": 1, \"hakmem_version\": \"%s\", "
        "\"pid\": %ld",
        HAKMEM_VERSION_STRING, (long)getpid());
#define JSON_MEMBER(f, group, label, what) say(r, ", \"" #f "\": %llu", (unsigned long long)s->f);
    HAK_STATS_FIELDS(JSON_MEMBER)
    say(r, ", \"classes\": [");
    for (unsigned c = 0; c < HAK_NUM_CLASSES; c++) {
        const struct hak_class_stats *k = &s->cls[c];
        say(r, "%s{\"class\": %u", c ? ", " : "", c);
#define JSON_CLASS_MEMBER(f, group, label, what)                                                   \
    say(r, ", \"" #f "\": %llu", (unsigned long long)k->f);
        HAK_CLASS_STATS_FIELDS(JSON_CLASS_MEMBER)
        say(r, "}");
    }
    say(r, "]}\n");
    report_flush(r);
}

void hk_stats_write(int fd, int format)
{
    if (format != HAK_STATS_JSON) {
        hk_stats_print(fd);
        return;
    }
    struct hak_stats s;
    hk_stats_collect(&s);
    struct report out = {.fd = fd, .used = 0};
    write_json(&out, &s);
}

/* HAKMEM_STATS_FILE with every %p replaced by the pid (%% is a %), into buf; 0 if too long. */
static int expand_stats_path(const char *pattern, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *c = pattern; *c; c++) {
        char piece[24];
        const char *add = piece;
        if (c[0] == '%' && c[1] == 'p') {
            snprintf(piece, sizeof piece, "%ld", (long)getpid());
            c++;
        } else if (c[0] == '%' && c[1] == '%') {
            piece[0] = '%', piece[1] = '\0';
            c++;
        } else {
            piece[0] = *c, piece[1] = '\0';
        }
        size_t len = strlen(add);
        if (n + len + 1 > size)
            return 0;
        memcpy(buf + n, add, len);
        n += len;
    }
    buf[n] = '\0';
    return 1;
}

void hk_stats_report_at_exit(void)
{
    int fd = 2;
    if (hk_options.stats_file != NULL) {
        char path[4096];
        fd = expand_stats_path(hk_options.stats_file, path, sizeof path)
                 ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                 : (errno = ENAMETOOLONG, -1);
        if (fd < 0) {
            char line[512]; /* the name is cut short so that the reason always fits */
            int n =
                snprintf(line, sizeof line,
                         "hakmem: cannot write statistics to %.300s%s: %s (HAKMEM_STATS_FILE)\n",
                         hk_options.stats_file, strlen(hk_options.stats_file) > 300 ? "..." : "",
                         strerror(errno));
            if (n > 0) {
                ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
                (void)w;
            }
            return;
        }
    }
    hk_stats_write(fd, (int)hk_options.stats);
    if (fd != 2)
        close(fd);
}

void hk_stats_print(int fd)
{
    struct hak_stats s;
    hk_stats_collect(&s);
    struct report out = {.fd = fd, .used = 0};
    struct report *r = &out;
    say(r, "hakmem statistics\n");
    /* The classes as a table: a column per HAK_CLASS_STATS_FIELDS member, and the hit rate. */
    say(r, "%5s", "class");
#define CLASS_HEADING(f, g, label, what) say(r, " %11s", label);
    HAK_CLASS_STATS_FIELDS(CLASS_HEADING)
    say(r, " %7s\n", "hit%");
    for (unsigned c = 0; c < HAK_NUM_CLASSES; c++) {
        const struct hak_class_stats *k = &s.cls[c];
        if (k->allocs == 0 && k->frees == 0)
            continue;
        say(r, "%5u", c);
#define CLASS_VALUE(f, g, label, what) say(r, " %11llu", (unsigned long long)k->f);
        HAK_CLASS_STATS_FIELDS(CLASS_VALUE)
        say(r, " %6.2f%%\n",
            percent(k->allocs - (k->refills < k->allocs ? k->refills : k->allocs), k->allocs));
    }
    /* One line per group of HAK_STATS_FIELDS, in the table's order. */
    const char *group = NULL;
#define TEXT_MEMBER(f, g, label, what)                                                             \
    if (group == NULL || strcmp(group, g) != 0)                                                    \
        say(r, "%s%s: ", group != NULL ? "\n" : "", g);                                            \
    say(r, "%s%s %llu", group != NULL && strcmp(group, g) == 0 ? ", " : "", label,                 \
        (unsigned long long)s.f);                                                                  \
    group = g;
    HAK_STATS_FIELDS(TEXT_MEMBER)
    say(r, "\n");
    report_flush(r);
}
