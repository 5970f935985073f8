/* interpreter.c — the op-sequence interpreter and its shadow model. */
#define _GNU_SOURCE
#include "interpreter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops_format.h"
#include "race_sched.h"
#include "target.h"

/* A full sweep of every live block's contents every this many ops, and (in the fuzz, afl and
 * debug builds, where HAK_FUZZ_HEAP_CHECK is defined) the heap-invariant checker. */
#define SWEEP_EVERY 32
#define HEAP_CHECK_EVERY 64
#define MAX_PROGRAM 65536 /* ops beyond this are ignored: keeps one run bounded */

int interp_trace;
uint32_t interp_schedule_salt;
volatile unsigned *interp_progress;

struct block {
    uint8_t *p;
    size_t size;
    uint32_t seed;
    uint8_t thread; /* 0: main, 1..: the worker that allocated it */
};

static struct block slots[OPS_SLOTS];
static int forked;        /* this program has run its fork op */
static int stats_printed; /* reports this program has printed (text, then JSON) */
/* oom: ops left to run with the OS refusing memory after oom_after maps each; refusing: the op
 * running now is one of them, so an allocation may fail (cleanly). */
static unsigned oom_ops_left, oom_after;
static int refusing;
static uint32_t next_seed = 1;
static unsigned op_index;
static uint32_t program_hash; /* of the running program's binary form */
static struct op current_op;  /* the op being run, formatted only when something is reported */
static const char *op_phase;  /* or what runs outside an op ("end of program") */
static int in_fork_child;

static const char *op_text(void)
{
    static char text[256];
    if (op_phase != NULL)
        return op_phase;
    ops_format(&current_op, text, sizeof text);
    return text;
}

/* ---- failure ---- */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hakmem ops: check failed at op %u (%s%s): %s\n", op_index,
            in_fork_child ? "in the fork child: " : "", op_text(), msg);
    fflush(stderr);
    abort();
}

/* ---- contents ---- */

/* A block's contents are a window into one fixed table of random bytes, starting at an offset
 * drawn from its seed: filling and checking are memcpy and memcmp, and a block copied or
 * overlapped at a shifted address still shows (the period is prime, so no block-sized shift
 * lines up). */
#define PATTERN_PERIOD 4093
static uint8_t pattern_table[2 * PATTERN_PERIOD];

static void pattern_init(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < PATTERN_PERIOD; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pattern_table[i] = pattern_table[PATTERN_PERIOD + i] = (uint8_t)(x >> 24);
    }
}

static size_t pattern_start(uint32_t seed, size_t i)
{
    return ((size_t)seed * 977u + i) % PATTERN_PERIOD;
}

static uint8_t pattern(uint32_t seed, size_t i) { return pattern_table[pattern_start(seed, i)]; }

static void fill_range(uint8_t *p, uint32_t seed, size_t from, size_t to)
{
    while (from < to) {
        size_t n = to - from < PATTERN_PERIOD ? to - from : PATTERN_PERIOD;
        memcpy(p + from, pattern_table + pattern_start(seed, from), n);
        from += n;
    }
}

/* First offset in [from, to) that differs from the pattern, or SIZE_MAX. */
static size_t damage_in(const uint8_t *p, uint32_t seed, size_t from, size_t to)
{
    while (from < to) {
        size_t n = to - from < PATTERN_PERIOD ? to - from : PATTERN_PERIOD;
        const uint8_t *want = pattern_table + pattern_start(seed, from);
        if (memcmp(p + from, want, n) != 0)
            for (size_t i = 0; i < n; i++)
                if (p[from + i] != want[i])
                    return from + i;
        from += n;
    }
    return SIZE_MAX;
}

/* Blocks above 64 KiB are filled and checked sparsely (their first and last 4 KiB and a line
 * per 64 KiB), so a program with Large blocks stays fast. */
#define DENSE_LIMIT 65536

static void fill(struct block *b)
{
    if (b->size <= DENSE_LIMIT) {
        fill_range(b->p, b->seed, 0, b->size);
        return;
    }
    fill_range(b->p, b->seed, 0, 4096);
    fill_range(b->p, b->seed, b->size - 4096, b->size);
    for (size_t off = 65536; off + 64 < b->size; off += 65536)
        fill_range(b->p, b->seed, off, off + 64);
}

/* First offset (below `limit`) whose byte differs from the pattern, or SIZE_MAX. */
static size_t first_damage(const struct block *b, size_t limit)
{
    size_t n = b->size < limit ? b->size : limit, at;
    if (b->size <= DENSE_LIMIT) /* filled densely */
        return damage_in(b->p, b->seed, 0, n);
    if ((at = damage_in(b->p, b->seed, 0, n < 4096 ? n : 4096)) != SIZE_MAX)
        return at;
    for (size_t off = 65536; off + 64 < n && off + 64 < b->size; off += 65536)
        if ((at = damage_in(b->p, b->seed, off, off + 64)) != SIZE_MAX)
            return at;
    if (n == b->size)
        return damage_in(b->p, b->seed, b->size - 4096, b->size);
    return SIZE_MAX;
}

