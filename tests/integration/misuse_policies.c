/* Misuse of hakmem memory and frees of foreign memory, through every policy: each case runs in
 * a fresh process (tests/programs/misuse_case and guard_case) with the policy in its
 * environment, and the test checks how it ended and what it printed. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

struct outcome {
    int status;
    char out[512];
    char err[16384];
};

static void program_path(char *buf, size_t len, const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s/../programs/%s", self, name);
}

/* Read what a finished case wrote to fd (a memfd) into buf, NUL-terminated. */
static void read_back(int fd, char *buf, size_t len)
{
    size_t used = 0;
    ssize_t n;
    while (used < len - 1 && (n = pread(fd, buf + used, len - 1 - used, (off_t)used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
}

/* One case in flight: its process and the memfds that take its stdout and stderr (files, not
 * pipes, so that several cases can run at once without the parent reading them as they go). */
struct running {
    pid_t pid;
    int out, err;
};

/* Whether environment entry e assigns the variable `name`. */
static int assigns(const char *e, const char *name)
{
    size_t n = strlen(name);
    return strncmp(e, name, n) == 0 && e[n] == '=';
}

/* Start programs/<name> with argv and one extra environment assignment (or NULL). Spawned, not
 * forked: a fork copies this process's page tables, which under the sanitizers (their shadow
 * memory) cost more than the case itself. */
static struct running start(const char *name, const char *const *args, const char *env)
{
    char path[PATH_MAX + 64];
    program_path(path, sizeof path, name);
    struct running r = {.out = memfd_create("stdout", 0), .err = memfd_create("stderr", 0)};
    CHECK(r.out >= 0 && r.err >= 0);
    /* The case's environment: ours without the policies under test, plus env. The case
     * programs join every thread they start before they exit, so TSan's one-second sleep at
     * exit (for threads still running) would only add a second to most cases. */
    static char *envp[512];
    size_t n = 0;
    int tsan_set = 0;
    for (char **e = environ; *e != NULL; e++) {
        /* A case run without part of our environment would test something else. */
        CHECKF(n < 508, "more than 508 environment variables: the case's copy has no room");
        if (assigns(*e, "HAKMEM_INVALID_FREE") || assigns(*e, "HAKMEM_EXTERNAL_GUARD"))
            continue;
        tsan_set |= assigns(*e, "TSAN_OPTIONS");
        envp[n++] = *e;
    }
    if (!tsan_set)
        envp[n++] = "TSAN_OPTIONS=atexit_sleep_ms=0";
    if (env)
        envp[n++] = (char *)env;
    envp[n] = NULL;
    char *argv[8] = {path};
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = (char *)args[i];
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, r.out, 1) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, r.err, 2) == 0);
    fflush(NULL);
    int rc = posix_spawn(&r.pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    CHECKF(rc == 0, "posix_spawn %s: %s", path, strerror(rc));
    return r;
}

static void finish(struct running r, struct outcome *o)
{
    CHECK(waitpid(r.pid, &o->status, 0) == r.pid);
    read_back(r.err, o->err, sizeof o->err);
    read_back(r.out, o->out, sizeof o->out);
}

/* Run programs/<name> to its end. */
static struct outcome run(const char *name, const char *const *args, const char *env)
{
    static struct outcome o;
    finish(start(name, args, env), &o);
    return o;
}

static const char *const kinds[] = {"double-immediate",        "double-delayed",
                                    "double-interleaved",      "double-owner-then-other",
                                    "double-other-then-owner", "double-after-thread-exit",
                                    "double-other-twice",      "interior",
                                    "never-allocated"};
static const char *const tiers[] = {"tiny", "mid", "l25", "large"};

static const char *expected_text(const char *kind)
{
    if (!strncmp(kind, "double", 6))
        return "double free detected";
    if (!strcmp(kind, "interior"))
        return "inside a block";
    return "memory not allocated";
}

/* Large memory that is not a live block cannot be told from foreign memory: never-allocated
 * Large pointers are ExternalGuard's. */
static int applicable(const char *kind, const char *tier)
{
    return !(strcmp(kind, "never-allocated") == 0 && strcmp(tier, "large") == 0);
}

/* The checks of one finished case of the matrix. */
static void check_case(const char *kind, const char *tier, const char *env, const char *via,
                       const struct outcome *o)
{
    const char *op = via ? "realloc()" : "free()";
    if (env == NULL) {
        CHECKF(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGABRT,
               "%s %s %s: status %#x, stderr: %s", kind, tier, op, o->status, o->err);
    } else {
        CHECKF(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0 && strstr(o->out, "survived"),
               "%s %s %s: status %#x, stderr: %s", kind, tier, op, o->status, o->err);
        CHECKF(strstr(o->err, "ignored (HAKMEM_INVALID_FREE=report)"), "%s %s: %s", kind, tier,
               o->err);
    }
    CHECKF(strstr(o->err, expected_text(kind)) && strstr(o->err, op) && strstr(o->err, "0x") &&
               strstr(o->err, "called from"),
           "%s %s %s: diagnostic was: %s", kind, tier, op, o->err);
    /* Where the pointer lies: the tier, and for slab blocks the class and its block size (the
     * case's block is 64 bytes in Tiny, 5,000 in Mid; the hardened build frames it with a 16-byte
     * header and at least one canary byte). */
    char site[96];
    size_t n = !strcmp(tier, "tiny") ? 64 : !strcmp(tier, "mid") ? 5000 : 0;
#ifdef HAK_HARDENED
    n += n != 0 ? 17 : 0;
#endif
    if (n != 0)
        snprintf(site, sizeof site, " in %s class %d (%zu-byte blocks)",
                 !strcmp(tier, "tiny") ? "Tiny" : "Mid", hak_size_class(n),
                 hak_class_block_size(hak_size_class(n)));
    else
        snprintf(site, sizeof site, " in %s", !strcmp(tier, "l25") ? "L25 page runs" : "Large");
    CHECKF(strstr(o->err, site) != NULL, "%s %s %s: the diagnostic does not say '%s': %s", kind,
           tier, op, site, o->err);
}

/* Cases in flight at once: each is a short process, mostly start-up and exit, and one at a
 * time left a core idle (under TSan the matrices took 50 s). */
#define IN_FLIGHT 4

static void check_matrix(const char *env, const char *via)
{
    struct {
        size_t kind, tier;
    } cases[sizeof kinds / sizeof kinds[0] * sizeof tiers / sizeof tiers[0]];
    size_t n = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t t = 0; t < sizeof tiers / sizeof tiers[0]; t++) {
            if (!applicable(kinds[k], tiers[t]))
                continue;
            /* The second free of these happens on another thread, through free only. */
            if (via && (!strcmp(kinds[k], "double-owner-then-other") ||
                        !strcmp(kinds[k], "double-other-twice")))
                continue;
            cases[n].kind = k;
            cases[n++].tier = t;
        }
    struct running flight[IN_FLIGHT];
    static struct outcome o;
    size_t started = 0;
    for (size_t done = 0; done < n; done++) {
        for (; started < n && started < done + IN_FLIGHT; started++) {
            const char *args[] = {kinds[cases[started].kind], tiers[cases[started].tier], via,
                                  NULL};
            flight[started % IN_FLIGHT] = start("misuse_case", args, env);
        }
        const char *kind = kinds[cases[done].kind], *tier = tiers[cases[done].tier];
        test_progress("misuse_case %s %s%s%s: waiting for it", kind, tier, via ? " " : "",
                      via ? via : "");
        finish(flight[done % IN_FLIGHT], &o);
        check_case(kind, tier, env, via, &o);
    }
}

