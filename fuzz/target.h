/* target.h — the one interface between the suite's programs and the allocator under test.
 *
 * Owns: the table of entry points the interpreter calls (the malloc family, and the capabilities
 * only hakmem has: statistics, the exact heap check, thread flush and collect, refusal of OS
 * memory) and the rules that say which checks a target allows. Two providers fill it: hakmem
 * linked in (fuzz/target_linked.c: every capability, the fuzz builds as before) and a shared
 * library loaded at run time (fuzz/target_loaded.c: any malloc, its capabilities found by name).
 * Promises: malloc, free, calloc, realloc and aligned_alloc are always set; every other entry is
 * NULL where the target lacks it, and a check that needs it is off (target_describe says which).
 * Must never: let the suite's own allocations reach the target, or the target's reach the suite.
 */
#ifndef HAK_FUZZ_TARGET_H
#define HAK_FUZZ_TARGET_H

#include <stddef.h>
#include <stdio.h>

#include "hakmem.h" /* struct hak_stats: the statistics capability's snapshot */

struct alloc_target {
    const char *name; /* what reports call it: "hakmem (linked)", a library's path */
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    size_t (*usable_size)(const void *); /* malloc_usable_size, where the target has it */

    /* hakmem's own (NULL for any other allocator). */
    void (*stats)(struct hak_stats *);
    void (*stats_write)(int fd, int format);
    int (*check_quiescent)(void *const *held, size_t n);
    void (*thread_flush)(void);
    size_t (*collect)(int give_back);
    /* Misuse the target survives by contract: foreign and interior frees contained and counted,
     * double frees counted (hakmem with HAKMEM_INVALID_FREE=report). Needs stats. */
    int contains_misuse;

    /* Allocations of the calling op fail with ENOMEM once `after` more mappings were made
     * (after >= 0), or stop failing (after < 0); 0 when refusal is in force. hakmem's own
     * injection where it has one, else an address-space limit (RLIMIT_AS) the loader sets and
     * lifts. NULL where neither works (a sanitizer runtime reserves the address space). */
    int (*refuse_memory)(long after);
    /* Threads may be started while memory is refused (the address-space limit lifts itself
     * around pthread_create: a thread's stack is the suite's, not the target's). */
    void (*thread_start_begin)(void);
    void (*thread_start_end)(void);

    /* What C leaves to the implementation is checked as glibc documents it (realloc(p, 0) frees
     * and returns NULL; every block is 16-byte aligned), because programs rely on it; strict C
     * (HAKMEM_FUZZ_STRICT_C=1) accepts any behaviour the standard allows. */
    int strict_c;
};

extern struct alloc_target target;

/* Fill `target` (once, before the first allocation through it). The linked provider takes
 * hakmem; the loaded one the library named by HAKMEM_FUZZ_TARGET (a path, or "libc.so.6" for
 * glibc's own malloc) and exits with a message naming what is missing if it cannot. */
void target_open(void);

/* One line per check that is off for this target and why, after a line naming it. */
void target_describe(FILE *out);

#endif