static void check_intact(unsigned slot, const char *when)
{
    const struct block *b = &slots[slot];
    size_t at = first_damage(b, SIZE_MAX);
    if (at != SIZE_MAX)
        fail("slot %u (%p, %zu bytes) damaged %s: byte %zu is %#x, expected %#x", slot,
             (void *)b->p, b->size, when, at, b->p[at], pattern(b->seed, at));
}

/* A new block must be aligned, hold its size, and overlap no other live block. */
static void check_new(unsigned slot, size_t align)
{
    const struct block *b = &slots[slot];
    /* glibc aligns every block to 16 bytes; C allows a block too small for a type of 16-byte
     * alignment to be aligned only as much as the largest type it can hold. */
    size_t fundamental = 16;
    if (target.strict_c)
        while (fundamental > 1 && fundamental > b->size)
            fundamental /= 2;
    if (((uintptr_t)b->p & (fundamental - 1)) != 0 || ((uintptr_t)b->p & (align - 1)) != 0)
        fail("slot %u: %p (%zu bytes) is not aligned to %zu", slot, (void *)b->p, b->size,
             align < fundamental ? fundamental : align);
    if (target.usable_size != NULL) {
        size_t usable = target.usable_size(b->p);
        if (usable < b->size)
            fail("slot %u: usable size %zu < requested %zu", slot, usable, b->size);
    }
    uintptr_t lo = (uintptr_t)b->p, hi = lo + (b->size ? b->size : 1);
    for (unsigned k = 0; k < OPS_SLOTS; k++) {
        const struct block *o = &slots[k];
        if (k == slot || o->p == NULL)
            continue;
        uintptr_t olo = (uintptr_t)o->p, ohi = olo + (o->size ? o->size : 1);
        if (lo < ohi && olo < hi)
            fail("slot %u [%p, +%zu) overlaps live slot %u [%p, +%zu)", slot, (void *)b->p, b->size,
                 k, (void *)o->p, o->size);
    }
}

/* ---- workers ---- */

enum worker_op { W_NONE, W_FREE, W_ALLOC, W_CHURN, W_BULK, W_FLUSH, W_EXIT, W_RACE };

#define BULK_MAX 4096
#define BULK_BYTES ((size_t)8 << 20)

struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int running;
    int dirty; /* ran an op since its last flush: its cache may hold blocks */
    enum worker_op op;
    void *ptr;
    int err; /* errno after its allocation */
    size_t size;
    unsigned cls, count;
    int done;
    struct race_task race;
};

static struct worker workers[OPS_WORKERS];

static void race_task_run(const struct race_task *t, unsigned id);

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->op == W_NONE)
            pthread_cond_wait(&w->cond, &w->lock);
        enum worker_op op = w->op;
        pthread_mutex_unlock(&w->lock);
        int exits = op == W_EXIT;
        switch (op) {
        case W_FREE:
            target.free(w->ptr);
            break;
        case W_ALLOC:
            errno = 0;
            w->ptr = target.malloc(w->size);
            w->err = errno;
            break;
        case W_CHURN: {
            /* Allocate a run of blocks in one class and free them again: refills, drains of this
             * worker's slabs, and bin overflows. */
            void *held[128];
            for (unsigned i = 0; i < w->count; i++)
                held[i] = target.malloc(w->size);
            for (unsigned i = 0; i < w->count; i++)
                target.free(held[i]);
            break;
        }
        case W_BULK: {
            /* Thousands of blocks at once: new slabs and segments, then all of them empty again
             * (slab pool, segment cache and release, orphan reclaim). */
            static void *held[OPS_WORKERS][BULK_MAX];
            void **h = held[w - workers];
            for (unsigned i = 0; i < w->count; i++)
                h[i] = target.malloc(w->size);
            for (unsigned i = 0; i < w->count; i += 2)
                target.free(h[i]);
            for (unsigned i = 1; i < w->count; i += 2)
                target.free(h[i]);
            break;
        }
        case W_FLUSH:
            if (target.thread_flush != NULL)
                target.thread_flush();
            break;
        case W_RACE: {
            unsigned id = (unsigned)(w - workers) + 1;
            sched_enter(id);
            race_task_run(&w->race, id);
            exits = w->race.action == RACE_EXIT;
            if (exits)
                sched_leave_at_exit(id); /* after hakmem's thread teardown */
            else
                sched_leave();
            break;
        }
        default:
            break;
        }
        pthread_mutex_lock(&w->lock);
        w->op = W_NONE;
        w->done = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (exits)
            return NULL;
    }
}

