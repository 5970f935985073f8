/* test_main.c — registry and fork-per-case runner for the test harness. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"
#include "test.h"

#define MAX_TESTS 256

struct test_case {
    const char *name;
    test_fn fn;
    unsigned timeout_s;
};

static struct test_case cases[MAX_TESTS];
static int ncases;
static int keeps_blocks, skip_heap_check;

/* Shared with the case's process: it reports progress here, the runner watches. */
struct progress {
    volatile uint64_t ticks;
    char note[240];
};
static struct progress *progress;

void test_progress(const char *fmt, ...)
{
    if (progress == NULL)
        return;
    char note[sizeof progress->note];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    memcpy(progress->note, note, sizeof note);
    __atomic_fetch_add(&progress->ticks, 1, __ATOMIC_RELEASE);
}

void test_tick(void)
{
    if (progress != NULL)
        __atomic_fetch_add(&progress->ticks, 1, __ATOMIC_RELAXED);
}

void test_keeps_blocks(void) { keeps_blocks = 1; }
void test_skip_heap_check(void) { skip_heap_check = 1; }

/* After every case, in its process: the full heap check. A case that freed everything it
 * allocated (and whose threads are gone) must leave nothing out: anything still out was lost by
 * the allocator. With interposition, libc's own blocks are out too, so only the structural
 * check and the counters apply there. */
static void heap_check_after_case(const char *name)
{
    if (skip_heap_check)
        return;
    hak_thread_flush();
#ifdef TEST_INTERPOSED
    int errors = hak_debug_check_heap();
#else
    int errors = keeps_blocks ? hak_debug_check_heap() : hak_debug_check_quiescent(NULL, 0);
#endif
    if (errors != 0) {
        fprintf(stderr, "  %s: the heap check after the case found %d violation(s) (above)\n", name,
                errors);
        fflush(stderr);
        _exit(1);
    }
}

void test_register(const char *name, test_fn fn, unsigned timeout_s)
{
    if (ncases < MAX_TESTS)
        cases[ncases++] = (struct test_case){name, fn, timeout_s};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, msg);
    fflush(stderr);
    _exit(1);
}

static long status_field_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) {
            kb = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* Present only in the coverage build (clang's profile runtime). */
extern int __llvm_profile_write_file(void) __attribute__((weak));

void test_exit_child(int code)
{
    if (__llvm_profile_write_file != NULL)
        __llvm_profile_write_file();
    _exit(code);
}

long test_rss_kb(void) { return status_field_kb("VmRSS:"); }

long test_peak_rss_kb(void) { return status_field_kb("VmHWM:"); }

void test_fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 31);
}

int test_pattern_holds(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31))
            return 0;
    return 1;
}

double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void read_all(int fd, char *buf, size_t len)
{
    size_t used = 0;
    ssize_t n;
    char sink[4096];
    while ((n = read(fd, used + 1 < len ? buf + used : sink,
                     used + 1 < len ? len - 1 - used : sizeof sink)) > 0)
        if (used + 1 < len)
            used += (size_t)n;
    if (len > 0)
        buf[used < len ? used : len - 1] = '\0';
}

int test_run_child(void (*fn)(void *), void *arg, char *err, size_t len)
{
    int pipefd[2] = {-1, -1};
    if (err != NULL && pipe(pipefd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (err != NULL) {
            dup2(pipefd[1], 2);
            close(pipefd[0]);
        }
        fn(arg);
        test_exit_child(0);
    }
    if (err != NULL) {
        close(pipefd[1]);
        read_all(pipefd[0], err, len);
        close(pipefd[0]);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

int test_run_program(char *const argv[], char *out, size_t len)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    read_all(pipefd[0], out, len);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

void test_program_path(char *buf, size_t len, const char *name)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    /* <build>/tests/<dir>/<binary> -> <build>/tests/programs/<name> */
    for (int cut = 0; cut < 2; cut++) {
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(buf, len, "%s/programs/%s", self, name);
}

static double env_seconds(const char *name, double def)
{
    const char *v = getenv(name);
    return v != NULL && atof(v) > 0 ? atof(v) : def;
}

/* Every thread's stack of a stuck case, from gdb when it is installed (bounded in time). */
static void dump_stacks(pid_t pid)
{
    if (system("command -v gdb >/dev/null 2>&1") != 0) {
        printf("  (install gdb to see every thread's stack here)\n");
        return;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "timeout -s KILL 30 gdb -p %d -batch -nx -ex 'thread apply all bt 25' 2>/dev/null | "
             "grep -E '^(Thread|#)' | sed 's/^/    /'",
             (int)pid);
    printf("  stacks of every thread of the stuck case:\n");
    fflush(stdout);
    if (system(cmd) != 0)
        printf("  (gdb could not attach)\n");
}

/* Runs a case in its own process group and watches it: a case that outlives its time limit, or
 * that reported progress and then made none for TEST_STALL_SECONDS (default 20), fails with its
 * last progress note and every thread's stack, then is killed with everything it started. */
static int run_case(const struct test_case *t)
{
    double start = test_now();
    if (getenv("TEST_NOFORK")) {
        t->fn();
        heap_check_after_case(t->name);
        printf("PASS %s (%.2fs)\n", t->name, test_now() - start);
        return 1;
    }
    double stall_limit = env_seconds("TEST_STALL_SECONDS", 20);
    memset(progress, 0, sizeof *progress);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        /* The case ends with the runner: a runner killed from outside (a time limit on the whole
         * binary) must not leave a case that loops behind it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        t->fn();
        heap_check_after_case(t->name);
        exit(0); /* not _exit: coverage and sanitizer runtimes write their results at exit */
    }
    setpgid(pid, pid); /* both sides set it, so no kill below can miss the group */
    int status = 0;
    uint64_t seen = 0;
    double last_change = start;
    useconds_t nap = 500;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        double now = test_now();
        uint64_t ticks = __atomic_load_n(&progress->ticks, __ATOMIC_ACQUIRE);
        if (ticks != seen) {
            seen = ticks;
            last_change = now;
        }
        int stalled = seen > 0 && now - last_change > stall_limit;
        if (now - start > t->timeout_s || stalled) {
            char note[sizeof progress->note];
            memcpy(note, progress->note, sizeof note);
            note[sizeof note - 1] = '\0';
            if (stalled)
                printf("FAIL %s: no progress for %.0f s (stalled after %.1f s); last progress: "
                       "%s\n",
                       t->name, now - last_change, now - start, note);
            else
                printf("FAIL %s: no result within its %u s limit; last progress: %s\n", t->name,
                       t->timeout_s, seen > 0 ? note : "(the case reports none)");
            dump_stacks(pid);
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 0;
        }
        usleep(nap);
        if (nap < 20000)
            nap *= 2;
    }
    /* A case's own children (a hung fork child, say) die with it: left alive they would keep
     * the runner's output pipe open and stall the whole suite. */
    kill(-pid, SIGKILL);
    double took = test_now() - start;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("PASS %s (%.2fs)\n", t->name, took);
        return 1;
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s: killed by signal %d (%.2fs)\n", t->name, WTERMSIG(status), took);
    else
        printf("FAIL %s: exit status %d (%.2fs)\n", t->name, WEXITSTATUS(status), took);
    return 0;
}

int main(void)
{
    const char *filter = getenv("TEST_FILTER");
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    progress =
        mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (progress == MAP_FAILED)
        progress = NULL;
    for (int i = 0; i < ncases; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        if (run_case(&cases[i]))
            passed++;
        else
            failed++;
    }
    return failed ? 1 : 0;
}
