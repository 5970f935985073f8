/* target_loaded.c — the allocator under test is a shared library loaded at run time
 * (HAKMEM_FUZZ_TARGET: its path, or libc.so.6 for glibc's own malloc).
 *
 * The library is opened with RTLD_LOCAL and its entry points are taken from its own symbol table
 * (dlsym on its handle), so only the interpreter's calls through `target` reach it: the fuzzer,
 * the sanitizer runtimes and libc keep the process's malloc. Allocators keep their thread state in
 * initial-exec TLS, which a library opened after start-up may only use from glibc's static TLS
 * surplus: the process re-executes itself once with that surplus raised
 * (glibc.rtld.optional_static_tls) before anything else runs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "target.h"

struct alloc_target target;

#define STATIC_TLS_TUNABLE "glibc.rtld.optional_static_tls=262144"
#define REEXEC_MARK "HAKMEM_FUZZ_TARGET_TLS"

/* Before main: the tunable is read only when a process starts. */
__attribute__((constructor)) static void raise_static_tls(void)
{
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (getenv(REEXEC_MARK) != NULL ||
        (tunables != NULL && strstr(tunables, "optional_static_tls") != NULL))
        return;
    static char cmdline[1 << 16];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    if (n <= 0 || n == (ssize_t)sizeof cmdline - 1)
        return; /* an argument list this long: run as is (the dlopen may then fail, saying so) */
    static char *argv[4096];
    int argc = 0;
    for (ssize_t i = 0; i < n && argc < 4095; i += (ssize_t)strlen(cmdline + i) + 1)
        argv[argc++] = cmdline + i;
    argv[argc] = NULL;
    static char value[4096];
    snprintf(value, sizeof value, "%s%s%s", tunables ? tunables : "", tunables ? ":" : "",
             STATIC_TLS_TUNABLE);
    setenv("GLIBC_TUNABLES", value, 1);
    setenv(REEXEC_MARK, "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: go on without the surplus */
}

/* ---- refusal by address-space limit ---- */

static long limit_headroom = -1; /* bytes above the mapped size while refusing; -1: not */

static size_t mapped_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return (size_t)strtoull(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static int set_address_limit(rlim_t bytes)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0)
        return -1;
    r.rlim_cur = bytes;
    return setrlimit(RLIMIT_AS, &r);
}

/* Each mapping the target may still make is counted as 256 KiB of address space: hakmem's own
 * injection counts mappings, a limit can only count bytes. */
#define BYTES_PER_MAPPING ((size_t)256 << 10)

static int refuse_by_address_limit(long after)
{
    if (after < 0) {
        limit_headroom = -1;
        return set_address_limit(RLIM_INFINITY);
    }
    size_t mapped = mapped_bytes();
    if (mapped == 0)
        return -1;
    limit_headroom = after * (long)BYTES_PER_MAPPING;
    return set_address_limit(mapped + (size_t)limit_headroom);
}

static void thread_start_begin(void)
{
    if (limit_headroom >= 0)
        set_address_limit(RLIM_INFINITY);
}

static void thread_start_end(void)
{
    if (limit_headroom >= 0)
        set_address_limit(mapped_bytes() + (size_t)limit_headroom);
}

/* ---- the library ---- */

/* The library's own definition of `symbol`, or NULL: dlsym on a handle also searches the
 * library's dependencies, and a shim that does not define free would otherwise get libc's. */
static struct link_map *library;
static void *own(void *handle, const char *symbol)
{
    void *f = dlsym(handle, symbol);
    Dl_info info;
    struct link_map *in = NULL;
    if (f == NULL || dladdr1(f, &info, (void **)&in, RTLD_DL_LINKMAP) == 0 || in != library)
        return NULL;
    return f;
}

static void *must(void *handle, const char *path, const char *symbol)
{
    void *f = own(handle, symbol);
    if (f == NULL) {
        fprintf(stderr, "hakmem ops: target %s has no %s: not a malloc library\n", path, symbol);
        exit(2);
    }
    return f;
}