static struct worker *worker(unsigned k)
{
    struct worker *w = &workers[k];
    if (!w->running) {
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        w->op = W_NONE;
        if (target.thread_start_begin != NULL)
            target.thread_start_begin();
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (target.thread_start_end != NULL)
            target.thread_start_end();
        if (rc != 0)
            fail("cannot start worker %u", k);
        w->running = 1;
    }
    return w;
}

/* Hand an op to worker k and wait until it is done: the run stays sequential. */
static void ask(unsigned k, enum worker_op op)
{
    struct worker *w = worker(k);
    w->dirty = op != W_FLUSH;
    pthread_mutex_lock(&w->lock);
    w->op = op;
    w->done = 0;
    pthread_cond_broadcast(&w->cond);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void end_worker(unsigned k)
{
    if (!workers[k].running)
        return;
    ask(k, W_EXIT);
    pthread_join(workers[k].thread, NULL);
    pthread_mutex_destroy(&workers[k].lock);
    pthread_cond_destroy(&workers[k].cond);
    workers[k].running = 0;
}

/* ---- foreign memory ---- */

static void *foreign_libc;
static void *foreign_mapping;

static void *foreign_pointer(unsigned kind, unsigned slot, uint8_t *stack_area)
{
    switch (kind) {
    case FOREIGN_LIBC:
        return foreign_libc;
    case FOREIGN_STACK:
        return stack_area + 16;
    case FOREIGN_MAPPING:
        return (char *)foreign_mapping + 64;
    default: /* interior of a live block of ours (NULL if the slot is empty or tiny) */
        return slots[slot].p != NULL && slots[slot].size > 16 ? slots[slot].p + 16 : NULL;
    }
}

static void check_foreign(const struct op *op)
{
    uint8_t stack_area[64];
    memset(stack_area, 0x3c, sizeof stack_area);
    void *p = foreign_pointer(op->kind, op->slot, stack_area);
    if (p == NULL || !target.contains_misuse)
        return; /* undefined behaviour for an allocator that does not promise containment */
    struct hak_stats before, after;
    target.stats(&before);
    if (op->code == OP_FOREIGN_FREE) {
        target.free(p);
    } else {
        errno = 0;
        if (target.realloc(p, 100) != NULL || errno != EINVAL)
            fail("realloc of a foreign pointer did not return NULL with EINVAL");
    }
    target.stats(&after);
    int interior = op->kind == FOREIGN_INTERIOR;
    uint64_t moved = interior ? after.interior_frees - before.interior_frees
                     : op->code == OP_FOREIGN_FREE
                         ? after.external_guard_frees - before.external_guard_frees
                         : after.external_guard_reallocs - before.external_guard_reallocs;
    if (moved != 1)
        fail("%s counter moved by %llu, expected 1", interior ? "interior-free" : "ExternalGuard",
             (unsigned long long)moved);
    if (after.live_bytes != before.live_bytes || after.allocs != before.allocs ||
        after.frees != before.frees)
        fail("a contained free changed the allocator: live %llu -> %llu",
             (unsigned long long)before.live_bytes, (unsigned long long)after.live_bytes);
    for (size_t i = 0; i < sizeof stack_area; i++)
        if (stack_area[i] != 0x3c)
            fail("foreign stack memory was written");
    if (interior)
        check_intact(op->slot, "after a free of its interior was contained");
}

/* ---- ops ---- */

static void release(unsigned slot)
{
    struct block *b = &slots[slot];
    if (b->p == NULL)
        return;
    check_intact(slot, "when freed");
    target.free(b->p);
    b->p = NULL;
}

/* A failed allocation: fine only while the OS refuses memory, and then only with ENOMEM. */
static void allocation_failed(const char *what, size_t size, int err)
{
    if (!refusing)
        fail("%s of %zu bytes failed (errno %d)", what, size, err);
    if (err != ENOMEM)
        fail("%s of %zu bytes failed with errno %d while the OS refused memory, not ENOMEM", what,
             size, err);
    if (interp_trace)
        fprintf(stderr, "       refused: %s of %zu bytes (NULL, ENOMEM)\n", what, size);
}

static void place(unsigned slot, void *p, size_t size, unsigned thread, size_t align)
{
    if (p == NULL) {
        allocation_failed("allocation", size, errno);
        return; /* the slot stays empty */
    }
    struct block *b = &slots[slot];
    b->p = p;
    b->size = size;
    b->seed = next_seed++;
    b->thread = (uint8_t)thread;
    check_new(slot, align);
    fill(b);
}

static void sweep(void)
{
    for (unsigned k = 0; k < OPS_SLOTS; k++)
        if (slots[k].p != NULL)
            check_intact(k, "in a sweep");
}

/* The full heap check with the exact list of blocks the program holds: the workers are idle
 * between ops, so anything out that no slot holds was lost by the allocator. */
static void heap_check(void)
{
    if (target.check_quiescent == NULL)
        return;
    void *held[OPS_SLOTS];
    size_t n = 0;
    for (unsigned k = 0; k < OPS_SLOTS; k++)
        if (slots[k].p != NULL)
            held[n++] = slots[k].p;
    int errors = target.check_quiescent(held, n);
    if (errors != 0)
        fail("heap check found %d violation(s) with %zu blocks held (see the lines above)", errors,
             n);
}

/* Every thread's cached blocks back to their slabs (idle workers have nothing cached). */
static void flush_all(void)
{
    if (target.thread_flush == NULL)
        return;
    target.thread_flush();
    for (unsigned k = 0; k < OPS_WORKERS; k++)
        if (workers[k].running && workers[k].dirty)
            ask(k, W_FLUSH);
}

static unsigned live_slots(void)
{
    unsigned n = 0;
    for (unsigned k = 0; k < OPS_SLOTS; k++)
        n += slots[k].p != NULL;
    return n;
}

/* What a fork child runs, on the state the fork left it (workers gone, their blocks still held):
 * every kind of op — every tier, realloc across tiers, aligned blocks, foreign and double frees,
 * statistics — then, where threads may be started in a fork child (not under a sanitizer, whose
 * runtime can block them), new workers with cross-thread frees, orphans and a race. */
static const char fork_child_program[] = "sweep\n"
                                         "realloc slot=1 size=class:9:+1\n"
                                         "realloc slot=3 size=edge:4:+1\n"
                                         "malloc slot=0 size=1\n"
                                         "calloc slot=2 size=20000\n"
                                         "aligned slot=4 align=4096 size=100\n"
                                         "aligned slot=6 align=4194304 size=100\n"
                                         "malloc slot=8 size=large:1\n"
                                         "realloc slot=8 size=edge:0:+1\n"
                                         "foreign_free kind=libc slot=0\n"
                                         "foreign_free kind=stack slot=0\n"
                                         "foreign_free kind=mapping slot=0\n"
                                         "foreign_free kind=interior slot=2\n"
                                         "foreign_realloc kind=mapping slot=0\n"
                                         "malloc slot=10 size=48\n"
                                         "double_free slot=10 thread=0\n"
                                         "usable slot=2\n"
                                         "stats\n"
                                         "flush thread=0\n";
static const char fork_child_threads[] = "alloc_on slot=12 worker=0 size=500\n"
                                         "free_on slot=12 worker=1\n"
                                         "churn_on worker=0 class=5 count=40\n"
                                         "alloc_on slot=14 worker=2 size=3000\n"
                                         "end_worker worker=2\n"
                                         "free_on slot=14 worker=1\n"
                                         "race t1=1:churn:c27:n8 t2=0:alloc:g2:c10 t3=3:flush "
                                         "sched=0x01020304\n"
                                         "flush thread=1\n";

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FORK_CHILD_THREADS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FORK_CHILD_THREADS 0
#endif
#endif
#ifndef FORK_CHILD_THREADS
#define FORK_CHILD_THREADS 1
#endif

static void execute(const struct op *op);
extern int __llvm_profile_write_file(void) __attribute__((weak));

static void run_compiled(const char *text, const char *what)
{
    static uint8_t code[2][512];
    static long len[2] = {-1, -1};
    int k = text == fork_child_program ? 0 : 1;
    if (len[k] < 0) {
        char err[256];
        len[k] = ops_compile(text, code[k], sizeof code[k], err, sizeof err);
        if (len[k] < 0)
            fail("%s does not compile: %s", what, err);
    }
    size_t pos = 1;
    struct op op;
    while (ops_next(code[k], (size_t)len[k], &pos, &op)) {
        current_op = op;
        op_phase = NULL;
        execute(&op);
    }
}

/* fork() with worker threads alive: the child must get a consistent allocator and use it every
 * way a program can, and its heap must account for exactly the blocks it holds. */
static void fork_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return; /* out of processes: not the allocator's failure */
    if (pid == 0) {
        in_fork_child = 1;
        for (unsigned k = 0; k < OPS_WORKERS; k++)
            workers[k].running = workers[k].dirty = 0; /* their threads do not exist here */
        op_phase = "freeing half the inherited blocks";
        for (unsigned k = 0; k < OPS_SLOTS; k += 2)
            release(k);
        run_compiled(fork_child_program, "the fork child's program");
        if (FORK_CHILD_THREADS)
            run_compiled(fork_child_threads, "the fork child's thread program");
        op_phase = "the fork child's heap check";
        flush_all();
        heap_check();
        if (__llvm_profile_write_file != NULL) /* the coverage build: the child's lines count */
            __llvm_profile_write_file();
        _exit(0);
    }
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
        /* libFuzzer's timeout alarm interrupts the wait */
    }
    if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("fork child ended with status %#x (its report is above)", status);
}

