/* replay — run op-sequence programs (files, or every file in the given directories) in any build
 * and give a verdict per file. Each program runs in its own child process, so a crash is a
 * verdict, not the end of the run. Binary and text programs are accepted. Each program runs twice
 * in its process, as libFuzzer runs a single input (its leak check executes it again): a crash
 * that libFuzzer minimized may need the allocator state the first run leaves behind.
 *
 * A program that gives no result within REPLAY_TIMEOUT seconds (default 60) fails, naming the op
 * it was stuck at: its own alarm reports it, or, when the alarm is not taken (ThreadSanitizer holds
 * signals back from a loop that makes no call), the replay kills it up to 5 s later and names the op. A program with race ops runs once as written and, with --schedules N, under N-1 other
 * schedules too (each race's schedule bytes mixed with a salt); a failure names its salt, and
 * --salt S replays exactly that schedule. In the sched build, --pairs FILE writes the protocol's
 * interleaving coverage over every race and schedule to FILE: one line per pair of scheduling
 * points reached ("pending done count": a thread stopped before `pending` while another did
 * `done` on the same object), for fuzz/protocol_pairs.sh to hold against the pairs required.
 *
 *   replay [--trace] [--sample N] [--schedules N] [--salt S] [--trace-sched] [--pairs FILE] PATH...
 *   exit status 1 if any program failed */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interpreter.h"
#include "race_sched.h"
#include "target.h"

const char *__tsan_default_options(void);

/* TSan's defaults for this binary (TSAN_OPTIONS still overrides them). Its exit sleeps a second
 * by default, for races with threads still running at exit; a program's child has joined every
 * thread it started by then, and with one child per program and schedule that sleep was 17 of
 * the 18 seconds of a TSan replay of the corpus. */
const char *__tsan_default_options(void) { return "atexit_sleep_ms=0"; }

static int passed, failed;
static long sample = -1; /* every Nth file only, for slow builds */
static long seen;
static unsigned timeout_s = 60;

static void on_alarm(int sig)
{
    (void)sig;
    interp_report_stuck(timeout_s);
    abort();
}
/* The children's progress (shared), and the parent's wait for a child: SIGCHLD is held back in
 * the parent and taken with a deadline, so a child that ignores its own alarm is still killed. */
static volatile unsigned *progress;
static sigset_t child_mask;
#define ALARM_GRACE_S 5 /* or the timeout itself, when that is shorter */

/* 1 when the child exited by itself (status filled in); 0 when it was killed at its deadline. */
static int wait_or_kill(pid_t pid, int *status)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec now, deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s + (timeout_s < ALARM_GRACE_S ? timeout_s : ALARM_GRACE_S);
    for (;;) {
        pid_t got = waitpid(pid, status, WNOHANG);
        if (got == pid)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ns = (deadline.tv_sec - now.tv_sec) * 1000000000L + (deadline.tv_nsec - now.tv_nsec);
        if (got < 0 || ns <= 0)
            break;
        struct timespec wait = {ns / 1000000000L, ns % 1000000000L};
        sigtimedwait(&chld, NULL, &wait);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return 0;
}
static long schedules = 1;
static long only_salt = -1;
static const char *pairs_path;

static int write_pairs(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("FAIL replay_pairs: cannot write %s\n", path);
        return 0;
    }
    for (int p = 0; p < SCHED_POINT_KINDS; p++)
        for (int q = 0; q < SCHED_POINT_KINDS; q++)
            if (sched_pairs[p][q] != 0)
                fprintf(f, "%s %s %llu\n", sched_point_names[p], sched_point_names[q],
                        (unsigned long long)sched_pairs[p][q]);
    return fclose(f) == 0;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 4096, n = 0, r;
    uint8_t *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 1;
}

