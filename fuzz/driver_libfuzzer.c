/* driver_libfuzzer.c — libFuzzer entry points over the op-sequence interpreter
 * (build/fuzz/fuzz_ops). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "interpreter.h"
#include "target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

/* ASan's defaults for this binary (ASAN_OPTIONS still overrides them). hakmem's blocks do not go
 * through ASan's allocator (hakmem poisons them itself), so its quarantine only holds the
 * interpreter's and libFuzzer's own freed memory: without it the process stays small, and the
 * fork op, which copies the page tables of everything resident, stays cheap. Leaks of libFuzzer's
 * own bookkeeping are not the allocator's business: hakmem's heap check accounts for its own. */
const char *__asan_default_options(void)
{
    return "abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:quarantine_size_mb=0";
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each fuzzing process keeps its threads on one CPU of its own, the first whose lock file no
 * other process holds (the lock goes with the process, so a replaced worker takes its CPU over).
 * An op hands work to another thread and waits for it: on one CPU that is a switch between two
 * threads, across CPUs a wake-up by interrupt, and this VM made the same single-job run 1.5x
 * slower unpinned. The parent of -jobs/-workers only waits and stays as it is; with more
 * processes than CPUs, or HAKMEM_FUZZ_PIN=0, the rest are not pinned. */
static void pin_to_a_free_cpu(int argc, char **argv)
{
    const char *pin = getenv("HAKMEM_FUZZ_PIN");
    if (pin != NULL && strcmp(pin, "0") == 0)
        return;
    /* A parent of other fuzzing processes (jobs, workers, fork mode, merge, crash minimizing)
     * would hand its one CPU down to all of them. */
    static const char *const parents[] = {
        "-jobs=", "-workers=", "-fork=", "-merge=", "-set_cover_merge=", "-minimize_crash="};
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof parents / sizeof *parents; k++)
            if (strncmp(argv[i], parents[k], strlen(parents[k])) == 0)
                return;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return;
    const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/hakmem-fuzz-%u-cpu%d.lock", dir, (unsigned)getuid(), cpu);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) { /* held (fd open) for the process's life */
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            if (sched_setaffinity(0, sizeof one, &one) == 0)
                return;
        }
        close(fd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pin_to_a_free_cpu(*argc, *argv);
    interp_setup();
    target_describe(stderr);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    interp_run(data, size, 0);
    return 0;
}