/* Free a slot's block, then free it again on `thread` (main or a worker): the second free must be
 * reported as a double free (HAKMEM_INVALID_FREE=report) and change nothing. */
static void double_free(const struct op *op)
{
    struct block *b = &slots[op->slot];
    if (b->p == NULL)
        return;
    void *p = b->p;
    release(op->slot);
    if (!target.contains_misuse)
        return; /* the second free is undefined behaviour for this target */
    struct hak_stats before, after;
    target.stats(&before);
    if (op->thread == 0) {
        target.free(p);
    } else {
        worker(op->thread - 1)->ptr = p;
        ask(op->thread - 1, W_FREE);
    }
    target.stats(&after);
    if (after.double_frees != before.double_frees + 1)
        fail("second free of %p: double-free counter moved by %llu", p,
             (unsigned long long)(after.double_frees - before.double_frees));
    if (after.live_bytes != before.live_bytes)
        fail("a reported double free changed live bytes: %llu -> %llu",
             (unsigned long long)before.live_bytes, (unsigned long long)after.live_bytes);
}

/* ---- races ---- */

#define RACE_TIMEOUT_S 10

/* What alloc tasks put into empty slots: filled by the allocating thread at once, so a block
 * handed out twice or overwritten by a concurrent drain shows in the check after the race. */