static void *(*memalign_fn)(size_t, size_t);
static void *aligned_by_memalign(size_t alignment, size_t size)
{
    return memalign_fn(alignment, size);
}

static int under_a_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

void target_open(void)
{
    const char *path = getenv("HAKMEM_FUZZ_TARGET");
    if (path == NULL || *path == '\0') {
        fprintf(stderr, "hakmem ops: this build tests a loaded allocator: set HAKMEM_FUZZ_TARGET "
                        "to its shared library (make fuzz TARGET=... does)\n");
        exit(2);
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "hakmem ops: cannot load target %s: %s\n", path, dlerror());
        exit(2);
    }
    if (dlinfo(h, RTLD_DI_LINKMAP, &library) != 0) {
        fprintf(stderr, "hakmem ops: cannot inspect target %s: %s\n", path, dlerror());
        exit(2);
    }
    target = (struct alloc_target){.name = path};
    target.malloc = (void *(*)(size_t))must(h, path, "malloc");
    target.free = (void (*)(void *))must(h, path, "free");
    target.calloc = (void *(*)(size_t, size_t))must(h, path, "calloc");
    target.realloc = (void *(*)(void *, size_t))must(h, path, "realloc");
    target.aligned_alloc = (void *(*)(size_t, size_t))own(h, "aligned_alloc");
    if (target.aligned_alloc == NULL) {
        memalign_fn = (void *(*)(size_t, size_t))must(h, path, "memalign");
        target.aligned_alloc = aligned_by_memalign;
    }
    target.usable_size = (size_t(*)(const void *))own(h, "malloc_usable_size");
    /* hakmem's capabilities, by their public names. */
    target.stats = (void (*)(struct hak_stats *))own(h, "hak_stats");
    target.stats_write = (void (*)(int, int))own(h, "hak_stats_write");
    target.check_quiescent = (int (*)(void *const *, size_t))own(h, "hak_debug_check_quiescent");
    target.thread_flush = (void (*)(void))own(h, "hak_thread_flush");
    target.collect = (size_t(*)(int))own(h, "hak_collect");
    target.contains_misuse = target.stats != NULL && own(h, "hak_version") != NULL;
    int (*refuse)(long) = (int (*)(long))own(h, "hak_debug_refuse_os_memory");
    if (refuse != NULL && refuse(-1) == 0)
        target.refuse_memory = refuse;
    else if (!under_a_sanitizer())
        target.refuse_memory = refuse_by_address_limit;
    if (target.refuse_memory == refuse_by_address_limit) {
        target.thread_start_begin = thread_start_begin;
        target.thread_start_end = thread_start_end;
    }
    const char *strict = getenv("HAKMEM_FUZZ_STRICT_C");
    target.strict_c = strict != NULL && strcmp(strict, "1") == 0;
}

void target_describe(FILE *out)
{
    fprintf(out, "target: %s (loaded%s)\n", target.name,
            target.strict_c ? ", strict C" : ", glibc's documented behaviour");
    if (target.usable_size == NULL)
        fprintf(out, "  off: usable-size checks (no malloc_usable_size)\n");
    if (target.check_quiescent == NULL)
        fprintf(out, "  off: the exact heap check (hakmem's)\n");
    if (target.stats == NULL)
        fprintf(out, "  off: statistics and the live-bytes balance (hakmem's)\n");
    if (!target.contains_misuse)
        fprintf(out, "  off: foreign, interior and double frees (undefined for this target)\n");
    if (target.thread_flush == NULL)
        fprintf(out, "  off: thread flush and collect (hakmem's; those ops run nothing)\n");
    if (target.refuse_memory == NULL)
        fprintf(out, "  off: out-of-memory injection (a sanitizer runtime holds the address "
                     "space)\n");
    else if (target.refuse_memory == refuse_by_address_limit)
        fprintf(out, "  out-of-memory injection by an address-space limit (RLIMIT_AS)\n");
}
