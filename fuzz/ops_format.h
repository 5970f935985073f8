/* ops_format.h — the op-sequence input format, version 3 (version 2 plus the oom op; version 2
 * added the race op and alignments up to 64 MiB).
 *
 * Owns: the binary encoding of an allocator program (what every fuzzer mutates), its readable text
 * form (one op per line), and the decoding of operands into slots, threads, sizes and alignments.
 * Promises: every byte string decodes to a program (an opcode byte is taken modulo the number of
 * ops; a truncated last op is dropped), so mutations stay meaningful; text -> binary -> text is the
 * identity on canonical text. Must never: depend on the allocator (opsc links only this file).
 *
 * Binary: byte 0 is OPS_VERSION_BYTE (0xA3 for version 3); then ops, each an opcode byte and a
 * fixed number of operand bytes:
 *
 *   op            operands                     text form
 *   malloc        slot size3                   malloc slot=S size=Z
 *   calloc        slot size3                   calloc slot=S size=Z
 *   realloc       slot size3                   realloc slot=S size=Z
 *   aligned       slot align size3             aligned slot=S align=A size=Z
 *   free          slot                         free slot=S
 *   free_on       slot worker                  free_on slot=S worker=W
 *   alloc_on      slot worker size3            alloc_on slot=S worker=W size=Z
 *   churn_on      worker class count           churn_on worker=W class=C count=N
 *   end_worker    worker                       end_worker worker=W
 *   flush         thread                       flush thread=T     (0: main, 1..4: workers)
 *   foreign_free  kind slot                    foreign_free kind=K slot=S
 *   foreign_realloc kind slot                  foreign_realloc kind=K slot=S
 *   sweep         -                            sweep
 *   check_heap    -                            check_heap
 *   usable        slot                         usable slot=S
 *   fork          key                          fork armed=1   (key byte 0xF0; else armed=0)
 *   stats         -                            stats
 *   bulk_on       worker class scale           bulk_on worker=W class=C scale=N
 *   double_free   slot thread                  double_free slot=S thread=T
 *   race          task3 task3 task3 sched4     race t1=TASK t2=TASK t3=TASK sched=0xHHHHHHHH
 *   oom           after span                   oom after=N ops=M
 *
 * slot = byte % 64; worker = byte % 4; thread = byte % 5; class = byte % 40;
 * count = byte % 128 + 1; scale = byte % 8 + 1 (bulk_on moves scale * 512 blocks, at most
 * 8 MiB); align = 2^(byte % 27) (1 B .. 64 MiB); kind = byte % 4 (libc, stack, mapping, interior).
 *
 * oom: for each of the next M ops (span = byte % 8 + 1), the OS refuses every mapping after the
 * first N of that op (after = byte % 32): allocations may then fail, and must fail cleanly
 * (NULL and ENOMEM, a realloc leaving its block as it was, nothing lost). Not in release builds
 * (there it is a no-op: the refusal is injected by hakmem's debug-only hk_os_memory_fail_after).
 *
 * fork forks only when its key byte is 0xF0 (armed=1; any other byte is armed=0, a no-op): a
 * fork costs as much as tens of other ops, and with a plain opcode most mutated programs would
 * fork; armed, it is a deliberate choice (the dictionary has the armed op).
 *
 * race: up to three tasks run at once on different threads (a task on a thread that already has
 * one, or on a slot group another task uses, is dropped). task3 = [t, a, b]: thread t % 5 (0:
 * main, 1..4: workers), action t / 5 % 6, by action:
 *   none                                                      text: none
 *   free    the live blocks of slot group a % 8 (slots 8g..8g+7)    T:free:gG
 *   alloc   a block of class b % 40 into each empty slot of group a % 8   T:alloc:gG:cC
 *   churn   allocate b % 64 + 1 blocks of class a % 40, free them    T:churn:cC:nN
 *   exit    the worker exits (its blocks stay live)                 T:exit
 *   flush   a even: the thread returns its cached blocks (hak_thread_flush)    T:flush
 *           a odd: hak_collect(0), which also drains the remote frees of its slabs and
 *           releases its empty ones                                   T:collect
 * sched4: the schedule (sched build): priorities and change points drawn from these bytes.
 * size3 = [mode, lo, hi], v = lo | hi << 8, by mode % 4:
 *   0 exact     size = v                                     text: 1234
 *   1 class     class v % 40's block size + (v/40 % 3) - 1   text: class:C:-1|0|+1
 *   2 edge      tier edge (v % 8) + (v/8 % 3) - 1            text: edge:E:-1|0|+1
 *   3 large     1 MiB + (v % 64) * 64 KiB (up to 5 MiB)      text: large:K  */