static struct {
    int fill;
    size_t size;
    uint32_t seed;
} race_slot[OPS_SLOTS];

static void race_task_run(const struct race_task *t, unsigned id)
{
    switch (t->action) {
    case RACE_FREE:
        for (unsigned k = t->group * 8; k < t->group * 8 + 8; k++)
            if (slots[k].p != NULL)
                target.free(slots[k].p);
        break;
    case RACE_ALLOC:
        for (unsigned k = t->group * 8; k < t->group * 8 + 8; k++) {
            if (!race_slot[k].fill)
                continue;
            struct block *b = &slots[k];
            b->p = target.malloc(race_slot[k].size);
            if (b->p == NULL)
                continue; /* reported by the main thread after the race */
            b->size = race_slot[k].size;
            b->seed = race_slot[k].seed;
            b->thread = (uint8_t)id;
            fill(b);
        }
        break;
    case RACE_CHURN: {
        /* Blocks are stamped with this thread's id and checked before they are freed: a block
         * handed to two threads at once is written by both. */
        uint8_t *held[64];
        size_t size = ops_class_size(t->cls);
        for (unsigned i = 0; i < t->count; i++)
            if ((held[i] = target.malloc(size)) != NULL)
                memset(held[i], 0xc0 + (int)id, size);
        for (unsigned i = 0; i < t->count; i++) {
            if (held[i] == NULL)
                continue;
            for (size_t j = 0; j < size; j++)
                if (held[i][j] != (uint8_t)(0xc0 + id)) {
                    fprintf(stderr,
                            "hakmem ops: check failed at op %u (%s): a block churned by thread "
                            "%u (%p, %zu bytes) was written by someone else: byte %zu is %#x\n",
                            op_index, op_text(), id, (void *)held[i], size, j, held[i][j]);
                    abort();
                }
            target.free(held[i]);
        }
        break;
    }
    case RACE_FLUSH:
        if (t->collect && target.collect != NULL)
            target.collect(0);
        else if (target.thread_flush != NULL)
            target.thread_flush();
        break;
    default:
        break;
    }
}

