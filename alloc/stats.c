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
    hk_heap_sum_counters(out);
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
    struct hk_page_run_counters pr;
    hk_page_run_counters(&pr);
    out->page_run_allocs = pr.allocs;
    out->page_run_frees = pr.frees;
    out->page_run_live_bytes = pr.live_bytes;
    struct hk_large_counters lc;
    hk_large_counters(&lc);
    out->large_allocs = lc.allocs;
    out->large_frees = lc.frees;
    out->large_live_bytes = lc.live_bytes;
    out->large_cache_hits = lc.cache_hits;
    out->large_remaps = lc.remaps;
    out->large_extends = lc.extends;
    out->large_trimmed_bytes = lc.trimmed_bytes;
    out->live_bytes += pr.live_bytes + lc.live_bytes;
    struct hk_segment_counters sc;
    hk_segment_counters(&sc);
    out->segments_mapped = sc.segments;
    out->segments_peak = sc.segments_peak;
    out->segments_cached = sc.cached;
    out->mapped_bytes = sc.mapped;
    out->peak_mapped_bytes = sc.peak_mapped;
    struct orphan_counters oc;
    hk_orphan_pool_counters(&oc);
    out->slabs_orphaned = oc.orphaned;
    out->slabs_adopted = oc.adopted;
    out->slabs_reclaimed = oc.reclaimed;
    hk_heap_count_threads(&out->threads_started, &out->threads_exited);
    struct hk_external_guard_counters gc;
    hk_external_guard_counters(&gc);
    out->external_guard_frees = gc.frees;
    out->external_guard_reallocs = gc.reallocs;
    out->external_guard_size_queries = gc.size_queries;
    out->external_guard_hits = gc.frees + gc.reallocs;
    out->double_frees = hk_misuse_count(MISUSE_DOUBLE_FREE);
    out->interior_frees = hk_misuse_count(MISUSE_INTERIOR);
    out->unallocated_frees = hk_misuse_count(MISUSE_NOT_ALLOCATED);
    out->invalid_frees = 0;
    for (int k = 0; k < MISUSE_KINDS; k++) /* the hardened build's kinds too */
        out->invalid_frees += hk_misuse_count((enum misuse_kind)k);
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

/* The scalar fields of struct hak_stats, in its order: the JSON object's members. */
// clang-format off
#define STATS_FIELDS(X)                                                                            \
    X(allocs) X(frees) X(remote_frees) X(drains) X(drained) X(refills) X(flushes) X(cache_hits)   \
    X(live_bytes) X(page_run_allocs) X(page_run_frees) X(page_run_live_bytes) X(large_allocs)    \
    X(large_frees) X(large_live_bytes) X(large_cache_hits) X(large_remaps) X(large_extends)       \
    X(large_trimmed_bytes) X(segments_mapped) X(segments_peak) X(segments_cached)                 \
    X(mapped_bytes) X(peak_mapped_bytes)                                                           \
    X(slabs_orphaned) X(slabs_adopted) X(slabs_reclaimed) X(threads_started) X(threads_exited)    \
    X(external_guard_hits) X(external_guard_frees) X(external_guard_reallocs)                    \
    X(external_guard_size_queries) X(invalid_frees) X(double_frees) X(interior_frees)            \
    X(unallocated_frees)
#define CLASS_FIELDS(X)                                                                            \
    X(block_size) X(allocs) X(frees) X(remote_frees) X(drains) X(drained) X(refills)             \
    X(flushes) X(live_blocks)
// clang-format on

/* Schema version 1: {"schema": "hakmem-stats", "schema_version": 1, "hakmem_version": "M.m.p",
 * "pid": N, <every STATS_FIELDS member>: N, "classes": [{"class": N, <every CLASS_FIELDS
 * member>: N}, ...]} — every slab class, in class order. Members are only ever added. */