TEST_TIMEOUT(every_misuse_kind_in_every_tier_aborts_with_a_one_line_diagnostic_by_default, 120)
{
    check_matrix(NULL, NULL);
}

TEST_TIMEOUT(every_misuse_kind_in_every_tier_is_reported_and_contained_under_report_policy, 120)
{
    check_matrix("HAKMEM_INVALID_FREE=report", NULL);
}

TEST_TIMEOUT(realloc_of_invalid_pointers_is_diagnosed_under_both_policies, 240)
{
    check_matrix(NULL, "realloc");
    check_matrix("HAKMEM_INVALID_FREE=report", "realloc");
}

static const char *const sources[] = {"libc", "stack", "mmap", "static", "large-range"};
static const char *const ops[] = {"free", "realloc", "usable_size"};

TEST_TIMEOUT(foreign_pointers_are_contained_silently_by_default, 60)
{
    static struct outcome o;
    for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++) {
        struct running flight[3]; /* the three operations of one source at once */
        for (size_t k = 0; k < 3; k++) {
            const char *args[] = {sources[s], ops[k], "3", NULL};
            flight[k] = start("guard_case", args, "HAKMEM_LARGE_CACHE_MB=0");
        }
        for (size_t k = 0; k < 3; k++) {
            test_progress("guard_case %s %s: waiting for it", sources[s], ops[k]);
            finish(flight[k], &o);
            CHECKF(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && strstr(o.out, "contained"),
                   "%s %s: status %#x: %s", sources[s], ops[k], o.status, o.err);
            CHECKF(o.err[0] == '\0', "%s %s printed: %s", sources[s], ops[k], o.err);
        }
    }
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