static void race(const struct op *op)
{
    struct race_task t[OPS_RACE_TASKS];
    unsigned threads = 0, groups = 0;
    for (int i = 0; i < OPS_RACE_TASKS; i++) {
        t[i] = op->task[i];
        int grouped = t[i].action == RACE_FREE || t[i].action == RACE_ALLOC;
        if (t[i].action == RACE_NONE || (t[i].action == RACE_EXIT && t[i].thread == 0) ||
            (threads & (1u << t[i].thread)) || (grouped && (groups & (1u << t[i].group)))) {
            t[i].action = RACE_NONE;
            continue;
        }
        threads |= 1u << t[i].thread;
        if (grouped)
            groups |= 1u << t[i].group;
    }
    if (threads == 0)
        return;
    static int scheduler_ready; /* set up on first use: replay's parent must not touch hakmem */
    if (!scheduler_ready) {
        sched_setup();
        scheduler_ready = 1;
    }
    memset(race_slot, 0, sizeof race_slot);
    for (int i = 0; i < OPS_RACE_TASKS; i++) {
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8; k++) {
            if (t[i].action == RACE_FREE && slots[k].p != NULL)
                check_intact(k, "before a race freed it");
            if (t[i].action == RACE_ALLOC && slots[k].p == NULL)
                race_slot[k] = (typeof(race_slot[k])){1, ops_class_size(t[i].cls), next_seed++};
        }
        if (t[i].thread > 0)
            worker(t[i].thread - 1); /* started before the race, not during it */
    }
    /* The schedule: the op's bytes, mixed with the whole program and the op's place in it, so
     * that every mutation of a program with races runs them under new interleavings (the
     * fuzzer's coverage hardly tells interleavings apart; fresh ones are what finds bugs). */
    sched_begin(threads, op->sched, interp_schedule_salt ^ program_hash ^ (op_index * 0x9e3779b9u));
    for (int i = 0; i < OPS_RACE_TASKS; i++) {
        if (t[i].action == RACE_NONE || t[i].thread == 0)
            continue;
        struct worker *w = &workers[t[i].thread - 1];
        pthread_mutex_lock(&w->lock);
        w->race = t[i];
        w->dirty = 1;
        w->op = W_RACE;
        w->done = 0;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    for (int i = 0; i < OPS_RACE_TASKS; i++)
        if (t[i].action != RACE_NONE && t[i].thread == 0) {
            sched_enter(0);
            race_task_run(&t[i], 0);
            sched_leave();
        }
    char why[768];
    if (sched_wait(RACE_TIMEOUT_S, why, sizeof why) != 0)
        fail("the race did not finish within %d s (a hang in the allocator?): %s", RACE_TIMEOUT_S,
             why);
    if (interp_trace && sched_deterministic)
        fprintf(stderr, "       race: %llu scheduling points\n", (unsigned long long)sched_steps());
    for (int i = 0; i < OPS_RACE_TASKS; i++) {
        if (t[i].action == RACE_NONE || t[i].thread == 0)
            continue;
        unsigned k = t[i].thread - 1;
        struct worker *w = &workers[k];
        pthread_mutex_lock(&w->lock);
        while (!w->done)
            pthread_cond_wait(&w->cond, &w->lock);
        pthread_mutex_unlock(&w->lock);
        if (t[i].action == RACE_EXIT) {
            pthread_join(w->thread, NULL);
            pthread_mutex_destroy(&w->lock);
            pthread_cond_destroy(&w->cond);
            w->running = 0;
        }
    }
    /* Every free of the race first: a block one task freed may rightly be what another task's
     * allocation got back in the same race, so it must not count as live in the overlap check. */
    for (int i = 0; i < OPS_RACE_TASKS; i++)
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8; k++)
            if (t[i].action == RACE_FREE)
                slots[k].p = NULL;
    for (int i = 0; i < OPS_RACE_TASKS; i++)
        for (unsigned k = t[i].group * 8; k < t[i].group * 8 + 8; k++) {
            if (t[i].action != RACE_ALLOC || !race_slot[k].fill)
                continue;
            if (slots[k].p == NULL && refusing)
                continue; /* refused (its errno stayed on its thread) */
            if (slots[k].p == NULL)
                fail("a race's allocation of %zu bytes into slot %u failed", race_slot[k].size, k);
            check_new(k, 1);
            check_intact(k, "after the race that allocated it");
        }
}