static void write_json(struct report *r, const struct hak_stats *s)
{
    say(r,
        "{\"schema\": \"hakmem-stats\", \"schema_version\": 1, \"hakmem_version\": \"%s\", "
        "\"pid\": %ld",
        HAKMEM_VERSION_STRING, (long)getpid());
#define JSON_MEMBER(f) say(r, ", \"" #f "\": %llu", (unsigned long long)s->f);
    STATS_FIELDS(JSON_MEMBER)
    say(r, ", \"classes\": [");
    for (unsigned c = 0; c < HAK_NUM_CLASSES; c++) {
        const struct hak_class_stats *k = &s->cls[c];
        say(r, "%s{\"class\": %u", c ? ", " : "", c);
#define JSON_CLASS_MEMBER(f) say(r, ", \"" #f "\": %llu", (unsigned long long)k->f);
        CLASS_FIELDS(JSON_CLASS_MEMBER)
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
    say(r, "%6s %8s %12s %12s %12s %10s %12s %8s %10s\n", "class", "size", "allocs", "frees",
        "remote", "drains", "drained", "hit%", "live");
    for (unsigned c = 0; c < HAK_NUM_CLASSES; c++) {
        const struct hak_class_stats *k = &s.cls[c];
        if (k->allocs == 0 && k->frees == 0)
            continue;
        say(r, "%6u %8llu %12llu %12llu %12llu %10llu %12llu %7.2f%% %10llu\n", c,
            (unsigned long long)k->block_size, (unsigned long long)k->allocs,
            (unsigned long long)k->frees, (unsigned long long)k->remote_frees,
            (unsigned long long)k->drains, (unsigned long long)k->drained,
            percent(k->allocs - (k->refills < k->allocs ? k->refills : k->allocs), k->allocs),
            (unsigned long long)k->live_blocks);
    }
    say(r,
        "slabs: allocs %llu frees %llu remote frees %llu drains %llu (blocks %llu) cache hit "
        "%.2f%%\n",
        (unsigned long long)s.allocs, (unsigned long long)s.frees,
        (unsigned long long)s.remote_frees, (unsigned long long)s.drains,
        (unsigned long long)s.drained, percent(s.cache_hits, s.allocs));
    say(r, "page runs: allocs %llu frees %llu live %llu bytes\n",
        (unsigned long long)s.page_run_allocs, (unsigned long long)s.page_run_frees,
        (unsigned long long)s.page_run_live_bytes);
    say(r,
        "large: allocs %llu frees %llu live %llu bytes, cache hits %llu, remaps %llu, "
        "extended %llu, trimmed %llu bytes\n",
        (unsigned long long)s.large_allocs, (unsigned long long)s.large_frees,
        (unsigned long long)s.large_live_bytes, (unsigned long long)s.large_cache_hits,
        (unsigned long long)s.large_remaps, (unsigned long long)s.large_extends,
        (unsigned long long)s.large_trimmed_bytes);
    say(r, "segments: %llu mapped (peak %llu, %llu cached); mapped %llu bytes, peak %llu bytes\n",
        (unsigned long long)s.segments_mapped, (unsigned long long)s.segments_peak,
        (unsigned long long)s.segments_cached, (unsigned long long)s.mapped_bytes,
        (unsigned long long)s.peak_mapped_bytes);
    say(r, "threads: %llu started, %llu exited; slabs orphaned %llu adopted %llu reclaimed %llu\n",
        (unsigned long long)s.threads_started, (unsigned long long)s.threads_exited,
        (unsigned long long)s.slabs_orphaned, (unsigned long long)s.slabs_adopted,
        (unsigned long long)s.slabs_reclaimed);
    say(r, "live bytes %llu\n", (unsigned long long)s.live_bytes);
    say(r, "external guard: %llu frees, %llu reallocs contained; %llu size queries\n",
        (unsigned long long)s.external_guard_frees, (unsigned long long)s.external_guard_reallocs,
        (unsigned long long)s.external_guard_size_queries);
    say(r, "invalid frees: %llu double, %llu interior, %llu not allocated\n",
        (unsigned long long)s.double_frees, (unsigned long long)s.interior_frees,
        (unsigned long long)s.unallocated_frees);
    report_flush(r);
}