#ifndef HAK_OPS_FORMAT_H
#define HAK_OPS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define OPS_VERSION 3
#define OPS_VERSION_BYTE (0xA0 | OPS_VERSION)
#define OPS_SLOTS 64
#define OPS_WORKERS 4
#define OPS_CLASSES 40
#define OPS_MAX_ALIGN_LOG2 26
#define OPS_GROUPS 8 /* slot groups of a race: slots 8g .. 8g+7 */
#define OPS_RACE_TASKS 3
#define OPS_OOM_AFTER 32
#define OPS_OOM_SPAN 8

enum op_code {
    OP_MALLOC,
    OP_CALLOC,
    OP_REALLOC,
    OP_ALIGNED,
    OP_FREE,
    OP_FREE_ON,
    OP_ALLOC_ON,
    OP_CHURN_ON,
    OP_END_WORKER,
    OP_FLUSH,
    OP_FOREIGN_FREE,
    OP_FOREIGN_REALLOC,
    OP_SWEEP,
    OP_CHECK_HEAP,
    OP_USABLE,
    OP_FORK,
    OP_STATS,
    OP_BULK_ON,
    OP_DOUBLE_FREE,
    OP_RACE,
    OP_OOM,
    OP_COUNT
};

enum foreign_kind { FOREIGN_LIBC, FOREIGN_STACK, FOREIGN_MAPPING, FOREIGN_INTERIOR, FOREIGN_KINDS };

enum race_action {
    RACE_NONE,
    RACE_FREE,
    RACE_ALLOC,
    RACE_CHURN,
    RACE_EXIT,
    RACE_FLUSH,
    RACE_ACTIONS
};

struct race_task {
    enum race_action action;
    unsigned thread; /* 0: main, 1..OPS_WORKERS: worker thread - 1 */
    unsigned group, cls, count;
    unsigned collect; /* flush: hak_collect(0), not hak_thread_flush() */
};

/* A decoded op. */
struct op {
    enum op_code code;
    unsigned slot, worker, thread, cls, count, kind, scale;
    size_t size, align;
    uint8_t size_bytes[3]; /* the encoding, for the text form */
    struct race_task task[OPS_RACE_TASKS];
    uint8_t sched[4];
    unsigned armed;               /* fork: whether its key byte was OPS_FORK_KEY */
    unsigned oom_after, oom_span; /* oom: maps allowed per op, ops refused */
};

#define OPS_FORK_KEY 0xF0

/* Whether an op runs with the OS refusing memory while an oom op's span covers it: those that
 * allocate or free, on any thread (the checks, and a fork child, run with memory). */
int ops_refusable(enum op_code code);

/* Size of a class's blocks, as the allocator defines them (16..128 by 16, 4 per doubling). */
size_t ops_class_size(unsigned cls);

/* Decode the op at data[*pos]; returns 0 at the end of input (or a truncated op). */
int ops_next(const uint8_t *data, size_t len, size_t *pos, struct op *out);

/* Text form of one op (no newline) into buf. */
void ops_format(const struct op *op, char *buf, size_t len);

/* Compile text (NUL-terminated) to binary; returns the binary length, or -1 with a message in
 * err (line number and reason). */
long ops_compile(const char *text, uint8_t *out, size_t cap, char *err, size_t errlen);

#endif