static void execute(const struct op *op)
{
    struct block *b = &slots[op->slot];
    switch (op->code) {
    case OP_MALLOC:
        release(op->slot);
        errno = 0; /* a refusal must set ENOMEM itself, not leave an old one */
        place(op->slot, target.malloc(op->size), op->size, 0, 1);
        break;
    case OP_CALLOC: {
        release(op->slot);
        errno = 0;
        uint8_t *p = target.calloc(1, op->size);
        if (p == NULL) {
            allocation_failed("calloc", op->size, errno);
            break;
        }
        for (size_t i = 0; i < op->size; i += (op->size > DENSE_LIMIT ? 4093 : 1))
            if (p[i] != 0)
                fail("calloc(%zu) byte %zu is %#x, not zero", op->size, i, p[i]);
        place(op->slot, p, op->size, 0, 1);
        break;
    }
    case OP_REALLOC: {
        if (b->p == NULL) {
            errno = 0;
            place(op->slot, target.realloc(NULL, op->size), op->size, 0, 1);
            break;
        }
        check_intact(op->slot, "before realloc");
        if (op->size == 0) {
            /* glibc frees and returns NULL; C also allows a new block (of size 0) */
            errno = 0;
            void *q = target.realloc(b->p, 0);
            b->p = NULL;
            if (q != NULL && !target.strict_c)
                fail("realloc(p, 0) returned %p, not NULL (glibc frees the block; "
                     "HAKMEM_FUZZ_STRICT_C=1 allows this)",
                     q);
            if (q != NULL)
                place(op->slot, q, 0, 0, 1);
            break;
        }
        struct block old = *b;
        errno = 0;
        uint8_t *q = target.realloc(b->p, op->size);
        if (q == NULL) {
            allocation_failed("realloc", op->size, errno);
            check_intact(op->slot, "after a refused realloc (it must leave the block as it was)");
            break;
        }
        b->p = q;
        size_t keep = old.size < op->size ? old.size : op->size;
        struct block view = {q, old.size, old.seed, 0};
        size_t at = first_damage(&view, keep);
        if (at != SIZE_MAX)
            fail("realloc %zu -> %zu lost the prefix at byte %zu", old.size, op->size, at);
        b->size = op->size;
        b->seed = next_seed++;
        check_new(op->slot, 1);
        fill(b);
        break;
    }
    case OP_ALIGNED: {
        release(op->slot);
        errno = 0;
        void *p = target.aligned_alloc(op->align, op->size);
        if (p == NULL && errno == EINVAL && op->size % op->align != 0) {
            /* C11 asks for a size that is a multiple of the alignment; glibc takes any size */
            if (!target.strict_c)
                fail("aligned_alloc(%zu, %zu) failed with EINVAL: glibc takes any size (C11 "
                     "asks for a multiple of the alignment; HAKMEM_FUZZ_STRICT_C=1 allows this)",
                     op->align, op->size);
            break;
        }
        place(op->slot, p, op->size, 0, op->align);
        break;
    }
    case OP_FREE:
        release(op->slot);
        break;
    case OP_FREE_ON:
        if (b->p != NULL) {
            check_intact(op->slot, "when handed to a worker to free");
            worker(op->worker)->ptr = b->p;
            ask(op->worker, W_FREE);
            b->p = NULL;
        }
        break;
    case OP_ALLOC_ON:
        release(op->slot);
        worker(op->worker)->size = op->size;
        ask(op->worker, W_ALLOC);
        errno = workers[op->worker].err;
        place(op->slot, workers[op->worker].ptr, op->size, op->worker + 1, 1);
        break;
    case OP_CHURN_ON:
        worker(op->worker)->size = ops_class_size(op->cls);
        workers[op->worker].count = op->count;
        ask(op->worker, W_CHURN);
        break;
    case OP_END_WORKER:
        end_worker(op->worker); /* its blocks stay live: their slabs are orphaned */
        break;
    case OP_FLUSH:
        if (op->thread == 0) {
            if (target.thread_flush != NULL)
                target.thread_flush();
        } else if (workers[op->thread - 1].running)
            ask(op->thread - 1, W_FLUSH);
        break;
    case OP_FOREIGN_FREE:
    case OP_FOREIGN_REALLOC:
        check_foreign(op);
        break;
    case OP_SWEEP:
        sweep();
        break;
    case OP_CHECK_HEAP:
        heap_check();
        break;
    case OP_USABLE:
        if (b->p != NULL && target.usable_size != NULL && target.usable_size(b->p) < b->size)
            fail("usable size %zu < %zu", target.usable_size(b->p), b->size);
        break;
    case OP_FORK:
        /* One fork per program: a fork copies the whole address space (under ASan, its shadow
         * page tables too), and more would not reach different code. */
        if (op->armed && !forked) {
            forked = 1;
            fork_child();
        }
        break;
    case OP_DOUBLE_FREE:
        double_free(op);
        break;
    case OP_OOM:
        oom_ops_left = op->oom_span;
        oom_after = op->oom_after;
        break;
    case OP_STATS: {
        /* Other threads publish their counters at their slow paths; flushed, every thread's
         * are exact, and the live bytes must cover what the program holds. */
        if (target.stats == NULL)
            break;
        flush_all();
        struct hak_stats s;
        target.stats(&s);
        size_t held = 0;
        for (unsigned k = 0; k < OPS_SLOTS; k++)
            if (slots[k].p != NULL)
                held += slots[k].size;
        if (s.live_bytes < held)
            fail("statistics show %llu live bytes while the program holds %zu bytes in %u blocks",
                 (unsigned long long)s.live_bytes, held, live_slots());
        /* The reports read the same counters; formatting each once per program is enough:
         * the text report at the first stats op, the JSON one at the second. */
        static int null_fd = -1;
        if (null_fd < 0)
            null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd >= 0 && stats_printed < 2)
            target.stats_write(null_fd, stats_printed++ ? HAK_STATS_JSON : HAK_STATS_TEXT);
        break;
    }
    case OP_BULK_ON: {
        size_t bs = ops_class_size(op->cls);
        unsigned n = op->scale * 512;
        if ((size_t)n * bs > BULK_BYTES)
            n = (unsigned)(BULK_BYTES / bs);
        worker(op->worker)->size = bs;
        workers[op->worker].count = n;
        ask(op->worker, W_BULK);
        break;
    }
    case OP_RACE:
        race(op);
        break;
    case OP_COUNT:
        break;
    }
}