TEST_TIMEOUT(log_policy_names_pointer_and_caller_and_is_rate_limited, 60)
{
    const char *args[] = {"mmap", "free", "1000", NULL};
    struct outcome o = run("guard_case", args, "HAKMEM_EXTERNAL_GUARD=log");
    CHECKF(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "status %#x: %s", o.status, o.err);
    int lines = count_lines(o.err, "ExternalGuard: free(0x");
    /* The first 16, then the 32nd, 64th, ... 512th: 16 + 5. */
    CHECKF(lines == 21, "%d log lines", lines);
    CHECK(strstr(o.err, "called from") && strstr(o.err, "guard_case"));
    const char *rargs[] = {"stack", "realloc", "2", NULL};
    o = run("guard_case", rargs, "HAKMEM_EXTERNAL_GUARD=log");
    CHECKF(count_lines(o.err, "ExternalGuard: realloc(0x") == 2, "%s", o.err);
}

TEST_TIMEOUT(abort_policy_aborts_on_the_first_foreign_free_with_a_diagnostic, 60)
{
    for (size_t s = 0; s < 4; s++) {
        const char *args[] = {sources[s], "free", "5", NULL};
        struct outcome o = run("guard_case", args, "HAKMEM_EXTERNAL_GUARD=abort");
        CHECKF(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT, "%s: status %#x", sources[s],
               o.status);
        CHECKF(count_lines(o.err, "ExternalGuard: free(0x") == 1 && strstr(o.err, "aborting"),
               "%s: %s", sources[s], o.err);
    }
}

TEST_TIMEOUT(report_is_printed_once_past_the_threshold_with_the_top_call_sites, 60)
{
    const char *args[] = {"libc", "free", "300", NULL};
    struct outcome o = run("guard_case", args, "HAKMEM_EXTERNAL_GUARD_REPORT=50");
    CHECKF(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "status %#x: %s", o.status, o.err);
    CHECKF(count_lines(o.err, "ExternalGuard report: 50 ") == 1, "%s", o.err);
    CHECKF(count_lines(o.err, "top call sites") == 1, "%s", o.err);
    /* Two distinct call sites, 2:1. */
    CHECKF(count_lines(o.err, "guard_case") == 2, "%s", o.err);
    o = run("guard_case", args, "HAKMEM_EXTERNAL_GUARD_REPORT=0");
    CHECK(strstr(o.err, "report") == NULL);
}