static void replay_file(const char *path)
{
    if (sample > 1 && seen++ % sample != 0)
        return;
    uint8_t *data;
    size_t len;
    if (!read_file(path, &data, &len)) {
        printf("FAIL %s: cannot read\n", path);
        failed++;
        return;
    }
    long runs = only_salt < 0 && interp_count_races(data, len, 1) > 0 ? schedules : 1;
    for (long salt = 0; salt < runs; salt++) {
        uint32_t use = only_salt >= 0 ? (uint32_t)only_salt : (uint32_t)salt;
        fflush(NULL);
        *progress = 0;
        pid_t parent = getpid(), pid = fork();
        if (pid == 0) {
            /* Dies with the replay: a child that takes no signal must not outlive a replay
             * killed from outside (a test's time limit). */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1); /* the replay died before the line above */
            sigprocmask(SIG_SETMASK, &child_mask, NULL);
            signal(SIGALRM, on_alarm);
            alarm(timeout_s);
            interp_progress = progress;
            interp_schedule_salt = use;
            interp_run(data, len, 1);
            interp_run(data, len, 1);
            exit(0);
        }
        int status = 0;
        int stuck = pid > 0 && !wait_or_kill(pid, &status);
        if (!stuck && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            continue;
        char how[64] = "";
        if (use != 0)
            snprintf(how, sizeof how, " (schedule salt %u: replay --salt %u)", use, use);
        if (stuck) {
            char op[256];
            interp_op_text(data, len, 1, *progress, op, sizeof op);
            printf("FAIL %s%s: no result within %u s, and the program did not answer its alarm "
                   "(a loop that takes no signal: ThreadSanitizer holds signals back until a "
                   "call); killed at op %u (%s)\n",
                   path, how, timeout_s, *progress, op[0] ? op : "after its last op");
        } else if (WIFSIGNALED(status))
            printf("FAIL %s%s: killed by signal %d\n", path, how, WTERMSIG(status));
        else /* 66 is ThreadSanitizer's exit code; nothing else here exits with it */
            printf("FAIL %s%s: exit status %d%s\n", path, how, WEXITSTATUS(status),
                   WEXITSTATUS(status) == 66 ? " (ThreadSanitizer reported a data race above)"
                                             : "");
        failed++;
        free(data);
        return;
    }
    free(data);
    printf("PASS %s%s\n", path, runs > 1 ? " (every schedule)" : "");
    passed++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("FAIL %s: no such file or directory\n", path);
        failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md"))
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        replay_path(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--trace"))
            interp_trace = 1;
        else if (!strcmp(argv[i], "--trace-sched"))
            interp_trace = sched_trace = 1;
        else if (!strcmp(argv[i], "--sample") && i + 1 < argc)
            sample = atol(argv[++i]);
        else if (!strcmp(argv[i], "--schedules") && i + 1 < argc)
            schedules = atol(argv[++i]) > 0 ? atol(argv[i]) : 1;
        else if (!strcmp(argv[i], "--salt") && i + 1 < argc)
            only_salt = atol(argv[++i]);
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs_path = argv[++i];
        else {
            fprintf(stderr, "usage: replay [--trace] [--sample N] [--schedules N] [--salt S] "
                            "[--trace-sched] [--pairs FILE] PATH...\n");
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "usage: replay [--trace] [--sample N] [--schedules N] [--salt S] "
                        "[--trace-sched] [--pairs FILE] PATH...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("REPLAY_TIMEOUT") && atoi(getenv("REPLAY_TIMEOUT")) > 0)
        timeout_s = (unsigned)atoi(getenv("REPLAY_TIMEOUT"));
    if (pairs_path != NULL) {
        /* Shared with every program's forked child, where the races run. */
        void *m = mmap(NULL, sizeof(uint64_t[SCHED_POINT_KINDS][SCHED_POINT_KINDS]),
                       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || !sched_deterministic) {
            fprintf(stderr, "replay: --pairs needs the sched build (and shared memory)\n");
            return 2;
        }
        sched_pairs = m;
    }
    progress =
        mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (progress == MAP_FAILED) {
        fprintf(stderr, "replay: cannot map the progress word\n");
        return 2;
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &child_mask); /* children get the mask the parent had */
    interp_setup();
    target_describe(stdout);
    for (; i < argc; i++)
        replay_path(argv[i]);
    printf("replay: %d passed, %d failed\n", passed, failed);
    if (pairs_path != NULL && !write_pairs(pairs_path))
        return 1;
    return failed != 0;
}