void interp_report_stuck(unsigned seconds)
{
    char line[512];
    int n = snprintf(line, sizeof line,
                     "hakmem ops: check failed at op %u (%s): no result within %u s (stuck in "
                     "the allocator, or waiting for a worker that is)\n",
                     op_index, op_text(), seconds);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
}

void interp_setup(void)
{
    /* Misuse committed on purpose must be counted, not fatal; foreign frees are contained. */
    setenv("HAKMEM_INVALID_FREE", "report", 1);
    setenv("HAKMEM_EXTERNAL_GUARD", "contain", 1);
    setenv("HAKMEM_EXTERNAL_GUARD_REPORT", "0", 1);
    /* A small Large cache keeps the process small: the fork op copies its page tables, and a
     * fork of a process holding 128 MiB of cached pages costs milliseconds. */
    setenv("HAKMEM_LARGE_CACHE_MB", "16", 0);
    target_open();
    pattern_init();
    foreign_libc = malloc(256);
    foreign_mapping = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* The binary form of a program (text compiled into `compiled`), or NULL if it is neither. */
static const uint8_t *binary_form(const uint8_t *data, size_t *len, int accept_text)
{
    static uint8_t compiled[1 << 20];
    if (*len == 0 || data[0] == OPS_VERSION_BYTE)
        return data;
    if (!accept_text || (data[0] != '#' && !(data[0] >= 'a' && data[0] <= 'z')))
        return NULL; /* not a program of this version */
    char *text = malloc(*len + 1), err[256];
    memcpy(text, data, *len);
    text[*len] = '\0';
    long n = ops_compile(text, compiled, sizeof compiled, err, sizeof err);
    free(text);
    if (n < 0) {
        fprintf(stderr, "hakmem ops: cannot compile the text program: %s\n", err);
        abort();
    }
    *len = (size_t)n;
    return compiled;
}

unsigned interp_count_races(const uint8_t *data, size_t len, int accept_text)
{
    data = binary_form(data, &len, accept_text);
    if (data == NULL || len == 0)
        return 0;
    size_t pos = 1;
    struct op op;
    unsigned n = 0;
    while (ops_next(data, len, &pos, &op))
        n += op.code == OP_RACE;
    return n;
}

void interp_op_text(const uint8_t *data, size_t len, int accept_text, unsigned index, char *buf,
                    size_t n)
{
    snprintf(buf, n, "%s", "");
    data = binary_form(data, &len, accept_text);
    if (data == NULL || len == 0)
        return;
    size_t pos = 1;
    struct op op;
    for (unsigned k = 0; ops_next(data, len, &pos, &op); k++)
        if (k == index) {
            ops_format(&op, buf, n);
            return;
        }
}

void interp_run(const uint8_t *data, size_t len, int accept_text)
{
    data = binary_form(data, &len, accept_text);
    if (data == NULL || len == 0)
        return;
    program_hash = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        program_hash = (program_hash ^ data[i]) * 16777619u;
    if (foreign_libc == NULL)
        interp_setup();
    /* Every thread was flushed at the end of the last program: its baseline stands. */
    struct hak_stats start = {0};
    if (target.stats != NULL)
        target.stats(&start);
    size_t pos = 1;
    struct op op;
    op_index = 0;
    forked = 0;
    stats_printed = 0;
    oom_ops_left = 0;
    while (op_index < MAX_PROGRAM && ops_next(data, len, &pos, &op)) {
        current_op = op;
        op_phase = NULL;
        if (interp_progress != NULL)
            *interp_progress = op_index;
        if (interp_trace)
            fprintf(stderr, "%5u  %s\n", op_index, op_text());
        /* Under an oom op, the ops that allocate run with the OS refusing memory; the checks
         * (and a fork child) run with memory. */
        refusing = oom_ops_left > 0 && ops_refusable(op.code) && target.refuse_memory != NULL &&
                   target.refuse_memory(oom_after) == 0;
        execute(&op);
        if (refusing)
            target.refuse_memory(-1);
        refusing = 0;
        if (oom_ops_left > 0 && op.code != OP_OOM)
            oom_ops_left--;
        op_index++;
        if (op_index % SWEEP_EVERY == 0)
            sweep();
#ifdef HAK_FUZZ_HEAP_CHECK
        if (op_index % HEAP_CHECK_EVERY == 0)
            heap_check();
#endif
    }
    op_phase = "end of program";

    /* Everything back: the allocator itself must hold no live byte more than before. */
    for (unsigned k = 0; k < OPS_SLOTS; k++)
        release(k);
    flush_all();
#ifdef HAK_FUZZ_HEAP_CHECK
    heap_check();
#endif
    if (target.stats == NULL)
        return;
    struct hak_stats end;
    target.stats(&end);
    if (end.live_bytes != start.live_bytes)
        fail("live bytes %llu after freeing everything, %llu at the start",
             (unsigned long long)end.live_bytes, (unsigned long long)start.live_bytes);
}
