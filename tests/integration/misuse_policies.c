/* Misuse of hakmem memory and frees of foreign memory, through every policy: each case runs in
 * a fresh process (tests/programs/misuse_case and guard_case) with the policy in its
 * environment, and the test checks how it ended and what it printed. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void slurp(int fd, char *buf, size_t len)
{
    size_t used = 0;
    ssize_t n;
    while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    char sink[4096];
    while (read(fd, sink, sizeof sink) > 0) {
    }
}

/* Run programs/<name> with argv and one extra environment assignment (or NULL). */
static struct outcome run(const char *name, const char *const *args, const char *env)
{
    static struct outcome o;
    char path[PATH_MAX + 64];
    program_path(path, sizeof path, name);
    int out[2], err[2];
    CHECK(pipe(out) == 0 && pipe(err) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        unsetenv("HAKMEM_INVALID_FREE");
        unsetenv("HAKMEM_EXTERNAL_GUARD");
        if (env)
            putenv((char *)env);
        char *argv[8] = {path};
        for (int i = 0; args[i] && i < 6; i++)
            argv[i + 1] = (char *)args[i];
        execv(path, argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    slurp(err[0], o.err, sizeof o.err); /* stderr is small; read it first, then stdout */
    slurp(out[0], o.out, sizeof o.out);
    close(out[0]);
    close(err[0]);
    waitpid(pid, &o.status, 0);
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

static void check_matrix(const char *env, const char *via)
{
    int abort_policy = env == NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t t = 0; t < sizeof tiers / sizeof tiers[0]; t++) {
            if (!applicable(kinds[k], tiers[t]))
                continue;
            /* The second free of these happens on another thread, through free only. */
            if (via && (!strcmp(kinds[k], "double-owner-then-other") ||
                        !strcmp(kinds[k], "double-other-twice")))
                continue;
            const char *args[] = {kinds[k], tiers[t], via, NULL};
            test_progress("misuse_case %s %s%s%s: waiting for it", kinds[k], tiers[t],
                          via ? " " : "", via ? via : "");
            struct outcome o = run("misuse_case", args, env);
            const char *op = via ? "realloc()" : "free()";
            if (abort_policy) {
                CHECKF(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT,
                       "%s %s %s: status %#x, stderr: %s", kinds[k], tiers[t], op, o.status, o.err);
            } else {
                CHECKF(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 &&
                           strstr(o.out, "survived"),
                       "%s %s %s: status %#x, stderr: %s", kinds[k], tiers[t], op, o.status, o.err);
                CHECKF(strstr(o.err, "ignored (HAKMEM_INVALID_FREE=report)"), "%s %s: %s", kinds[k],
                       tiers[t], o.err);
            }
            CHECKF(strstr(o.err, expected_text(kinds[k])) && strstr(o.err, op) &&
                       strstr(o.err, "0x") && strstr(o.err, "called from"),
                   "%s %s %s: diagnostic was: %s", kinds[k], tiers[t], op, o.err);
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
    for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++)
        for (size_t k = 0; k < 3; k++) {
            const char *args[] = {sources[s], ops[k], "3", NULL};
            test_progress("guard_case %s %s: waiting for it", sources[s], ops[k]);
            struct outcome o = run("guard_case", args, "HAKMEM_LARGE_CACHE_MB=0");
            CHECKF(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && strstr(o.out, "contained"),
                   "%s %s: status %#x: %s", sources[s], ops[k], o.status, o.err);
            CHECKF(o.err[0] == '\0', "%s %s printed: %s", sources[s], ops[k], o.err);
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
